import { type Queue } from 'bullmq';
import { type Redis } from 'ioredis';
import { HpnsError, PROVIDER_KINDS, type ProviderKind, type Region } from '@hpns/protocol';
import { openPushQueue } from './producer';

/** Where one push queue stands: job counts (envelopes, not pushes), the oldest waiting job and the pause flag. */
export interface QueueStatus {
  region: Region;
  provider: ProviderKind;
  /** The BullMQ queue name, `push-<region>-<provider>`. */
  queue: string;
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
  connection: Redis;
  /** The providers whose queues are opened. Default every provider (PROVIDER_KINDS). */
  providers?: readonly ProviderKind[];
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
  readonly #queues: Map<ProviderKind, Queue>;

  constructor(options: RegionQueuesOptions) {
    this.region = options.region;
    this.providers = options.providers ?? PROVIDER_KINDS;
    this.#queues = new Map(
      this.providers.map((provider) => [
        provider,
        openPushQueue(options.connection, options.region, provider),
      ]),
    );
  }

  /**
   * The BullMQ queue of a provider of this region.
   * @throws HpnsError HPNS_INTERNAL for a provider whose queue was not opened (a bug of the caller).
   */
  queue(provider: ProviderKind): Queue {
    const queue = this.#queues.get(provider);
    if (queue === undefined) {
      throw new HpnsError('HPNS_INTERNAL', `no ${provider} queue opened for region ${this.region}`);
    }
    return queue;
  }

  /** The status of each queue, in provider order. */
  async status(nowMs = Date.now()): Promise<QueueStatus[]> {
    return Promise.all(
      this.providers.map(async (provider) => {
        const queue = this.queue(provider);
        const [counts, oldest, paused] = await Promise.all([
          queue.getJobCounts('waiting', 'active', 'delayed', 'failed'),
          oldestWaitingMs(queue, nowMs),
          queue.isPaused(),
        ]);
        return {
          region: this.region,
          provider,
          queue: queue.name,
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

  /** Pauses the queues of `providers` (default all of this region's). */
  async pause(providers: readonly ProviderKind[] = this.providers): Promise<void> {
    await Promise.all(providers.map((provider) => this.queue(provider).pause()));
  }

  /** Resumes the queues of `providers` (default all of this region's). */
  async resume(providers: readonly ProviderKind[] = this.providers): Promise<void> {
    await Promise.all(providers.map((provider) => this.queue(provider).resume()));
  }

  /** Closes the queues (not the connection, which the caller owns). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#queues.values()].map((queue) => queue.close()));
  }
}
