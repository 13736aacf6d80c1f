import { Client } from 'undici';
import {
  createFcmSimulator,
  createOAuthSimulator,
  createTestCa,
  FCM_MAX_PAYLOAD_BYTES,
  type FcmSimulator,
  type OAuthSimulator,
} from '@hpns/testkit';

/** Body validation (reference/apns-fcm.md §2.2) and the exact google.rpc.Status bodies of its errors (§2.4). */

const ca = createTestCa();
let oauth: OAuthSimulator;
let fcm: FcmSimulator;
let client: Client;
let token: string;

const BAD_REQUEST = 'type.googleapis.com/google.rpc.BadRequest';
const FCM_INVALID = {
  '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError',
  errorCode: 'INVALID_ARGUMENT',
};

/** A proto-JSON parse error: message = descriptions joined by newlines, BadRequest detail only. */
const parseError = (...violations: { field?: string; description: string }[]) => ({
  error: {
    code: 400,
    message: violations.map((v) => v.description).join('\n'),
    status: 'INVALID_ARGUMENT',
    details: [{ '@type': BAD_REQUEST, fieldViolations: violations }],
  },
});

/** An FCM-level rejection: FcmError INVALID_ARGUMENT, then BadRequest when there are field violations. */
const fcmError = (message: string, ...violations: { field?: string; description: string }[]) => ({
  error: {
    code: 400,
    message,
    status: 'INVALID_ARGUMENT',
    details: [
      FCM_INVALID,
      ...(violations.length > 0 ? [{ '@type': BAD_REQUEST, fieldViolations: violations }] : []),
    ],
  },
});

async function send(body: unknown): Promise<{ status: number; text: string }> {
  const res = await client.request({
    path: '/v1/projects/hpns-a/messages:send',
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, text: await res.body.text() };
}

const withMessage = (message: object) => ({ message: { token: 'device-1', ...message } });
const invalidValue = (field: string, type: string, value: string) => ({
  field,
  description: `Invalid value at '${field}' (${type}), ${value}`,
});
const DURATION = 'type.googleapis.com/google.protobuf.Duration';

beforeAll(async () => {
  oauth = await createOAuthSimulator({ ca });
  fcm = await createFcmSimulator({ ca, accessTokens: oauth.accessTokens });
  client = new Client(fcm.url, { connect: { ca: ca.caPem }, allowH2: true });
  token = oauth.accessTokens.issue({
    clientEmail: 'sa@hpns-a.iam.gserviceaccount.com',
    projectId: 'hpns-a',
    scopes: ['https://www.googleapis.com/auth/firebase.messaging'],
    issuedAtMs: Date.now(),
    expiresAtMs: Date.now() + 3_599_000,
  });
});

afterAll(async () => {
  await client.close();
  await fcm.close();
  await oauth.close();
});

const cases: [string, unknown, object][] = [
  [
    'a body that is not JSON',
    '{"message": ',
    parseError({ description: 'Invalid JSON payload received. Unexpected token.' }),
  ],
  [
    'a JSON array',
    '[]',
    parseError({
      description: 'Invalid JSON payload received. Unknown name "": Root element must be a message.',
    }),
  ],
  [
    'an unknown top-level name',
    { message: { token: 'device-1' }, dry_run: true },
    parseError({ description: 'Invalid JSON payload received. Unknown name "dry_run": Cannot find field.' }),
  ],
  [
    'an unknown message field',
    withMessage({ priority: 'high' }),
    parseError({
      field: 'message',
      description: `Invalid JSON payload received. Unknown name "priority" at 'message': Cannot find field.`,
    }),
  ],
  [
    'a validate_only that is not a boolean',
    { validate_only: 'yes', message: { token: 'device-1' } },
    parseError(invalidValue('validate_only', 'TYPE_BOOL', '"yes"')),
  ],
  [
    'no message',
    {},
    {
      error: {
        code: 400,
        message: 'Request contains an invalid argument.',
        status: 'INVALID_ARGUMENT',
        details: [FCM_INVALID],
      },
    },
  ],
  [
    'no target',
    { message: { data: { k: 'v' } } },
    fcmError('Recipient of the message is not set.', {
      field: 'message',
      description: 'Recipient of the message is not set.',
    }),
  ],
  [
    'two targets',
    { message: { token: 'device-1', topic: 'news' } },
    parseError({
      field: 'message',
      description:
        "Invalid value at 'message' (oneof), oneof field 'target' is already set. Cannot set 'topic'",
    }),
  ],
  [
    'data values that are not strings',
    withMessage({ data: { a: 'x', n: 12, b: true } }),
    parseError(
      invalidValue('message.data[1].value', 'TYPE_STRING', '12'),
      invalidValue('message.data[2].value', 'TYPE_STRING', 'true'),
    ),
  ],
  [
    'android.data values that are not strings',
    withMessage({ android: { data: { n: 1.5 } } }),
    parseError(invalidValue('message.android.data[0].value', 'TYPE_STRING', '1.5')),
  ],
  [
    'the reserved data key from',
    withMessage({ data: { from: 'x' } }),
    fcmError('Invalid data payload key: from'),
  ],
  [
    'a data key starting with gcm',
    withMessage({ data: { 'gcm.notification.x': 'x' } }),
    fcmError('Invalid data payload key: gcm.notification.x'),
  ],
  [
    'a data key starting with google',
    withMessage({ data: { 'google.c.a': 'x' } }),
    fcmError('Invalid data payload key: google.c.a'),
  ],
  [
    'the reserved key message_type',
    withMessage({ android: { data: { message_type: 'x' } } }),
    fcmError('Invalid data payload key: message_type'),
  ],
  [
    'a ttl without unit',
    withMessage({ android: { ttl: '10' } }),
    parseError(invalidValue('message.android.ttl', DURATION, '"10"')),
  ],
  [
    'a negative ttl',
    withMessage({ android: { ttl: '-1s' } }),
    parseError(invalidValue('message.android.ttl', DURATION, '"-1s"')),
  ],
  [
    'a ttl with 10 fraction digits',
    withMessage({ android: { ttl: '1.0000000001s' } }),
    parseError(invalidValue('message.android.ttl', DURATION, '"1.0000000001s"')),
  ],
  [
    'a numeric ttl',
    withMessage({ android: { ttl: 60 } }),
    parseError(invalidValue('message.android.ttl', DURATION, '60')),
  ],
  [
    'a ttl over 4 weeks',
    withMessage({ android: { ttl: '2419200.5s' } }),
    fcmError('Request contains an invalid argument.', {
      field: 'message.android.ttl',
      description: 'TTL must not exceed 2419200s.',
    }),
  ],
  [
    'an unknown android.priority',
    withMessage({ android: { priority: 'URGENT' } }),
    parseError(
      invalidValue(
        'message.android.priority',
        'type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority',
        '"URGENT"',
      ),
    ),
  ],
  [
    'a lower-case android.priority',
    withMessage({ android: { priority: 'high' } }),
    parseError(
      invalidValue(
        'message.android.priority',
        'type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority',
        '"high"',
      ),
    ),
  ],
  [
    'a topic with the /topics/ prefix',
    { message: { topic: '/topics/news' } },
    fcmError('Request contains an invalid argument.', {
      field: 'message.topic',
      description: 'Invalid topic name: /topics/news',
    }),
  ],
  [
    'a condition over 5 topics',
    { message: { condition: ['a', 'b', 'c', 'd', 'e', 'f'].map((t) => `'${t}' in topics`).join(' || ') } },
    fcmError('Request contains an invalid argument.', {
      field: 'message.condition',
      description: 'A condition must name 1 to 5 topics.',
    }),
  ],
  [
    'data over 4096 bytes',
    withMessage({ data: { k: 'x'.repeat(FCM_MAX_PAYLOAD_BYTES) } }),
    fcmError('Android message is too big'),
  ],
  [
    'a topic message over 2048 bytes',
    { message: { topic: 'news', data: { k: 'x'.repeat(2048) } } },
    fcmError('Android message is too big'),
  ],
];

describe('FcmSimulator body validation', () => {
  it.each(cases)('answers 400 INVALID_ARGUMENT with the exact body for %s', async (_name, body, expected) => {
    const res = await send(body);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toEqual(expected);
    // Key order too: error.code, message, status, details, as Google serialises google.rpc.Status.
    expect(res.text).toBe(JSON.stringify(expected));
  });

  it.each([
    [
      'exactly 4096 bytes of data (keys plus values)',
      withMessage({ data: { k: 'x'.repeat(FCM_MAX_PAYLOAD_BYTES - 1) } }),
    ],
    ['a ttl of exactly 4 weeks', withMessage({ android: { ttl: '2419200s' } })],
    ['a ttl with 9 fraction digits', withMessage({ android: { ttl: '0.000000001s' } })],
    ['android.priority NORMAL', withMessage({ android: { priority: 'NORMAL' } })],
    ['a topic', { message: { topic: 'news-~.%_1', data: { k: 'v' } } }],
    [
      'a condition of 5 topics',
      { message: { condition: ['a', 'b', 'c', 'd', 'e'].map((t) => `'${t}' in topics`).join(' && ') } },
    ],
    ['null for unset fields', { message: { token: 'device-1', topic: null, data: null } }],
    [
      'notification, apns and webpush blocks',
      withMessage({ notification: { title: 't' }, apns: { headers: { 'apns-priority': '5' } }, webpush: {} }),
    ],
  ])('accepts %s', async (_name, body) => {
    expect((await send(body)).status).toBe(200);
  });
});
