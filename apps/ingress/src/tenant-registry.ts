import { type RedisConnection } from '@hpns/queue';
import { isRegionName, type Region } from '@hpns/protocol';
import { redisCall, TENANTS_KEY, type KeyedHasher } from '@hpns/queue';
import { type Tenant, type TenantLookup } from './entitlement';
import { TtlCache, type TtlCacheStats } from './ttl-cache';

export interface RedisTenantRegistryOptions {
  /**
   * The Redis of each region this ingress serves. A tenant's record lives in its home region's Redis (data
   * residency: a German customer's registration stays in Germany), so every one is asked.
   */
  connections: ReadonlyMap<Region, RedisConnection>;
  /** Keys the in-memory caches by a hash of the server id, never by the id a caller sent. */
  hasher: KeyedHasher;
  /** How long a found tenant is cached, in ms. Default 60000. */
  cacheMs?: number;
  /** How long "not registered" is cached, in ms (short: a new customer should not wait). Default 5000. */
  negativeCacheMs?: number;
  /** Entries kept in memory at most, in each of the two caches (found, not registered). Default 100000. */
  maxEntries?: number;
  /** Estimated bytes kept in memory at most, in each of the two caches. Default 16 MiB. */
  maxBytes?: number;
  now?: () => number;
}

/** A tenant's record as cached: what Redis holds, without the server id (the caller's string is not kept). */
type TenantRecord = Omit<Tenant, 'serverId'>;

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
export async function registerTenant(connection: RedisConnection, tenant: Tenant): Promise<void> {
  const { serverId, ...rest } = tenant;
  await connection.hset(TENANTS_KEY, serverId, JSON.stringify(rest));
}

/**
 * Tenants from Redis, cached in memory so that the hot path costs a Redis round trip only on a cache miss;
 * lookups of the same server at the same time share one request. A miss asks every served region's Redis at
 * once; a record found in its home region wins, a pointer copy elsewhere is used otherwise. When a region's Redis
 * cannot be reached and no record was found in the others, the lookup fails (the tenant may be registered
 * there): the ingress answers "temporarily unavailable", not "not registered".
 *
 * Both caches are keyed by a keyed hash of the server id and bounded by entries and bytes, with expiry that
 * frees memory as entries age (TtlCache): a flood of distinct unregistered ids costs a bounded, small amount of
 * memory whatever the ids are (issue 14, D1).
 */
export class RedisTenantRegistry implements TenantLookup {
  readonly #options: RedisTenantRegistryOptions;
  readonly #found: TtlCache<TenantRecord>;
  readonly #notRegistered: TtlCache<true>;
  readonly #loading = new Map<string, Promise<TenantRecord | undefined>>();

  constructor(options: RedisTenantRegistryOptions) {
    this.#options = options;
    const bounds = {
      maxEntries: options.maxEntries ?? 100_000,
      maxBytes: options.maxBytes ?? 16 * 1024 * 1024,
      now: options.now,
    };
    // A record's strings (tier, region) are short and mostly shared; 64 B covers the object and its fields.
    this.#found = new TtlCache({ ...bounds, ttlMs: options.cacheMs ?? 60_000, sizeOf: () => 64 });
    this.#notRegistered = new TtlCache({
      ...bounds,
      ttlMs: options.negativeCacheMs ?? 5000,
      sizeOf: () => 0,
    });
  }

  async find(serverId: string): Promise<Tenant | undefined> {
    const key = this.#options.hasher.shortHash('server', serverId);
    let record = this.#found.get(key);
    if (record === undefined && this.#notRegistered.get(key) === undefined) {
      let loading = this.#loading.get(key);
      if (loading === undefined) {
        loading = this.#load(key, serverId).finally(() => this.#loading.delete(key));
        this.#loading.set(key, loading);
      }
      record = await loading;
    }
    return record === undefined ? undefined : { serverId, ...record };
  }

  /** What the caches hold (both together), for metrics. */
  get cacheStats(): TtlCacheStats {
    const found = this.#found.stats;
    const missing = this.#notRegistered.stats;
    return { entries: found.entries + missing.entries, bytes: found.bytes + missing.bytes };
  }

  async #load(key: string, serverId: string): Promise<TenantRecord | undefined> {
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
    if (tenant === undefined) {
      this.#notRegistered.set(key, true);
      return undefined;
    }
    const { tier, homeRegion, ratePerSec } = tenant;
    const record: TenantRecord = { tier, homeRegion, ratePerSec };
    this.#found.set(key, record);
    return record;
  }
}
