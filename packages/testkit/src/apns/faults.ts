import { createLatencySampler, createRng, type LatencyProfile, type Rng } from '../random';
import { isApnsReason, type ApnsReason } from './reasons';

/**
 * The simulator's fault model (reference §7.1 "Rate/fault models" and "Latency"). Every field is optional;
 * an empty profile is a healthy APNs with zero added latency. Random faults draw from a generator seeded by
 * the simulator's `seed`, so a run is repeatable.
 */
export interface ApnsFaultProfile {
  /**
   * Per-device-token rate limit: a push to a token that already had `maxPushes` accepted pushes within the
   * last `windowMs` (simulator clock) → 429 `TooManyRequests` ([assumption] e.g. 10 in 1 s; Apple publishes
   * no figure, §1.5). Other tokens are unaffected. Default: none.
   */
  tooManyRequests?: { maxPushes: number; windowMs: number };
  /** Fraction (0–1) of pushes answered 500 `InternalServerError`. Default 0. */
  internalErrorRate?: number;
  /** Fraction (0–1) of pushes answered 503 `ServiceUnavailable`. Default 0. */
  unavailableRate?: number;
  /** Fraction (0–1) of pushes stalled: the stream is accepted and never answered. Default 0. */
  stallRate?: number;
  /** Fraction (0–1) of pushes whose TCP connection is reset (RST) once the body is read. Default 0. */
  resetRate?: number;
  /**
   * Fraction (0–1) of pushes accepted (200) and then lost inside APNs: they leave no receipt
   * (`GET /apns/receipts`), which is what a load test's reconciliation must catch. Default 0.
   */
  dropRate?: number;
  /**
   * Shutdown mode: each push is answered 503 `Shutdown`, then the connection gets a GOAWAY whose opaque
   * data is `{"reason":"Shutdown"}` and is closed (§1.4, §1.8). Default false.
   */
  shutdown?: boolean;
  /**
   * Idle timeout in ms: a connection without any frame for this long gets GOAWAY `{"reason":"IdleTimeout"}`
   * and is closed (§1.8). Real APNs's value is undocumented. Default 0 = never.
   */
  idleTimeoutMs?: number;
  /** Per-response delay, log-normal by median and p99 ([assumption] e.g. p50 20 ms, p99 250 ms). Default 0. */
  latency?: LatencyProfile;
  /**
   * Adds `retry-after: <seconds>` to 429, 500 and 503 answers, to test clients that read it. APNs documents
   * no such header (§1.4), so the default is none.
   */
  retryAfterSeconds?: number;
}

/** A fault queued for the next requests: an error reason, a stall, a TCP reset, or a drop (200, no receipt). */
export type ApnsInjectedFault = ApnsReason | 'stall' | 'reset' | 'drop';

/** What the fault model decides before a push is validated. */
export type FaultDecision =
  | { kind: 'none' }
  | { kind: 'reject'; reason: ApnsReason }
  | { kind: 'stall' }
  | { kind: 'reset' }
  | { kind: 'drop' };

const NONE: FaultDecision = { kind: 'none' };
/** Per-token windows kept before stale ones are swept. */
const WINDOW_SWEEP_SIZE = 10_000;

function checkRate(name: string, value: number | undefined): void {
  if (value !== undefined && !(value >= 0 && value <= 1)) throw new Error(`${name} must be between 0 and 1`);
}

/** Validates a profile coming from the control API or a caller; throws with a readable message. */
export function checkFaultProfile(profile: ApnsFaultProfile): void {
  checkRate('internalErrorRate', profile.internalErrorRate);
  checkRate('unavailableRate', profile.unavailableRate);
  checkRate('stallRate', profile.stallRate);
  checkRate('resetRate', profile.resetRate);
  checkRate('dropRate', profile.dropRate);
  const limit = profile.tooManyRequests;
  if (limit !== undefined && !(limit.maxPushes >= 0 && limit.windowMs > 0)) {
    throw new Error('tooManyRequests needs maxPushes ≥ 0 and windowMs > 0');
  }
  if (profile.idleTimeoutMs !== undefined && !(profile.idleTimeoutMs >= 0)) {
    throw new Error('idleTimeoutMs must be ≥ 0');
  }
  const retryAfter = profile.retryAfterSeconds;
  if (retryAfter !== undefined && !(Number.isInteger(retryAfter) && retryAfter >= 0)) {
    throw new Error('retryAfterSeconds must be a whole number ≥ 0');
  }
}

export function isInjectedFault(value: unknown): value is ApnsInjectedFault {
  return value === 'stall' || value === 'reset' || value === 'drop' || isApnsReason(value);
}

/** The live fault state: profile, queued faults, seeded generators and per-token windows. */
export class FaultState {
  #profile: ApnsFaultProfile = {};
  #queue: { fault: ApnsInjectedFault; remaining: number }[] = [];
  #faultRng: Rng;
  #latencyRng: Rng;
  #sampleLatency: () => number = () => 0;
  readonly #windows = new Map<string, number[]>();
  #sweepAtSize = WINDOW_SWEEP_SIZE;

  constructor(private readonly seed: number) {
    // Two generators, so that switching a fault on does not shift the latency sequence (and vice versa).
    this.#faultRng = createRng(seed);
    this.#latencyRng = createRng(seed ^ 0x5bd1e995);
  }

  get profile(): Readonly<ApnsFaultProfile> {
    return this.#profile;
  }

  /** Replaces the profile (`merge` keeps fields the update leaves out). */
  set(update: ApnsFaultProfile, merge: boolean): void {
    const next = merge ? { ...this.#profile, ...update } : { ...update };
    checkFaultProfile(next);
    const latencyChanged = JSON.stringify(next.latency) !== JSON.stringify(this.#profile.latency);
    this.#profile = next;
    if (latencyChanged) {
      this.#sampleLatency =
        next.latency === undefined ? () => 0 : createLatencySampler(next.latency, this.#latencyRng);
    }
    if (next.tooManyRequests === undefined) this.#windows.clear();
  }

  /** Queues `fault` for the next `count` pushes (after any already queued). */
  injectNext(count: number, fault: ApnsInjectedFault): void {
    if (!Number.isInteger(count) || count < 1) throw new Error('count must be a positive integer');
    if (!isInjectedFault(fault)) throw new Error(`unknown fault ${String(fault)}`);
    this.#queue.push({ fault, remaining: count });
  }

  /** Pushes still to be hit by queued faults. */
  get queued(): number {
    return this.#queue.reduce((sum, entry) => sum + entry.remaining, 0);
  }

  /** Back to a healthy profile, an empty queue and freshly seeded generators. */
  reset(): void {
    this.#queue = [];
    this.#windows.clear();
    this.#faultRng = createRng(this.seed);
    this.#latencyRng = createRng(this.seed ^ 0x5bd1e995);
    this.#profile = {};
    this.#sampleLatency = () => 0;
  }

  /** Queued, then random faults, decided as a push arrives (shutdown is handled by the caller). */
  decide(): FaultDecision {
    const head = this.#queue[0];
    if (head !== undefined) {
      head.remaining -= 1;
      if (head.remaining === 0) this.#queue.shift();
      if (head.fault === 'stall' || head.fault === 'reset' || head.fault === 'drop')
        return { kind: head.fault };
      return { kind: 'reject', reason: head.fault };
    }
    const p = this.#profile;
    const stall = p.stallRate ?? 0;
    const reset = p.resetRate ?? 0;
    const internal = p.internalErrorRate ?? 0;
    const unavailable = p.unavailableRate ?? 0;
    const drop = p.dropRate ?? 0;
    if (stall + reset + internal + unavailable + drop === 0) return NONE;
    // One draw per push, split into bands, keeps the sequence a pure function of the seed and arrival order.
    const u = this.#faultRng();
    if (u < stall) return { kind: 'stall' };
    if (u < stall + reset) return { kind: 'reset' };
    if (u < stall + reset + internal) return { kind: 'reject', reason: 'InternalServerError' };
    if (u < stall + reset + internal + unavailable) return { kind: 'reject', reason: 'ServiceUnavailable' };
    if (u < stall + reset + internal + unavailable + drop) return { kind: 'drop' };
    return NONE;
  }

  /** True when a push to `token` now would exceed the per-token limit; otherwise records it as accepted. */
  overTokenLimit(token: string, nowMs: number): boolean {
    const limit = this.#profile.tooManyRequests;
    if (limit === undefined) return false;
    const since = nowMs - limit.windowMs;
    if (this.#windows.size >= this.#sweepAtSize) this.#sweep(since);
    const recent = (this.#windows.get(token) ?? []).filter((at) => at > since);
    if (recent.length >= limit.maxPushes) {
      this.#windows.set(token, recent);
      return true;
    }
    recent.push(nowMs);
    this.#windows.set(token, recent);
    return false;
  }

  /** Forgets tokens with no push in the window, so a load test over many tokens does not grow the map. */
  #sweep(since: number): void {
    for (const [token, times] of this.#windows) {
      if ((times[times.length - 1] ?? 0) <= since) this.#windows.delete(token);
    }
    // When most windows are live, sweep again only after the map has doubled: amortised O(1) per push.
    this.#sweepAtSize = Math.max(WINDOW_SWEEP_SIZE, this.#windows.size * 2);
  }

  /** A response delay in ms from the latency model (0 without one). */
  sampleLatencyMs(): number {
    return this.#sampleLatency();
  }
}
