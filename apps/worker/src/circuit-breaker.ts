/**
 * A circuit breaker per provider target (e.g. `apns/apple_rn`). While a target fails on most attempts (an APNs
 * or FCM outage, expired credentials), the breaker opens and attempts are put back with a delay instead of being
 * sent, so an outage does not turn into a retry storm against the provider. After `openMs` one probe is let
 * through (half-open): success closes the breaker, failure opens it again.
 *
 * Only provider-side failures count (`retryable` outcomes: 5xx, 429, transport errors); a dead token or a
 * rejected payload says nothing about the provider's health.
 */

export type CircuitState = 'closed' | 'open' | 'half_open';

/** A breaker's name, and its `target` label in metrics: the provider and the configured target type. */
export function circuitTarget(provider: string, targetType: string): string {
  return `${provider}/${targetType}`;
}

export interface CircuitBreakerOptions {
  /** Rolling window over which the failure ratio is measured, in ms. Default 10000. */
  windowMs?: number;
  /** Attempts needed in the window before the breaker may open. Default 20. */
  minimumAttempts?: number;
  /** Failure ratio (0–1) in the window that opens the breaker. Default 0.5. */
  failureRatio?: number;
  /** How long the breaker stays open before a probe, in ms. Default 5000. */
  openMs?: number;
  /** Clock, epoch ms. Default Date.now. */
  now?: () => number;
  /** Called on every state change (for metrics and logs). */
  onStateChange?: (state: CircuitState) => void;
}

/** Per-second buckets keep the window's memory bounded whatever the traffic. */
const BUCKET_MS = 1000;

export class CircuitBreaker {
  readonly #windowMs: number;
  readonly #minimum: number;
  readonly #ratio: number;
  readonly #openMs: number;
  readonly #now: () => number;
  readonly #onStateChange: ((state: CircuitState) => void) | undefined;
  #buckets: { start: number; attempts: number; failures: number }[] = [];
  #state: CircuitState = 'closed';
  #openedAt = 0;
  #probeInFlight = false;

  constructor(options: CircuitBreakerOptions = {}) {
    this.#windowMs = options.windowMs ?? 10_000;
    this.#minimum = options.minimumAttempts ?? 20;
    this.#ratio = options.failureRatio ?? 0.5;
    this.#openMs = options.openMs ?? 5000;
    this.#now = options.now ?? Date.now;
    this.#onStateChange = options.onStateChange;
  }

  get state(): CircuitState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#openMs) return 'half_open';
    return this.#state;
  }

  /**
   * Asks to send. Returns 0 when the attempt may go ahead, or how long to wait (ms) before trying again.
   * In half-open state exactly one caller gets 0 (the probe) until it reports back.
   */
  acquire(): number {
    const state = this.state;
    if (state === 'closed') return 0;
    if (state === 'half_open') {
      if (this.#state === 'open') this.#setState('half_open');
      if (!this.#probeInFlight) {
        this.#probeInFlight = true;
        return 0;
      }
      return Math.max(1, Math.floor(this.#openMs / 10));
    }
    return this.#openMs - (this.#now() - this.#openedAt);
  }

  /** Reports the result of an attempt that `acquire` let through. */
  record(success: boolean): void {
    const now = this.#now();
    if (this.#state === 'half_open') {
      this.#probeInFlight = false;
      if (success) {
        this.#buckets = [];
        this.#setState('closed');
      } else {
        this.#open(now);
      }
      return;
    }
    const start = now - (now % BUCKET_MS);
    let bucket = this.#buckets[this.#buckets.length - 1];
    if (bucket === undefined || bucket.start !== start) {
      bucket = { start, attempts: 0, failures: 0 };
      this.#buckets.push(bucket);
    }
    bucket.attempts++;
    if (!success) bucket.failures++;
    while (this.#buckets.length > 0 && (this.#buckets[0] as { start: number }).start <= now - this.#windowMs)
      this.#buckets.shift();
    if (this.#state !== 'closed' || success) return;
    let attempts = 0;
    let failures = 0;
    for (const b of this.#buckets) {
      attempts += b.attempts;
      failures += b.failures;
    }
    if (attempts >= this.#minimum && failures / attempts >= this.#ratio) this.#open(now);
  }

  #open(now: number): void {
    this.#openedAt = now;
    this.#buckets = [];
    this.#setState('open');
  }

  #setState(state: CircuitState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#onStateChange?.(state);
  }
}
