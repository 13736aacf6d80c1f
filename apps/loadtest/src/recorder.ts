import * as hdr from 'hdr-histogram-js';

/**
 * Everything the client saw, counted: every answer by status, FAIL answers by text, transport errors and
 * timeouts; latency in HDR histograms (µs, 3 significant digits) for the whole measured window and per second.
 * Latency is taken from each request's scheduled time (corrected: what a caller waiting on its schedule saw)
 * and, beside it, from when the request was written (uncorrected: what a closed-loop tool would report). The
 * difference between the two is the coordinated omission the open model avoids.
 */
export const OUTCOMES = ['ok', 'remove', 'fail', 'bad', 'transport', 'timeout'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const OUTCOME_LABELS: Record<Outcome, string> = {
  ok: 'OK',
  remove: 'REMOVE',
  fail: 'FAIL',
  bad: 'outside the protocol (HTTP ≠ 200 or unreadable)',
  transport: 'transport error',
  timeout: 'timeout',
};

/** Percentiles reported everywhere, and the points of the HDR percentile plot. */
export const PERCENTILES = [50, 90, 99, 99.9, 99.99] as const;

export interface LatencySummary {
  count: number;
  /** ms */
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
  max: number;
}

/** One second of the run (by completion time, except `offered` and `sent`, by scheduled and send time). */
export interface SecondPoint {
  t: number;
  offered: number;
  sent: number;
  done: number;
  byOutcome: Record<Outcome, number>;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
  inFlight: number;
  waiting: number;
}

const MAX_TEXTS = 50;
const OTHER_TEXTS = '(other texts)';

function histogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

export function summarize(h: hdr.Histogram): LatencySummary {
  const at = (p: number) => (h.totalCount === 0 ? 0 : h.getValueAtPercentile(p) / 1000);
  return {
    count: h.totalCount,
    min: h.totalCount === 0 ? 0 : h.minNonZeroValue / 1000,
    mean: h.totalCount === 0 ? 0 : h.mean / 1000,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    p9999: at(99.99),
    max: h.totalCount === 0 ? 0 : h.maxValue / 1000,
  };
}

/** [percentile, ms] pairs from 0 to 99.999 % on the log scale of an HDR percentile plot. */
export function percentileCurve(h: hdr.Histogram): [number, number][] {
  if (h.totalCount === 0) return [];
  const out: [number, number][] = [];
  for (let k = 0; k <= 50; k += 1) {
    const p = 100 * (1 - Math.pow(10, -k / 10));
    out.push([Number(p.toFixed(5)), h.getValueAtPercentile(p) / 1000]);
    if (p >= 100 * (1 - 1 / h.totalCount)) break;
  }
  out.push([100, h.maxValue / 1000]);
  return out;
}

/** Folds FAIL texts that differ only by the caller's ids, so a fleet of servers does not make a text each. */
export function normalizeText(text: string): string {
  return text.replace(/serverId=\S+/g, 'serverId=…').slice(0, 300);
}

export class Recorder {
  readonly corrected = histogram();
  readonly uncorrected = histogram();
  readonly #second = histogram();
  readonly counts: Record<Outcome, number> = { ok: 0, remove: 0, fail: 0, bad: 0, transport: 0, timeout: 0 };
  /** FAIL / outside-the-protocol / transport texts and their counts (capped, the rest under "(other texts)"). */
  readonly texts = new Map<string, number>();
  /** Per text, the count in each second (for the chart of FAIL texts over time). */
  readonly textSeries = new Map<string, number[]>();
  /** Per kind and platform of push, the answers. */
  readonly byKind = new Map<string, Record<Outcome, number>>();
  readonly seconds: SecondPoint[] = [];
  /** Answers to requests outside the measured window (warm-up). */
  warmupAnswers = 0;
  deadSent = 0;
  deadRemoved = 0;

  /** Second index the next flush closes. */
  #current = 0;
  #offered = 0;
  #sent = 0;
  #done = 0;
  #byOutcome: Record<Outcome, number> = { ok: 0, remove: 0, fail: 0, bad: 0, transport: 0, timeout: 0 };

  get answered(): number {
    return OUTCOMES.reduce((sum, o) => sum + this.counts[o], 0);
  }

  /** Requests offered in the measured window (scheduled after the warm-up). */
  measuredOffered = 0;

  offered(measured: boolean): void {
    this.#offered += 1;
    if (measured) this.measuredOffered += 1;
  }

  sent(): void {
    this.#sent += 1;
  }

  /** One answer: latencies in ms (from the scheduled time and from the send), `text` for non-OK answers. */
  record(
    outcome: Outcome,
    correctedMs: number,
    uncorrectedMs: number,
    text: string | undefined,
    kind: string,
    measured: boolean,
    dead: boolean,
  ): void {
    this.#done += 1;
    this.#byOutcome[outcome] += 1;
    const us = Math.max(1, Math.round(correctedMs * 1000));
    this.#second.recordValue(us);
    if (!measured) {
      this.warmupAnswers += 1;
      return;
    }
    this.counts[outcome] += 1;
    this.corrected.recordValue(us);
    this.uncorrected.recordValue(Math.max(1, Math.round(uncorrectedMs * 1000)));
    let perKind = this.byKind.get(kind);
    if (perKind === undefined) {
      perKind = { ok: 0, remove: 0, fail: 0, bad: 0, transport: 0, timeout: 0 };
      this.byKind.set(kind, perKind);
    }
    perKind[outcome] += 1;
    if (dead) {
      this.deadSent += 1;
      if (outcome === 'remove') this.deadRemoved += 1;
    }
    if (text !== undefined) {
      let key = normalizeText(text);
      if (!this.texts.has(key) && this.texts.size >= MAX_TEXTS) key = OTHER_TEXTS;
      this.texts.set(key, (this.texts.get(key) ?? 0) + 1);
      let series = this.textSeries.get(key);
      if (series === undefined) {
        series = [];
        this.textSeries.set(key, series);
      }
      series[this.#current] = (series[this.#current] ?? 0) + 1;
    }
  }

  /** Closes the current second; `inFlight` and `waiting` are the generator's state at its end. */
  flush(inFlight: number, waiting: number): SecondPoint {
    const h = this.#second;
    const at = (p: number) => (h.totalCount === 0 ? null : h.getValueAtPercentile(p) / 1000);
    const point: SecondPoint = {
      t: this.#current,
      offered: this.#offered,
      sent: this.#sent,
      done: this.#done,
      byOutcome: this.#byOutcome,
      p50: at(50),
      p90: at(90),
      p99: at(99),
      p999: at(99.9),
      max: h.totalCount === 0 ? null : h.maxValue / 1000,
      inFlight,
      waiting,
    };
    this.seconds.push(point);
    h.reset();
    this.#current += 1;
    this.#offered = 0;
    this.#sent = 0;
    this.#done = 0;
    this.#byOutcome = { ok: 0, remove: 0, fail: 0, bad: 0, transport: 0, timeout: 0 };
    return point;
  }

  /** The texts' series padded to the run's seconds, largest first. */
  textsOverTime(): { text: string; total: number; perSecond: number[] }[] {
    return [...this.texts]
      .sort((a, b) => b[1] - a[1])
      .map(([text, total]) => {
        const series = this.textSeries.get(text) ?? [];
        return {
          text,
          total,
          perSecond: Array.from({ length: this.seconds.length }, (_, i) => series[i] ?? 0),
        };
      });
  }
}
