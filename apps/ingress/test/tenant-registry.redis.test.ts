import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { type RedisConnection as Redis } from '@hpns/queue';
import { type Region } from '@hpns/protocol';
import { createProducerConnection, keyedHasher } from '@hpns/queue';
import { startTestRedis, type TestRedis } from '@hpns/testkit';
import { RedisTenantRegistry, registerTenant } from '../src/tenant-registry';

const US = 'us' as Region;

/** A full collection, so that heap figures count what is kept, not garbage not yet collected. */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapUsed = () => {
  gc();
  return process.memoryUsage().heapUsed;
};

describe('RedisTenantRegistry under a flood of distinct server ids', () => {
  let redis: TestRedis;
  let connection: Redis;
  let now = 0;

  beforeAll(async () => {
    redis = await startTestRedis();
    connection = createProducerConnection({ url: redis.url });
    await new Promise((resolve) => connection.once('ready', resolve));
    await registerTenant(connection, { serverId: 'paying', tier: 'hpns', homeRegion: US, ratePerSec: 0 });
  });
  afterAll(async () => {
    connection.disconnect();
    await redis.stop();
  });

  const registry = (options: { maxEntries?: number; maxBytes?: number } = {}) =>
    new RedisTenantRegistry({
      connections: new Map([[US, connection]]),
      hasher: keyedHasher(randomBytes(32)),
      now: () => now,
      ...options,
    });

  it('stays within its entry and byte bounds for any ids, and still finds a registered tenant', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }), {
          minLength: 1,
          maxLength: 120,
        }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 200, max: 8_000 }),
        async (ids, maxEntries, maxBytes) => {
          const tenants = registry({ maxEntries, maxBytes });
          for (const id of ids) await tenants.find(id);
          const { entries, bytes } = tenants.cacheStats;
          // Two caches (found, not registered), each within the bounds.
          expect(entries).toBeLessThanOrEqual(2 * maxEntries);
          expect(bytes).toBeLessThanOrEqual(2 * maxBytes);
          expect(await tenants.find('paying')).toEqual({
            serverId: 'paying',
            tier: 'hpns',
            homeRegion: 'us',
            ratePerSec: 0,
          });
        },
      ),
      { numRuns: 60 },
    );
  }, 30_000);

  it('keeps no caller string: 2,000 distinct 60 KB ids leave the heap flat (the D1 reproduction in process)', async () => {
    const tenants = registry();
    const before = heapUsed();
    for (let i = 0; i < 2_000; i++) {
      // A fresh 60 KB string each time, as each request body is.
      await tenants.find(`${i}-${'S'.repeat(60_000)}`);
    }
    const grown = heapUsed() - before;
    process.stdout.write(
      `tenant registry: heap +${(grown / 1024).toFixed(0)} KiB after 2,000 distinct 60 KB ids (kept raw: ~117 MiB); cache ${JSON.stringify(tenants.cacheStats)}\n`,
    );
    expect(tenants.cacheStats.entries).toBe(2_000);
    // ~150 B per entry is what a bounded cache should hold: 300 KiB; 4 MiB leaves room for V8's own movement.
    expect(grown).toBeLessThan(4 * 1024 * 1024);
  }, 30_000);

  it('gives memory back as "not registered" entries expire, without waiting for an overflow', async () => {
    now = 0;
    const tenants = registry();
    // In rounds of 500 lookups at once: 5,000 one after the other take over 5 s on a loaded 2-core machine.
    for (let i = 0; i < 5_000; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, k) => tenants.find(`stranger-${i + k}`)));
    }
    expect(tenants.cacheStats.entries).toBe(5_000);
    now += 5_001; // past the 5 s negative time to live
    await tenants.find('one-more-stranger');
    expect(tenants.cacheStats.entries).toBe(1);
  }, 30_000);
});
