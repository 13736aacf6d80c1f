import { Client } from 'undici';
import {
  createFcmSimulator,
  createOAuthSimulator,
  createTestCa,
  type FcmSimulator,
  type FcmTokenState,
  type OAuthSimulator,
} from '@hpns/testkit';

/** Registration-token states and their exact answers (reference/apns-fcm.md §2.4, §2.5, §7.2). */

const ca = createTestCa();
let oauth: OAuthSimulator;
let fcm: FcmSimulator;
let client: Client;

const FCM = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
const APNS = 'type.googleapis.com/google.firebase.fcm.v1.ApnsError';

async function sendTo(
  deviceToken: string,
  options: { project?: string; validateOnly?: boolean; via?: Client } = {},
): Promise<{ status: number; body: unknown }> {
  const project = options.project ?? 'hpns-a';
  const accessToken = oauth.accessTokens.issue({
    clientEmail: `sa@${project}.iam.gserviceaccount.com`,
    projectId: project,
    scopes: ['https://www.googleapis.com/auth/firebase.messaging'],
    issuedAtMs: Date.now(),
    expiresAtMs: Date.now() + 3_599_000,
  });
  const res = await (options.via ?? client).request({
    path: `/v1/projects/${project}/messages:send`,
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      ...(options.validateOnly ? { validate_only: true } : {}),
      message: { token: deviceToken, data: { k: 'v' } },
    }),
  });
  return { status: res.statusCode, body: await res.body.json() };
}

const status = (code: number, statusName: string, message: string, details: object[]) => ({
  error: { code, message, status: statusName, details },
});

beforeAll(async () => {
  oauth = await createOAuthSimulator({ ca });
  fcm = await createFcmSimulator({ ca, accessTokens: oauth.accessTokens });
  client = new Client(fcm.url, { connect: { ca: ca.caPem }, allowH2: true });
});

beforeEach(() => fcm.reset());

afterAll(async () => {
  await client.close();
  await fcm.close();
  await oauth.close();
});

describe('FcmSimulator token registry', () => {
  const expected: [FcmTokenState, number, object][] = [
    ['valid', 200, { name: expect.stringMatching(/^projects\/hpns-a\/messages\/0:/) }],
    [
      'unregistered',
      404,
      status(404, 'NOT_FOUND', 'Requested entity was not found.', [
        { '@type': FCM, errorCode: 'UNREGISTERED' },
      ]),
    ],
    [
      'malformed',
      400,
      status(400, 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token', [
        { '@type': FCM, errorCode: 'INVALID_ARGUMENT' },
      ]),
    ],
    [
      'apns-unregistered',
      404,
      status(404, 'NOT_FOUND', 'Requested entity was not found.', [
        { '@type': FCM, errorCode: 'UNREGISTERED' },
        { '@type': APNS, statusCode: 410, reason: 'Unregistered' },
      ]),
    ],
    [
      'apns-disabled',
      400,
      status(400, 'INVALID_ARGUMENT', 'APNs device token is disabled.', [
        { '@type': FCM, errorCode: 'INVALID_ARGUMENT' },
        { '@type': APNS, statusCode: 410, reason: 'Unregistered' },
      ]),
    ],
    [
      'apns-auth-error',
      401,
      status(401, 'UNAUTHENTICATED', 'Auth error from APNS or Web Push Service', [
        { '@type': FCM, errorCode: 'THIRD_PARTY_AUTH_ERROR' },
        { '@type': APNS, statusCode: 403, reason: 'InvalidProviderToken' },
      ]),
    ],
  ];

  it.each(expected)('answers a token in state %s with %i and the exact body', async (state, code, body) => {
    fcm.registerToken({ token: `token-${state}`, projectId: 'hpns-a', state });
    const res = await sendTo(`token-${state}`);
    expect(res).toEqual({ status: code, body });
  });

  it('answers 403 SENDER_ID_MISMATCH for a token of another project', async () => {
    fcm.registerToken({ token: 'token-of-b', projectId: 'hpns-b' });
    expect(await sendTo('token-of-b')).toEqual({
      status: 403,
      body: status(403, 'PERMISSION_DENIED', 'SenderId mismatch', [
        { '@type': FCM, errorCode: 'SENDER_ID_MISMATCH' },
      ]),
    });
    expect((await sendTo('token-of-b', { project: 'hpns-b' })).status).toBe(200);
    expect(fcm.counters().byCode).toEqual({ SENDER_ID_MISMATCH: 1, OK: 1 });
  });

  it('checks tokens on validate_only too, as FCM dry runs do', async () => {
    fcm.registerToken({ token: 'gone', projectId: 'hpns-a', state: 'unregistered' });
    expect((await sendTo('gone', { validateOnly: true })).status).toBe(404);
  });

  it('delivers unknown token-shaped tokens by default, and answers others as malformed', async () => {
    expect((await sendTo('cGx1Zw:APA91bF-unknown_token')).status).toBe(200);
    const res = await sendTo('not a token!');
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('not a valid FCM registration token');
  });

  it('answers unknown tokens as configured: unregistered or malformed', async () => {
    fcm.setUnknownTokens('unregistered');
    expect((await sendTo('never-registered')).status).toBe(404);
    fcm.setUnknownTokens('malformed');
    expect((await sendTo('never-registered')).status).toBe(400);
    fcm.registerToken({ token: 'known', projectId: 'hpns-a' });
    expect((await sendTo('known')).status).toBe(200);
  });

  it('forgets an unregistered token, and reset restores the tokens of its options', async () => {
    const sim = await createFcmSimulator({
      ca,
      accessTokens: oauth.accessTokens,
      unknownTokens: 'unregistered',
      tokens: [{ token: 'from-options', projectId: 'hpns-a' }],
    });
    const via = new Client(sim.url, { connect: { ca: ca.caPem }, allowH2: true });
    try {
      sim.registerToken({ token: 'runtime', projectId: 'hpns-a' });
      expect((await sendTo('runtime', { via })).status).toBe(200);
      expect(sim.unregisterToken('runtime')).toBe(true);
      expect((await sendTo('runtime', { via })).status).toBe(404);
      sim.registerToken({ token: 'runtime', projectId: 'hpns-a' });
      sim.reset();
      expect((await sendTo('runtime', { via })).status).toBe(404);
      expect((await sendTo('from-options', { via })).status).toBe(200);
    } finally {
      await via.close();
      await sim.close();
    }
  });
});
