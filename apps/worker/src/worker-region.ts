import { type Queue } from 'bullmq';
import { type Redis } from 'ioredis';
import { type ProviderKind, type Region } from '@hpns/protocol';
import { type PushProvider } from '@hpns/providers';
import {
  AckTracker,
  createWorkerConnection,
  DeadLetters,
  DeadTokenCache,
  FinalOutcomes,
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
  /** Sends in flight per target, and envelopes taken at once per queue. Default 100. */
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
  readonly connection: Redis;
  readonly side: Redis;
  readonly consumers: PushConsumer[];
  readonly deadLetters: DeadLetters;
  readonly deadTokens: DeadTokenCache;
  readonly finalOutcomes: FinalOutcomes;
  readonly #retryQueues: Queue[];

  private constructor(options: WorkerRegionOptions, connection: Redis, side: Redis) {
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
    const queues: Partial<Record<ProviderKind, Queue>> = {};
    for (const kind of kinds) queues[kind] = openPushQueue(connection, region, kind);
    this.#retryQueues = Object.values(queues);
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
    this.consumers = kinds.map(
      (provider) =>
        new PushConsumer({
          region,
          provider,
          connection,
          cipher: options.cipher,
          handler,
          concurrency: options.concurrency ?? 100,
          // Envelopes are taken while fewer than twice the send cap of their pushes are in hand (consumer.ts).
          maxPushesInHand: 2 * (options.concurrency ?? 100),
          ...(options.lockDurationMs === undefined ? {} : { lockDurationMs: options.lockDurationMs }),
          ...(options.stalledIntervalMs === undefined
            ? {}
            : { stalledIntervalMs: options.stalledIntervalMs }),
        }),
    );
  }

  /** Connects (waiting up to `readyTimeoutMs` for Redis) and builds the region; call start() to consume. */
  static async open(options: WorkerRegionOptions, readyTimeoutMs = 60_000): Promise<WorkerRegion> {
    const connection = createWorkerConnection({
      url: options.redisUrl,
      ca: options.redisCaPem,
      connectionName: `hpns-worker-${options.region}`,
    });
    // The outcome PUBLISHes and the dead-token, ack, final-outcome and dead-letter writes of every job that
    // finishes in one event-loop turn go to Redis in one write. BullMQ's own connection stays unpipelined (it
    // does not support auto-pipelining).
    const side = connection.duplicate({
      connectionName: `hpns-worker-side-${options.region}`,
      enableAutoPipelining: true,
    });
    for (const c of [connection, side]) {
      c.on('error', (err) => options.logger.warn({ event: 'redis.error', err }, 'redis connection error'));
    }
    try {
      await waitForReady(side, readyTimeoutMs);
    } catch (error) {
      connection.disconnect();
      side.disconnect();
      throw error;
    }
    return new WorkerRegion(options, connection, side);
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
