import { Queue, type JobsOptions } from 'bullmq';
import { type Redis } from 'ioredis';
import { HpnsError, type ProviderKind, type PushJob, type Region } from '@hpns/protocol';
import { redisUnavailable } from './connections';
import { IDEMPOTENCY_WINDOW_MS } from './final-outcomes';
import { pushQueueName, queuePrefix } from './names';
import { type PayloadCipher } from './payload-cipher';

export interface PushProducerOptions {
  /** The region this producer enqueues into; a job of another region is refused (data residency). */
  region: Region;
  /** A fail-fast connection to this region's Redis (createProducerConnection). Not closed by the producer. */
  connection: Redis;
  cipher: PayloadCipher;
  /** Attempts per job; the worker also stops at the push's time to live. Default 25. */
  attempts?: number;
  /** How long failed jobs (content scrubbed) are kept, in seconds. Default 3600. */
  failedRetentionSec?: number;
  /** Jobs per `addBulk` round trip. Default 200. */
  maxBatch?: number;
  /** How long an idempotency key keeps a second copy of a push out, in ms. Default IDEMPOTENCY_WINDOW_MS (10 min). */
  dedupTtlMs?: number;
}

/** The result of an enqueue. */
export type EnqueueResult =
  | { duplicate: false }
  /** A push with the same idempotency key was already queued: this one was not added. */
  | { duplicate: true; /** The request id of the copy that was queued. */ firstRequestId: string };

interface Pending {
  job: PushJob;
  dedupKey: string | undefined;
  resolve: (result: EnqueueResult) => void;
  reject: (error: unknown) => void;
}

/** BullMQ custom job ids: no `:`, not all digits (reference/operations.md §A1). */
const JOB_ID = /^(?!\d+$)[A-Za-z0-9_-]{1,64}$/;

/**
 * Enqueues pushes into the queues of one region, sealed (PayloadCipher), in micro-batches: every push added in
 * the same event-loop turn goes to Redis in one `addBulk` per queue, which is what lets one ingress process
 * accept many thousands of pushes per second. A Redis failure rejects each push with HPNS_REDIS_UNAVAILABLE
 * (retryable) at once; nothing is buffered while Redis is down.
 */
export class PushProducer {
  readonly region: Region;
  readonly #options: PushProducerOptions;
  readonly #queues: Record<ProviderKind, Queue>;
  readonly #jobOptions: JobsOptions;
  #pending: Pending[] = [];
  readonly #inFlight = new Set<Promise<unknown>>();
  #scheduled = false;
  #closed = false;

  constructor(options: PushProducerOptions) {
    this.region = options.region;
    this.#options = options;
    const queue = (provider: ProviderKind) => {
      const name = pushQueueName(options.region, provider);
      const created = new Queue(name, {
        connection: options.connection,
        prefix: queuePrefix(name),
        skipWaitingForReady: true,
        // HPNS reads outcomes from its own channel, not from BullMQ's event stream: keep that stream short
        // (it holds 10,000 events per queue by default, memory that buys nothing here).
        streams: { events: { maxLen: 100 } },
      });
      // ioredis errors surface here; each add reports its own failure, so this only keeps them from being unhandled.
      created.on('error', () => undefined);
      return created;
    };
    this.#queues = { apns: queue('apns'), fcm: queue('fcm') };
    this.#jobOptions = {
      attempts: options.attempts ?? 25,
      backoff: { type: 'hpns' },
      removeOnComplete: true,
      removeOnFail: { age: options.failedRetentionSec ?? 3600 },
    };
  }

  /** The BullMQ queue of a provider (for metrics and admin tools). */
  queue(provider: ProviderKind): Queue {
    return this.#queues[provider];
  }

  /**
   * Enqueues one push; resolves once Redis has it. With `dedupKey` (the ingress derives it from `ack_id` and the
   * device), a second push with the same key within the dedup window is not queued (`duplicate: true`).
   * @throws HpnsError HPNS_REGION_NOT_SERVED, HPNS_BAD_REQUEST (bad request id), HPNS_REDIS_UNAVAILABLE.
   */
  enqueue(job: PushJob, dedupKey?: string): Promise<EnqueueResult> {
    if (this.#closed) return Promise.reject(new HpnsError('HPNS_REDIS_UNAVAILABLE', 'producer is closed'));
    if (job.routing.region !== this.region) {
      return Promise.reject(
        new HpnsError(
          'HPNS_REGION_NOT_SERVED',
          `producer of region ${this.region} got a push of region ${job.routing.region}`,
        ),
      );
    }
    if (!JOB_ID.test(job.routing.requestId)) {
      return Promise.reject(
        new HpnsError('HPNS_BAD_REQUEST', 'request id must be 1-64 of [A-Za-z0-9_-], not all digits'),
      );
    }
    return new Promise<EnqueueResult>((resolve, reject) => {
      this.#pending.push({ job, dedupKey, resolve, reject });
      if (this.#pending.length >= (this.#options.maxBatch ?? 200)) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    for (const provider of ['apns', 'fcm'] as const) {
      const items = batch.filter((item) => item.job.routing.provider === provider);
      if (items.length === 0) continue;
      const jobs = items.map(({ job, dedupKey }) => ({
        name: job.routing.pushType || 'push',
        data: this.#options.cipher.seal(job),
        opts: {
          ...this.#jobOptions,
          jobId: job.routing.requestId,
          ...(dedupKey === undefined
            ? {}
            : { deduplication: { id: dedupKey, ttl: this.#options.dedupTtlMs ?? IDEMPOTENCY_WINDOW_MS } }),
        },
      }));
      const adding = this.#queues[provider].addBulk(jobs).then(
        // A deduplicated add returns the job already holding the key, whose id is not ours.
        (added) =>
          items.forEach((item, i) => {
            const id = added[i]?.id;
            item.resolve(
              id === undefined || id === item.job.routing.requestId
                ? { duplicate: false }
                : { duplicate: true, firstRequestId: id },
            );
          }),
        (cause: unknown) => {
          const error = redisUnavailable('enqueue', cause);
          items.forEach((item) => item.reject(error));
        },
      );
      this.#inFlight.add(adding);
      void adding.finally(() => this.#inFlight.delete(adding));
    }
  }

  /** Flushes what is pending and closes the queues (not the connection, which the caller owns). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    // Let the last round trips finish, so no push accepted before close() is left unanswered.
    await Promise.allSettled([...this.#inFlight]);
    await Promise.all([this.#queues.apns.close(), this.#queues.fcm.close()]);
  }
}
