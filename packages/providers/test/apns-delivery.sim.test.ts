import { Registry, Secret } from '@hpns/runtime';
import { createApnsSimulator } from '@hpns/testkit';
import { ApnsProvider } from '../src/apns/apns-provider';
import {
  BUNDLE_ID,
  messageJob,
  metricValue,
  pushJob,
  messageNotification,
  randomToken,
  startApnsTestBed,
  TARGET,
  testCa,
  type ApnsTestBed,
} from './apns-helpers';

/** Request headers as captured, without the symbol-keyed list of sensitive headers Node adds. */
const plain = (headers: object): Record<string, unknown> => Object.fromEntries(Object.entries(headers));

const decodeJwt = (authorization: unknown) => {
  const [header, claims] = String(authorization)
    .replace(/^bearer /, '')
    .split('.');
  return {
    header: JSON.parse(Buffer.from(header ?? '', 'base64url').toString()) as unknown,
    claims: JSON.parse(Buffer.from(claims ?? '', 'base64url').toString()) as unknown,
  };
};

describe('ApnsProvider delivery', () => {
  let bed: ApnsTestBed;
  afterEach(async () => bed.close());

  it('delivers a message push with exactly the Go proxy headers and body (mattermost-wire §2.2–2.3)', async () => {
    bed = await startApnsTestBed();
    const token = randomToken();
    const outcome = await bed.provider.send(messageJob(token));
    expect(outcome).toEqual({ kind: 'delivered', statusCode: 200 });

    const [captured] = bed.sim.requests();
    const { authorization, ...headers } = plain(captured?.headers ?? {});
    expect(headers).toEqual({
      ':method': 'POST',
      ':scheme': 'https',
      ':authority': '127.0.0.1',
      ':path': `/3/device/${token}`,
      'apns-topic': BUNDLE_ID,
      'apns-push-type': 'alert',
      'apns-priority': '10',
      'content-type': 'application/json; charset=utf-8',
    });
    expect(decodeJwt(authorization)).toEqual({
      header: { alg: 'ES256', kid: bed.key.keyId },
      claims: { iss: bed.key.teamId, iat: expect.any(Number) },
    });
    expect(captured?.body).toBe(
      '{"ack_id":"ack1","aps":{"alert":{"body":"hello","title":"town-square"},"badge":3,"category":"CAN_REPLY",' +
        '"content-available":1,"mutable-content":1,"sound":"default","thread-id":"ch1"},"channel_id":"ch1",' +
        '"channel_name":"town-square","is_crt_enabled":false,"post_id":"p1","sender_id":"s1","sender_name":"alice",' +
        '"server_id":"srv1","signature":"NO_SIGNATURE","sub_type":"","team_id":"t1","type":"message","version":"v2"}',
    );
  });

  it('delivers a VoIP push to the .voip topic with push type voip and the VoIP payload (§2.4)', async () => {
    bed = await startApnsTestBed();
    const token = randomToken();
    const content = messageNotification(token, { sub_type: 'calls', signature: 'sig', transport: 'voip' });
    expect(await bed.provider.send(pushJob(content))).toEqual({ kind: 'delivered', statusCode: 200 });

    const [captured] = bed.sim.requests();
    const { authorization, ...headers } = plain(captured?.headers ?? {});
    expect(authorization).toMatch(/^bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(headers).toEqual({
      ':method': 'POST',
      ':scheme': 'https',
      ':authority': '127.0.0.1',
      ':path': `/3/device/${token}`,
      'apns-topic': `${BUNDLE_ID}.voip`,
      'apns-push-type': 'voip',
      'apns-priority': '10',
      'content-type': 'application/json; charset=utf-8',
    });
    expect(captured?.body).toBe(
      '{"ack_id":"ack1","aps":{"content-available":1},"channel_id":"ch1","channel_name":"town-square",' +
        '"id_loaded":false,"post_id":"p1","sender_id":"s1","sender_name":"alice","server_id":"srv1",' +
        '"signature":"sig","sub_type":"calls","thread_id":"","type":"message"}',
    );
  });

  it('sends a content-available-only push as background with priority 5', async () => {
    bed = await startApnsTestBed();
    const token = randomToken();
    const content = messageNotification(token, { type: 'clear', badge: -1, message: '', channel_name: '' });
    expect(await bed.provider.send(pushJob(content))).toEqual({ kind: 'delivered', statusCode: 200 });
    expect(bed.sim.requests()[0]?.headers).toMatchObject({
      'apns-push-type': 'background',
      'apns-priority': '5',
    });
  });

  it('reuses one provider token and one connection per pool slot across many sends', async () => {
    bed = await startApnsTestBed({}, { connectionsPerEndpoint: 2 });
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, () => bed.provider.send(messageJob(randomToken()))),
    );
    expect(outcomes.every((outcome) => outcome.kind === 'delivered')).toBe(true);
    const tokens = new Set(bed.sim.requests().map((request) => request.headers.authorization));
    expect(tokens.size).toBe(1);
    expect(bed.sim.counters()).toMatchObject({ connections: 2, jwtChanges: 0 });
    expect(bed.provider.stats()).toMatchObject({ sessions: 2, tokenMints: 1, refusedStreams: 0 });
  });

  it('records the duration and the outcome on the injected registry', async () => {
    bed = await startApnsTestBed();
    await bed.provider.send(messageJob(randomToken()));
    const labels = { provider: 'apns', target: TARGET, outcome: 'delivered' };
    expect(
      await metricValue(bed.registry, 'hpns_provider_outcomes_total', { ...labels, reason: 'none' }),
    ).toBe(1);
    const histogram = await bed.registry.getSingleMetric('hpns_provider_request_duration_seconds')?.get();
    const count = histogram?.values.find(
      (value) =>
        (value as { metricName?: string }).metricName === 'hpns_provider_request_duration_seconds_count',
    );
    expect(count).toMatchObject({ value: 1, labels });
  });

  it('throws for a target type it does not serve (a bug, not an outcome)', async () => {
    bed = await startApnsTestBed();
    await expect(
      bed.provider.send(pushJob(messageNotification(randomToken()), { targetType: 'apple_other' })),
    ).rejects.toMatchObject({ code: 'HPNS_INTERNAL' });
  });
});

describe('ApnsProvider with certificate auth', () => {
  it('connects with the client certificate and sends no authorization header', async () => {
    const ca = testCa();
    const sim = await createApnsSimulator({ tls: ca, auth: 'none' });
    // Any certificate with its key will do for the client side: the simulator checks no client certificate.
    const provider = new ApnsProvider({
      targets: [
        {
          type: TARGET,
          topic: BUNDLE_ID,
          useDevelopment: true,
          auth: {
            kind: 'certificate',
            certFile: '/dev/null',
            certPem: new Secret(`${ca.serverCertPem}\n${ca.serverKeyPem}`),
            password: new Secret(''),
          },
        },
      ],
      registry: new Registry(),
      endpoints: { [TARGET]: { address: 'localhost', port: sim.port, caPem: sim.caPem } },
    });
    try {
      const token = randomToken();
      expect(await provider.send(messageJob(token))).toEqual({ kind: 'delivered', statusCode: 200 });
      const [captured] = sim.requests();
      expect(captured?.headers.authorization).toBeUndefined();
      expect(captured?.headers[':authority']).toBe('localhost');
    } finally {
      await provider.close();
      await sim.close();
    }
  });
});
