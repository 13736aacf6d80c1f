import { type DeliveryOutcome, type DeliveryOutcomeKind, type ProviderKind } from '@hpns/protocol';
import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * Metrics shared by every provider (APNs and FCM): one histogram of request durations and one counter of
 * outcomes, both labelled by provider, target and outcome (and reason for the counter). Both providers of a
 * worker register on the same injected registry, so the series are created once and then reused
 * (`getSingleMetric`): a second `createProviderMetrics` on the same registry does not throw.
 *
 * Label sets are bounded (STYLE.md §12): targets and reasons outside the lists a provider declares are
 * recorded as `other`; a delivered push has reason `none`.
 */

export const PROVIDER_REQUEST_DURATION_SECONDS = 'hpns_provider_request_duration_seconds';
export const PROVIDER_OUTCOMES_TOTAL = 'hpns_provider_outcomes_total';

/** The label value for anything outside a declared set. */
export const OTHER_LABEL = 'other';
/** The reason label of a delivered push. */
export const NO_REASON_LABEL = 'none';

/**
 * Duration buckets in seconds: provider round trips sit around 10–100 ms; the tail up to the per-request
 * timeout (8 s by default) shows stalls.
 */
export const DEFAULT_DURATION_BUCKETS_SECONDS: readonly number[] = [
  0.005, 0.01, 0.02, 0.04, 0.06, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export interface ProviderMetricsOptions {
  /** Where the series are registered (never prom-client's global registry). Required. */
  registry: Registry;
  /** The `provider` label. Required. */
  provider: ProviderKind;
  /** Configured target types (`android_rn`, …); any other target is labelled `other`. Required. */
  targets: readonly string[];
  /** Reasons this provider reports (vendor reasons, transport codes); any other is labelled `other`. Required. */
  reasons: readonly string[];
  /**
   * Histogram buckets in seconds. Default `DEFAULT_DURATION_BUCKETS_SECONDS`. Only the first provider to
   * register the histogram on a registry decides them.
   */
  buckets?: readonly number[];
}

export interface ProviderMetrics {
  /** Records one provider request: its outcome, and how long it took in seconds. */
  record(target: string, outcome: DeliveryOutcome, durationSeconds: number): void;
}

function getOrCreateHistogram(registry: Registry, buckets: readonly number[]): Histogram<string> {
  const existing = registry.getSingleMetric(PROVIDER_REQUEST_DURATION_SECONDS);
  if (existing !== undefined) return existing as Histogram<string>;
  return new Histogram({
    name: PROVIDER_REQUEST_DURATION_SECONDS,
    help: 'Duration of one provider request (APNs or FCM), from send to classified outcome, in seconds.',
    labelNames: ['provider', 'target', 'outcome'],
    buckets: [...buckets],
    registers: [registry],
  });
}

function getOrCreateCounter(registry: Registry): Counter<string> {
  const existing = registry.getSingleMetric(PROVIDER_OUTCOMES_TOTAL);
  if (existing !== undefined) return existing as Counter<string>;
  return new Counter({
    name: PROVIDER_OUTCOMES_TOTAL,
    help: 'Provider requests by outcome (delivered, invalid_token, retryable, rejected) and reason.',
    labelNames: ['provider', 'target', 'outcome', 'reason'],
    registers: [registry],
  });
}

export function createProviderMetrics(options: ProviderMetricsOptions): ProviderMetrics {
  const duration = getOrCreateHistogram(
    options.registry,
    options.buckets ?? DEFAULT_DURATION_BUCKETS_SECONDS,
  );
  const outcomes = getOrCreateCounter(options.registry);
  const targets = new Set(options.targets);
  const reasons = new Set(options.reasons);
  const provider = options.provider;
  // Labelled children cached per label combination: `labels()` hashes its arguments on every call, and the
  // combinations are few (bounded sets) while sends are many.
  const durationChildren = new Map<string, Histogram.Internal<string>>();
  const outcomeChildren = new Map<string, Counter.Internal>();

  return {
    record(target, outcome, durationSeconds) {
      const targetLabel = targets.has(target) ? target : OTHER_LABEL;
      const kind: DeliveryOutcomeKind = outcome.kind;
      const reason =
        outcome.kind === 'delivered'
          ? NO_REASON_LABEL
          : reasons.has(outcome.reason)
            ? outcome.reason
            : OTHER_LABEL;

      const durationKey = `${targetLabel}\u0000${kind}`;
      let observe = durationChildren.get(durationKey);
      if (observe === undefined) {
        observe = duration.labels({ provider, target: targetLabel, outcome: kind });
        durationChildren.set(durationKey, observe);
      }
      observe.observe(durationSeconds);

      const outcomeKey = `${durationKey}\u0000${reason}`;
      let count = outcomeChildren.get(outcomeKey);
      if (count === undefined) {
        count = outcomes.labels({ provider, target: targetLabel, outcome: kind, reason });
        outcomeChildren.set(outcomeKey, count);
      }
      count.inc();
    },
  };
}
