import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  freePort,
  spawnService,
  startSimulatorStack,
  startTestRedisCluster,
  stopService,
  type ServiceProcess,
  type SimulatorStack,
  type TestRedisCluster,
} from '@hpns/testkit';

/**
 * What the cluster end-to-end tests run: a local Redis Cluster (3 masters, 3 replicas, 1 s node timeout), the
 * simulators in the test process, and real ingress and worker processes (the built `dist/main.js` of each app,
 * configured from the environment only, as deployed) for region `us` on that cluster with queue shards.
 * Every process started here is stopped by `close()`, by its handle, whatever state the test left it in.
 */
const INGRESS_MAIN = resolve(__dirname, '../../../apps/ingress/dist/main.js');
const WORKER_MAIN = resolve(__dirname, '../../../apps/worker/dist/main.js');

export interface IngressProcess extends ServiceProcess {
  /** `http://127.0.0.1:<port>` of its push API. */
  readonly url: string;
  readonly port: number;
  readonly adminUrl: string;
  /** Its instance id: its outcome channel is `outcomeChannel('us', instanceId)`. */
  readonly instanceId: string;
}

export interface ClusterStackOptions {
  /** Prefix of the temp dir. */
  name: string;
  /** HPNS_QUEUE_SHARDS_US. */
  shards: number;
  /** Receipts and requests the simulators keep. Default 100,000. */
  captureLimit?: number;
  /** Added latency of the simulated APNs and FCM answers. Default none. */
  latency?: { p50Ms: number; p99Ms: number };
}

export interface ClusterStack {
  readonly cluster: TestRedisCluster;
  readonly sims: SimulatorStack;
  /** Starts an ingress process on the cluster; resolves once it listens. */
  spawnIngress(extraEnv?: NodeJS.ProcessEnv): Promise<IngressProcess>;
  /** Starts a worker process for `us` on the cluster; resolves once it consumes. */
  spawnWorker(extraEnv?: NodeJS.ProcessEnv): Promise<ServiceProcess>;
  /** Stops every process it started (SIGTERM, SIGKILL after a grace), the simulators and the cluster. */
  close(): Promise<void>;
}

export async function startClusterStack(options: ClusterStackOptions): Promise<ClusterStack> {
  const dir = mkdtempSync(join(tmpdir(), `hpns-${options.name}-`));
  const started: ServiceProcess[] = [];
  let cluster: TestRedisCluster | undefined;
  let sims: SimulatorStack | undefined;
  const close = async () => {
    await Promise.all(started.map((service) => stopService(service, 5000)));
    await sims?.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    cluster = await startTestRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
    const stack = await startSimulatorStack({
      outputDir: dir,
      captureLimit: options.captureLimit ?? 100_000,
      ...(options.latency === undefined ? {} : { latency: options.latency }),
    });
    sims = stack;
    const configFile = stack.writeProxyConfig(dir);
    const redisUrl = cluster.url;
    // Ingress and workers must share the payload key (they seal and open envelopes) and the token-hash key
    // (the workers write dead tokens that the ingress looks up).
    const common: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HPNS_CONFIG_FILE: configFile,
      HPNS_REGIONS: 'us',
      HPNS_REDIS_URL_US: redisUrl,
      HPNS_QUEUE_SHARDS_US: String(options.shards),
      // The production setting for a cluster with replicas: an OK only once a replica holds the envelope.
      HPNS_REDIS_WAIT_REPLICAS: '1',
      HPNS_PAYLOAD_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      HPNS_TOKEN_HASH_KEY: randomBytes(32).toString('base64'),
      HPNS_LOG_LEVEL: 'info',
    };
    const track = <T extends ServiceProcess>(service: T): T => {
      started.push(service);
      return service;
    };
    return {
      cluster,
      sims: stack,
      async spawnIngress(extraEnv = {}) {
        const service = track(
          await spawnService({
            main: INGRESS_MAIN,
            // The config refuses two listeners on port 0 (it cannot tell them apart): free ports, picked here.
            env: {
              ...common,
              HPNS_LISTEN_ADDRESS: `127.0.0.1:${await freePort()}`,
              HPNS_ADMIN_LISTEN_ADDRESS: `127.0.0.1:${await freePort()}`,
              ...extraEnv,
            },
            event: 'ingress.listening',
            timeoutMs: 60_000,
          }),
        );
        const info = service.started as { listeners: string[]; admin: string; instance: string };
        const port = Number(info.listeners[0]?.split(':').pop());
        return {
          ...service,
          url: `http://127.0.0.1:${port}`,
          port,
          adminUrl: info.admin,
          instanceId: info.instance,
        };
      },
      async spawnWorker(extraEnv = {}) {
        return track(
          await spawnService({
            main: WORKER_MAIN,
            env: {
              ...common,
              ...stack.providerEnv(),
              HPNS_ADMIN_LISTEN_ADDRESS: '127.0.0.1:0',
              HPNS_WORKER_REGION: 'us',
              HPNS_WORKER_CONCURRENCY: '100',
              ...extraEnv,
            },
            event: 'worker.started',
            timeoutMs: 60_000,
          }),
        );
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A send_push body of a `message` push to `device` on `platform`, with its own `ack_id`. */
export function sendPushBody(
  platform: 'apple_rn-v2' | 'android_rn-v2',
  device: string,
  ackId: string,
): string {
  return JSON.stringify({
    platform,
    server_id: 'cluster-test-server',
    device_id: device,
    ack_id: ackId,
    type: 'message',
    version: 'v2',
    message: 'alice: the cluster failed over',
    channel_name: 'Town Square',
    sender_name: 'alice',
    badge: 1,
  });
}

/** The value of a counter (summed over its series) in a Prometheus text exposition, filtered by labels. */
export function counterValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
