import { type Queue } from 'bullmq';
import { type RedisConnection } from '@hpns/queue';
import { type ProviderKind, type Region } from '@hpns/protocol';
import { type PushProvider } from '@hpns/providers';
import {
  AckTracker,
  createWorkerConnection,
  duplicateConnection,
  DeadLetters,
  DeadTokenCache,
  FinalOutcomes,
  leftoverShards,
  openPushQueue,
  publishOutcome,
  publishOutcomes,
  PushConsumer,
  waitForReady,
  type KeyedHasher,
  type PayloadCipher,
} from '@hpns/queue';
import { type Logger } from '@hpns/runtime';
import { type CircuitBreakerOptions, type CircuitState } from './circuit-breaker';
import { type DecisionPolicy } from './decide';
import { createJobHandler } from './delivery';
import { Effects, type Decided } from './effects';

export interface WorkerRegionOptions {
  region: Region;
  /** This region's Redis only: a worker never holds a connection to another region (data residency). */
  redisUrl: string;
  redisCaPem?: string;
  cipher: PayloadCipher;
  hasher: KeyedHasher;
  providers: Partial<Record<ProviderKind, PushProvider>>;
  logger: Logger;
  /** A Redis Cluster even with one seed URL (HPNS_REDIS_CLUSTER_<REGION>); a seed list is one anyway. */
  redisCluster?: boolean;
  /**
   * Queue shards per provider (HPNS_QUEUE_SHARDS): every shard is consumed, each with an equal share of the
   * concurrency, and retries go to them round robin. Shards above this count that still hold jobs (a count
   * that was lowered) are consumed too, found at start. Default 1.
   */
  shards?: number;
  /** Sends in flight per target, and envelopes taken at once per provider. Default 100. */
  concurrency?: number;
  policy?: DecisionPolicy;
  breaker?: CircuitBreakerOptions;
  /** Dead-letter records kept this long, in ms. Default 24 h. */
  deadLetterRetentionMs?: number;
  /**
   * Hold the sealed content of each push that fails for good until its TTL ends, sealed with `cipher`, so that
   * `hpns dlq redrive` can queue it again (HPNS_DEAD_LETTER_HOLD_CONTENT). Default false: nothing of a push's
   * content outlives its last attempt.
   */
  holdDeadLetterContent?: boolean;
  onDecision?: (decided: Decided, nowMs: number) => void;
  onCircuitChange?: (target: string, state: CircuitState) => void;
  /** Consumer timing (tests); defaults in PushConsumer. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  now?: () => number;
}

/**
 * Everything a worker process holds for its region: the connections (BullMQ's, and a side connection with
 * auto-pipelining for outcomes and bookkeeping), the consumers of the region's queues for the providers it has,
 * the decision and effects wiring. Built by the worker's main and by the tests alike; `close()` ends it all.
 */
export class WorkerRegion {
  readonly region: Region;
  readonly connection: RedisConnection;
  readonly side: RedisConnection;
  readonly consumers: PushConsumer[];
  readonly deadLetters: DeadLetters;
  readonly deadTokens: DeadTokenCache;
  readonly finalOutcomes: FinalOutcomes;
  readonly #retryQueues: Queue[];

  private constructor(
    options: WorkerRegionOptions,
    connection: RedisConnection,
    side: RedisConnection,
    leftovers: Partial<Record<ProviderKind, number[]>>,
  ) {
    const { region, logger } = options;
    this.region = region;
    this.connection = connection;
    this.side = side;
    const kinds = (Object.keys(options.providers) as ProviderKind[]).filter(
      (k) => options.providers[k] !== undefined,
    );
    this.deadTokens = new DeadTokenCache({ region, connection: side, hasher: options.hasher });
    this.finalOutcomes = new FinalOutcomes({ region, connection: side });
    this.deadLetters = new DeadLetters({
      region,
      connection: side,
      ...(options.deadLetterRetentionMs === undefined ? {} : { retentionMs: options.deadLetterRetentionMs }),
      ...(options.holdDeadLetterContent === true ? { holdContent: options.cipher } : {}),
    });
    const shards = options.shards ?? 1;
    const queues: Partial<Record<ProviderKind, Queue[]>> = {};
    for (const kind of kinds) {
      queues[kind] = Array.from({ length: shards }, (_, index) =>
        openPushQueue(connection, region, kind, index),
      );
    }
    this.#retryQueues = Object.values(queues).flat();
    const effects = new Effects({
      queues,
      cipher: options.cipher,
      deadTokens: this.deadTokens,
      acks: new AckTracker({ region, connection: side, hasher: options.hasher }),
      finalOutcomes: this.finalOutcomes,
      deadLetters: this.deadLetters,
      publishMany: (channel, messages) => publishOutcomes(side, channel, messages),
      publishOne: (channel, message) => publishOutcome(side, channel, message),
      logger: logger.child({ component: 'effects' }),
      ...(options.onDecision === undefined ? {} : { onDecision: options.onDecision }),
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    const handler = createJobHandler({
      providers: options.providers,
      effects,
      logger: logger.child({ component: 'delivery' }),
      inFlightPerTarget: options.concurrency ?? 100,
      ...(options.breaker === undefined ? {} : { breaker: options.breaker }),
      ...(options.policy === undefined ? {} : { policy: options.policy }),
      ...(options.onCircuitChange === undefined ? {} : { onCircuitChange: options.onCircuitChange }),
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    const concurrency = options.concurrency ?? 100;
    this.consumers = kinds.flatMap((provider) => {
      const consumed = [
        ...Array.from({ length: shards }, (_, index) => index),
        ...(leftovers[provider] ?? []),
      ];
      return consumed.map(
        (shard) =>
          new PushConsumer({
            region,
            provider,
            shard,
            connection,
            cipher: options.cipher,
            handler,
            // Each shard gets an equal share, so that all are taken from at the same pace.
            concurrency: Math.ceil(concurrency / consumed.length),
            // Envelopes are taken while fewer than twice the send cap of their pushes are in hand (consumer.ts).
            maxPushesInHand: Math.ceil((2 * concurrency) / consumed.length),
            ...(options.lockDurationMs === undefined ? {} : { lockDurationMs: options.lockDurationMs }),
            ...(options.stalledIntervalMs === undefined
              ? {}
              : { stalledIntervalMs: options.stalledIntervalMs }),
          }),
      );
    });
  }

  /** Connects (waiting up to `readyTimeoutMs` for Redis) and builds the region; call start() to consume. */
  static async open(options: WorkerRegionOptions, readyTimeoutMs = 60_000): Promise<WorkerRegion> {
    const connection = createWorkerConnection({
      url: options.redisUrl,
      ...(options.redisCluster === undefined ? {} : { cluster: options.redisCluster }),
      ca: options.redisCaPem,
      connectionName: `hpns-worker-${options.region}`,
    });
    // The outcome PUBLISHes and the dead-token, ack, final-outcome and dead-letter writes of every job that
    // finishes in one event-loop turn go to Redis in one write. BullMQ's own connection stays unpipelined (it
    // does not support auto-pipelining).
    const side = duplicateConnection(connection, {
      connectionName: `hpns-worker-side-${options.region}`,
      enableAutoPipelining: true,
    });
    for (const c of [connection, side]) {
      c.on('error', (err) => options.logger.warn({ event: 'redis.error', err }, 'redis connection error'));
      c.on('node error', (err: Error, node: string) =>
        options.logger.warn({ event: 'redis.node_error', node, err }, 'redis cluster node error'),
      );
    }
    const leftovers: Partial<Record<ProviderKind, number[]>> = {};
    try {
      await waitForReady(side, readyTimeoutMs);
      for (const kind of Object.keys(options.providers) as ProviderKind[]) {
        if (options.providers[kind] === undefined) continue;
        const found = await leftoverShards(side, options.region, kind, options.shards ?? 1);
        if (found.length > 0) {
          leftovers[kind] = found;
          options.logger.warn(
            { event: 'queue.leftover_shards', region: options.region, provider: kind, shards: found },
            'shards above the configured count still hold pushes; consuming them until they are empty',
          );
        }
      }
    } catch (error) {
      connection.disconnect();
      side.disconnect();
      throw error;
    }
    return new WorkerRegion(options, connection, side, leftovers);
  }

  /** The queues whose depth the metrics report. */
  get queues(): Queue[] {
    return this.consumers.map((c) => c.queue);
  }

  /** BullMQ's lock tokens start with these ids: they tie a locked job in Redis to this process. */
  get workerIds(): string[] {
    return this.consumers.map((c) => c.worker.id);
  }

  start(): void {
    for (const consumer of this.consumers) consumer.start();
  }

  async ping(): Promise<void> {
    await this.side.ping();
  }

  /**
   * Stops taking jobs and lets those in flight finish within `deadlineMs` (the rest go back to the queue when
   * their lock runs out: at-least-once, never lost), then closes the connections.
   */
  async close(deadlineMs = 10_000): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.close(deadlineMs)));
    await Promise.allSettled(this.#retryQueues.map((q) => q.close()));
    await Promise.allSettled([this.connection.quit(), this.side.quit()]);
  }
}
