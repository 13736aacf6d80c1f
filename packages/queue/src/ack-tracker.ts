import { type RedisConnection } from './connections';
import { type Region } from '@hpns/protocol';
import { type KeyedHasher } from './keyed-hash';
import { ackKey } from './names';

export interface AckTrackerOptions {
  region: Region;
  connection: RedisConnection;
  /** Hashes ack ids (the same hasher as the dead-token cache), so Redis holds no Mattermost ids. */
  hasher: KeyedHasher;
  /** How long a delivered push waits for its ack, in seconds. Default 3600. */
  ttlSec?: number;
}

/**
 * Joins deliveries and the apps' delivery receipts (`ack`), for time-to-device and the delivery ratio per
 * platform. Keeps only a hash of the ack id and a timestamp, with a TTL (issue: "only ids and timestamps kept").
 */
export class AckTracker {
  readonly #options: AckTrackerOptions;

  constructor(options: AckTrackerOptions) {
    this.#options = options;
  }

  #key(ackId: string): string {
    return ackKey(this.#options.region, this.#options.hasher.hash('ack', ackId));
  }

  /** Called by the worker when the provider accepted a push with an ack id. */
  async delivered(ackId: string, acceptedAtMs: number): Promise<void> {
    await this.#options.connection.set(
      this.#key(ackId),
      String(acceptedAtMs),
      'EX',
      this.#options.ttlSec ?? 3600,
    );
  }

  /** Called by the ingress for an ack: when the push was accepted (epoch ms), once; undefined when unknown. */
  async acked(ackId: string): Promise<number | undefined> {
    const text = await this.#options.connection.getdel(this.#key(ackId));
    const value = text === null ? NaN : Number(text);
    return Number.isFinite(value) ? value : undefined;
  }
}
