import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { type Queue } from 'bullmq';
import { oldestWaitingMs } from '@hpns/queue';
import { type CircuitState } from './circuit-breaker';
import { type Decision } from './decide';
import { type Decided } from './effects';

/**
 * The `result` label of a decision (the series dashboards and alerts read): `complete` delivered or dead token,
 * `retry`, `fail` failed for good or expired, `defer` held back without an attempt (open circuit).
 */
export function resultLabel(decision: Decision): 'complete' | 'retry' | 'fail' | 'defer' {
  switch (decision.fate) {
    case 'delivered':
    case 'invalid_token':
    case 'send':
      return 'complete';
    case 'retry':
      return 'retry';
    case 'held':
      return 'defer';
    case 'failed':
    case 'expired':
      return 'fail';
  }
}

/** Provider reasons are codes (`TooManyRequests`, `UNAVAILABLE`, `ECONNRESET`); anything else is `other`. */
function labelReason(reason: string): string {
  return /^[A-Za-z][A-Za-z0-9_]{0,39}$/.test(reason) ? reason : 'other';
}

const CIRCUIT_VALUE: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };

/** The worker's metrics (issue: jobs by outcome, retries by reason, queue depth and age, latencies, circuit). */
export class WorkerMetrics {
  readonly #jobs: Counter<'region' | 'provider' | 'target' | 'result'>;
  readonly #retries: Counter<'region' | 'provider' | 'reason'>;
  readonly #processing: Histogram<'provider'>;
  readonly #endToEnd: Histogram<'provider'>;
  readonly #circuit: Gauge<'target'>;
  readonly #targets: ReadonlySet<string>;

  /**
   * @param queues the queues whose depth and oldest-waiting age are reported at scrape time (read at each scrape,
   *   so the metrics can exist before the consumers that own the queues).
   * @param targets configured target types (bounded label set; anything else is `other`).
   */
  constructor(registry: Registry, queues: () => readonly Queue[], targets: readonly string[]) {
    this.#targets = new Set(targets);
    this.#jobs = new Counter({
      name: 'hpns_worker_jobs_total',
      help: 'Push attempts by final or intermediate result (complete, retry, fail, defer).',
      labelNames: ['region', 'provider', 'target', 'result'],
      registers: [registry],
    });
    this.#retries = new Counter({
      name: 'hpns_worker_retries_total',
      help: 'Attempts put back for a retry, by provider reason.',
      labelNames: ['region', 'provider', 'reason'],
      registers: [registry],
    });
    this.#processing = new Histogram({
      name: 'hpns_worker_attempt_duration_seconds',
      help: 'Time of one attempt in the worker (decrypt, build, send, bookkeeping).',
      labelNames: ['provider'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.#endToEnd = new Histogram({
      name: 'hpns_push_accept_to_provider_seconds',
      help: 'From send_push accepted by the ingress to the provider accepting the push.',
      labelNames: ['provider'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    });
    this.#circuit = new Gauge({
      name: 'hpns_worker_circuit_state',
      help: 'Circuit breaker per provider target: 0 closed, 1 half-open, 2 open.',
      labelNames: ['target'],
      registers: [registry],
    });
    const depth = new Gauge({
      name: 'hpns_queue_jobs',
      help: 'Jobs in a push queue by state, read from Redis at scrape time.',
      labelNames: ['queue', 'state'],
      registers: [registry],
      collect: async () => {
        for (const queue of queues()) {
          const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
          for (const [state, value] of Object.entries(counts)) depth.set({ queue: queue.name, state }, value);
        }
      },
    });
    const oldest = new Gauge({
      name: 'hpns_queue_oldest_waiting_seconds',
      help: 'Age of the oldest waiting job per push queue (0 when none), read at scrape time.',
      labelNames: ['queue'],
      registers: [registry],
      collect: async () => {
        for (const queue of queues()) {
          oldest.set({ queue: queue.name }, ((await oldestWaitingMs(queue)) ?? 0) / 1000);
        }
      },
    });
  }

  #target(type: string): string {
    return this.#targets.has(type) ? type : 'other';
  }

  decision({ push, decision, durationMs }: Decided, nowMs: number): void {
    const { region, provider, targetType, acceptedAtMs } = push.job.routing;
    const result = resultLabel(decision);
    this.#jobs.inc({ region, provider, target: this.#target(targetType), result });
    // A deferral (open circuit) sends nothing: it would only drag the processing-time histogram towards 0.
    if (result !== 'defer') this.#processing.observe({ provider }, durationMs / 1000);
    if (decision.fate === 'retry')
      this.#retries.inc({ region, provider, reason: labelReason(decision.reason) });
    if (decision.fate === 'delivered' || decision.fate === 'invalid_token') {
      this.#endToEnd.observe({ provider }, Math.max(0, nowMs - acceptedAtMs) / 1000);
    }
  }

  /**
   * Reports every breaker this worker can have as closed before any push went through it, so that the series
   * exist from the start (a dashboard or an alert on `hpns_worker_circuit_state` sees 0, not "no data").
   */
  circuitsClosed(targets: readonly string[]): void {
    for (const target of targets) this.#circuit.set({ target }, CIRCUIT_VALUE.closed);
  }

  circuit(target: string, state: CircuitState): void {
    this.#circuit.set({ target }, CIRCUIT_VALUE[state]);
  }
}
