import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import { type RedisConnection } from './connections';
import { isHpnsError, type ProviderKind, type Region } from '@hpns/protocol';
import { retryDelayMs, type BackoffOptions } from './backoff';
import { envelopeMeta, isEnvelope, type EnvelopePush, type EnvelopePushMeta } from './envelope';
import { pushQueueShard } from './names';
import { sealedRouting, type PayloadCipher, type SealedPushJob } from './payload-cipher';

/** A job taken from the queue and opened: an envelope (format 4) or a one-push job of an older release (1–3). */
export interface OpenedJob {
  readonly readable: true;
  /** The BullMQ job id. */
  readonly id: string;
  readonly format: number;
  readonly pushes: EnvelopePush[];
}

/** A job whose content cannot be opened here; its pushes' clear part, when there is one to read. */
export interface UnreadableJob {
  readonly readable: false;
  readonly id: string;
  readonly format: number;
  readonly pushes: EnvelopePushMeta[];
  readonly error: unknown;
  /**
   * Not readable yet (a payload key or a format that a newer release rolled out first): worth taking again later,
   * unchanged, rather than failing its pushes.
   */
  readonly notYet: boolean;
}

/** What the handler wants done with the job once it returns. */
export type JobDisposition =
  /** Done: every push's fate is applied (retries went to new envelopes). */
  | { action: 'complete' }
  /** Take the whole job again, unchanged, after `delayMs` (an unreadable-yet job). */
  | { action: 'later'; delayMs: number };

/**
 * Handles one job. Throws only for a bug or while Redis is away: BullMQ then retries the whole job with backoff
 * (its attempt limit is a guard, envelopeJobOptions).
 */
export type JobHandler = (
  job: OpenedJob | UnreadableJob,
  signal: AbortSignal | undefined,
) => Promise<JobDisposition>;

export interface PushConsumerOptions {
  region: Region;
  provider: ProviderKind;
  /** The queue shard consumed. Default 0. */
  shard?: number;
  /** A worker connection (createWorkerConnection) to this region's Redis. BullMQ duplicates it for blocking. */
  connection: RedisConnection;
  cipher: PayloadCipher;
  handler: JobHandler;
  /** Jobs (envelopes) in flight in this process at most. Default 100. */
  concurrency?: number;
  /**
   * Back-pressure: another envelope is taken only while fewer than this many pushes are in hand. Without it, a
   * worker under a burst would hold `concurrency` full envelopes, whose pushes wait behind each other at the send
   * cap: slower to answer, and all of them redelivered (sent twice) if the process dies. BullMQ fetches ahead of
   * the handler, so the envelopes taken are also limited by the recent mean envelope size; lone pushes at a low
   * rate still get `concurrency` envelopes in flight. Default: no limit but `concurrency`.
   */
  maxPushesInHand?: number;
  /**
   * Job lock time to live in ms, renewed every half. Default 2500: the lock of a killed worker's job runs out
   * within 2.5 s, and BullMQ's stalled check (every `stalledIntervalMs`, 500) moves a job back to the queue on
   * the second check that finds it unlocked, within another second, so an envelope is taken again within 5 s
   * with room for the survivor to fetch it (BullMQ's defaults take 30–60 s, operations.md §A1). A process whose
   * event loop stalls for longer than the lock loses it: its envelope may be delivered twice, never lost.
   */
  lockDurationMs?: number;
  /** How often stalled jobs are looked for, in ms. Default 500. */
  stalledIntervalMs?: number;
  /** Backoff of a job whose handler threw (a bug, Redis away). */
  backoff?: BackoffOptions;
  random?: () => number;
}

/**
 * The BullMQ adapter of one region's queue of one provider: takes jobs, opens them (content only in memory, only
 * here) and hands them to the handler, which owns every push's fate. A job that fails for good (the handler threw
 * on every attempt) is scrubbed down to its clear part, so no failed job keeps content.
 */
export class PushConsumer {
  readonly worker: Worker;
  /** The same queue, for counts and admin reads (metrics: depth, oldest waiting job). */
  readonly queue: Queue;
  readonly #options: PushConsumerOptions;
  /** Envelopes and pushes in hand, and the recent mean envelope size (back-pressure, maxPushesInHand). */
  readonly #load = { envelopes: 0, pushes: 0, meanSize: 1 };

  constructor(options: PushConsumerOptions) {
    this.#options = options;
    const { name, prefix } = pushQueueShard(options.region, options.provider, options.shard ?? 0);
    const random = options.random ?? Math.random;
    this.queue = new Queue(name, { connection: options.connection, prefix });
    this.queue.on('error', () => undefined);
    this.worker = new Worker(name, (job, token, signal) => this.#process(job, token, signal), {
      connection: options.connection,
      prefix,
      concurrency: options.concurrency ?? 100,
      lockDuration: options.lockDurationMs ?? 2500,
      stalledInterval: options.stalledIntervalMs ?? 500,
      maxStalledCount: 3,
      autorun: false,
      settings: { backoffStrategy: (attemptsMade) => retryDelayMs(attemptsMade, options.backoff, random) },
    });
    this.worker.on('failed', (job) => {
      if (job !== undefined && job.finishedOn !== undefined) void this.#scrub(job);
    });
    // Redis errors are retried by the connection; without a listener they would be unhandled.
    this.worker.on('error', () => undefined);
  }

  /** Starts fetching jobs. */
  start(): void {
    void this.worker.run();
  }

  #open(job: Job): OpenedJob | UnreadableJob {
    const id = job.id ?? '';
    const data: unknown = job.data;
    const format = Number((data as { v?: unknown } | null)?.v ?? 0);
    try {
      if (isEnvelope(data)) {
        return { readable: true, id, format, pushes: this.#options.cipher.openEnvelope(data) };
      }
      const push = this.#options.cipher.open(data as SealedPushJob);
      return { readable: true, id, format, pushes: [{ job: push, attempts: job.attemptsMade }] };
    } catch (error) {
      const notYet =
        isHpnsError(error, 'HPNS_PAYLOAD_KEY_MISSING') || isHpnsError(error, 'HPNS_PAYLOAD_FORMAT_UNKNOWN');
      let pushes: EnvelopePushMeta[] = [];
      if (isEnvelope(data)) pushes = envelopeMeta(data) ?? [];
      else {
        const routing = sealedRouting(data);
        if (routing !== undefined) pushes = [{ routing, attempts: job.attemptsMade }];
      }
      return { readable: false, id, format, pushes, error, notYet };
    }
  }

  /** Sets how many envelopes BullMQ may hold from the pushes in hand (maxPushesInHand). */
  #adjust(): void {
    const limit = this.#options.maxPushesInHand;
    if (limit === undefined) return;
    const most = this.#options.concurrency ?? 100;
    const load = this.#load;
    this.worker.concurrency =
      load.pushes >= limit
        ? Math.max(1, load.envelopes)
        : Math.min(most, Math.max(1, Math.floor(limit / load.meanSize)));
  }

  async #process(job: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<void> {
    const opened = this.#open(job);
    const pushes = opened.pushes.length;
    const load = this.#load;
    load.envelopes += 1;
    load.pushes += pushes;
    load.meanSize += (pushes - load.meanSize) * 0.2;
    this.#adjust();
    let disposition: JobDisposition;
    try {
      disposition = await this.#options.handler(opened, signal);
    } finally {
      load.envelopes -= 1;
      load.pushes -= pushes;
      this.#adjust();
    }
    if (disposition.action === 'later') {
      // BullMQ's manual delay: the job goes back to `delayed` unchanged and no attempt is counted.
      await job.moveToDelayed(Date.now() + Math.max(1, Math.ceil(disposition.delayMs)), token);
      throw new DelayedError();
    }
  }

  /** Keeps only the clear part of a failed job. Never throws. */
  async #scrub(job: Job): Promise<void> {
    const data = job.data as Record<string, unknown> | null;
    if (data === null || typeof data !== 'object' || data['c'] === undefined) return;
    let kept: Record<string, unknown>;
    if (isEnvelope(data)) kept = { v: data['v'], h: data['h'], s: data['s'], p: data['p'] };
    else {
      const routing = sealedRouting(data);
      kept =
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
    }
    await job.updateData(kept).catch(() => undefined);
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
      this.worker.cancelAllJobs('shutdown deadline');
      await this.worker.close(true);
    }
    await this.queue.close();
  }
}
