import { type AccessTokenSource } from '../src/fcm/access-token-source';
import { GoogleAccessTokenSource } from '../src/fcm/google-access-token-source';
import { eventually, fcmProvider, pushJob, resetFcmWorld, startFcmWorld, type FcmWorld } from './fcm-helpers';

/**
 * The access token behind FCM sends, against the OAuth simulator (reference/apns-fcm.md §3, §7.4 scenarios 11
 * and 12): cached, minted once for concurrent callers, refreshed once after a 401, and an endpoint outage
 * answered without a thundering herd.
 */

let world: FcmWorld;

beforeAll(async () => {
  world = await startFcmWorld();
});

beforeEach(() => resetFcmWorld(world));

afterAll(async () => {
  await world.close();
});

const sendMany = (provider: ReturnType<typeof fcmProvider>, count: number) =>
  Promise.all(Array.from({ length: count }, () => provider.send(pushJob())));

describe('FcmProvider access tokens', () => {
  it('mints one token for many sends, also when tokens live less than the 5-minute eager-refresh window', async () => {
    world.oauth.setExpiresIn(120);
    const provider = fcmProvider(world);
    try {
      for (let i = 0; i < 20; i += 1) await provider.send(pushJob());
      expect(world.oauth.counters().mints).toBe(1);
      expect(world.fcm.counters().delivered).toBe(20);
    } finally {
      await provider.close();
    }
  });

  it('refreshes once and replays the send when FCM refuses a revoked token (401): one extra mint', async () => {
    const provider = fcmProvider(world);
    try {
      await provider.send(pushJob());
      const revoked = world.fcm.requests()[0]?.accessToken as string;
      world.oauth.revoke(revoked);

      await expect(provider.send(pushJob())).resolves.toEqual({ kind: 'delivered', statusCode: 200 });

      expect(world.oauth.counters().mints).toBe(2);
      const requests = world.fcm.requests();
      expect(requests.map((r) => r.status)).toEqual([200, 401, 200]);
      expect(requests[1]?.accessToken).toBe(revoked);
      expect(requests[2]?.accessToken).not.toBe(revoked);
    } finally {
      await provider.close();
    }
  });

  it('lets concurrent sends refused with the same revoked token share one refresh', async () => {
    const provider = fcmProvider(world);
    try {
      await provider.send(pushJob());
      world.oauth.revoke(world.fcm.requests()[0]?.accessToken as string);

      const outcomes = await sendMany(provider, 50);

      expect(outcomes.every((o) => o.kind === 'delivered')).toBe(true);
      expect(world.oauth.counters().mints).toBe(2);
      expect(world.fcm.counters().byStatus['401']).toBeLessThanOrEqual(50);
    } finally {
      await provider.close();
    }
  });

  it('answers retryable UNAUTHENTICATED when the fresh token is refused too, after exactly one replay', async () => {
    const calls = { getToken: 0, invalidate: [] as string[] };
    const unknownToFcm: AccessTokenSource = {
      getToken: async () => {
        calls.getToken += 1;
        return `ya29.never-minted-${calls.getToken}`;
      },
      invalidate: (token) => void calls.invalidate.push(token),
      close: async () => undefined,
    };
    const provider = fcmProvider(world, { createTokenSource: () => unknownToFcm });
    try {
      await expect(provider.send(pushJob())).resolves.toEqual({
        kind: 'retryable',
        reason: 'UNAUTHENTICATED',
        statusCode: 401,
      });
      expect(world.fcm.requests().map((r) => r.accessToken)).toEqual([
        'ya29.never-minted-1',
        'ya29.never-minted-2',
      ]);
      expect(calls).toEqual({ getToken: 2, invalidate: ['ya29.never-minted-1'] });
    } finally {
      await provider.close();
    }
  });
});

describe('FcmProvider token endpoint failures', () => {
  it('makes concurrent sends wait on one request to a slow token endpoint', async () => {
    world.oauth.setLatency({ p50Ms: 200 });
    const provider = fcmProvider(world);
    try {
      const outcomes = await sendMany(provider, 30);
      expect(outcomes.every((o) => o.kind === 'delivered')).toBe(true);
      expect(world.oauth.counters()).toMatchObject({ requests: 1, mints: 1 });
    } finally {
      await provider.close();
    }
  });

  it('answers the waiting sends retryable OAUTH_UNAVAILABLE after one failed token request (5xx), nothing sent to FCM', async () => {
    world.oauth.injectFault({ kind: 'unavailable' });
    const provider = fcmProvider(world);
    try {
      const outcomes = await sendMany(provider, 30);
      expect(new Set(outcomes.map((o) => JSON.stringify(o)))).toEqual(
        new Set([JSON.stringify({ kind: 'retryable', reason: 'OAUTH_UNAVAILABLE', statusCode: 0 })]),
      );
      // One token request: shared by all 30 sends and not retried underneath the queue.
      expect(world.oauth.counters()).toMatchObject({ requests: 1, mints: 0, byStatus: { '503': 1 } });
      expect(world.fcm.counters().requests).toBe(0);
    } finally {
      await provider.close();
    }
  });

  it('fails sends fast during the cooldown after a failed refresh, then mints on the next send after it', async () => {
    let offsetMs = 0;
    world.oauth.injectFault({ kind: 'internal' });
    const provider = fcmProvider(world, {
      oauth: { failureCooldownMs: 1_000, now: () => Date.now() + offsetMs },
    });
    try {
      await expect(provider.send(pushJob())).resolves.toMatchObject({ reason: 'OAUTH_UNAVAILABLE' });
      await expect(provider.send(pushJob())).resolves.toMatchObject({ reason: 'OAUTH_UNAVAILABLE' });
      expect(world.oauth.counters().requests).toBe(1);

      offsetMs = 1_001;
      await expect(provider.send(pushJob())).resolves.toEqual({ kind: 'delivered', statusCode: 200 });
      expect(world.oauth.counters()).toMatchObject({ requests: 2, mints: 1 });
    } finally {
      await provider.close();
    }
  });

  it('ends sends waiting on a stalled token endpoint at their deadline, and close() does not wait for it', async () => {
    world.oauth.injectFault({ kind: 'stall' });
    const provider = fcmProvider(world, { requestTimeoutMs: 300 });
    const outcomes = await sendMany(provider, 5);
    expect(outcomes).toEqual(Array(5).fill({ kind: 'retryable', reason: 'timeout', statusCode: 0 }));
    await eventually(() => world.oauth.counters().requests > 0);
    expect(world.oauth.counters().requests).toBe(1);
    await provider.close();
    await eventually(() => world.oauth.counters().connections.open === 0);
  });

  it('rejects with OAUTH_INVALID_GRANT when the token endpoint refuses the service account', async () => {
    world.oauth.unregisterServiceAccount(world.account.clientEmail);
    const provider = fcmProvider(world);
    try {
      await expect(provider.send(pushJob())).resolves.toEqual({
        kind: 'rejected',
        reason: 'OAUTH_INVALID_GRANT',
        statusCode: 0,
      });
      expect(world.oauth.counters().byError).toEqual({ invalid_grant: 1 });
    } finally {
      await provider.close();
    }
  });
});

describe('GoogleAccessTokenSource', () => {
  const newSource = (now?: () => number) =>
    new GoogleAccessTokenSource({
      clientEmail: world.account.clientEmail,
      privateKeyPem: world.account.privateKeyPem,
      privateKeyId: world.account.privateKeyId,
      tokenUrl: world.oauth.tokenUrl,
      ca: world.ca.caPem,
      ...(now !== undefined ? { now } : {}),
    });

  it('keeps serving the current token inside the refresh margin while one refresh runs in the background', async () => {
    let offsetMs = 0;
    const source = newSource(() => Date.now() + offsetMs);
    try {
      const first = await source.getToken();
      // 3599 s tokens (Google's) are refreshed in their last 5 minutes.
      offsetMs = (3599 - 200) * 1000;

      await expect(Promise.all([source.getToken(), source.getToken()])).resolves.toEqual([first, first]);
      let second = first;
      await eventually(async () => (second = await source.getToken()) !== first);

      expect(second).toMatch(/^ya29\./);
      expect(world.oauth.counters().mints).toBe(2);
    } finally {
      await source.close();
    }
  });

  it('ignores invalidate() for a token that is no longer the cached one', async () => {
    const source = newSource();
    try {
      const first = await source.getToken();
      source.invalidate('ya29.some-other-token');
      await expect(source.getToken()).resolves.toBe(first);

      source.invalidate(first);
      const second = await source.getToken();
      source.invalidate(first);
      await expect(source.getToken()).resolves.toBe(second);

      expect(second).not.toBe(first);
      expect(world.oauth.counters().mints).toBe(2);
    } finally {
      await source.close();
    }
  });

  it('fails a token request in flight at close() with OAUTH_CLOSED', async () => {
    world.oauth.injectFault({ kind: 'stall' });
    const source = newSource();
    const pending = source.getToken();
    await eventually(() => world.oauth.counters().requests === 1);

    await source.close();

    await expect(pending).rejects.toMatchObject({ name: 'AccessTokenError', reason: 'OAUTH_CLOSED' });
    await expect(source.getToken()).rejects.toMatchObject({ reason: 'OAUTH_CLOSED' });
  });
});
