import { type RedisConnection } from './connections';
import { type Region } from '@hpns/protocol';
import { isCluster, redisUnavailable } from './connections';
import { IDEMPOTENCY_WINDOW_MS } from './final-outcomes';
import { idempotencyKey } from './names';

/**
 * The idempotency window of send_push: a second push with the same ack_id and device within the window is not
 * queued again (docs/compatibility.md D6). Kept compact: instead of a key with its own expiry per push (about
 * 150 B each in Redis), each push is one field of a hash per time slot and shard. A slot lasts one window; a push
 * is looked for in the current slot and the one before, so a key is remembered for at least one window and at
 * most two. The field is 16 characters of the key's keyed hash (96 bits), the value the request id of the copy
 * that was queued (to recall its final outcome). 64 shards by the hash's first character spread the hashes over a
 * Redis Cluster (each shard's slots share a hash tag, so the check is one script on one node).
 */
const RESERVE = `
local first = redis.call('HGET', KEYS[1], ARGV[1])
if not first then first = redis.call('HGET', KEYS[2], ARGV[1]) end
if first then return first end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return false
`;

const RELEASE = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`;

interface IdempotencyCommands {
  hpnsIdemReserve(
    cur: string,
    prev: string,
    field: string,
    requestId: string,
    ttlMs: number,
  ): Promise<string | null>;
  hpnsIdemRelease(cur: string, field: string, requestId: string): Promise<number>;
}

export interface IdempotencyOptions {
  region: Region;
  /** A fail-fast connection (the ingress's lookups): a Redis outage refuses the push at once. */
  connection: RedisConnection;
  /** Default IDEMPOTENCY_WINDOW_MS (10 min). */
  windowMs?: number;
  now?: () => number;
}

export type Reservation = { duplicate: false } | { duplicate: true; firstRequestId: string };

export class IdempotencyStore {
  readonly #options: IdempotencyOptions;
  readonly #commands: IdempotencyCommands;
  readonly #windowMs: number;
  readonly #now: () => number;
  /** Shards placed evenly over a cluster's slots (idempotencyKey). */
  readonly #placed: boolean;

  constructor(options: IdempotencyOptions) {
    this.#options = options;
    this.#windowMs = options.windowMs ?? IDEMPOTENCY_WINDOW_MS;
    this.#now = options.now ?? Date.now;
    this.#placed = isCluster(options.connection);
    const connection = options.connection as RedisConnection & Partial<IdempotencyCommands>;
    if (connection.hpnsIdemReserve === undefined) {
      connection.defineCommand('hpnsIdemReserve', { numberOfKeys: 2, lua: RESERVE });
      connection.defineCommand('hpnsIdemRelease', { numberOfKeys: 1, lua: RELEASE });
    }
    this.#commands = connection as unknown as IdempotencyCommands;
  }

  #keys(key: string): { field: string; cur: string; prev: string } {
    const slot = Math.floor(this.#now() / this.#windowMs);
    const shard = key.charAt(0);
    const placed = this.#placed;
    return {
      field: key.slice(0, 16),
      cur: idempotencyKey(this.#options.region, shard, slot, placed),
      prev: idempotencyKey(this.#options.region, shard, slot - 1, placed),
    };
  }

  /**
   * Reserves `key` (a keyed hash, base64url, ≥ 16 characters) for `requestId`, unless a push already holds it.
   * @throws HpnsError HPNS_REDIS_UNAVAILABLE.
   */
  async reserve(key: string, requestId: string): Promise<Reservation> {
    const { field, cur, prev } = this.#keys(key);
    let first: string | null;
    try {
      first = await this.#commands.hpnsIdemReserve(cur, prev, field, requestId, 2 * this.#windowMs + 60_000);
    } catch (cause) {
      throw redisUnavailable('idempotency check', cause);
    }
    return first === null ? { duplicate: false } : { duplicate: true, firstRequestId: first };
  }

  /** Gives a reservation back (its push could not be queued), so that the server's next copy is not refused. */
  async release(key: string, requestId: string): Promise<void> {
    const { field, cur } = this.#keys(key);
    await this.#commands.hpnsIdemRelease(cur, field, requestId).catch(() => undefined);
  }
}
