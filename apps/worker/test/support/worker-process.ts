import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type RedisConnection as Redis } from '@hpns/queue';
import { makePushNotification, type PushJob, type Region } from '@hpns/protocol';
import {
  createPayloadCipher,
  createProducerConnection,
  PushProducer,
  waitForReady,
  type PayloadKey,
} from '@hpns/queue';
import {
  spawnService,
  startSimulatorStack,
  startTestRedisBackend,
  stopService,
  TEST_CLUSTER_SHARDS,
  type RedisBackendKind,
  type ServiceProcess,
  type SimulatorStack,
  type SimulatorStackOptions,
  type TestRedis,
  type TestRedisBackend,
  type TestRedisOptions,
} from '@hpns/testkit';

/**
 * Real worker processes (apps/worker/dist/main.js, built by the jest global setup) for the tests that kill
 * them: they read their configuration from the environment exactly as in production.
 */
export const WORKER_MAIN = resolve(__dirname, '../../dist/main.js');

export interface WorkerProcess extends ServiceProcess {
  /** The admin server's base URL. */
  readonly adminUrl: string;
  /** BullMQ worker ids of its consumers: every lock token this process holds starts with one of them. */
  readonly workerIds: readonly string[];
}

export interface WorkerEnvOptions {
  region: Region;
  /** Redis URL per region the process is told about (a worker connects only to its own). */
  redisUrls: Partial<Record<Region, string>>;
  sims: SimulatorStack;
  configFile: string;
  keys: readonly PayloadKey[];
  hashKey: Buffer;
  concurrency?: number;
  /** Queue shards per provider (HPNS_QUEUE_SHARDS); unset leaves the default, 1. */
  shards?: number;
}

export function workerEnv(options: WorkerEnvOptions): NodeJS.ProcessEnv {
  const regions = Object.keys(options.redisUrls);
  return {
    PATH: process.env.PATH,
    HPNS_CONFIG_FILE: options.configFile,
    HPNS_REGIONS: regions.join(','),
    ...Object.fromEntries(
      regions.map((r) => [`HPNS_REDIS_URL_${r.toUpperCase()}`, options.redisUrls[r as Region]]),
    ),
    HPNS_WORKER_REGION: options.region,
    HPNS_PAYLOAD_KEYS: options.keys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
    HPNS_TOKEN_HASH_KEY: options.hashKey.toString('base64'),
    ...options.sims.providerEnv(),
    HPNS_ADMIN_LISTEN_ADDRESS: '127.0.0.1:0',
    HPNS_WORKER_CONCURRENCY: String(options.concurrency ?? 100),
    ...(options.shards === undefined ? {} : { HPNS_QUEUE_SHARDS: String(options.shards) }),
    HPNS_LOG_LEVEL: 'info',
  };
}

/** Starts a worker process and resolves once it logged `worker.started`. */
export async function spawnWorker(env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<WorkerProcess> {
  const service = await spawnService({ main: WORKER_MAIN, env, event: 'worker.started', timeoutMs });
  const started = service.started as { admin: string; workerIds: string[] };
  return { ...service, adminUrl: started.admin, workerIds: started.workerIds };
}

/** Ends a worker this test started, by pid: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopWorker(worker: WorkerProcess | undefined, graceMs = 10_000): Promise<void> {
  await stopService(worker, graceMs);
}

/** A push to one device, for the `apple_rn` or `android_rn` target; `device` identifies it at the simulator. */
export function pushJob(region: Region, provider: 'apns' | 'fcm', device: string, replyTo: string): PushJob {
  const now = Date.now();
  return {
    v: 1,
    routing: {
      requestId: `r${randomBytes(9).toString('base64url')}`,
      replyTo,
      region,
      provider,
      targetType: provider === 'apns' ? 'apple_rn' : 'android_rn',
      transport: 'standard',
      appVersion: 2,
      pushType: 'message',
      acceptedAtMs: now,
      expiresAtMs: now + 600_000,
    },
    content: makePushNotification({
      platform: provider === 'apns' ? 'apple_rn-v2' : 'android_rn-v2',
      device_id: device,
      server_id: 'crash-test-server',
      ack_id: randomBytes(13).toString('hex'),
      message: 'alice: the deploy is done',
      channel_name: 'Town Square',
      sender_name: 'alice',
      type: 'message',
      version: 'v2',
      badge: 1,
    }),
  };
}

/** Tallies deliveries per device token at the simulators, reading only what arrived since the last call. */
export class DeliveryLog {
  readonly firstAt = new Map<string, number>();
  readonly count = new Map<string, number>();
  /** Arrival times per device after `markMs` (set by `mark()`). */
  readonly afterMark = new Map<string, number>();
  #apnsSeen = 0;
  #fcmSeen = 0;
  #markMs = Number.POSITIVE_INFINITY;

  constructor(private readonly sims: SimulatorStack) {}

  mark(atMs: number): void {
    this.#markMs = atMs;
  }

  poll(): void {
    for (const r of this.sims.apns.requests()) {
      if (r.seq <= this.#apnsSeen) continue;
      this.#apnsSeen = r.seq;
      if (r.status === 200) this.#record(r.token, r.atMs);
    }
    for (const r of this.sims.fcm.requests()) {
      if (r.sequence <= this.#fcmSeen) continue;
      this.#fcmSeen = r.sequence;
      if (r.status === 200 && r.registrationToken !== undefined)
        this.#record(r.registrationToken, r.receivedAtMs);
    }
  }

  get total(): number {
    let sum = 0;
    for (const n of this.count.values()) sum += n;
    return sum;
  }

  #record(device: string, at: number): void {
    this.count.set(device, (this.count.get(device) ?? 0) + 1);
    if (!this.firstAt.has(device)) this.firstAt.set(device, at);
    if (at >= this.#markMs && !this.afterMark.has(device)) this.afterMark.set(device, at);
  }
}

/** Device tokens the simulators accept: 64 hex characters for APNs, an FCM-shaped string for FCM. */
export function deviceFor(provider: 'apns' | 'fcm', i: number, tag: string): string {
  const id = `${tag}${i.toString(16).padStart(8, '0')}`;
  return provider === 'apns'
    ? Buffer.from(id).toString('hex').padEnd(64, '0').slice(0, 64)
    : `fcm-${id}:${'A'.repeat(140)}`;
}

export interface WorkerFixtureOptions {
  /** Prefix of the temp dir (simulator keys, proxy config). */
  name: string;
  /** One test Redis and one producer per region. */
  regions: readonly Region[];
  /**
   * What each region's Redis is: one server (default) or a 3+3 test cluster of its own, whose producer and
   * workers then use TEST_CLUSTER_SHARDS queue shards.
   */
  backend?: RedisBackendKind;
  /** Options of a single server. */
  redis?: TestRedisOptions;
  sims?: Omit<SimulatorStackOptions, 'outputDir'>;
}

/**
 * What every worker process test starts before its workers: a temp dir, a test Redis and a producer per
 * region, the simulators, a proxy config, and the payload and token-hash keys the workers are given.
 */
export interface WorkerFixture {
  readonly dir: string;
  readonly sims: SimulatorStack;
  /** Queue shards per provider of every region (1 on single servers). */
  readonly shards: number;
  /** The region's Redis of either kind (throws for a region not started). */
  backend(region: Region): TestRedisBackend;
  /** The region's single test Redis (throws for a region not started or on a cluster). */
  redis(region: Region): TestRedis;
  /** The region's producer connection and producer (throws for a region not started, or once closed). */
  connection(region: Region): Redis;
  producer(region: Region): PushProducer;
  /**
   * Closes the region's producer and its connection early: a test that counts the connections a Redis
   * receives must not count the producer's (a cluster client opens a new one for each slots refresh).
   */
  closeProducer(region: Region): Promise<void>;
  readonly configFile: string;
  /** The environment of a worker of `region`; it is told about every region's Redis unless `redisUrls` is given. */
  env(
    region: Region,
    options?: { concurrency?: number; redisUrls?: Partial<Record<Region, string>> },
  ): NodeJS.ProcessEnv;
  /** Closes producers, connections, Redis servers and simulators, and removes the dir (stop workers first). */
  close(): Promise<void>;
}

function started<T>(byRegion: Partial<Record<Region, T>>, region: Region): T {
  const value = byRegion[region];
  if (value === undefined) throw new Error(`the fixture did not start region ${region}`);
  return value;
}

export async function startWorkerFixture(options: WorkerFixtureOptions): Promise<WorkerFixture> {
  const dir = mkdtempSync(join(tmpdir(), `hpns-${options.name}-`));
  const keys = [{ id: 'k1', key: randomBytes(32) }];
  const hashKey = randomBytes(32);
  const redis: Partial<Record<Region, TestRedisBackend>> = {};
  const connection: Partial<Record<Region, Redis>> = {};
  const producer: Partial<Record<Region, PushProducer>> = {};
  let sims: SimulatorStack | undefined;
  const closeProducer = async (region: Region) => {
    await producer[region]?.close();
    connection[region]?.disconnect();
    delete producer[region];
    delete connection[region];
  };
  const close = async () => {
    for (const region of options.regions) {
      await closeProducer(region);
      await redis[region]?.stop();
    }
    await sims?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const kind = options.backend ?? 'single';
    const shards = kind === 'cluster' ? TEST_CLUSTER_SHARDS : 1;
    // The regions' servers start side by side (a test cluster takes seconds). All are waited for before a
    // failure is thrown, so that close() stops every one that did come up.
    const starts = await Promise.allSettled(
      options.regions.map(async (region) => {
        redis[region] = await startTestRedisBackend(kind, { redis: options.redis });
      }),
    );
    const failed = starts.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    for (const region of options.regions) {
      const server = started(redis, region);
      const c = createProducerConnection({ url: server.url });
      connection[region] = c;
      await waitForReady(c, 10_000);
      producer[region] = new PushProducer({
        region,
        connection: c,
        cipher: createPayloadCipher(keys),
        shards,
      });
    }
    const stack = await startSimulatorStack({ ...options.sims, outputDir: dir });
    sims = stack;
    const configFile = stack.writeProxyConfig(dir);
    const allUrls = Object.fromEntries(options.regions.map((r) => [r, redis[r]!.url]));
    return {
      dir,
      sims: stack,
      shards,
      backend: (region) => started(redis, region),
      redis: (region) => {
        const { server } = started(redis, region);
        if (server === undefined) throw new Error(`region ${region} runs on a cluster, not one server`);
        return server;
      },
      closeProducer,
      connection: (region) => started(connection, region),
      producer: (region) => started(producer, region),
      configFile,
      env: (region, envOptions = {}) =>
        workerEnv({
          region,
          redisUrls: envOptions.redisUrls ?? allUrls,
          sims: stack,
          configFile,
          keys,
          hashKey,
          concurrency: envOptions.concurrency,
          ...(shards > 1 ? { shards } : {}),
        }),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
