import { type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import { request } from 'node:https';
import { APNS_MAX_PAYLOAD_BYTES, APNS_VOIP_MAX_PAYLOAD_BYTES } from '@hpns/protocol';
import { apnsMagicToken, createApnsSimulator, type ApnsMagicTokenKind } from '@hpns/testkit';
import {
  ALERT,
  BUNDLE_ID,
  closeSession,
  connectTo,
  h2Request,
  payloadOfSize,
  randomToken,
  startApnsFixture,
  type ApnsFixture,
} from './apns-helpers';

const UUID_LOWER = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('APNs simulator requests and responses (reference §1.2–§1.4)', () => {
  let fx: ApnsFixture;
  let session: ClientHttp2Session;

  beforeAll(async () => {
    fx = await startApnsFixture({ streamLimitMode: 'fixed' });
    session = await connectTo(fx.sim);
  });
  afterAll(async () => {
    await closeSession(session);
    await fx.sim.close();
  });
  beforeEach(() => fx.sim.reset());

  const push = (headers: OutgoingHttpHeaders, body: string | undefined = ALERT) =>
    h2Request(session, headers, body);

  it('answers 200 with the echoed apns-id and no body when the push is valid', async () => {
    const apnsId = '123e4567-e89b-12d3-a456-4266554400a0';
    const reply = await push(fx.headers(randomToken(), { 'apns-id': apnsId }));
    expect(reply.status).toBe(200);
    expect(reply.headers['apns-id']).toBe(apnsId);
    expect(reply.headers['apns-unique-id']).toBeUndefined();
    expect(reply.headers['retry-after']).toBeUndefined();
    expect(reply.body).toBe('');
  });

  it('generates a lower-case UUID apns-id when the request has none', async () => {
    const reply = await push(fx.headers(randomToken()));
    expect(reply.status).toBe(200);
    expect(reply.headers['apns-id']).toMatch(UUID_LOWER);
  });

  it('adds apns-unique-id only when it plays the sandbox environment', async () => {
    const sandbox = await startApnsFixture({ environment: 'sandbox', streamLimitMode: 'fixed' });
    const client = await connectTo(sandbox.sim);
    try {
      const ok = await h2Request(client, sandbox.headers(randomToken()), ALERT);
      expect(ok.headers['apns-unique-id']).toMatch(UUID_LOWER);
      const bad = await h2Request(client, sandbox.headers('zz'), ALERT);
      expect(bad.headers['apns-unique-id']).toMatch(UUID_LOWER);
    } finally {
      await closeSession(client);
      await sandbox.sim.close();
    }
  });

  const without = (headers: OutgoingHttpHeaders, name: string): OutgoingHttpHeaders => {
    const copy = { ...headers };
    delete copy[name];
    return copy;
  };

  const headerCases: [string, (token: string) => OutgoingHttpHeaders, number, string][] = [
    [
      'a header is repeated',
      (t) => fx.headers(t, { 'apns-topic': [BUNDLE_ID, BUNDLE_ID] }),
      400,
      'DuplicateHeaders',
    ],
    ['apns-id is not a UUID', (t) => fx.headers(t, { 'apns-id': 'not-a-uuid' }), 400, 'BadMessageId'],
    ['the method is not POST', (t) => fx.headers(t, { ':method': 'PUT' }), 405, 'MethodNotAllowed'],
    ['apns-topic is missing', (t) => without(fx.headers(t), 'apns-topic'), 400, 'MissingTopic'],
    ['apns-topic is empty', (t) => fx.headers(t, { 'apns-topic': '' }), 400, 'MissingTopic'],
    [
      'apns-collapse-id exceeds 64 bytes',
      (t) => fx.headers(t, { 'apns-collapse-id': 'é'.repeat(33) }),
      400,
      'BadCollapseId',
    ],
    ['apns-priority is not 10, 5 or 1', (t) => fx.headers(t, { 'apns-priority': '7' }), 400, 'BadPriority'],
    [
      'apns-push-type is unknown',
      (t) => fx.headers(t, { 'apns-push-type': 'banner' }),
      400,
      'InvalidPushType',
    ],
    [
      'apns-expiration is not epoch seconds',
      (t) => fx.headers(t, { 'apns-expiration': 'tomorrow' }),
      400,
      'BadExpirationDate',
    ],
    [
      'a background push uses priority 10',
      (t) => fx.headers(t, { 'apns-push-type': 'background', 'apns-priority': '10' }),
      400,
      'BadPriority',
    ],
    [
      'the topic lacks the push type suffix',
      (t) => fx.headers(t, { 'apns-push-type': 'voip' }),
      400,
      'BadTopic',
    ],
    [
      'an alert goes to a suffixed topic',
      (t) => fx.headers(t, { 'apns-topic': `${BUNDLE_ID}.voip` }),
      400,
      'BadTopic',
    ],
    ['the path has no token', () => fx.headers('', { ':path': '/3/device/' }), 400, 'MissingDeviceToken'],
    ['the path is not /3/device/', (t) => fx.headers(t, { ':path': `/3/devices/${t}` }), 404, 'BadPath'],
    ['the token is not hex', () => fx.headers('xyz'), 400, 'BadDeviceToken'],
    ['the token is shorter than 32 bytes', () => fx.headers('abcd'), 400, 'BadDeviceToken'],
    [
      'there is no authorization header',
      (t) => without(fx.headers(t), 'authorization'),
      403,
      'MissingProviderToken',
    ],
    [
      'authorization is not a bearer token',
      (t) => fx.headers(t, { authorization: 'basic x' }),
      403,
      'MissingProviderToken',
    ],
  ];

  it.each(headerCases)('answers the reason when %s', async (_case, headers, status, reason) => {
    const reply = await push(headers(randomToken()));
    expect({ status: reply.status, json: reply.json }).toEqual({ status, json: { reason } });
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.headers['apns-id']).toMatch(UUID_LOWER);
  });

  it('checks headers in pushy order when several are wrong', async () => {
    const token = randomToken();
    const noTopic = without(fx.headers(token), 'apns-topic');
    expect((await push({ ...noTopic, 'apns-id': 'x', ':method': 'PUT' })).json?.reason).toBe('BadMessageId');
    expect((await push({ ...noTopic, ':method': 'PUT' })).json?.reason).toBe('MethodNotAllowed');
    expect((await push({ ...noTopic, 'apns-priority': '7' })).json?.reason).toBe('MissingTopic');
    const both = fx.headers('xyz', { 'apns-priority': '7', authorization: 'x' });
    expect((await push(both)).json?.reason).toBe('BadPriority');
    expect((await push(fx.headers('xyz', { authorization: 'x' }))).json?.reason).toBe('BadDeviceToken');
  });

  it('accepts a 64-byte collapse id and every push type on its suffixed topic', async () => {
    expect((await push(fx.headers(randomToken(), { 'apns-collapse-id': 'c'.repeat(64) }))).status).toBe(200);
    const suffixes: Record<string, string> = {
      alert: '',
      voip: '.voip',
      complication: '.complication',
      fileprovider: '.pushkit.fileprovider',
      liveactivity: '.push-type.liveactivity',
      location: '.location-query',
      pushtotalk: '.voip-ptt',
      widgets: '.push-type.widgets',
      controls: '.push-type.controls',
    };
    for (const [pushType, suffix] of Object.entries(suffixes)) {
      const headers = fx.headers(randomToken(), {
        'apns-push-type': pushType,
        'apns-topic': BUNDLE_ID + suffix,
      });
      expect([pushType, (await push(headers)).status]).toEqual([pushType, 200]);
    }
    const background = fx.headers(randomToken(), { 'apns-push-type': 'background', 'apns-priority': '5' });
    expect((await push(background)).status).toBe(200);
  });

  it('limits the body to 4096 bytes, 5120 for VoIP, counting bytes not characters', async () => {
    const token = randomToken();
    expect((await push(fx.headers(token), payloadOfSize(APNS_MAX_PAYLOAD_BYTES))).status).toBe(200);
    const tooBig = await push(fx.headers(token), payloadOfSize(APNS_MAX_PAYLOAD_BYTES + 1));
    expect({ status: tooBig.status, json: tooBig.json }).toEqual({
      status: 413,
      json: { reason: 'PayloadTooLarge' },
    });
    const multiByte = JSON.stringify({ aps: { alert: 'é'.repeat(2040) } }); // 2060 characters, 4100 bytes
    expect((await push(fx.headers(token), multiByte)).json?.reason).toBe('PayloadTooLarge');

    const voip = fx.headers(token, { 'apns-push-type': 'voip', 'apns-topic': `${BUNDLE_ID}.voip` });
    expect((await push(voip, payloadOfSize(APNS_VOIP_MAX_PAYLOAD_BYTES))).status).toBe(200);
    expect((await push(voip, payloadOfSize(APNS_VOIP_MAX_PAYLOAD_BYTES + 1))).status).toBe(413);
    // Without apns-push-type the .voip topic alone makes it a VoIP push (§1.3).
    const inferred = without(voip, 'apns-push-type');
    expect((await push(inferred, payloadOfSize(APNS_VOIP_MAX_PAYLOAD_BYTES))).status).toBe(200);
  });

  it('answers PayloadEmpty without a body and BadPayload for a body that is not a JSON object', async () => {
    const token = randomToken();
    expect((await push(fx.headers(token), '')).json).toEqual({ reason: 'PayloadEmpty' });
    expect((await push(fx.headers(token), '{"aps":')).json).toEqual({ reason: 'BadPayload' });
    expect((await push(fx.headers(token), '[1]')).json).toEqual({ reason: 'BadPayload' });
  });

  it('answers 410 Unregistered with the registry timestamp in ms, and the other token states', async () => {
    const dead = randomToken();
    fx.sim.setToken(dead, {
      bundleId: BUNDLE_ID,
      state: { kind: 'unregistered', timestampMs: 1_700_000_000_123 },
    });
    const gone = await push(fx.headers(dead));
    expect(gone.status).toBe(410);
    expect(gone.json).toEqual({ reason: 'Unregistered', timestamp: 1_700_000_000_123 });

    const expired = randomToken();
    fx.sim.setToken(expired, { bundleId: BUNDLE_ID, state: { kind: 'expired' } });
    expect(await push(fx.headers(expired))).toMatchObject({ status: 410, json: { reason: 'ExpiredToken' } });

    const bad = randomToken();
    fx.sim.setToken(bad, { bundleId: BUNDLE_ID, state: { kind: 'bad' } });
    expect(await push(fx.headers(bad))).toMatchObject({ status: 400, json: { reason: 'BadDeviceToken' } });

    const other = randomToken();
    fx.sim.setToken(other, { bundleId: 'com.other.app', state: { kind: 'active' } });
    expect((await push(fx.headers(other))).json?.reason).toBe('DeviceTokenNotForTopic');

    const sandboxOnly = randomToken();
    fx.sim.setToken(sandboxOnly, { bundleId: BUNDLE_ID, environment: 'sandbox', state: { kind: 'active' } });
    expect((await push(fx.headers(sandboxOnly))).json?.reason).toBe('BadDeviceToken');

    const active = randomToken();
    fx.sim.setToken(active, { bundleId: BUNDLE_ID, environment: 'production', state: { kind: 'active' } });
    expect((await push(fx.headers(active))).status).toBe(200);
  });

  it('answers BadDeviceToken for unknown tokens when configured to reject them', async () => {
    const strict = await startApnsFixture({ unknownTokens: 'reject', streamLimitMode: 'fixed' });
    const client = await connectTo(strict.sim);
    try {
      expect((await h2Request(client, strict.headers(randomToken()), ALERT)).json?.reason).toBe(
        'BadDeviceToken',
      );
      const known = randomToken();
      strict.sim.setToken(known, { bundleId: BUNDLE_ID, state: { kind: 'active' } });
      expect((await h2Request(client, strict.headers(known), ALERT)).status).toBe(200);
    } finally {
      await closeSession(client);
      await strict.sim.close();
    }
  });

  const magicCases: [ApnsMagicTokenKind, number, Record<string, unknown>][] = [
    ['bad', 400, { reason: 'BadDeviceToken' }],
    ['unregistered', 410, { reason: 'Unregistered', timestamp: expect.any(Number) }],
    ['expired', 410, { reason: 'ExpiredToken' }],
    ['tooManyRequests', 429, { reason: 'TooManyRequests' }],
    ['internalServerError', 500, { reason: 'InternalServerError' }],
    ['serviceUnavailable', 503, { reason: 'ServiceUnavailable' }],
  ];

  it.each(magicCases)('answers a magic %s token without registration', async (kind, status, json) => {
    const reply = await push(fx.headers(apnsMagicToken(kind)));
    expect(reply.status).toBe(status);
    expect(reply.json).toEqual(json);
  });

  it('answers TopicDisallowed for a disallowed topic until it is allowed again', async () => {
    fx.sim.disallowTopic(BUNDLE_ID);
    expect((await push(fx.headers(randomToken()))).json?.reason).toBe('TopicDisallowed');
    fx.sim.allowTopic(BUNDLE_ID);
    expect((await push(fx.headers(randomToken()))).status).toBe(200);
  });

  it('sends retry-after on 429, 500 and 503 only when the fault profile asks for it', async () => {
    expect(
      (await push(fx.headers(apnsMagicToken('tooManyRequests')))).headers['retry-after'],
    ).toBeUndefined();
    fx.sim.setFaults({ retryAfterSeconds: 7 });
    expect((await push(fx.headers(apnsMagicToken('tooManyRequests')))).headers['retry-after']).toBe('7');
    expect((await push(fx.headers(apnsMagicToken('serviceUnavailable')))).headers['retry-after']).toBe('7');
    expect((await push(fx.headers(apnsMagicToken('bad')))).headers['retry-after']).toBeUndefined();
  });

  it('speaks only HTTP/2: an HTTP/1.1 client is dropped during the handshake', async () => {
    const sim = await createApnsSimulator();
    try {
      const outcome = await new Promise<string>((resolve) => {
        const req = request(sim.url, { ca: sim.caPem, method: 'POST' }, (res) =>
          resolve(`status ${res.statusCode}`),
        );
        req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        req.end();
      });
      expect(outcome).toMatch(/ECONNRESET|socket hang up|EPROTO/);
    } finally {
      await sim.close();
    }
  });
});
