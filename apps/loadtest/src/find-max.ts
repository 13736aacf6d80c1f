import { type PushRequest } from './fleet';
import { checkSlo, failShare, type FindMaxResult, type LoadResult } from './result';
import { runLoad, type Target } from './runner';
import { ArrivalSchedule } from './schedule';

/**
 * `--find-max --slo …`: the highest offered rate that holds the SLO. Steps of `stepMs` at a constant rate,
 * starting at `startRate` and multiplied by `factor` while the SLO holds; after the first step that breaks it,
 * one more step halfway between the last good rate and the bad one narrows the answer. Each step is a full
 * open-model run (latency from the scheduled send), so an overloaded server shows as latency, not as a lower
 * request rate.
 */
export interface FindMaxOptions {
  target: Target;
  next: () => PushRequest;
  slo: string;
  startRate: number;
  factor: number;
  stepMs: number;
  maxRate: number;
  maxConnections: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Builds a step's result (label, target, profile): the caller's fields. */
  result: (rate: number, run: Awaited<ReturnType<typeof runLoad>>) => LoadResult;
  onStep?: (step: FindMaxResult['steps'][number]) => void;
}

export async function findMax(
  options: FindMaxOptions,
): Promise<{ findMax: FindMaxResult; best: LoadResult }> {
  const steps: FindMaxResult['steps'] = [];
  let best: LoadResult | undefined;
  let first: LoadResult | undefined;
  let good = 0;
  let bad = Infinity;
  let rate = options.startRate;
  let narrowed = false;
  while (!options.signal?.aborted && rate <= options.maxRate) {
    const run = await runLoad({
      target: options.target,
      model: {
        kind: 'open',
        schedule: ArrivalSchedule.constant(rate, options.stepMs),
        maxConnections: options.maxConnections,
      },
      next: options.next,
      timeoutMs: options.timeoutMs,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
    const result = options.result(rate, run);
    first ??= result;
    const verdict = checkSlo(options.slo, result);
    const step = {
      rate,
      pass: verdict.pass && !run.aborted,
      p99: result.latency.corrected.p99,
      failShare: failShare(result.answers),
      achieved: result.rates.achieved,
      reasons: verdict.checks.filter((c) => !c.pass).map((c) => c.term),
    };
    steps.push(step);
    options.onStep?.(step);
    if (run.aborted) break;
    if (step.pass) {
      good = rate;
      best = result;
    } else bad = Math.min(bad, rate);
    if (bad === Infinity) rate *= options.factor;
    else if (!narrowed && bad / Math.max(good, 1e-9) > 1.1 && good > 0) {
      narrowed = true;
      rate = (good + bad) / 2;
    } else break;
  }
  const findMax: FindMaxResult = { slo: options.slo, steps, maxRate: good };
  const chosen = best ?? first;
  if (chosen === undefined) throw new Error('--find-max: no step ran');
  return { findMax, best: { ...chosen, findMax } };
}
