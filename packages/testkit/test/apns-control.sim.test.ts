import { type ClientHttp2Session } from 'node:http2';
import { ControlRouter, createControlServer, generateApnsKey, type ControlServer } from '@hpns/testkit';
import {
  ALERT,
  BUNDLE_ID,
  closeSession,
  connectTo,
  h2Request,
  nextGoaway,
  randomToken,
  startApnsFixture,
  type ApnsFixture,
} from './apns-helpers';

describe('APNs simulator control routes', () => {
  let fx: ApnsFixture;
  let control: ControlServer;
  let session: ClientHttp2Session;

  beforeAll(async () => {
    fx = await startApnsFixture({ streamLimitMode: 'fixed' });
    control = await createControlServer(fx.sim.router());
    session = await connectTo(fx.sim);
  });
  afterAll(async () => {
    await closeSession(session);
    await control.close();
    await fx.sim.close();
  });
  beforeEach(() => fx.sim.reset());

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${control.url}${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const push = async (token = randomToken(), headers = {}) => {
    const reply = await h2Request(session, fx.headers(token, headers), ALERT);
    return reply.status === 200 ? 200 : `${reply.status} ${JSON.stringify(reply.json)}`;
  };

  it('describes the simulator and mounts on a router it is given', async () => {
    const info = await call('GET', '/apns/info');
    expect(info.body).toMatchObject({ url: fx.sim.url, port: fx.sim.port, environment: 'production' });
    expect(info.body.caPem).toBe(fx.sim.caPem);
    const router = new ControlRouter();
    expect(fx.sim.router(router)).toBe(router);
  });

  it('registers signing keys and device tokens', async () => {
    const key = generateApnsKey();
    const publicKeyPem = key.publicKey.export({ type: 'spki', format: 'pem' });
    expect(
      (await call('POST', '/apns/keys', { keyId: key.keyId, teamId: key.teamId, publicKeyPem })).status,
    ).toBe(201);
    expect((await call('GET', '/apns/keys')).body).toContainEqual({ keyId: key.keyId, teamId: key.teamId });
    const other = await connectTo(fx.sim);
    const reply = await h2Request(
      other,
      fx.headers(randomToken(), { authorization: `bearer ${fx.jwt(undefined, key)}` }),
      ALERT,
    );
    expect(reply.status).toBe(200);
    await closeSession(other);
    expect((await call('DELETE', `/apns/keys/${key.keyId}`)).status).toBe(200);

    const token = randomToken();
    const entry = { bundleId: BUNDLE_ID, state: 'unregistered', timestampMs: 1_700_000_000_000 };
    expect((await call('PUT', `/apns/tokens/${token}`, entry)).status).toBe(200);
    expect(await push(token)).toBe('410 {"reason":"Unregistered","timestamp":1700000000000}');
    expect((await call('GET', `/apns/tokens/${token}`)).body).toEqual({
      bundleId: BUNDLE_ID,
      state: { kind: 'unregistered', timestampMs: 1_700_000_000_000 },
    });
    expect(Object.keys((await call('GET', '/apns/tokens')).body)).toEqual([token]);
    expect((await call('DELETE', `/apns/tokens/${token}`)).status).toBe(200);
    expect((await call('GET', `/apns/tokens/${token}`)).status).toBe(404);
  });

  it('sets, merges, reads and clears the fault profile, and queues faults', async () => {
    await call('PUT', '/apns/faults', { tooManyRequests: { maxPushes: 1, windowMs: 60_000 } });
    await call('POST', '/apns/faults', { retryAfterSeconds: 3 });
    expect((await call('GET', '/apns/faults')).body).toEqual({
      profile: { tooManyRequests: { maxPushes: 1, windowMs: 60_000 }, retryAfterSeconds: 3 },
      queued: 0,
    });
    const token = randomToken();
    expect(await push(token)).toBe(200);
    expect(await push(token)).toBe('429 {"reason":"TooManyRequests"}');
    expect((await call('DELETE', '/apns/faults')).body).toEqual({ profile: {} });

    expect((await call('POST', '/apns/faults/next', { count: 2, fault: 'ServiceUnavailable' })).body).toEqual(
      { queued: 2 },
    );
    expect([await push(), await push(), await push()]).toEqual([
      '503 {"reason":"ServiceUnavailable"}',
      '503 {"reason":"ServiceUnavailable"}',
      200,
    ]);
  });

  it('moves the clock, disallows topics and sends GOAWAY', async () => {
    expect((await call('POST', '/apns/clock', { advanceMs: 3_601_000 })).body).toMatchObject({
      clockOffsetMs: 3_601_000,
    });
    expect(await push()).toBe('403 {"reason":"ExpiredProviderToken"}');
    await call('POST', '/apns/reset');

    await call('PUT', `/apns/topics/disallowed/${BUNDLE_ID}`);
    expect((await call('GET', '/apns/topics/disallowed')).body).toEqual([BUNDLE_ID]);
    expect(await push()).toBe('400 {"reason":"TopicDisallowed"}');
    await call('DELETE', `/apns/topics/disallowed/${BUNDLE_ID}`);
    expect(await push()).toBe(200);

    const goaway = nextGoaway(session);
    expect((await call('POST', '/apns/goaway', { reason: 'Shutdown' })).body).toEqual({ connections: 1 });
    expect((await goaway).data).toBe('{"reason":"Shutdown"}');
    session = await connectTo(fx.sim);
  });

  it('serves counters and captured requests, and resets them', async () => {
    const token = randomToken();
    await push(token);
    await push();
    expect((await call('GET', '/apns/counters')).body).toMatchObject({ requests: 2, byStatus: { '200': 2 } });
    const captured = await call('GET', `/apns/requests?token=${token}`);
    expect(captured.body).toEqual([
      expect.objectContaining({
        token,
        body: ALERT,
        status: 200,
        headers: expect.objectContaining({ 'apns-topic': BUNDLE_ID }),
      }),
    ]);
    expect(await call('GET', '/apns/requests?limit=1')).toMatchObject({
      body: [expect.objectContaining({ seq: 2 })],
    });
    await call('DELETE', '/apns/requests');
    expect((await call('GET', '/apns/requests')).body).toEqual([]);
    await call('POST', '/apns/reset');
    expect((await call('GET', '/apns/counters')).body).toMatchObject({ requests: 0, byStatus: {} });
  });

  it('answers 400 with a message for invalid input', async () => {
    expect(await call('PUT', '/apns/faults', { internalErrorRate: 2 })).toEqual({
      status: 400,
      body: { error: 'internalErrorRate must be between 0 and 1' },
    });
    expect((await call('POST', '/apns/faults/next', { fault: 'Nope' })).status).toBe(400);
    expect((await call('PUT', `/apns/tokens/${randomToken()}`, { state: 'active' })).status).toBe(400);
    expect((await call('POST', '/apns/keys', { keyId: 'K' })).status).toBe(400);
    expect((await call('POST', '/apns/clock', {})).status).toBe(400);
  });
});
