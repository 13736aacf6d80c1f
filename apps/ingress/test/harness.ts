import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { type RedisConnection as Redis } from '@hpns/queue';
import { type PushJob, type PushResponse, type Region } from '@hpns/protocol';
import {
  createPayloadCipher,
  createWorkerConnection,
  FinalOutcomes,
  keyedHasher,
  publishOutcomes,
  PushConsumer,
  type OutcomeMessage,
} from '@hpns/queue';
import { createLogger, createMetricsRegistry, type Registry } from '@hpns/runtime';
import { startTestRedisBackend, type RedisBackendKind, type TestRedisBackend } from '@hpns/testkit';
import { type ListenerMode } from '../src/entitlement';
import { IngressMetrics } from '../src/ingress-metrics';
import { createIngressServer, type IngressServer } from '../src/ingress-server';
import { IngressRegion } from '../src/ingress-region';
import { PushApi, type PushApiOptions } from '../src/push-api';
import { RedisRateLimiter } from '../src/rate-limiter';
import { RedisTenantRegistry } from '../src/tenant-registry';

export const logger = createLogger({ destination: { write: () => undefined } });
export const hasher = keyedHasher(Buffer.alloc(32, 9));
const TARGETS: Record<string, 'apns' | 'fcm'> = { apple_rn: 'apns', apple_rnbeta: 'apns', android_rn: 'fcm' };

/** Plays the worker: consumes a region's queues and answers each push from `answer` (a test double). */
export type Answerer = (job: PushJob) => PushResponse | undefined;

interface RegionRig {
  /** The region's Redis: the harness's own single server, or a backend the suite shares (HarnessRedis). */
  backend: TestRedisBackend;
  /** Whether the harness started `backend` (and stops it on close). */
  owned: boolean;
  /** The fake worker's connections. */
  connections: Redis[];
  /** The region as the ingress's main builds it. */
  binding: IngressRegion;
  consumers: PushConsumer[];
  received: PushJob[];
}

export interface Harness {
  url: (listener?: number) => string;
  regions: Map<string, RegionRig>;
  server: IngressServer;
  /** Sets how the fake worker answers; undefined = never answers (the ingress's wait bound applies). */
  answer: Answerer;
  close: () => Promise<void>;
  /** Resolves once every connection of the region is ready again (after a Redis restart). */
  reconnected: (region: string) => Promise<void>;
  redisOf: (region: string) => Redis;
  /** The region's test Redis itself: KEYS and INFO over every node of a cluster. */
  backendOf: (region: string) => TestRedisBackend;
  /** Queue shards per provider (1 on a single server, TEST_CLUSTER_SHARDS on a cluster). */
  shards: number;
  registry: Registry;
}

export interface HarnessOptions {
  regions?: string[];
  listeners?: ListenerMode[];
  api?: Partial<PushApiOptions>;
  bodyLimitBytes?: number;
  /**
   * The Redis of each region, shared by the suite (HarnessRedis.take) and left running on close. A region not
   * named gets a single test Redis of the harness's own.
   */
  backends?: Readonly<Record<string, TestRedisBackend>>;
}

/**
 * The Redis the harnesses of one suite run on. On single servers each harness starts its own (tests kill and
 * restart them); a test cluster costs seconds to start, so one per region serves every harness of the suite,
 * emptied before each takes it.
 */
export class HarnessRedis {
  readonly kind: RedisBackendKind;
  readonly #started = new Map<string, Promise<TestRedisBackend>>();

  constructor(kind: RedisBackendKind) {
    this.kind = kind;
  }

  /** The shared backends of `regions`, emptied; undefined on single servers (each harness starts its own). */
  async take(regions: readonly string[]): Promise<Record<string, TestRedisBackend> | undefined> {
    if (this.kind === 'single') return undefined;
    const entries = await Promise.all(
      regions.map(async (region) => {
        let backend = this.#started.get(region);
        if (backend === undefined) {
          backend = startTestRedisBackend('cluster');
          this.#started.set(region, backend);
        }
        const ready = await backend;
        await ready.flush();
        return [region, ready] as const;
      }),
    );
    return Object.fromEntries(entries);
  }

  /** Stops every backend that started (one that failed to start has nothing to stop). */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.#started.values()].map(async (b) => (await b).stop()));
  }
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const regionNames = options.regions ?? ['us'];
  const cipher = createPayloadCipher([{ id: 'k', key: randomBytes(32) }]);
  const regions = new Map<string, RegionRig>();
  const harness = { answer: (() => ({ status: 'OK' })) as Answerer } as Harness;
  let shards = 1;
  for (const name of regionNames) {
    const region = name as Region;
    const given = options.backends?.[name];
    const redis = given ?? (await startTestRedisBackend('single'));
    shards = Math.max(shards, redis.shards);
    // The production wiring of a region (IngressRegion), on the test's Redis.
    const binding = await IngressRegion.open({
      region,
      redisUrl: redis.url,
      redisCluster: redis.isCluster,
      instanceId: 'test',
      cipher,
      hasher,
      logger,
      producer: { shards: redis.shards },
    });
    const shared = createWorkerConnection({ url: redis.url });
    const workerConnection = createWorkerConnection({ url: redis.url });
    const received: PushJob[] = [];
    // The fake worker remembers final outcomes other than OK, as the worker's effects do.
    const workerOutcomes = new FinalOutcomes({ region, connection: shared });
    // Every shard of each provider is consumed, as a worker does.
    const lanes = (['apns', 'fcm'] as const).flatMap((provider) =>
      Array.from({ length: redis.shards }, (_, shard) => ({ provider, shard })),
    );
    const consumers = lanes.map(({ provider, shard }) => {
      const consumer = new PushConsumer({
        region,
        provider,
        shard,
        connection: workerConnection,
        cipher,
        concurrency: 50,
        handler: async (opened) => {
          if (!opened.readable) return { action: 'complete' };
          const byChannel = new Map<string, OutcomeMessage[]>();
          for (const { job } of opened.pushes) {
            received.push(job);
            const response = harness.answer(job);
            if (response === undefined) continue;
            await workerOutcomes.remember(job.routing.requestId, job.routing.acceptedAtMs, response);
            if (job.routing.replyTo === undefined) continue;
            const list = byChannel.get(job.routing.replyTo) ?? [];
            list.push({ requestId: job.routing.requestId, response });
            byChannel.set(job.routing.replyTo, list);
          }
          for (const [channel, messages] of byChannel) await publishOutcomes(shared, channel, messages);
          return { action: 'complete' };
        },
      });
      consumer.start();
      return consumer;
    });
    regions.set(name, {
      backend: redis,
      owned: given === undefined,
      connections: [shared, workerConnection],
      consumers,
      received,
      binding,
    });
  }
  const registry = createMetricsRegistry({ collectDefaults: false });
  const metrics = new IngressMetrics(registry, regionNames);
  harness.registry = registry;
  const lookups = new Map([...regions].map(([name, rig]) => [name as Region, rig.binding.lookups]));
  const api = new PushApi({
    regions: new Map([...regions].map(([name, rig]) => [name as Region, rig.binding])),
    routing: {
      served: regionNames as Region[],
      hosts: { 'global.push.test': 'global', 'de.push.test': 'de', 'us.push.test': 'us' },
    },
    targets: (type) => TARGETS[type],
    // Fail-fast connections, as the ingress's lookups use: a region's Redis down must answer at once.
    tenants: new RedisTenantRegistry({ connections: lookups, hasher, negativeCacheMs: 0, cacheMs: 0 }),
    rateLimiter: new RedisRateLimiter({ connections: lookups, hasher }),
    hasher,
    logger,
    metrics,
    waitMs: 5000,
    ...options.api,
  });
  const server = await createIngressServer({
    api,
    listeners: (options.listeners ?? ['open']).map((mode) => ({ host: '127.0.0.1', port: 0, mode })),
    logger,
    metrics,
    bodyLimitBytes: options.bodyLimitBytes,
    version: { version: '1.2.3', hash: 'abc1234' },
  });
  harness.server = server;
  harness.regions = regions;
  harness.url = (listener = 0) => `http://127.0.0.1:${server.addresses[listener]?.port}`;
  harness.redisOf = (region) => regions.get(region)?.connections[0] as Redis;
  harness.shards = shards;
  harness.backendOf = (region) => {
    const rig = regions.get(region);
    if (rig === undefined) throw new Error(`the harness does not serve region ${region}`);
    return rig.backend;
  };
  harness.reconnected = async (region) => {
    const rig = regions.get(region);
    if (rig === undefined) return;
    await rig.binding.reconnected();
    await Promise.all(
      rig.connections.map((c) =>
        c.status === 'ready' ? undefined : new Promise((resolve) => c.once('ready', resolve)),
      ),
    );
  };
  // Each step bounded: after a Redis restart a client may still be reconnecting, and cleanup must not hang.
  const bounded = (work: Promise<unknown>, ms = 3000) =>
    Promise.race([work.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, ms).unref())]);
  harness.close = async () => {
    await bounded(server.close(500));
    for (const rig of regions.values()) {
      await bounded(Promise.all(rig.consumers.map((c) => c.close(500))));
      await bounded(rig.binding.close(1000));
      rig.connections.forEach((c) => c.disconnect());
      if (rig.owned) await rig.backend.stop();
    }
  };
  return harness;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request as the Mattermost server sends it: HTTP/1.1, no Content-Type. */
export function post(
  url: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return send('POST', url, body, headers);
}

export function send(
  method: string,
  url: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A typical send_push body of the Mattermost server (reference §8.3). */
export function pushBody(fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    ack_id: `ack${randomBytes(6).toString('hex')}`,
    platform: 'apple_rn-v2',
    server_id: 'srv1',
    device_id: randomBytes(32).toString('hex'),
    post_id: 'post1',
    category: 'CAN_REPLY',
    message: 'alice: hello :smile:',
    badge: 2,
    channel_id: 'chan1',
    channel_name: 'Town Square',
    type: 'message',
    sender_id: 'user1',
    sender_name: 'alice',
    version: 'v2',
    is_crt_enabled: false,
    is_id_loaded: false,
    signature: 'sig',
    ...fields,
  });
}
