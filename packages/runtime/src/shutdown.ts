import { HpnsError } from '@hpns/protocol';
import { type Logger } from './logger';

/** One shutdown step, run in registration order (STYLE.md §10: readiness → intake → providers → Redis). */
export interface ShutdownStep {
  /** Stable, short name for logs and the report (`admin.not-ready`, `http.close`, `redis.close`). */
  readonly name: string;
  run(): Promise<void> | void;
}

export interface StepReport {
  name: string;
  outcome: 'done' | 'failed' | 'abandoned';
  durationMs: number;
  error?: string;
}

export interface ShutdownReport {
  /** Why shutdown started: a signal name or a caller's reason. */
  reason: string;
  /** True when every step finished in time and none failed. */
  ok: boolean;
  /** True when the deadline passed before the steps were done. */
  timedOut: boolean;
  steps: StepReport[];
}

/** The part of `process` the orchestrator uses; tests pass an EventEmitter-based fake. */
export interface SignalSource {
  on(signal: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  off(signal: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
}

export interface ShutdownOptions {
  logger: Logger;
  /** Deadline for all steps together, in ms (config `shutdownTimeoutMs`). */
  timeoutMs: number;
  /** Called with the exit code once shutdown ends after a signal. Default `process.exit`. */
  exit?: (code: number) => void;
}

/**
 * Runs the shutdown steps of a process once, in order, under one deadline. A failing step is logged and the
 * next one runs (a Redis that will not close must not keep the HTTP server open). When the deadline passes,
 * the remaining steps are abandoned and the report says so. On SIGINT/SIGTERM it runs and then exits, 0 when
 * the report is ok and 1 otherwise; a second signal while shutting down exits 1 at once.
 */
export class GracefulShutdown {
  readonly #options: ShutdownOptions;
  readonly #steps: ShutdownStep[] = [];
  #running: Promise<ShutdownReport> | undefined;
  #signals: SignalSource | undefined;
  readonly #onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    if (this.#running !== undefined) {
      this.#options.logger.warn(
        { event: 'shutdown.forced', signal },
        'second signal during shutdown: exiting now',
      );
      this.#exit(1);
      return;
    }
    void this.run(signal).then((report) => this.#exit(report.ok ? 0 : 1));
  };
  readonly #onSigint = () => this.#onSignal('SIGINT');
  readonly #onSigterm = () => this.#onSignal('SIGTERM');

  constructor(options: ShutdownOptions) {
    this.#options = options;
  }

  /** Adds a step after those already added. */
  add(name: string, run: () => Promise<void> | void): this {
    if (this.#running !== undefined) throw new Error(`shutdown step ${name} added after shutdown started`);
    this.#steps.push({ name, run });
    return this;
  }

  /** Starts listening for SIGINT and SIGTERM on `signals` (normally `process`). */
  listen(signals: SignalSource): this {
    this.#signals = signals;
    signals.on('SIGINT', this.#onSigint);
    signals.on('SIGTERM', this.#onSigterm);
    return this;
  }

  /** Whether shutdown has started. */
  get started(): boolean {
    return this.#running !== undefined;
  }

  /** Runs the steps (once; later calls get the same report). */
  run(reason: string): Promise<ShutdownReport> {
    this.#running ??= this.#runSteps(reason);
    return this.#running;
  }

  /** Stops listening for signals. Does not run the steps. */
  async close(): Promise<void> {
    this.#signals?.off('SIGINT', this.#onSigint);
    this.#signals?.off('SIGTERM', this.#onSigterm);
    this.#signals = undefined;
  }

  #exit(code: number): void {
    void this.close();
    (this.#options.exit ?? ((c: number) => process.exit(c)))(code);
  }

  async #runSteps(reason: string): Promise<ShutdownReport> {
    const { logger, timeoutMs } = this.#options;
    const started = performance.now();
    const deadline = started + timeoutMs;
    logger.info({ event: 'shutdown.started', reason, timeoutMs, steps: this.#steps.length }, 'shutting down');
    const steps: StepReport[] = [];
    let timedOut = false;
    for (const step of this.#steps) {
      const remainingMs = deadline - performance.now();
      if (timedOut || remainingMs <= 0) {
        timedOut = true;
        steps.push({ name: step.name, outcome: 'abandoned', durationMs: 0 });
        continue;
      }
      const stepStarted = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => {
        timer = setTimeout(() => resolve('expired'), remainingMs);
      });
      try {
        const result = await Promise.race([Promise.resolve().then(() => step.run()), expired]);
        const durationMs = Math.round(performance.now() - stepStarted);
        if (result === 'expired') {
          timedOut = true;
          steps.push({ name: step.name, outcome: 'abandoned', durationMs });
          logger.error(
            { event: 'shutdown.step_timeout', step: step.name, durationMs },
            'shutdown step did not finish in time',
          );
        } else {
          steps.push({ name: step.name, outcome: 'done', durationMs });
          logger.debug({ event: 'shutdown.step_done', step: step.name, durationMs }, 'shutdown step done');
        }
      } catch (error) {
        const durationMs = Math.round(performance.now() - stepStarted);
        const message = error instanceof Error ? error.message : String(error);
        steps.push({ name: step.name, outcome: 'failed', durationMs, error: message });
        logger.error(
          { event: 'shutdown.step_failed', step: step.name, durationMs, err: error },
          'shutdown step failed',
        );
      } finally {
        clearTimeout(timer);
      }
    }
    const ok = !timedOut && steps.every((step) => step.outcome === 'done');
    const durationMs = Math.round(performance.now() - started);
    if (timedOut) {
      const error = new HpnsError('HPNS_SHUTDOWN_TIMEOUT', `shutdown did not finish within ${timeoutMs} ms`, {
        details: { abandoned: steps.filter((s) => s.outcome === 'abandoned').map((s) => s.name) },
      });
      logger.error({ event: 'shutdown.timeout', err: error, durationMs }, error.message);
    } else {
      logger.info({ event: 'shutdown.finished', ok, durationMs }, 'shutdown finished');
    }
    return { reason, ok, timedOut, steps };
  }
}
