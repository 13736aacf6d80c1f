import { createMetricsRegistry } from '@hpns/runtime';
import { generateServiceAccount } from '@hpns/testkit';
import { FcmProvider } from '../src/fcm/fcm-provider';
import {
  androidTarget,
  eventually,
  fcmProvider,
  PROJECT_ID,
  pushJob,
  registrationToken,
  resetFcmWorld,
  startFcmWorld,
  type FcmWorld,
} from './fcm-helpers';

let world: FcmWorld;

beforeAll(async () => {
  world = await startFcmWorld();
});

beforeEach(() => resetFcmWorld(world));

afterAll(async () => {
  await world.close();
});

describe.each([
  { name: 'HTTP/2', http2: true, protocol: 'h2' },
  { name: 'HTTP/1.1', http2: false, protocol: 'h1' },
])('FcmProvider over $name', ({ http2, protocol }) => {
  let provider: FcmProvider;

  beforeEach(() => {
    provider = fcmProvider(world, { http2 });
  });

  afterEach(async () => {
    await provider.close();
  });

  it('delivers a push as the exact FCM v1 message the push proxy sends', async () => {
    const token = registrationToken();
    const job = pushJob({
      device_id: token,
      type: 'message',
      sub_type: '',
      version: 'v2',
      ack_id: 'ack-1',
      server_id: 'srv1',
      channel_id: 'ch1',
      channel_name: 'Town Square',
      team_id: 'team1',
      post_id: 'post1',
      root_id: 'root1',
      sender_id: 'user1',
      sender_name: 'alice',
      message: 'hello there',
      category: 'CAN_REPLY',
      is_crt_enabled: true,
      signature: '',
      badge: 3,
    });

    await expect(provider.send(job)).resolves.toEqual({ kind: 'delivered', statusCode: 200 });

    const [request] = world.fcm.requests();
    expect(request).toMatchObject({
      protocol,
      method: 'POST',
      path: `/v1/projects/${PROJECT_ID}/messages:send`,
      status: 200,
      registrationToken: token,
    });
    expect(request?.headers['content-type']).toBe('application/json; charset=UTF-8');
    expect(request?.headers.authorization).toMatch(/^Bearer ya29\.[\w-]+$/);
    // mattermost-wire.md §3.2: data-only, high priority, every value a string, no TTL.
    expect(request?.json).toEqual({
      message: {
        token,
        data: {
          ack_id: 'ack-1',
          type: 'message',
          sub_type: '',
          version: 'v2',
          channel_id: 'ch1',
          is_crt_enabled: 'true',
          server_id: 'srv1',
          category: 'CAN_REPLY',
          signature: 'NO_SIGNATURE',
          badge: '3',
          root_id: 'root1',
          team_id: 'team1',
          sender_id: 'user1',
          sender_name: 'alice',
          message: 'hello there',
          channel_name: 'Town Square',
          post_id: 'post1',
          override_username: '',
          override_icon_url: '',
          from_webhook: '',
        },
        android: { priority: 'HIGH' },
      },
    });
    expect(world.fcm.counters().delivered).toBe(1);
  });

  it('sends many concurrent pushes with one access token over a bounded set of connections', async () => {
    const outcomes = await Promise.all(Array.from({ length: 300 }, () => provider.send(pushJob())));

    expect(outcomes.every((o) => o.kind === 'delivered')).toBe(true);
    expect(world.oauth.counters().mints).toBe(1);
    expect(new Set(world.fcm.requests().map((r) => r.accessToken)).size).toBe(1);
    const { connections, byProtocol } = world.fcm.counters();
    expect(byProtocol[protocol as 'h1' | 'h2']).toBe(300);
    // Defaults: 4 h2 connections per project; 256 h1 connections.
    expect(connections.total).toBeLessThanOrEqual(http2 ? 4 : 256);
  });
});

describe('FcmProvider targets', () => {
  it('sends each target to its own project with its own service account', async () => {
    const other = generateServiceAccount({ projectId: 'hpns-fcm-beta', tokenUri: world.oauth.tokenUrl });
    world.oauth.registerServiceAccount(other);
    const provider = new FcmProvider({
      targets: [world.target, androidTarget(other, world.oauth.tokenUrl, { type: 'android_rnbeta' })],
      baseUrl: world.fcm.url,
      ca: world.ca.caPem,
    });
    try {
      const tokenA = registrationToken();
      const tokenB = registrationToken();
      world.fcm.registerToken({ token: tokenA, projectId: PROJECT_ID });
      world.fcm.registerToken({ token: tokenB, projectId: 'hpns-fcm-beta' });

      expect(provider.targetTypes).toEqual(['android_rn', 'android_rnbeta']);
      await expect(provider.send(pushJob({ device_id: tokenA }))).resolves.toMatchObject({
        kind: 'delivered',
      });
      await expect(provider.send(pushJob({ device_id: tokenB }, 'android_rnbeta'))).resolves.toMatchObject({
        kind: 'delivered',
      });

      expect(world.fcm.requests().map((r) => [r.project, r.registrationToken])).toEqual([
        [PROJECT_ID, tokenA],
        ['hpns-fcm-beta', tokenB],
      ]);
      expect(world.oauth.counters().mintsByAccount).toEqual({
        [world.account.clientEmail]: 1,
        [other.clientEmail]: 1,
      });
    } finally {
      await provider.close();
    }
  });

  it('throws for a job whose target type it was not configured with (a routing bug)', async () => {
    const provider = fcmProvider(world);
    try {
      await expect(provider.send(pushJob({}, 'android_unknown'))).rejects.toThrow(
        'no FCM target of type android_unknown',
      );
      expect(world.fcm.counters().requests).toBe(0);
    } finally {
      await provider.close();
    }
  });

  it('refuses a configuration with no target or a duplicate target type', () => {
    expect(() => new FcmProvider({ targets: [] })).toThrow('at least one Android target');
    expect(() => new FcmProvider({ targets: [world.target, world.target] })).toThrow(
      'duplicate Android target type android_rn',
    );
  });
});

describe('FcmProvider metrics', () => {
  it('records each send in the duration histogram and the outcome counter of the injected registry', async () => {
    const registry = createMetricsRegistry({ collectDefaults: false });
    const provider = fcmProvider(world, { registry });
    try {
      const dead = registrationToken();
      world.fcm.registerToken({ token: dead, projectId: PROJECT_ID, state: 'unregistered' });
      await provider.send(pushJob());
      await provider.send(pushJob());
      await provider.send(pushJob({ device_id: dead }));

      const text = await registry.metrics();
      expect(text).toContain(
        'hpns_provider_outcomes_total{provider="fcm",target="android_rn",outcome="delivered",reason="none"} 2',
      );
      expect(text).toContain(
        'hpns_provider_outcomes_total{provider="fcm",target="android_rn",outcome="invalid_token",reason="UNREGISTERED"} 1',
      );
      expect(text).toContain(
        'hpns_provider_request_duration_seconds_count{provider="fcm",target="android_rn",outcome="delivered"} 2',
      );
    } finally {
      await provider.close();
    }
  });
});

describe('FcmProvider close', () => {
  it('closes every connection to FCM and to the token endpoint', async () => {
    const provider = fcmProvider(world, { http2: false });
    await Promise.all(Array.from({ length: 20 }, () => provider.send(pushJob())));
    expect(world.fcm.counters().connections.open).toBeGreaterThan(0);

    await provider.close();

    // The server sees the client's FIN a moment after close() resolves.
    await eventually(() => world.fcm.counters().connections.open === 0);
    await eventually(() => world.oauth.counters().connections.open === 0);
    expect(world.fcm.counters().connections.open).toBe(0);
  });
});
