import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { type Redis } from 'ioredis';
import {
  isHpnsError,
  type ProviderKind,
  type PushJob,
  type PushJobRouting,
  type Region,
} from '@hpns/protocol';
import { retryDelayMs, type BackoffOptions } from './backoff';
import { pushQueueName, queuePrefix } from './names';
import { sealedRouting, type PayloadCipher, type SealedPushJob } from './payload-cipher';

/** What the processor decided for one attempt of a push. */
export type AttemptResult =
  | { action: 'complete' }
  /** Try again no sooner than `retryAfterMs` (a provider's Retry-After), with backoff; `reason` is metadata. */
  | { action: 'retry'; reason: string; retryAfterMs?: number }
  /** Give up for good; `reason` is kept on the failed job (no content). */
  | { action: 'fail'; reason: string }
  /** Not attempted (e.g. an open circuit breaker): put back for `delayMs` without using up an attempt. */
  | { action: 'defer'; delayMs: number };

/** Where an attempt stands. */
export interface AttemptInfo {
  /** 1 for the first attempt. */
  attempt: number;
  /** The job's attempt limit. */
  maxAttempts: number;
  /** Aborted when the worker is force-closed at its shutdown deadline (`close()`). */
  signal: AbortSignal | undefined;
}

/** Processes one decrypted push attempt. Throws only for bugs. */
export type PushProcessor = (job: PushJob, info: AttemptInfo) => Promise<AttemptResult>;

export interface PushConsumerOptions {
  region: Region;
  provider: ProviderKind;
  /** A worker connection (createWorkerConnection) to this region's Redis. BullMQ duplicates it for blocking. */
  connection: Redis;
  cipher: PayloadCipher;
  processor: PushProcessor;
  /** Jobs in flight in this process. Default 100 (provider-bound: throughput ≈ concurrency / latency). */
  concurrency?: number;
  /**
   * Job lock time to live in ms, renewed every half. Default 3000: the lock of a killed worker's job runs out
   * within 3 s and the stalled check (every `stalledIntervalMs`, 1000) puts the job back in the queue within
   * another second, so it is redelivered within 5 s with room to spare (BullMQ's defaults take 30–60 s,
   * operations.md §A1). A process whose event loop stalls for longer than the lock loses it: its job may be
   * delivered twice, never lost.
   */
  lockDurationMs?: number;
  /** How often stalled jobs are looked for, in ms. Default 1000. */
  stalledIntervalMs?: number;
  backoff?: BackoffOptions;
  /** Uniform random source for jitter. Default Math.random. */
  random?: () => number;
  /**
   * Called when a job's content cannot be opened, with its routing (in clear) so the caller can answer the
   * waiting ingress. A job sealed with a key this worker does not have yet is retried (a key rotation rolled out
   * to the ingress first); a tampered or garbled job is failed for good.
   */
  onUnreadable?: (
    jobId: string | undefined,
    error: unknown,
    routing: PushJobRouting | undefined,
    final: boolean,
  ) => void;
}

/** Carries a provider's Retry-After from the processor to BullMQ's backoff strategy. */
class RetryLaterError extends Error {
  readonly retryAfterMs: number | undefined;

  constructor(reason: string, retryAfterMs: number | undefined) {
    super(reason);
    this.name = 'RetryLaterError';
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Consumes one region's queue of one provider. Content is opened only here, in memory, for the attempt; a
 * failed job is scrubbed down to its routing (region, target type, push type, times) plus BullMQ's own
 * failure reason and attempt count, so nothing of the message is kept.
 */
export class PushConsumer {
  readonly worker: Worker;
  /** The same queue, for counts and admin reads (metrics: depth, oldest waiting job). */
  readonly queue: Queue;
  readonly #options: PushConsumerOptions;

  constructor(options: PushConsumerOptions) {
    this.#options = options;
    const name = pushQueueName(options.region, options.provider);
    const random = options.random ?? Math.random;
    this.queue = new Queue(name, { connection: options.connection, prefix: queuePrefix(name) });
    this.queue.on('error', () => undefined);
    this.worker = new Worker(name, (job, token, signal) => this.#process(job, token, signal), {
      connection: options.connection,
      prefix: queuePrefix(name),
      concurrency: options.concurrency ?? 100,
      lockDuration: options.lockDurationMs ?? 3000,
      stalledInterval: options.stalledIntervalMs ?? 1000,
      maxStalledCount: 3,
      autorun: false,
      settings: {
        backoffStrategy: (attemptsMade, _type, error) =>
          retryDelayMs(
            attemptsMade,
            options.backoff,
            random,
            error instanceof RetryLaterError ? error.retryAfterMs : undefined,
          ),
      },
    });
    // A job that fails for good without passing through our result handling (a processor bug thrown on the
    // last attempt, stalled too often) is scrubbed here, so no failed job keeps content.
    this.worker.on('failed', (job) => {
      if (
        job !== undefined &&
        job.finishedOn !== undefined &&
        (job.data as Partial<SealedPushJob>).c !== undefined
      ) {
        void this.#scrub(job);
      }
    });
    // Redis errors are retried by the connection; without a listener they would be unhandled.
    this.worker.on('error', () => undefined);
  }

  /** Starts fetching jobs. */
  start(): void {
    void this.worker.run();
  }

  async #process(job: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<void> {
    let push: PushJob;
    try {
      push = this.#options.cipher.open(job.data as SealedPushJob);
    } catch (error) {
      // Not yet readable here (a key or a format a newer release rolled out first): retried, so that the push is
      // delivered once this worker has the key or is replaced. Anything else is failed for good.
      const notYet = isHpnsError(error, 'HPNS_PAYLOAD_KEY_MISSING')
        ? 'payload_key_missing'
        : isHpnsError(error, 'HPNS_PAYLOAD_FORMAT_UNKNOWN')
          ? 'payload_format_unknown'
          : undefined;
      const final = notYet === undefined || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      this.#options.onUnreadable?.(job.id, error, sealedRouting(job.data), final);
      if (!final) throw new RetryLaterError(notYet, 5000);
      await this.#scrub(job);
      throw new UnrecoverableError('unreadable');
    }
    const maxAttempts = job.opts.attempts ?? 1;
    const result = await this.#options.processor(push, {
      attempt: job.attemptsMade + 1,
      maxAttempts,
      signal,
    });
    if (result.action === 'complete') return;
    if (result.action === 'defer') {
      // BullMQ's manual delay: the job goes back to `delayed` and the attempt is not counted.
      await job.moveToDelayed(Date.now() + Math.max(1, Math.ceil(result.delayMs)), token);
      throw new DelayedError();
    }
    // Scrub before BullMQ records the final failure, so a failed job never holds content, not even briefly.
    const lastAttempt = job.attemptsMade + 1 >= maxAttempts;
    if (result.action === 'fail' || lastAttempt) await this.#scrub(job);
    if (result.action === 'retry') throw new RetryLaterError(result.reason, result.retryAfterMs);
    throw new UnrecoverableError(result.reason);
  }

  /** Never throws: a scrub that fails (Redis away) must not turn a final failure into a redelivery. */
  async #scrub(job: Job): Promise<void> {
    const routing = sealedRouting(job.data);
    const kept =
      routing === undefined
        ? {}
        : {
            routing: {
              region: routing.region,
              provider: routing.provider,
              targetType: routing.targetType,
              pushType: routing.pushType,
              acceptedAtMs: routing.acceptedAtMs,
              expiresAtMs: routing.expiresAtMs,
            },
          };
    await job.updateData(kept as unknown as SealedPushJob).catch(() => undefined);
  }

  /**
   * Stops fetching and waits for in-flight jobs up to `deadlineMs`; then force-closes, which leaves unfinished
   * jobs locked until their lock expires and another worker takes them (at-least-once, never lost).
   */
  async close(deadlineMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const graceful = this.worker.close();
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), deadlineMs);
    });
    const result = await Promise.race([graceful.then(() => 'closed' as const), expired]);
    clearTimeout(timer);
    if (result === 'expired') {
      // Abort the sends still in flight (the processor's `signal`), then close without waiting for them.
      this.worker.cancelAllJobs('shutdown deadline');
      await this.worker.close(true);
    }
    await this.queue.close();
  }
}
