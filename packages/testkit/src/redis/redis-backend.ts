import { Redis } from 'ioredis';
import { CommandMonitor } from './redis-monitor';
import { startTestRedisCluster, type TestRedisCluster, type TestRedisClusterOptions } from './redis-cluster';
import { startTestRedis, type TestRedis, type TestRedisOptions } from './redis-server';

/** The two Redis deployments HPNS supports: one server, or a Redis Cluster with queue shards. */
export type RedisBackendKind = 'single' | 'cluster';

/** Both kinds, for `describe.each` over the suites that must pass on either. */
export const REDIS_BACKEND_KINDS: readonly RedisBackendKind[] = ['single', 'cluster'];

/** Queue shards the suites use on a test cluster: one per master of the 3-master cluster (names.ts). */
export const TEST_CLUSTER_SHARDS = 3;

export interface TestRedisBackendOptions {
  /** Options of the single server. */
  redis?: TestRedisOptions;
  /** Options of the cluster. Default 3 masters, 1 replica each, a 1 s node timeout. */
  cluster?: TestRedisClusterOptions;
}

/**
 * A test Redis of either kind behind one face, so that a suite runs unchanged on both: the URL in HPNS syntax
 * (one URL, or a cluster's seed list), the queue shard count to configure, and what a test reads off the servers
 * themselves. A cluster client routes key commands by slot but sends a keyless command (KEYS, INFO, CLIENT LIST)
 * to one node only, so those are asked of every node here, over one admin connection per node opened at start:
 * counting `total_connections_received` must not count the counting.
 */
export class TestRedisBackend {
  readonly kind: RedisBackendKind;
  /** HPNS_REDIS_URL_<REGION>: one URL, or every node's URL comma-separated. */
  readonly url: string;
  /** Queue shards per provider to configure (HPNS_QUEUE_SHARDS): 1 on a single server. */
  readonly shards: number;
  /** The single server (a test may kill and restart it); undefined on a cluster. */
  readonly server: TestRedis | undefined;
  /** The cluster; undefined on a single server. */
  readonly cluster: TestRedisCluster | undefined;
  readonly #admin: Redis[];

  /** @internal use startTestRedisBackend */
  constructor(server: TestRedis | undefined, cluster: TestRedisCluster | undefined, admin: Redis[]) {
    this.kind = cluster === undefined ? 'single' : 'cluster';
    this.server = server;
    this.cluster = cluster;
    this.url = cluster?.url ?? (server as TestRedis).url;
    this.shards = cluster === undefined ? 1 : TEST_CLUSTER_SHARDS;
    this.#admin = admin;
  }

  /** Whether this is a cluster (HPNS_REDIS_CLUSTER_<REGION>). */
  get isCluster(): boolean {
    return this.cluster !== undefined;
  }

  /** Every node's port, masters and replicas (one port for a single server). */
  get ports(): number[] {
    return this.cluster?.ports ?? [(this.server as TestRedis).port];
  }

  /** The admin connections to the nodes that are masters now (replicas hold copies; counting them doubles). */
  async #masters(): Promise<Redis[]> {
    if (this.cluster === undefined) return this.#admin;
    const roles = await Promise.all(this.#admin.map((c) => c.info('replication')));
    return this.#admin.filter((_, i) => roles[i]?.includes('role:master'));
  }

  /** KEYS `pattern` over every master. */
  async keys(pattern: string): Promise<string[]> {
    const lists = await Promise.all((await this.#masters()).map((c) => c.keys(pattern)));
    return lists.flat();
  }

  /**
   * The sum of the number `pattern` captures (its first group) in INFO `section`, over every master, or over
   * every node with `nodes: 'all'`. E.g. `/cmdstat_spublish:calls=(\d+)/` in `commandstats`.
   */
  async infoSum(section: string, pattern: RegExp, nodes: 'masters' | 'all' = 'masters'): Promise<number> {
    const asked = nodes === 'all' ? this.#admin : await this.#masters();
    const texts = await Promise.all(asked.map((c) => c.info(section)));
    return texts.reduce((sum, text) => sum + Number(pattern.exec(text)?.[1] ?? 0), 0);
  }

  /** Connections every node (masters and replicas) has accepted since it started (INFO total_connections_received). */
  connectionsReceived(): Promise<number> {
    return this.infoSum('stats', /total_connections_received:(\d+)/, 'all');
  }

  /** CLIENT LIST of every node, one text. */
  async clientList(): Promise<string> {
    const lists = await Promise.all(this.#admin.map((c) => c.client('LIST') as Promise<string>));
    return lists.join('');
  }

  /**
   * Starts recording every command the masters run (MONITOR), for a test that must tell which client ran
   * what: INFO counts a script of ours and one of BullMQ's alike, and ioredis sends each of BullMQ's scripts
   * as EVAL the first time per socket (a cluster has one socket per node).
   */
  async monitor(): Promise<CommandMonitor> {
    const masters = new Map((await this.#masters()).map((c) => [c.options.port as number, c]));
    return CommandMonitor.open([...masters.keys()], (port, text) => (masters.get(port) as Redis).echo(text));
  }

  /** Empties every master (only ever this backend's own servers), for the next suite that shares it. */
  async flush(): Promise<void> {
    await Promise.all((await this.#masters()).map((c) => c.flushall()));
  }

  /** Closes the admin connections and stops the servers. */
  async stop(): Promise<void> {
    for (const c of this.#admin) c.disconnect();
    await this.server?.stop();
    await this.cluster?.stop();
  }
}

async function adminConnection(port: number): Promise<Redis> {
  const connection = new Redis({ host: '127.0.0.1', port, connectionName: 'hpns-test-admin' });
  // A test that kills a server sees this connection fail and reconnect; that is not the test's concern.
  connection.on('error', () => undefined);
  if (connection.status !== 'ready') await new Promise((resolve) => connection.once('ready', resolve));
  return connection;
}

/** Starts a single test Redis or a 3+3 test cluster, with an admin connection to each node. */
export async function startTestRedisBackend(
  kind: RedisBackendKind,
  options: TestRedisBackendOptions = {},
): Promise<TestRedisBackend> {
  if (kind === 'single') {
    const server = await startTestRedis(options.redis);
    return new TestRedisBackend(server, undefined, [await adminConnection(server.port)]);
  }
  const cluster = await startTestRedisCluster({
    masters: 3,
    replicasPerMaster: 1,
    nodeTimeoutMs: 1000,
    ...options.cluster,
  });
  try {
    const admin = await Promise.all(cluster.ports.map(adminConnection));
    return new TestRedisBackend(undefined, cluster, admin);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}
