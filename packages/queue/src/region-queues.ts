import { type Queue } from 'bullmq';
import { type RedisConnection } from './connections';
import { HpnsError, PROVIDER_KINDS, type ProviderKind, type Region } from '@hpns/protocol';
import { openPushQueue } from './producer';
import { leftoverShards } from './shards';

/** Where one push queue stands: job counts (envelopes, not pushes), the oldest waiting job and the pause flag. */
export interface QueueStatus {
  region: Region;
  provider: ProviderKind;
  /** The BullMQ queue name, `push-<region>-<provider>` (shard 0) or `push-<region>-<provider>-s<shard>`. */
  queue: string;
  /** The queue shard (0 on a single Redis). */
  shard: number;
  /** Above the configured shard count: a count that was lowered left it; workers drain it. */
  leftover: boolean;
  waiting: number;
  active: number;
  /** Retry and held-back envelopes waiting for their due time. */
  delayed: number;
  /** Envelopes the worker threw on every attempt (a bug); kept an hour. */
  failed: number;
  /** Age of the oldest waiting envelope in ms; undefined when none waits. */
  oldestWaitingMs: number | undefined;
  /** Paused (`hpns pause`): workers take nothing from it, producers still add. */
  paused: boolean;
}

/**
 * The age of the oldest job waiting in `queue`, in ms (undefined when none waits). BullMQ adds to the left of
 * its wait list and workers take from the right, so the oldest job is the last one; `getJobs(…, 0, 0, true)`
 * reads that end (with `asc`, BullMQ counts the range from the right).
 */
export async function oldestWaitingMs(queue: Queue, nowMs = Date.now()): Promise<number | undefined> {
  const [job] = await queue.getJobs(['waiting'], 0, 0, true);
  return job === undefined ? undefined : Math.max(0, nowMs - job.timestamp);
}

export interface RegionQueuesOptions {
  region: Region;
  /** A connection to this region's Redis (a fail-fast one for admin tools). Not closed by RegionQueues. */
  connection: RedisConnection;
  /** The providers whose queues are opened. Default every provider (PROVIDER_KINDS). */
  providers?: readonly ProviderKind[];
  /** Queue shards per provider (HPNS_QUEUE_SHARDS). Default 1. */
  shards?: number;
}

/**
 * The push queues of one region, one per provider, for operations on the region as a whole: status, pause and
 * resume. Pausing is BullMQ's own queue pause, a flag in the queue's Redis metadata that every worker of every
 * process honours before it takes the next job: jobs in flight finish, nothing new starts, and producers keep
 * adding (the ingress goes on accepting; pushes wait). Resume clears the flag and wakes the waiting workers
 * without a restart.
 */
export class RegionQueues {
  readonly region: Region;
  readonly providers: readonly ProviderKind[];
  readonly shards: number;
  readonly #connection: RedisConnection;
  /** Per provider, its shards by index: the configured ones, and leftovers once found. */
  readonly #queues: Map<ProviderKind, Map<number, Queue>>;

  constructor(options: RegionQueuesOptions) {
    this.region = options.region;
    this.providers = options.providers ?? PROVIDER_KINDS;
    this.shards = options.shards ?? 1;
    this.#connection = options.connection;
    this.#queues = new Map(
      this.providers.map((provider) => [
        provider,
        new Map(
          Array.from({ length: this.shards }, (_, index) => [
            index,
            openPushQueue(options.connection, options.region, provider, index),
          ]),
        ),
      ]),
    );
  }

  #shardsOf(provider: ProviderKind): Map<number, Queue> {
    const shards = this.#queues.get(provider);
    if (shards === undefined) {
      throw new HpnsError('HPNS_INTERNAL', `no ${provider} queue opened for region ${this.region}`);
    }
    return shards;
  }

  /**
   * The BullMQ queue of a provider's shard (default 0) of this region.
   * @throws HpnsError HPNS_INTERNAL for a provider or shard that was not opened (a bug of the caller).
   */
  queue(provider: ProviderKind, shard = 0): Queue {
    const queue = this.#shardsOf(provider).get(shard);
    if (queue === undefined) {
      throw new HpnsError('HPNS_INTERNAL', `no ${provider} shard ${shard} opened for region ${this.region}`);
    }
    return queue;
  }

  /** The configured shards of a provider, in index order (where new envelopes go). */
  shardQueues(provider: ProviderKind): Queue[] {
    return Array.from({ length: this.shards }, (_, index) => this.queue(provider, index));
  }

  /**
   * Every shard of `providers`, leftover ones included (found now: above the configured count, still holding
   * jobs), in provider and shard order.
   */
  async #every(
    providers: readonly ProviderKind[],
  ): Promise<{ provider: ProviderKind; shard: number; queue: Queue }[]> {
    const all = [];
    for (const provider of providers) {
      const shards = this.#shardsOf(provider);
      for (const index of await leftoverShards(this.#connection, this.region, provider, this.shards)) {
        if (!shards.has(index))
          shards.set(index, openPushQueue(this.#connection, this.region, provider, index));
      }
      const sorted = [...shards].sort(([a], [b]) => a - b);
      all.push(...sorted.map(([shard, queue]) => ({ provider, shard, queue })));
    }
    return all;
  }

  /** The status of each queue shard, in provider and shard order, leftover shards included. */
  async status(nowMs = Date.now()): Promise<QueueStatus[]> {
    return Promise.all(
      (await this.#every(this.providers)).map(async ({ provider, shard, queue }) => {
        const [counts, oldest, paused] = await Promise.all([
          queue.getJobCounts('waiting', 'active', 'delayed', 'failed'),
          oldestWaitingMs(queue, nowMs),
          queue.isPaused(),
        ]);
        return {
          region: this.region,
          provider,
          queue: queue.name,
          shard,
          leftover: shard >= this.shards,
          waiting: counts['waiting'] ?? 0,
          active: counts['active'] ?? 0,
          delayed: counts['delayed'] ?? 0,
          failed: counts['failed'] ?? 0,
          oldestWaitingMs: oldest,
          paused,
        };
      }),
    );
  }

  /** Pauses every shard of `providers` (default all of this region's), leftover shards included. */
  async pause(providers: readonly ProviderKind[] = this.providers): Promise<void> {
    await Promise.all((await this.#every(providers)).map(({ queue }) => queue.pause()));
  }

  /** Resumes every shard of `providers` (default all of this region's), leftover shards included. */
  async resume(providers: readonly ProviderKind[] = this.providers): Promise<void> {
    await Promise.all((await this.#every(providers)).map(({ queue }) => queue.resume()));
  }

  /** Closes the queues (not the connection, which the caller owns). */
  async close(): Promise<void> {
    await Promise.allSettled(
      [...this.#queues.values()].flatMap((shards) => [...shards.values()].map((queue) => queue.close())),
    );
  }
}
