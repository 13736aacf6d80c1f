import { Notification, Provider, type ProviderOptions, type ResponseFailure } from '@parse/node-apn';
import { APNS_MAX_PAYLOAD_BYTES, APNS_VOIP_MAX_PAYLOAD_BYTES } from '@hpns/protocol';
import { apnsMagicToken, type ApnsSimulatorOptions } from '@hpns/testkit';
import { BUNDLE_ID, payloadOfSize, randomToken, startApnsFixture, type ApnsFixture } from './apns-helpers';

/*
 * The real client library against the simulator. @parse/node-apn can be aimed at it without patching
 * (reference §4.4): `address` + `port` pick the host (http2.connect('https://' + address, {port, ...})), and
 * `ca` goes straight to tls.connect. Its quirks (§4.3) show up as the tests below expect.
 */
describe('APNs simulator driven by @parse/node-apn 8', () => {
  let fx: ApnsFixture;
  let provider: Provider;

  const start = async (
    simOptions: ApnsSimulatorOptions = {},
    clientOptions: Partial<ProviderOptions> = {},
  ) => {
    fx = await startApnsFixture({ streamLimitMode: 'fixed', ...simOptions });
    provider = new Provider({
      token: { key: fx.key.privateKeyPem, keyId: fx.key.keyId, teamId: fx.key.teamId },
      address: '127.0.0.1',
      port: fx.sim.port,
      ca: [fx.sim.caPem],
      connectionRetryLimit: 0,
      ...clientOptions,
    });
  };
  afterEach(async () => {
    await new Promise<void>((resolve) => void provider.shutdown(() => resolve()));
    await fx.sim.close();
  });

  const alert = (fields: Record<string, unknown> = {}) =>
    Object.assign(new Notification(), { topic: BUNDLE_ID, pushType: 'alert', alert: 'hello' }, fields);
  const failure = (failed: ResponseFailure) =>
    failed.error?.message ?? `${failed.status} ${JSON.stringify(failed.response)}`;

  it('delivers a push, reports the apns-id and sends what Apple expects', async () => {
    await start();
    const token = randomToken();
    const id = '0f0e0d0c-0b0a-4909-8807-060504030201';
    const result = await provider.send(alert({ id, collapseId: 'c1', expiry: 2_000_000_000 }), token);
    expect(result).toEqual({ sent: [{ device: token, 'apns-id': id }], failed: [] });
    const [captured] = fx.sim.requests();
    expect(captured?.headers).toMatchObject({
      ':method': 'POST',
      ':path': `/3/device/${token}`,
      ':authority': '127.0.0.1',
      'apns-topic': BUNDLE_ID,
      'apns-push-type': 'alert',
      'apns-priority': '10',
      'apns-collapse-id': 'c1',
      'apns-expiration': '2000000000',
      authorization: expect.stringMatching(/^bearer [\w-]+\.[\w-]+\.[\w-]+$/),
    });
    expect(JSON.parse(captured?.body ?? '')).toEqual({ aps: { alert: 'hello' } });
  });

  it('reports 410 Unregistered with its timestamp, and 400 reasons, as failed', async () => {
    await start();
    const dead = randomToken();
    fx.sim.setToken(dead, {
      bundleId: BUNDLE_ID,
      state: { kind: 'unregistered', timestampMs: 1_700_000_000_000 },
    });
    const bad = apnsMagicToken('bad');
    await provider.send(alert(), randomToken()); // warm the connection
    const result = await provider.send(alert(), [dead, bad]);
    expect(result.sent).toEqual([]);
    expect(result.failed).toEqual([
      expect.objectContaining({
        device: dead,
        status: 410,
        response: { reason: 'Unregistered', timestamp: 1_700_000_000_000 },
      }),
      expect.objectContaining({ device: bad, status: 400, response: { reason: 'BadDeviceToken' } }),
    ]);
  });

  it('is told PayloadTooLarge at 4097 bytes and 5121 for VoIP, and accepts 4096 and 5120', async () => {
    await start();
    const sized = (bytes: number, fields: Record<string, unknown> = {}) =>
      alert({ ...fields, rawPayload: JSON.parse(payloadOfSize(bytes)) });
    const voip = { pushType: 'voip', topic: `${BUNDLE_ID}.voip` };
    const token = randomToken();
    expect((await provider.send(sized(APNS_MAX_PAYLOAD_BYTES), token)).sent).toHaveLength(1);
    expect(
      failure((await provider.send(sized(APNS_MAX_PAYLOAD_BYTES + 1), token)).failed[0] as ResponseFailure),
    ).toBe('413 {"reason":"PayloadTooLarge"}');
    expect((await provider.send(sized(APNS_VOIP_MAX_PAYLOAD_BYTES, voip), token)).sent).toHaveLength(1);
    const tooBig = await provider.send(sized(APNS_VOIP_MAX_PAYLOAD_BYTES + 1, voip), token);
    expect(failure(tooBig.failed[0] as ResponseFailure)).toBe('413 {"reason":"PayloadTooLarge"}');
    expect(fx.sim.requests().map((r) => r.bodyBytes)).toEqual([4096, 4097, 5120, 5121]);
  });

  it('gets ExpiredProviderToken when the simulator clock runs an hour ahead, re-minting once per retry', async () => {
    await start({}, { connectionRetryLimit: 1 });
    fx.sim.advanceClock(3_601_000);
    const result = await provider.send(alert(), randomToken());
    expect(result.failed).toEqual([expect.objectContaining({ status: 403 })]);
    expect(failure(result.failed[0] as ResponseFailure)).toBe('ExpiredProviderToken');
    const tokensSent = fx.sim.requests().map((r) => r.headers.authorization);
    // node-apn regenerates its JWT on ExpiredProviderToken (§4.3.5); its clock is not the simulator's.
    expect(tokensSent).toHaveLength(2);
    expect(tokensSent[0]).not.toBe(tokensSent[1]);
  });

  it('retries 429 at once, connectionRetryLimit times, ignoring retry-after (reference §4.3.1–2)', async () => {
    await start({ faults: { retryAfterSeconds: 5 } }, { connectionRetryLimit: 3 });
    const token = apnsMagicToken('tooManyRequests');
    const result = await provider.send(alert(), token);
    expect(failure(result.failed[0] as ResponseFailure)).toBe('429 {"reason":"TooManyRequests"}');
    const attempts = fx.sim.requests().filter((r) => r.token === token);
    expect(attempts).toHaveLength(4);
    // Had it honoured retry-after: 5, the attempts would span 15 s.
    expect((attempts[3]?.atMs ?? 0) - (attempts[0]?.atMs ?? 0)).toBeLessThan(5000);
  });

  it('fails on 503 Shutdown, drops the connection on GOAWAY and reconnects for the next send', async () => {
    await start({ faults: { shutdown: true } });
    const result = await provider.send(alert(), randomToken());
    expect(failure(result.failed[0] as ResponseFailure)).toBe('503 {"reason":"Shutdown"}');
    fx.sim.setFaults({});
    // A push written before the GOAWAY arrives is lost ("stream ended unexpectedly", §4.2); wait until
    // node-apn has dropped the connection.
    await fx.sim.whenConnections(0);
    expect((await provider.send(alert(), randomToken())).sent).toHaveLength(1);
    expect(fx.sim.counters()).toMatchObject({ connections: 2, goaways: { Shutdown: 1 } });
  });

  it('times out a stalled push with "apn write timeout"', async () => {
    await start({}, { requestTimeout: 1000 });
    fx.sim.injectNext(1, 'stall');
    const result = await provider.send(alert(), randomToken());
    expect(failure(result.failed[0] as ResponseFailure)).toBe('apn write timeout');
    expect((await provider.send(alert(), randomToken())).sent).toHaveLength(1);
  });

  it('loses the in-flight push on a TCP reset, then reconnects', async () => {
    await start();
    fx.sim.injectNext(1, 'reset');
    const result = await provider.send(alert(), randomToken());
    expect(result.sent).toEqual([]);
    expect(result.failed[0]?.error).toBeInstanceOf(Error);
    expect((await provider.send(alert(), randomToken())).sent).toHaveLength(1);
    expect(fx.sim.counters()).toMatchObject({ connections: 2, resets: 1 });
  });

  it('loses all but one push of a cold-start burst to the token-gated stream limit (reference §4.3.3)', async () => {
    await start({ streamLimitMode: 'token-gated' });
    const cold = await provider.send(alert(), [randomToken(), randomToken(), randomToken()]);
    expect(cold.sent).toHaveLength(1);
    expect(cold.failed.map((f) => f.error?.message)).toEqual([
      expect.stringContaining('NGHTTP2_REFUSED_STREAM'),
      expect.stringContaining('NGHTTP2_REFUSED_STREAM'),
    ]);
    const warm = await provider.send(alert(), [randomToken(), randomToken(), randomToken()]);
    expect(warm.sent).toHaveLength(3);
  });
});
