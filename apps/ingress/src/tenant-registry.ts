import { type Redis } from 'ioredis';
import { isRegionName, type Region } from '@hpns/protocol';
import { type RateLimiter, type Tenant, type TenantLookup } from './entitlement';

/** The Redis hash of registered tenants: field = server_id, value = JSON of the rest of `Tenant`. */
export const TENANTS_KEY = 'hpns:tenants';

export interface RedisTenantRegistryOptions {
  connection: Redis;
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

/** Writes (or replaces) a tenant: for the admin tool and tests. */
export async function registerTenant(connection: Redis, tenant: Tenant): Promise<void> {
  const { serverId, ...rest } = tenant;
  await connection.hset(TENANTS_KEY, serverId, JSON.stringify(rest));
}

/**
 * Tenants from Redis, cached in memory so that the hot path costs a Redis round trip only on a cache miss;
 * lookups of the same server at the same time share one request.
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
    const text = await this.#options.connection.hget(TENANTS_KEY, serverId);
    const tenant = text === null ? undefined : parseTenant(serverId, text);
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
 * A fixed one-second window per key, counted in Redis so that every ingress instance shares it (one round trip:
 * INCR and, for the first hit, PEXPIRE, in one script). Unlike the Go proxy's throttle, which never denies
 * (reference §1.8), this one does.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #connection: Redis;
  readonly #now: () => number;

  constructor(connection: Redis, now: () => number = Date.now) {
    this.#connection = connection;
    this.#now = now;
  }

  async take(key: string, limitPerSec: number): Promise<boolean> {
    const window = Math.floor(this.#now() / 1000);
    const count = (await this.#connection.eval(TAKE_SCRIPT, 1, `hpns:rl:${key}:${window}`, 2000)) as number;
    return count <= limitPerSec;
  }
}
