import { type RedisConnection } from './connections';
import { parsePushResponse, type PushResponse, type Region } from '@hpns/protocol';
import { redisCall } from './connections';
import { finalOutcomeKey } from './names';

/** How long a second copy of a push (same ack_id and device) is kept out, in ms: 10 minutes. */
export const IDEMPOTENCY_WINDOW_MS = 600_000;

export interface FinalOutcomesOptions {
  region: Region;
  connection: RedisConnection;
  /** The idempotency window, in ms. Default IDEMPOTENCY_WINDOW_MS. */
  windowMs?: number;
  now?: () => number;
}

/**
 * The final outcomes of pushes that did not end OK (REMOVE, FAIL), kept until the push's idempotency window
 * closes. The ingress answers a second copy of a push, which is not queued again, with the first copy's
 * outcome when it is known here, instead of an OK for a push that was never delivered (issue 14, D4); an
 * unknown outcome (still on its way, or OK) is answered OK, as before. OK outcomes are not written: OK is the
 * answer anyway, and they are nearly every push.
 */
export class FinalOutcomes {
  readonly #options: FinalOutcomesOptions;
  readonly #now: () => number;

  constructor(options: FinalOutcomesOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Worker side: remembers a push's final outcome for what is left of its window (from `acceptedAtMs`); nothing
   * when the outcome is OK or the window has closed (a copy sent now is queued as a new push).
   */
  async remember(requestId: string, acceptedAtMs: number, response: PushResponse): Promise<void> {
    if (response.status === 'OK') return;
    const leftMs = acceptedAtMs + (this.#options.windowMs ?? IDEMPOTENCY_WINDOW_MS) - this.#now();
    if (leftMs <= 0) return;
    await this.#options.connection.set(
      finalOutcomeKey(this.#options.region, requestId),
      JSON.stringify(response),
      'PX',
      Math.ceil(leftMs),
    );
  }

  /** Forgets a push's final outcome: it is on its way again (a redrive of its dead letter). */
  async forget(requestId: string): Promise<void> {
    await this.#options.connection.del(finalOutcomeKey(this.#options.region, requestId));
  }

  /**
   * Ingress side: the final outcome of the push `requestId`, when it ended other than OK; undefined otherwise.
   * @throws HpnsError HPNS_REDIS_UNAVAILABLE when Redis cannot answer.
   */
  async recall(requestId: string): Promise<PushResponse | undefined> {
    const key = finalOutcomeKey(this.#options.region, requestId);
    const text = await redisCall('final outcome lookup', () => this.#options.connection.get(key));
    if (text === null) return undefined;
    try {
      return parsePushResponse(JSON.parse(text));
    } catch {
      return undefined;
    }
  }
}
