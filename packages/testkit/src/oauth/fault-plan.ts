import { type Rng } from '../random';

/**
 * Which requests a simulator fails, and how: scheduled faults for the next K requests first, then random faults
 * drawn at fixed rates from a seeded generator, so a run with faults can be replayed (reference/apns-fcm.md §7).
 * Shared by the OAuth and FCM simulators; each defines its own fault union.
 */

/** A fault with the probability of it hitting any one request (0..1). */
export type FaultRate<F> = F & { rate: number };

export interface FaultPlan<F extends { kind: string }> {
  /** Fails the next `count` requests with `fault` (after faults scheduled earlier). */
  inject(fault: F, count?: number): void;
  /** Replaces the random faults; rates must be within 0..1 and sum to at most 1. */
  setRates(rates: readonly FaultRate<F>[]): void;
  clear(): void;
  /** The fault for the request at hand, if any. */
  take(): F | undefined;
}

export function createFaultPlan<F extends { kind: string }>(rng: Rng): FaultPlan<F> {
  const scheduled: { fault: F; remaining: number }[] = [];
  let rates: FaultRate<F>[] = [];
  return {
    inject(fault, count = 1) {
      if (!Number.isInteger(count) || count < 1) throw new Error('count must be a positive integer');
      scheduled.push({ fault: { ...fault }, remaining: count });
    },
    setRates(next) {
      let sum = 0;
      for (const { rate } of next) {
        if (!(rate >= 0 && rate <= 1)) throw new Error('a fault rate must be within 0..1');
        sum += rate;
      }
      if (sum > 1 + 1e-9) throw new Error('fault rates must sum to at most 1');
      rates = next.map((rate) => ({ ...rate }));
    },
    clear() {
      scheduled.length = 0;
      rates = [];
    },
    take() {
      const head = scheduled[0];
      if (head !== undefined) {
        head.remaining -= 1;
        if (head.remaining === 0) scheduled.shift();
        return head.fault;
      }
      if (rates.length === 0) return undefined;
      let draw = rng();
      for (const entry of rates) {
        if (draw < entry.rate) {
          const { rate: _rate, ...fault } = entry;
          return fault as unknown as F;
        }
        draw -= entry.rate;
      }
      return undefined;
    },
  };
}
