/**
 * FCM's per-project message quota (reference/apns-fcm.md §2.6): a budget of messages over any 60 s — Google's
 * minutes are not clock-aligned, so a sliding window rather than a fixed one. Every message counts, client
 * errors included, except the 429s themselves.
 */

/** The project quota. */
export interface FcmQuotaOptions {
  /** Messages per sliding 60 s per project. Default 600,000 (Google's default, §2.6). */
  limitPerMinute?: number;
  /** Send `Retry-After` (whole seconds until the window has room) with 429. Default true. */
  retryAfter?: boolean;
}

export type QuotaDecision = { ok: true } | { ok: false; retryAfterSeconds: number | undefined };

export interface ProjectQuota {
  /** Counts one message for `project` at `nowMs`, unless the window is full. */
  consume(project: string, nowMs: number): QuotaDecision;
  /** Sets the quota of one project, or the default for all projects without their own. */
  set(options: FcmQuotaOptions, project?: string): void;
  /** Forgets counted messages and per-project settings. */
  clear(): void;
}

const WINDOW_MS = 60_000;

interface Window {
  /** Arrival times in ms, oldest first, from `head` on. */
  times: number[];
  head: number;
}

export function createProjectQuota(defaults: FcmQuotaOptions = {}): ProjectQuota {
  const base = { limitPerMinute: 600_000, retryAfter: true };
  let fallback = { ...base, ...defaults };
  const perProject = new Map<string, Required<FcmQuotaOptions>>();
  const windows = new Map<string, Window>();
  const validate = (options: FcmQuotaOptions): void => {
    const limit = options.limitPerMinute;
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
      throw new Error('limitPerMinute must be a non-negative integer');
    }
  };
  validate(defaults);
  return {
    consume(project, nowMs) {
      const { limitPerMinute, retryAfter } = perProject.get(project) ?? fallback;
      let window = windows.get(project);
      if (window === undefined) {
        window = { times: [], head: 0 };
        windows.set(project, window);
      }
      const { times } = window;
      while (window.head < times.length && (times[window.head] as number) <= nowMs - WINDOW_MS)
        window.head += 1;
      if (window.head > 4096 && window.head * 2 > times.length) {
        times.splice(0, window.head);
        window.head = 0;
      }
      if (times.length - window.head >= limitPerMinute) {
        const oldest = times[window.head] ?? nowMs;
        const seconds = Math.max(1, Math.ceil((oldest + WINDOW_MS - nowMs) / 1000));
        return { ok: false, retryAfterSeconds: retryAfter ? seconds : undefined };
      }
      times.push(nowMs);
      return { ok: true };
    },
    set(options, project) {
      validate(options);
      if (project === undefined) fallback = { ...fallback, ...options };
      else perProject.set(project, { ...(perProject.get(project) ?? fallback), ...options });
    },
    clear() {
      windows.clear();
      perProject.clear();
      fallback = { ...base, ...defaults };
    },
  };
}
