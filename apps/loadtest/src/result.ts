import { type FleetProfile } from './fleet';
import { type ReconcileResult } from './reconcile';
import {
  OUTCOMES,
  percentileCurve,
  summarize,
  type LatencySummary,
  type Outcome,
  type SecondPoint,
} from './recorder';
import { type RunOutcome } from './runner';
import { type ServerSeries } from './scrape';

/** The JSON result of a run: everything the HTML report draws, and what `compare` reads. */
export interface LoadResult {
  tool: 'hpns-loadtest';
  format: 1;
  label: string;
  startedAt: string;
  target: string;
  model:
    | {
        kind: 'open';
        stages: { durationMs: number; rate: number }[];
        startRate: number;
        maxConnections: number;
      }
    | { kind: 'closed'; connections: number; durationMs: number };
  profile: FleetProfile;
  timeoutMs: number;
  warmupMs: number;
  elapsedMs: number;
  measuredMs: number;
  aborted: boolean;
  requests: { offered: number; sent: number; answered: number; notSent: number; abandoned: number };
  /** Per second over the measured window. */
  rates: { offered: number; achieved: number; ok: number };
  answers: Record<Outcome, number>;
  /** Non-OK answer texts by count (FAIL texts, transport errors, …). */
  texts: { text: string; count: number }[];
  textsOverTime: { text: string; total: number; perSecond: number[] }[];
  byKind: Record<string, Record<Outcome, number>>;
  deadTokens: { sent: number; removed: number };
  latency: {
    corrected: LatencySummary;
    uncorrected: LatencySummary;
    curve: [number, number][];
    uncorrectedCurve: [number, number][];
  };
  seconds: SecondPoint[];
  generator: {
    cpuUsPerRequest: number;
    cores: number;
    sendLagMs: { p50: number; p99: number; max: number };
    eventLoopDelayP99Ms: number;
    connectionsOpened: number;
    maxInFlight: number;
    warnings: string[];
  };
  reconcile?: ReconcileResult;
  server?: ServerSeries[];
  slo?: SloVerdict;
  findMax?: FindMaxResult;
}

export interface FindMaxResult {
  slo: string;
  steps: {
    rate: number;
    pass: boolean;
    p99: number;
    failShare: number;
    achieved: number;
    reasons: string[];
  }[];
  /** The highest offered rate that held the SLO (0 when none did). */
  maxRate: number;
}

// --- SLOs ------------------------------------------------------------------------------------------------

export interface SloTerm {
  metric: string;
  op: '<' | '<=' | '>' | '>=';
  value: number;
  text: string;
}

export interface SloVerdict {
  spec: string;
  pass: boolean;
  checks: { term: string; actual: number; pass: boolean }[];
}

const LATENCY_METRICS: Record<string, keyof LatencySummary> = {
  p50: 'p50',
  p90: 'p90',
  p99: 'p99',
  'p99.9': 'p999',
  'p99.99': 'p9999',
  max: 'max',
  mean: 'mean',
};
/** Shares of the answers, in %. `fail` = anything but OK and REMOVE (REMOVE is a correct answer). */
const SHARE_METRICS = ['fail', 'timeout', 'transport', 'remove'];

/** `p99<50ms,fail<0.1%,missing<=0`: latency terms in ms or s, shares in %, counts bare. */
export function parseSlo(spec: string): SloTerm[] {
  const terms = spec
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map((text): SloTerm => {
      const match = /^([a-z0-9.]+)\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*(ms|s|%|\/s)?$/.exec(text);
      if (match === null) throw new Error(`--slo: "${text}" is not METRIC<VALUE (e.g. p99<50ms, fail<0.1%)`);
      const [, metric, op, number, unit] = match as unknown as [
        string,
        string,
        SloTerm['op'],
        string,
        string?,
      ];
      let value = Number(number);
      if (metric in LATENCY_METRICS) {
        if (unit !== 'ms' && unit !== 's') throw new Error(`--slo: "${text}" needs a unit, ms or s`);
        if (unit === 's') value *= 1000;
      } else if (SHARE_METRICS.includes(metric)) {
        if (unit !== '%') throw new Error(`--slo: "${text}" is a share: give it in % (e.g. ${metric}<0.1%)`);
      } else if (metric === 'missing' || metric === 'duplicates') {
        if (unit !== undefined) throw new Error(`--slo: "${text}" is a count: no unit`);
      } else if (metric === 'achieved') {
        if (unit !== '%') throw new Error(`--slo: "${text}": achieved is a share of the offered rate, in %`);
      } else {
        throw new Error(
          `--slo: unknown metric "${metric}"; known: ${[...Object.keys(LATENCY_METRICS), ...SHARE_METRICS, 'achieved', 'missing', 'duplicates'].join(', ')}`,
        );
      }
      return { metric, op, value, text };
    });
  if (terms.length === 0) throw new Error('--slo: no term given');
  return terms;
}

export function failShare(answers: Record<Outcome, number>): number {
  const total = OUTCOMES.reduce((s, o) => s + answers[o], 0);
  return total === 0 ? 0 : ((total - answers.ok - answers.remove) / total) * 100;
}

export function checkSlo(spec: string, result: LoadResult): SloVerdict {
  const total = OUTCOMES.reduce((s, o) => s + result.answers[o], 0) + result.requests.abandoned;
  const share = (n: number) => (total === 0 ? 0 : (n / total) * 100);
  const checks = parseSlo(spec).map((term) => {
    let actual: number;
    const latency = LATENCY_METRICS[term.metric];
    if (latency !== undefined) actual = result.latency.corrected[latency];
    else if (term.metric === 'fail') actual = share(total - result.answers.ok - result.answers.remove);
    else if (term.metric === 'timeout') actual = share(result.answers.timeout + result.requests.abandoned);
    else if (term.metric === 'transport') actual = share(result.answers.transport);
    else if (term.metric === 'remove') actual = share(result.answers.remove);
    else if (term.metric === 'achieved')
      actual = result.rates.offered === 0 ? 100 : (result.rates.achieved / result.rates.offered) * 100;
    else if (result.reconcile === undefined) actual = NaN;
    else actual = term.metric === 'missing' ? result.reconcile.missing : result.reconcile.duplicates;
    const pass =
      !Number.isNaN(actual) &&
      (term.op === '<'
        ? actual < term.value
        : term.op === '<='
          ? actual <= term.value
          : term.op === '>'
            ? actual > term.value
            : actual >= term.value);
    return { term: term.text, actual, pass };
  });
  return { spec, pass: checks.every((c) => c.pass), checks };
}

// --- building the result ---------------------------------------------------------------------------------

export function buildResult(input: {
  label: string;
  startedAt: Date;
  target: string;
  model: LoadResult['model'];
  profile: FleetProfile;
  timeoutMs: number;
  warmupMs: number;
  run: RunOutcome;
  reconcile?: ReconcileResult;
  server?: ServerSeries[];
  slo?: string;
}): LoadResult {
  const { run } = input;
  const r = run.recorder;
  const measuredS = Math.max(run.measuredMs, 1) / 1000;
  const offered = r.seconds.reduce((s, p) => s + p.offered, 0);
  const sent = r.seconds.reduce((s, p) => s + p.sent, 0);
  const answered = r.answered;
  const result: LoadResult = {
    tool: 'hpns-loadtest',
    format: 1,
    label: input.label,
    startedAt: input.startedAt.toISOString(),
    target: input.target,
    model: input.model,
    profile: input.profile,
    timeoutMs: input.timeoutMs,
    warmupMs: input.warmupMs,
    elapsedMs: run.elapsedMs,
    measuredMs: run.measuredMs,
    aborted: run.aborted,
    requests: {
      offered,
      sent,
      answered: answered + r.warmupAnswers,
      notSent: run.notSent,
      abandoned: run.abandoned,
    },
    rates: {
      offered: r.measuredOffered / measuredS,
      achieved: answered / measuredS,
      ok: r.counts.ok / measuredS,
    },
    answers: { ...r.counts },
    texts: [...r.texts].sort((a, b) => b[1] - a[1]).map(([text, count]) => ({ text, count })),
    textsOverTime: r.textsOverTime(),
    byKind: Object.fromEntries(r.byKind),
    deadTokens: { sent: r.deadSent, removed: r.deadRemoved },
    latency: {
      corrected: summarize(r.corrected),
      uncorrected: summarize(r.uncorrected),
      curve: percentileCurve(r.corrected),
      uncorrectedCurve: percentileCurve(r.uncorrected),
    },
    seconds: r.seconds,
    generator: {
      cpuUsPerRequest: run.cpu.usPerRequest,
      cores: run.cpu.cores,
      sendLagMs: run.sendLag,
      eventLoopDelayP99Ms: run.eventLoopDelayP99Ms,
      connectionsOpened: run.connectionsOpened,
      maxInFlight: run.maxInFlight,
      warnings: run.warnings,
    },
    ...(input.reconcile !== undefined ? { reconcile: input.reconcile } : {}),
    ...(input.server !== undefined ? { server: input.server } : {}),
  };
  if (input.slo !== undefined) result.slo = checkSlo(input.slo, result);
  return result;
}
