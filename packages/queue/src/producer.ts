import { Queue, type JobsOptions } from 'bullmq';
import { type RedisConnection } from './connections';
import { HpnsError, isHpnsError, type ProviderKind, type PushJob, type Region } from '@hpns/protocol';
import { redisUnavailable } from './connections';
import { type EnvelopePush } from './envelope';
import { type IdempotencyStore } from './idempotency';
import { pushQueueShard } from './names';
import { type PayloadCipher } from './payload-cipher';
import { RandomPool } from './random-pool';

/** The BullMQ job name of an envelope (nothing a caller chose is kept in clear). */
export const ENVELOPE_JOB_NAME = 'envelope';

export interface PushProducerOptions {
  /** The region this producer enqueues into; a job of another region is refused (data residency). */
  region: Region;
  /** A fail-fast connection to this region's Redis (createProducerConnection). Not closed by the producer. */
  connection: RedisConnection;
  cipher: PayloadCipher;
  /**
   * The idempotency window (idempotency.ts), on a fail-fast connection; needed for enqueues with a key.
   */
  idempotency?: IdempotencyStore;
  /**
   * The format written: 4 (default), envelopes; 3 or 2, one job per push, for a rolling upgrade while workers of
   * a release that cannot read envelopes may still take jobs (docs/runbooks.md "Rolling upgrade").
   */
  format?: 2 | 3 | 4;
  /** How long envelopes that failed (a worker bug, not a push's fate) are kept, in seconds. Default 3600. */
  failedRetentionSec?: number;
  /**
   * Queue shards per provider (HPNS_QUEUE_SHARDS): each envelope goes to the next shard, round robin. Default 1.
   */
  shards?: number;
  /**
   * Adds in flight per provider, over all its shards: pushes that arrive meanwhile form the next envelope.
   * Default 2.
   */
  maxInFlight?: number;
  /** Pushes per envelope at most. Default 256. */
  maxPushes?: number;
  /**
   * Replicas that must hold an envelope before its pushes are answered (HPNS_REDIS_WAIT_REPLICAS). Redis
   * replicates asynchronously: without this, an envelope acknowledged by a master that is killed before it
   * passed the envelope on is lost although its pushes were answered OK. With it, every add is followed by a
   * WAIT on the node of the add's slot; a node lost meanwhile fails the add (the retryable answer), and a WAIT
   * that times out (no replica answering: the cluster runs degraded) answers OK all the same, counted in
   * `unreplicatedEnvelopes`, so that a replica's outage does not become the region's. Default 0 (off).
   */
  waitReplicas?: number;
  /** How long an add waits for its replicas, in ms. Default 500. */
  waitReplicasTimeoutMs?: number;
  /**
   * Called when a push is queued without its idempotency reservation: the store's node was away while the
   * push's queue shard could take it (a cluster node failing over). Refusing it would lose the push; queuing
   * it risks only a second delivery of a push the server sent twice within the window.
   */
  onReservationSkipped?: () => void;
  /** Content bytes per envelope at most (estimated from the notification's text fields). Default 512 KiB. */
  maxBytes?: number;
}

/** The result of an enqueue. */
export type EnqueueResult =
  /** Queued, in the envelope (BullMQ job) `envelopeId`. */
  | { duplicate: false; envelopeId: string }
  /** A push with the same idempotency key was already queued: this one was not added. */
  | { duplicate: true; /** The request id of the copy that was queued. */ firstRequestId: string };

interface Pending {
  job: PushJob;
  bytes: number;
  resolve: (result: EnqueueResult) => void;
  reject: (error: unknown) => void;
}

/** One queue shard of a lane, and until when it is passed over after a failed add. */
interface Shard {
  queue: Queue;
  downUntilMs: number;
}

/** One provider's group commit: what waits, how many adds are out, and the shards envelopes go to. */
interface Lane {
  shards: Shard[];
  /** The shard the next envelope tries first (round robin). */
  next: number;
  pending: Pending[];
  inFlight: number;
  scheduled: boolean;
}

/** How long a shard whose add failed is passed over while another shard is healthy. */
const SHARD_DOWN_MS = 1000;

/** BullMQ custom job ids: no `:`, not all digits (reference/operations.md §A1). */
const JOB_ID = /^(?!\d+$)[A-Za-z0-9_-]{1,64}$/;

/** A rough size of a push in an envelope: its free-text fields plus the fixed ones. */
function estimateBytes(job: PushJob): number {
  const c = job.content;
  return 400 + c.message.length + c.signature.length + c.override_icon_url.length + c.channel_name.length;
}

const ids = new RandomPool();
/** A fresh envelope id: `e` and 16 base64url characters (a valid BullMQ job id). */
export function newEnvelopeId(): string {
  return `e${ids.take(12).toString('base64url')}`;
}

/** BullMQ options of an envelope job. `attempts` guards only against a worker bug or Redis trouble while it runs. */
export function envelopeJobOptions(failedRetentionSec = 3600): JobsOptions {
  return {
    attempts: 20,
    backoff: { type: 'hpns' },
    removeOnComplete: true,
    removeOnFail: { age: failedRetentionSec },
  };
}

/**
 * Adds one envelope of `pushes` (one region and provider) to `queue`, sealed, to be taken after `delayMs`.
 * Resolves with its id (the BullMQ job id). The producer's and the worker's retries' one way of adding one.
 */
export async function addEnvelope(
  queue: Queue,
  cipher: PayloadCipher,
  pushes: readonly EnvelopePush[],
  delayMs = 0,
  jobOptions: JobsOptions = envelopeJobOptions(),
): Promise<string> {
  const envelopeId = newEnvelopeId();
  await queue.add(ENVELOPE_JOB_NAME, cipher.sealEnvelope(pushes), {
    ...jobOptions,
    jobId: envelopeId,
    ...(delayMs > 0 ? { delay: delayMs } : {}),
  });
  return envelopeId;
}

/** Opens a BullMQ queue shard of HPNS (its prefix, a short event stream, errors left to each command). */
export function openPushQueue(
  connection: RedisConnection,
  region: Region,
  provider: ProviderKind,
  shard = 0,
): Queue {
  const { name, prefix } = pushQueueShard(region, provider, shard);
  const queue = new Queue(name, {
    connection,
    prefix,
    skipWaitingForReady: true,
    // HPNS reads outcomes from its own channel, not from BullMQ's event stream: keep that stream short.
    streams: { events: { maxLen: 100 } },
  });
  // ioredis errors surface here; each add reports its own failure, so this only keeps them from being unhandled.
  queue.on('error', () => undefined);
  return queue;
}

/**
 * Enqueues pushes into the queues of one region by group commit: per provider at most `maxInFlight` adds are out
 * at once, and the pushes that arrive while they are form the next envelope (one BullMQ job, one seal), up to
 * `maxPushes` and `maxBytes`. A push that finds an add slot free goes at once (on the next turn of the event
 * loop, with whatever arrived in the same turn): no timer adds latency at a low rate, and envelopes grow by
 * themselves under load. A Redis failure rejects each push with HPNS_REDIS_UNAVAILABLE (retryable) at once;
 * nothing is buffered while Redis is down.
 *
 * With several queue shards, each envelope goes to the next shard. A shard whose add failed (its cluster node
 * is away or failing over) is passed over for a second while another is healthy, so that a failover refuses
 * the pushes of the one envelope that found the node gone rather than a share of every second's.
 */
export class PushProducer {
  readonly region: Region;
  readonly #options: PushProducerOptions;
  readonly #lanes: Record<ProviderKind, Lane>;
  readonly #jobOptions: JobsOptions;
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed = false;
  #unreplicated = 0;

  /** Envelopes answered although fewer replicas than `waitReplicas` acknowledged them in time. */
  get unreplicatedEnvelopes(): number {
    return this.#unreplicated;
  }

  constructor(options: PushProducerOptions) {
    this.region = options.region;
    this.#options = options;
    const shards = options.shards ?? 1;
    const lane = (provider: ProviderKind): Lane => ({
      shards: Array.from({ length: shards }, (_, index) => ({
        queue: openPushQueue(options.connection, options.region, provider, index),
        downUntilMs: 0,
      })),
      next: 0,
      pending: [],
      inFlight: 0,
      scheduled: false,
    });
    this.#lanes = { apns: lane('apns'), fcm: lane('fcm') };
    this.#jobOptions = envelopeJobOptions(options.failedRetentionSec);
  }

  /** The BullMQ queue of a provider's shard (default 0), for metrics and admin tools. */
  queue(provider: ProviderKind, shard = 0): Queue {
    const found = this.#lanes[provider].shards[shard];
    if (found === undefined) throw new Error(`no shard ${shard} of ${provider}`);
    return found.queue;
  }

  /** The next shard for an envelope: round robin over the healthy ones, or over all when none is. */
  #pick(lane: Lane): Shard {
    const count = lane.shards.length;
    const now = Date.now();
    for (let k = 0; k < count; k++) {
      const index = (lane.next + k) % count;
      const shard = lane.shards[index] as Shard;
      if (shard.downUntilMs <= now) {
        lane.next = (index + 1) % count;
        return shard;
      }
    }
    const shard = lane.shards[lane.next] as Shard;
    lane.next = (lane.next + 1) % count;
    return shard;
  }

  /**
   * Enqueues one push; resolves once Redis has it. With `dedupKey` (the ingress derives it from `ack_id` and the
   * device), a second push with the same key within the idempotency window is not queued (`duplicate: true`).
   * @throws HpnsError HPNS_REGION_NOT_SERVED, HPNS_BAD_REQUEST (bad request id), HPNS_REDIS_UNAVAILABLE.
   */
  async enqueue(job: PushJob, dedupKey?: string): Promise<EnqueueResult> {
    if (this.#closed) throw new HpnsError('HPNS_REDIS_UNAVAILABLE', 'producer is closed');
    if (job.routing.region !== this.region) {
      throw new HpnsError(
        'HPNS_REGION_NOT_SERVED',
        `producer of region ${this.region} got a push of region ${job.routing.region}`,
      );
    }
    const { requestId } = job.routing;
    if (!JOB_ID.test(requestId)) {
      throw new HpnsError('HPNS_BAD_REQUEST', 'request id must be 1-64 of [A-Za-z0-9_-], not all digits');
    }
    if (dedupKey === undefined) return this.#add(job);
    const store = this.#options.idempotency;
    if (store === undefined)
      throw new Error('an enqueue with an idempotency key needs the idempotency store');
    let reservation;
    try {
      reservation = await store.reserve(dedupKey, requestId);
    } catch (error) {
      if (!isHpnsError(error, 'HPNS_REDIS_UNAVAILABLE')) throw error;
      // The push is refused only if it cannot be queued either (onReservationSkipped).
      const result = await this.#add(job);
      this.#options.onReservationSkipped?.();
      return result;
    }
    if (reservation.duplicate) return reservation;
    try {
      return await this.#add(job);
    } catch (error) {
      // Not queued: the key must not keep the server's next copy out.
      void store.release(dedupKey, requestId);
      throw error;
    }
  }

  #add(job: PushJob): Promise<EnqueueResult> {
    return new Promise<EnqueueResult>((resolve, reject) => {
      const lane = this.#lanes[job.routing.provider];
      lane.pending.push({ job, bytes: estimateBytes(job), resolve, reject });
      this.#schedule(lane);
    });
  }

  #schedule(lane: Lane): void {
    if (lane.scheduled || lane.pending.length === 0 || lane.inFlight >= (this.#options.maxInFlight ?? 2))
      return;
    lane.scheduled = true;
    setImmediate(() => {
      lane.scheduled = false;
      this.#drain(lane);
    });
  }

  #drain(lane: Lane): void {
    const maxInFlight = this.#options.maxInFlight ?? 2;
    const maxPushes = this.#options.maxPushes ?? 256;
    const maxBytes = this.#options.maxBytes ?? 512 * 1024;
    while (lane.pending.length > 0 && lane.inFlight < maxInFlight) {
      let count = 0;
      let bytes = 0;
      while (count < lane.pending.length && count < maxPushes) {
        const next = (lane.pending[count] as Pending).bytes;
        if (count > 0 && bytes + next > maxBytes) break;
        bytes += next;
        count += 1;
      }
      const batch = lane.pending.splice(0, count);
      lane.inFlight += 1;
      const adding = this.#write(this.#pick(lane), batch).finally(() => {
        lane.inFlight -= 1;
        this.#inFlight.delete(adding);
        this.#schedule(lane);
      });
      this.#inFlight.add(adding);
    }
  }

  /** One round trip: an envelope, or (formats 2 and 3) one job per push. Settles every push of the batch. */
  async #write(shard: Shard, batch: Pending[]): Promise<void> {
    const format = this.#options.format ?? 4;
    const { queue } = shard;
    try {
      if (format === 4) {
        const pushes: EnvelopePush[] = batch.map(({ job }) => ({ job, attempts: 0 }));
        const envelopeId = await addEnvelope(queue, this.#options.cipher, pushes, 0, this.#jobOptions);
        await this.#replicated(queue);
        for (const item of batch) item.resolve({ duplicate: false, envelopeId });
      } else {
        await queue.addBulk(
          batch.map(({ job }) => ({
            name: job.routing.pushType || 'push',
            data: this.#options.cipher.seal(job),
            // The attempt count a release before envelopes expects on a one-push job.
            opts: { ...this.#jobOptions, attempts: 25, jobId: job.routing.requestId },
          })),
        );
        await this.#replicated(queue);
        for (const item of batch) item.resolve({ duplicate: false, envelopeId: item.job.routing.requestId });
      }
      shard.downUntilMs = 0;
    } catch (cause) {
      shard.downUntilMs = Date.now() + SHARD_DOWN_MS;
      const error = redisUnavailable('enqueue', cause);
      for (const item of batch) item.reject(error);
    }
  }

  /**
   * Waits (waitReplicas) until the node that took the last add to `queue` has passed it to its replicas. WAIT
   * names no key, so it goes in a pipeline behind a read of one of the queue's keys: a cluster client sends a
   * pipeline to the node of its keys' slot, on the connection the add went over.
   * @throws when the node cannot be reached (the envelope may be lost with it: the pushes are refused).
   */
  async #replicated(queue: Queue): Promise<void> {
    const replicas = this.#options.waitReplicas ?? 0;
    if (replicas <= 0) return;
    const results = await this.#options.connection
      .pipeline()
      .exists(`${queue.opts.prefix ?? ''}:${queue.name}:meta`)
      .wait(replicas, this.#options.waitReplicasTimeoutMs ?? 500)
      .exec();
    const [, waited] = results ?? [];
    if (waited === undefined) throw new Error('WAIT got no answer');
    if (waited[0] !== null) throw waited[0];
    if (Number(waited[1]) < replicas) this.#unreplicated += 1;
  }

  /** Sends what is pending and closes the queues (not the connection, which the caller owns). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Let every pending push and the round trips out finish, so nothing accepted before close() is unanswered.
    while (this.#inFlight.size > 0 || Object.values(this.#lanes).some((lane) => lane.pending.length > 0)) {
      for (const lane of Object.values(this.#lanes)) this.#drain(lane);
      await Promise.allSettled([...this.#inFlight]);
    }
    await Promise.all(
      Object.values(this.#lanes).flatMap((lane) => lane.shards.map((shard) => shard.queue.close())),
    );
  }
}
