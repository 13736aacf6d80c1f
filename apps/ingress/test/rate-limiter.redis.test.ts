import { randomBytes } from 'node:crypto';
import { type RedisConnection as Redis } from '@hpns/queue';
import { isHpnsError, type Region } from '@hpns/protocol';
import { createProducerConnection, keyedHasher, type RateScope } from '@hpns/queue';
import { startTestRedis, type TestRedis } from '@hpns/testkit';
import { type RateBucket } from '../src/entitlement';
import { RedisRateLimiter } from '../src/rate-limiter';

const US = 'us' as Region;

/**
 * The GCRA limiter against a real Redis, on Redis's own clock. Time matters here by nature (a rate is requests
 * per second): the bounds leave room for a loaded machine and never depend on a sleep's exact length.
 */
describe('RedisRateLimiter', () => {
  let redis: TestRedis;
  let connection: Redis;
  let limiter: RedisRateLimiter;

  beforeAll(async () => {
    redis = await startTestRedis();
    connection = createProducerConnection({ url: redis.url });
    await new Promise((resolve) => connection.once('ready', resolve));
    limiter = new RedisRateLimiter({
      connections: new Map([[US, connection]]),
      hasher: keyedHasher(randomBytes(32)),
    });
  });
  afterAll(async () => {
    connection.disconnect();
    await redis.stop();
  });

  const bucket = (id: string, perSec: number, scope: RateScope = 'tpns-server'): RateBucket => ({
    region: US,
    scope,
    id,
    perSec,
  });

  it('contains a 10× burst: 100 requests at once against 10/s let one second’s allowance through', async () => {
    const answers = await Promise.all(Array.from({ length: 100 }, () => limiter.take([bucket('burst', 10)])));
    const allowed = answers.filter((a) => a === undefined).length;
    process.stdout.write(`rate limiter: 10x burst at 10/s: ${allowed} of 100 allowed\n`);
    // 10 from the full bucket, and at most one more if an interval (100 ms) passed while the burst ran.
    expect(allowed).toBeGreaterThanOrEqual(10);
    expect(allowed).toBeLessThanOrEqual(11);
    expect(answers.filter((a) => a === 'tpns-server').length).toBe(100 - allowed);
  });

  it('never lets twice the rate through across a second boundary, and holds the rate over time', async () => {
    // Offered far above the limit for 1.6 s; the fixed 1 s window let 20 through within 145 ms at 10/s.
    const allowedAt: number[] = [];
    const started = Date.now();
    while (Date.now() - started < 1_600) {
      const batch = await Promise.all(Array.from({ length: 5 }, () => limiter.take([bucket('edge', 10)])));
      const now = Date.now() - started;
      for (const answer of batch) if (answer === undefined) allowedAt.push(now);
    }
    const elapsedSec = (Date.now() - started) / 1000;
    let densest = 0;
    for (let i = 0; i < allowedAt.length; i++) {
      const within = allowedAt.filter(
        (t) => t >= (allowedAt[i] as number) && t < (allowedAt[i] as number) + 145,
      );
      densest = Math.max(densest, within.length);
    }
    process.stdout.write(
      `rate limiter: 10/s offered far over for ${elapsedSec.toFixed(2)} s: ${allowedAt.length} allowed, at most ${densest} in any 145 ms\n`,
    );
    // burst + rate·t: 10 + 10 × 1.6 s = 26, and one interval of slack for the clock read at each end.
    expect(allowedAt.length).toBeLessThanOrEqual(10 + Math.ceil(10 * elapsedSec) + 1);
    expect(allowedAt.length).toBeGreaterThanOrEqual(10 + Math.floor(10 * 1.6) - 2);
    expect(densest).toBeLessThanOrEqual(12);
  });

  it('charges buckets in order and stops at the first that refuses, leaving the later ones untouched', async () => {
    const caller = bucket('caller-1', 1, 'tpns-caller');
    const server = bucket('server-1', 5);
    expect(await limiter.take([caller, server])).toBeUndefined();
    // The caller's allowance (1) is spent: refused at the caller, the server is not charged.
    expect(await limiter.take([caller, server])).toBe('tpns-caller');
    expect(await limiter.take([caller, server])).toBe('tpns-caller');
    const serverAlone = await Promise.all(Array.from({ length: 5 }, () => limiter.take([server])));
    // 5 in the server's burst, 1 used by the first request: 4 left.
    expect(serverAlone.filter((a) => a === undefined).length).toBe(4);
  });

  it('keeps one small hashed key per bucket, which expires once the bucket has refilled', async () => {
    const ids = Array.from({ length: 2_000 }, (_, i) => `rotating-${i}-${'S'.repeat(40)}`);
    const memoryBefore = Number(/used_memory:(\d+)/.exec(await connection.info('memory'))?.[1]);
    await Promise.all(ids.map((id) => limiter.take([bucket(id, 1)])));
    const keys = await connection.keys('hpns:rl:*');
    const memoryAfter = Number(/used_memory:(\d+)/.exec(await connection.info('memory'))?.[1]);
    expect(keys.length).toBeGreaterThanOrEqual(2_000);
    for (const key of keys) expect(key).toMatch(/^hpns:rl:(tpns-server|tpns-caller):[A-Za-z0-9_-]{22}$/);
    expect(keys.join(' ')).not.toContain('rotating');
    // One request into a bucket of 1/s lives one interval (1 s): long enough to list them on a loaded machine.
    const ttl = await connection.pttl(keys.find((k) => k.startsWith('hpns:rl:tpns-server:')) as string);
    expect(ttl).toBeLessThanOrEqual(1_000);
    const perKey = (memoryAfter - memoryBefore) / 2_000;
    process.stdout.write(
      `rate limiter: ${perKey.toFixed(0)} B of Redis per bucket (2,000 distinct 49-char ids)\n`,
    );
    expect(perKey).toBeLessThan(300);
    // Expired keys go (Redis's active expiry); polled with a deadline, not a fixed sleep.
    const deadline = Date.now() + 10_000;
    let left = Infinity;
    while (Date.now() < deadline && left > 0) {
      left = (await connection.keys('hpns:rl:tpns-server:*')).length;
      if (left > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(left).toBe(0);
  });

  it('refuses at once with HPNS_REDIS_UNAVAILABLE while Redis is down', async () => {
    await redis.kill('SIGKILL');
    try {
      const error: unknown = await limiter.take([bucket('down', 10)]).catch((e: unknown) => e);
      expect(isHpnsError(error, 'HPNS_REDIS_UNAVAILABLE')).toBe(true);
    } finally {
      await redis.start();
      if (connection.status !== 'ready') await new Promise((resolve) => connection.once('ready', resolve));
    }
  });
});
