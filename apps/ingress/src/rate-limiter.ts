import { type RedisConnection } from '@hpns/queue';
import { HpnsError, type Region } from '@hpns/protocol';
import { rateLimitKey, redisCall, type KeyedHasher, type RateScope } from '@hpns/queue';
import { type RateBucket, type RateLimiter } from './entitlement';

/**
 * GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp): the bucket holds the
 * "theoretical arrival time" (TAT) of the next request, in µs of the Redis server's clock. A request is allowed
 * when TAT − now ≤ tolerance; it then moves TAT one interval on. Over any span of t seconds at most
 * `burst + rate·t` requests pass: no window edge lets twice the rate through, as the fixed 1 s window did
 * (20 in 145 ms at 10/s, issue 14). Redis's clock (`TIME`) keeps every ingress instance on one time line.
 * The key expires when the bucket is full again, so an idle caller's bucket frees its memory.
 *
 * KEYS[1] bucket; ARGV[1] emission interval (µs); ARGV[2] tolerance (µs). Returns 1 allowed, 0 refused.
 */
const GCRA_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if tat - now > tonumber(ARGV[2]) then return 0 end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000))
return 1`;

export interface RedisRateLimiterOptions {
  /** The Redis of each region a bucket may live in. */
  connections: ReadonlyMap<Region, RedisConnection>;
  /** Hashes what a bucket counts (server id, caller address): no raw caller-chosen string in a Redis key. */
  hasher: KeyedHasher;
}

/**
 * Rate limits in Redis, shared by every ingress instance: one GCRA bucket per tenant, free-tier server or
 * free-tier caller address, each holding one number under a fixed-size key (a keyed hash), expiring as it refills.
 * Buckets are taken in order and the first that refuses stops the request; the later ones are not charged, so a
 * caller over its limit creates no buckets for the server ids it rotates through (issue 14, D2 and D3).
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #options: RedisRateLimiterOptions;

  constructor(options: RedisRateLimiterOptions) {
    this.#options = options;
  }

  async take(buckets: readonly RateBucket[]): Promise<RateScope | undefined> {
    for (const bucket of buckets) {
      if (!(await this.#take(bucket))) return bucket.scope;
    }
    return undefined;
  }

  async #take({ region, scope, id, perSec, burst }: RateBucket): Promise<boolean> {
    const connection = this.#options.connections.get(region);
    if (connection === undefined) {
      throw new HpnsError('HPNS_REGION_NOT_SERVED', `no Redis of region ${region} for rate limits`);
    }
    const intervalUs = Math.max(1, Math.floor(1_000_000 / perSec));
    // A burst of one second's allowance (at least one request) by default.
    const toleranceUs = intervalUs * (Math.max(1, burst ?? Math.ceil(perSec)) - 1);
    const key = rateLimitKey(scope, this.#options.hasher.shortHash(scope, id));
    const allowed = await redisCall('rate limit', () =>
      connection.eval(GCRA_SCRIPT, 1, key, intervalUs, toleranceUs),
    );
    return allowed === 1;
  }
}
