import { type IncomingHttpHeaders } from 'node:http';

/**
 * The push proxy's per-caller throttle (`ThrottlePerSec`, `ThrottleMemoryStoreSize`, `ThrottleVaryByHeader`;
 * reference §1.8): at most `perSec` requests per caller in each fixed one-second window, counted in memory by
 * this process, on every route of an `open` listener. The caller is the lower-cased values of the configured
 * headers joined by a newline, as the Go proxy keys it, or the socket peer's address when no header is
 * configured or none of them came with the request (the Go proxy put all such callers in one shared bucket).
 *
 * Unlike the Go proxy's, this throttle does deny: throttled.v1's one-second window truncates its reset time to
 * 0 and resets the counter on every request, so the proxy never refused anything. An operator who sets
 * ThrottlePerSec gets what it says; one who leaves it at 0 gets no throttle (config.ts).
 *
 * The store remembers at most `storeSize` callers; the least recently seen is forgotten first, so a flood of
 * invented header values costs bounded memory and at worst resets some caller's window.
 */
export interface ThrottleOptions {
  perSec: number;
  storeSize: number;
  /** Header names, any case. */
  varyByHeaders: readonly string[];
  now?: () => number;
}

export interface ThrottleDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the caller's window resets (1 at most). */
  resetSec: number;
}

interface Window {
  startMs: number;
  count: number;
}

export class CallerThrottle {
  readonly #perSec: number;
  readonly #storeSize: number;
  readonly #headers: readonly string[];
  readonly #now: () => number;
  /** Insertion order is recency: a caller seen again is moved to the end. */
  readonly #windows = new Map<string, Window>();

  constructor(options: ThrottleOptions) {
    this.#perSec = options.perSec;
    this.#storeSize = Math.max(1, options.storeSize);
    this.#headers = options.varyByHeaders.map((h) => h.toLowerCase());
    this.#now = options.now ?? Date.now;
  }

  /** Callers remembered now. */
  get size(): number {
    return this.#windows.size;
  }

  /** The caller's key: the configured headers' values, or the socket peer's address. */
  keyOf(headers: IncomingHttpHeaders, remoteAddress: string | undefined): string {
    if (this.#headers.length > 0) {
      let any = false;
      const values = this.#headers.map((name) => {
        const value = headers[name];
        if (value === undefined) return '';
        any = true;
        return (Array.isArray(value) ? value.join(', ') : value).toLowerCase();
      });
      if (any) return `h:${values.join('\n')}`;
    }
    return `a:${remoteAddress ?? ''}`;
  }

  /** Counts one request of `key`. */
  take(key: string): ThrottleDecision {
    const now = this.#now();
    let window = this.#windows.get(key);
    if (window !== undefined) this.#windows.delete(key);
    if (window === undefined || now - window.startMs >= 1000) {
      window = { startMs: now, count: 0 };
      if (this.#windows.size >= this.#storeSize) {
        const oldest = this.#windows.keys().next().value;
        if (oldest !== undefined) this.#windows.delete(oldest);
      }
    }
    this.#windows.set(key, window);
    const resetSec = Math.max(1, Math.ceil((window.startMs + 1000 - now) / 1000));
    if (window.count >= this.#perSec) return { allowed: false, limit: this.#perSec, remaining: 0, resetSec };
    window.count += 1;
    return { allowed: true, limit: this.#perSec, remaining: this.#perSec - window.count, resetSec };
  }
}
