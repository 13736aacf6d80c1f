import { type RedisConnection } from './connections';
import { type Region } from '@hpns/protocol';
import { redisCall } from './connections';
import { type KeyedHasher } from './keyed-hash';
import { deadTokenKey } from './names';

export interface DeadTokenCacheOptions {
  region: Region;
  connection: RedisConnection;
  /** Hashes tokens, so the cache holds no token and a dump of Redis cannot be matched against known tokens. */
  hasher: KeyedHasher;
  /** How long a dead token is remembered, in seconds. Default 30 days. */
  ttlSec?: number;
}

/**
 * Tokens a provider declared dead (APNs 410/BadDeviceToken, FCM UNREGISTERED). The ingress answers REMOVE at
 * once for them, so a Mattermost server stops using a token even when the first REMOVE came after the ingress
 * had already answered OK (DESIGN.md "send_push, step by step" 4 and 6).
 */
export class DeadTokenCache {
  readonly #options: DeadTokenCacheOptions;

  constructor(options: DeadTokenCacheOptions) {
    this.#options = options;
  }

  /** The cache key of a token of a target type (a token is only dead for the app it was issued to). */
  keyFor(targetType: string, token: string): string {
    return deadTokenKey(this.#options.region, this.#options.hasher.hash(targetType, token));
  }

  async markDead(targetType: string, token: string, reason: string): Promise<void> {
    await this.#options.connection.set(
      this.keyFor(targetType, token),
      reason,
      'EX',
      this.#options.ttlSec ?? 30 * 86_400,
    );
  }

  /**
   * The reason the token was marked dead, or undefined.
   * @throws HpnsError HPNS_REDIS_UNAVAILABLE when Redis cannot answer.
   */
  async deadReason(targetType: string, token: string): Promise<string | undefined> {
    const key = this.keyFor(targetType, token);
    return (await redisCall('dead-token lookup', () => this.#options.connection.get(key))) ?? undefined;
  }

  /**
   * Forgets a token (a new registration proved it alive, or an operator cleared it); resolves with whether it
   * was in the cache.
   */
  async forget(targetType: string, token: string): Promise<boolean> {
    return (await this.#options.connection.del(this.keyFor(targetType, token))) > 0;
  }
}
