/**
 * Retry delays: exponential with full jitter (a uniformly random delay up to the exponential cap), so that a
 * provider outage does not produce synchronized retry waves from every worker, and never sooner than a
 * provider's `Retry-After` (reference/apns-fcm.md; STYLE.md §7: the queue is the one retry owner).
 */
export interface BackoffOptions {
  /** The cap of the first retry's delay, in ms. Default 1000. */
  baseDelayMs?: number;
  /** The largest delay, in ms. Default 60000. */
  maxDelayMs?: number;
}

/**
 * The delay before retry number `attempt` (1 for the first retry).
 * @param random uniform on [0, 1); injected so tests and simulations are repeatable.
 * @param retryAfterMs the provider's Retry-After, when it sent one: a floor for the delay.
 */
export function retryDelayMs(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
  retryAfterMs?: number,
): number {
  const base = options.baseDelayMs ?? 1000;
  const max = options.maxDelayMs ?? 60_000;
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const cap = Math.min(max, base * 2 ** exponent);
  const jittered = Math.floor(random() * cap);
  return Math.max(jittered, Math.ceil(retryAfterMs ?? 0));
}
