import { createHmac } from 'node:crypto';

/**
 * The one keyed hash of HPNS (HMAC-SHA-256 under the token-hash key, `HPNS_TOKEN_HASH_KEY`): what stands in Redis
 * or in memory for a value a caller chose (a device token, an ack id, a server id, a caller address), so that
 * neither a dump of Redis nor a heap holds the value, a reader cannot match it against a list of known values
 * without the key, and every key has the same small size whatever the caller sent.
 */
export interface KeyedHasher {
  /** base64url of HMAC(`scope` "\n" `value`), 43 characters; `scope` keeps equal values of different kinds apart. */
  hash(scope: string, value: string): string;
  /** The first 22 characters of `hash` (132 bits): for keys held in large numbers, where that is ample. */
  shortHash(scope: string, value: string): string;
}

/** A hasher under `key` (32 bytes). */
export function keyedHasher(key: Buffer): KeyedHasher {
  const hash = (scope: string, value: string) =>
    createHmac('sha256', key).update(`${scope}\n${value}`).digest('base64url');
  return { hash, shortHash: (scope, value) => hash(scope, value).slice(0, 22) };
}
