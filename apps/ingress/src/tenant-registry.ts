import { type Redis } from 'ioredis';
import { isRegionName, type Region } from '@hpns/protocol';
import { redisCall } from '@hpns/queue';
import { type RateLimiter, type Tenant, type TenantLookup } from './entitlement';

/** The Redis hash of registered tenants: field = server_id, value = JSON of the rest of `Tenant`. */
export const TENANTS_KEY = 'hpns:tenants';

export interface RedisTenantRegistryOptions {
  /**
   * The Redis of each region this ingress serves. A tenant's record lives in its home region's Redis (data
   * residency: a German customer's registration stays in Germany), so every one is asked.
   */
  connections: ReadonlyMap<Region, Redis>;
  /** How long a found tenant is cached, in ms. Default 60000. */
  cacheMs?: number;
  /** How long "not registered" is cached, in ms (short: a new customer should not wait). Default 5000. */
  negativeCacheMs?: number;
  /** Entries kept in memory at most. Default 100000. */
  maxEntries?: number;
  now?: () => number;
}

/** Parses a registry entry; a malformed one counts as not registered (and is reported by the admin tool). */
export function parseTenant(serverId: string, text: string): Tenant | undefined {
  try {
    const value = JSON.parse(text) as Partial<Tenant>;
    if ((value.tier !== 'hpns' && value.tier !== 'tpns') || typeof value.homeRegion !== 'string')
      return undefined;
    if (!isRegionName(value.homeRegion)) return undefined;
    const rate = typeof value.ratePerSec === 'number' && value.ratePerSec >= 0 ? value.ratePerSec : 0;
    return { serverId, tier: value.tier, homeRegion: value.homeRegion as Region, ratePerSec: rate };
  } catch {
    return undefined;
  }
}

/**
 * Writes (or replaces) a tenant: for the admin tool and tests. `connection` is the Redis of the tenant's home
 * region. A copy in another region's Redis is read only as a pointer to the home region (to tell a server that
 * it called the wrong region's endpoint), and only where no record of the home region is found.
 */
export async function registerTenant(connection: Redis, tenant: Tenant): Promise<void> {
  const { serverId, ...rest } = tenant;
  await connection.hset(TENANTS_KEY, serverId, JSON.stringify(rest));
}

/**
 * Tenants from Redis, cached in memory so that the hot path costs a Redis round trip only on a cache miss;
 * lookups of the same server at the same time share one request. A miss asks every served region's Redis at
 * once; a record found in its home region wins, a pointer copy elsewhere is used otherwise. When a region's Redis
 * cannot be reached and no record was found in the others, the lookup fails (the tenant may be registered
 * there): the ingress answers "temporarily unavailable", not "not registered".
 */
export class RedisTenantRegistry implements TenantLookup {
  readonly #options: RedisTenantRegistryOptions;
  readonly #cache = new Map<string, { tenant: Tenant | undefined; until: number }>();
  readonly #loading = new Map<string, Promise<Tenant | undefined>>();
  readonly #now: () => number;

  constructor(options: RedisTenantRegistryOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  find(serverId: string): Promise<Tenant | undefined> {
    const cached = this.#cache.get(serverId);
    if (cached !== undefined && cached.until > this.#now()) return Promise.resolve(cached.tenant);
    let loading = this.#loading.get(serverId);
    if (loading === undefined) {
      loading = this.#load(serverId).finally(() => this.#loading.delete(serverId));
      this.#loading.set(serverId, loading);
    }
    return loading;
  }

  async #load(serverId: string): Promise<Tenant | undefined> {
    const answers = await Promise.allSettled(
      [...this.#options.connections].map(async ([region, connection]) => ({
        region,
        text: await redisCall(`tenant lookup in ${region}`, () => connection.hget(TENANTS_KEY, serverId)),
      })),
    );
    let home: Tenant | undefined;
    let pointer: Tenant | undefined;
    let failure: unknown;
    for (const answer of answers) {
      if (answer.status === 'rejected') {
        failure ??= answer.reason;
        continue;
      }
      const { region, text } = answer.value;
      const found = text === null ? undefined : parseTenant(serverId, text);
      if (found === undefined) continue;
      if (found.homeRegion === region) home ??= found;
      else pointer ??= found;
    }
    // Unreachable: the home record may be there; a pointer says where, but not the tier or the rate.
    if (home === undefined && failure !== undefined) throw failure;
    const tenant = home ?? pointer;
    const ttl =
      tenant === undefined ? (this.#options.negativeCacheMs ?? 5000) : (this.#options.cacheMs ?? 60_000);
    this.#cache.delete(serverId);
    this.#cache.set(serverId, { tenant, until: this.#now() + ttl });
    const max = this.#options.maxEntries ?? 100_000;
    // Map keeps insertion order: the first key is the oldest entry.
    while (this.#cache.size > max) this.#cache.delete(this.#cache.keys().next().value as string);
    return tenant;
  }
}

const TAKE_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

/**
 * A fixed one-second window per server and region, counted in that region's Redis so that every ingress
 * instance shares it and a region's counters stay in the region (one round trip: INCR and, for the first hit,
 * PEXPIRE, in one script). Unlike the Go proxy's throttle, which never denies (reference §1.8), this one does.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #connections: ReadonlyMap<Region, Redis>;
  readonly #now: () => number;

  constructor(connections: ReadonlyMap<Region, Redis>, now: () => number = Date.now) {
    this.#connections = connections;
    this.#now = now;
  }

  async take(region: Region, serverId: string, limitPerSec: number): Promise<boolean> {
    const connection = this.#connections.get(region);
    if (connection === undefined) throw new Error(`no Redis of region ${region} for rate limits`);
    const window = Math.floor(this.#now() / 1000);
    const key = `hpns:rl:${region}:${serverId}:${window}`;
    const count = (await redisCall('rate limit', () => connection.eval(TAKE_SCRIPT, 1, key, 2000))) as number;
    return count <= limitPerSec;
  }
}
