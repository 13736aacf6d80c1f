/**
 * The open model's arrival schedule: stages of a target rate, each reached by a linear ramp from the rate before
 * it (as k6's ramping-arrival-rate does), so `30s:500,60s:3000,30s:0` climbs to 500/s in 30 s, to 3,000/s over
 * the next minute, then back to zero. A stage whose rate equals the one before it holds that rate.
 *
 * Request n (from 0) is due at the time t where the number of arrivals so far, A(t) = ∫ rate, equals n. The
 * generator sends each request at that time and measures its latency from it, whether or not a connection was
 * free then: what a user waiting on the server would have seen (no coordinated omission).
 */
export interface Stage {
  durationMs: number;
  /** Requests per second at the end of the stage. */
  rate: number;
}

/** Parses `30s:500,60s:3000,30s:0` (durations in ms, s, m or h; rates per second). */
export function parseStages(text: string): Stage[] {
  const stages = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const match = /^([^:]+):(\d+(?:\.\d+)?)$/.exec(part);
      if (match === null) throw new Error(`--stages: "${part}" is not DURATION:RATE (e.g. 30s:500)`);
      return { durationMs: parseDuration(match[1]!, '--stages'), rate: Number(match[2]) };
    });
  if (stages.length === 0) throw new Error('--stages: no stage given');
  return stages;
}

/** `250ms`, `30s`, `2m`, `1h`, or a bare number of seconds. */
export function parseDuration(text: string, name: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) throw new Error(`${name}: "${text}" is not a duration (e.g. 500ms, 30s, 2m)`);
  const value = Number(match[1]);
  const unit = match[2] ?? 's';
  const ms = value * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!;
  if (!(ms > 0)) throw new Error(`${name}: "${text}" must be longer than 0`);
  return ms;
}

export class ArrivalSchedule {
  readonly stages: readonly Stage[];
  readonly startRate: number;
  /** Arrivals at the start of each stage. */
  readonly #before: number[] = [];
  readonly #startMs: number[] = [];
  readonly totalMs: number;
  /** A(totalMs): the arrivals of the whole schedule, not rounded. */
  readonly arrivals: number;
  /** Requests the schedule holds: every n with A(t) = n for some t < totalMs. */
  readonly total: number;

  constructor(stages: readonly Stage[], startRate = 0) {
    for (const [i, stage] of stages.entries()) {
      if (!(stage.durationMs > 0)) throw new Error(`stage ${i + 1}: the duration must be > 0`);
      if (!(stage.rate >= 0) || !Number.isFinite(stage.rate))
        throw new Error(`stage ${i + 1}: the rate must be a number ≥ 0`);
    }
    if (!(startRate >= 0)) throw new Error('the start rate must be ≥ 0');
    this.stages = stages;
    this.startRate = startRate;
    let arrivals = 0;
    let at = 0;
    let rate = startRate;
    for (const stage of stages) {
      this.#before.push(arrivals);
      this.#startMs.push(at);
      arrivals += ((rate + stage.rate) / 2) * (stage.durationMs / 1000);
      at += stage.durationMs;
      rate = stage.rate;
    }
    this.totalMs = at;
    this.arrivals = arrivals;
    // n is in the schedule when A(t) = n happens before the end: n < A(total) (n = 0 needs a rate > 0 at 0).
    this.total = arrivals <= 0 ? 0 : Math.ceil(arrivals - 1e-9);
  }

  /** A constant `rate` for `durationMs`. */
  static constant(rate: number, durationMs: number): ArrivalSchedule {
    return new ArrivalSchedule([{ durationMs, rate }], rate);
  }

  /** The rate the schedule asks for at `ms` from its start. */
  rateAt(ms: number): number {
    let previous = this.startRate;
    for (const [i, stage] of this.stages.entries()) {
      const start = this.#startMs[i]!;
      if (ms < start + stage.durationMs) {
        return previous + ((stage.rate - previous) * (ms - start)) / stage.durationMs;
      }
      previous = stage.rate;
    }
    return previous;
  }

  /** Arrivals due in [0, ms). */
  arrivalsBefore(ms: number): number {
    let previous = this.startRate;
    for (const [i, stage] of this.stages.entries()) {
      const start = this.#startMs[i]!;
      if (ms < start + stage.durationMs) {
        const t = (ms - start) / 1000;
        const slope = (stage.rate - previous) / (stage.durationMs / 1000);
        return this.#before[i]! + previous * t + (slope * t * t) / 2;
      }
      previous = stage.rate;
    }
    return this.arrivals;
  }

  /** When request n is due, in ms from the start (n from 0, n < total). */
  timeOf(n: number): number {
    if (!(n >= 0 && n < this.total))
      throw new RangeError(`request ${n} is outside the schedule (0…${this.total - 1})`);
    // The first stage whose arrivals reach n by its end: where A(t) = n first happens.
    let i = 0;
    while (i + 1 < this.stages.length && this.#before[i + 1]! < n) i += 1;
    const stage = this.stages[i]!;
    const r0 = i === 0 ? this.startRate : this.stages[i - 1]!.rate;
    const slope = (stage.rate - r0) / (stage.durationMs / 1000);
    const m = n - this.#before[i]!;
    // Solve r0·t + slope·t²/2 = m for the first t ≥ 0, in the form that stays exact when slope is near 0.
    const root = Math.sqrt(Math.max(0, r0 * r0 + 2 * slope * m));
    const denominator = r0 + root;
    const t = denominator === 0 ? 0 : (2 * m) / denominator;
    return this.#startMs[i]! + t * 1000;
  }
}
