import { type RedisConnection } from '@hpns/queue';
import { type Region } from '@hpns/protocol';
import {
  AckTracker,
  createOutcomeListener,
  createProducerConnection,
  createSubscriberConnection,
  DeadTokenCache,
  FinalOutcomes,
  IdempotencyStore,
  outcomeChannel,
  PushProducer,
  waitForReady,
  type KeyedHasher,
  type OutcomeListener,
  type PayloadCipher,
  type PushProducerOptions,
} from '@hpns/queue';
import { type Logger } from '@hpns/runtime';
import { type RegionBinding } from './push-api';

export interface IngressRegionOptions {
  region: Region;
  redisUrl: string;
  /** A Redis Cluster even with one seed URL (HPNS_REDIS_CLUSTER_<REGION>); a seed list is one anyway. */
  redisCluster?: boolean;
  redisCaPem?: string;
  /** This ingress process's id: its outcome channel and its connection names. */
  instanceId: string;
  cipher: PayloadCipher;
  hasher: KeyedHasher;
  logger: Logger;
  /** Envelope format and group-commit limits (PushProducerOptions). */
  producer?: Pick<
    PushProducerOptions,
    'format' | 'maxInFlight' | 'maxPushes' | 'maxBytes' | 'shards' | 'waitReplicas' | 'onReservationSkipped'
  >;
  /** How long to wait for Redis at start. Default 30 s. */
  readyTimeoutMs?: number;
}

/**
 * Everything the ingress holds for one region it serves: three connections to that region's Redis (the
 * producer's, fail-fast; the lookups', fail-fast, for the small per-request reads and writes; a subscriber for
 * outcomes), the producer, the outcome listener and the lookups built on them. Built by the ingress's main and
 * by the tests alike; `close()` ends it all.
 */
export class IngressRegion implements RegionBinding {
  readonly region: Region;
  readonly producer: PushProducer;
  readonly outcomes: OutcomeListener;
  readonly deadTokens: DeadTokenCache;
  readonly finalOutcomes: FinalOutcomes;
  readonly acks: AckTracker;
  readonly idempotency: IdempotencyStore;
  /** The fail-fast connection of the per-request lookups (tenants, rate limits, dead tokens, acks). */
  readonly lookups: RedisConnection;
  readonly #connections: RedisConnection[];

  private constructor(
    options: IngressRegionOptions,
    connections: { producer: RedisConnection; lookups: RedisConnection; subscriber: RedisConnection },
    outcomes: OutcomeListener,
  ) {
    const { region, hasher } = options;
    this.region = region;
    this.lookups = connections.lookups;
    this.#connections = [connections.producer, connections.lookups, connections.subscriber];
    this.outcomes = outcomes;
    this.idempotency = new IdempotencyStore({ region, connection: connections.lookups });
    this.producer = new PushProducer({
      region,
      connection: connections.producer,
      cipher: options.cipher,
      idempotency: this.idempotency,
      ...options.producer,
    });
    this.deadTokens = new DeadTokenCache({ region, connection: connections.lookups, hasher });
    this.finalOutcomes = new FinalOutcomes({ region, connection: connections.lookups });
    this.acks = new AckTracker({ region, connection: connections.lookups, hasher });
  }

  /** Connects to the region's Redis and subscribes to this process's outcome channel. */
  static async open(options: IngressRegionOptions): Promise<IngressRegion> {
    const { region, logger, instanceId } = options;
    const connect = (create: typeof createProducerConnection, role: string) => {
      const connection = create({
        url: options.redisUrl,
        ...(options.redisCluster === undefined ? {} : { cluster: options.redisCluster }),
        ca: options.redisCaPem,
        connectionName: `hpns-ingress-${role}${region}-${instanceId}`,
      });
      connection.on('error', (err) =>
        logger.warn(
          { event: 'redis.error', region, role: role || 'producer', err },
          'redis connection error',
        ),
      );
      // A cluster client's errors name the cluster; this one names the node and its own reason.
      connection.on('node error', (err: Error, node: string) =>
        logger.warn(
          { event: 'redis.node_error', region, role: role || 'producer', node, err },
          'redis cluster node error',
        ),
      );
      return connection;
    };
    const producer = connect(createProducerConnection, '');
    // The per-request reads and writes get a connection of their own. BullMQ defines its scripts on the producer
    // connection, and ioredis copies every one of them into each pipeline made on it (about 50 µs, against 5 µs
    // on a plain connection): the auto-pipeline of these small commands would pay that on every turn.
    const lookups = connect(createProducerConnection, 'lookup-');
    const subscriber = connect(createSubscriberConnection, 'sub-');
    const all = [producer, lookups, subscriber];
    try {
      const timeout = options.readyTimeoutMs ?? 30_000;
      // Start only on a reachable Redis (an orchestrator restarts us); readiness covers later outages.
      await Promise.all([waitForReady(producer, timeout), waitForReady(lookups, timeout)]);
      const outcomes = await createOutcomeListener(subscriber, outcomeChannel(region, instanceId));
      return new IngressRegion(options, { producer, lookups, subscriber }, outcomes);
    } catch (error) {
      for (const c of all) c.disconnect();
      throw error;
    }
  }

  /** Readiness: both fail-fast connections answer. */
  async ping(): Promise<void> {
    await Promise.all([this.#connections[0]?.ping(), this.lookups.ping()]);
  }

  /** Resolves once every connection is ready again (after a Redis restart). */
  async reconnected(): Promise<void> {
    await Promise.all(
      this.#connections.map((c) =>
        c.status === 'ready' ? undefined : new Promise((resolve) => c.once('ready', resolve)),
      ),
    );
  }

  /**
   * Ends every outcome wait (as timed out), sends what the producer still holds, and closes the connections.
   * Each step is bounded by `stepMs`, so that a Redis that is away cannot hold a shutdown.
   */
  async close(stepMs = 5000): Promise<void> {
    const bounded = (work: Promise<unknown>) =>
      Promise.race([
        work.catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, stepMs).unref()),
      ]);
    await bounded(this.outcomes.close());
    await bounded(this.producer.close());
    await bounded(Promise.allSettled(this.#connections.map((c) => c.quit())));
    for (const c of this.#connections) c.disconnect();
  }
}
