import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../bench-kit';
import { TestRedis } from './redis-server';

const run = promisify(execFile);

export interface TestRedisClusterOptions {
  /** Masters (each owns a share of the 16384 slots). Default 3. */
  masters?: number;
  /** Replicas per master. Default 1. */
  replicasPerMaster?: number;
  /**
   * `cluster-node-timeout` in ms: how long a master may be unreachable before its replica takes over. Default
   * 1000 (production runs 15000; tests want a failover within seconds).
   */
  nodeTimeoutMs?: number;
  /** AOF on every node, as production runs. Default false. */
  appendOnly?: boolean;
  /** How long to wait for the cluster to form, in ms. Default 30000. */
  startTimeoutMs?: number;
  /**
   * TLS for clients, the cluster bus and replication, with this certificate (a private CA's, createTestCa).
   * Each node then also listens on a TLS port (`tlsUrl`); the plain ports stay for the test's own redis-cli.
   */
  tls?: { certPem: string; keyPem: string; caPem: string };
}

/** One line of `CLUSTER NODES`. */
export interface ClusterNode {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** The master's id, for a replica. */
  masterId: string | undefined;
  /** Slot ranges `[first, last]` a master serves. */
  slots: [number, number][];
  /** Marked failed (`fail`) or suspected (`fail?`) by the node asked. */
  failing: boolean;
  connected: boolean;
}

/** Runs one command with redis-cli against a node and returns its raw reply text. */
async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
    timeout: 10_000,
  });
  return stdout;
}

export function parseClusterNodes(text: string): ClusterNode[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const [id, address, flags, master, , , , link, ...slots] = line.split(' ');
      const flagList = (flags ?? '').split(',');
      return {
        id: id!,
        port: Number(/:(\d+)@/.exec(address ?? '')?.[1]),
        role: flagList.includes('master') ? 'master' : 'replica',
        masterId: master === '-' ? undefined : master,
        slots: slots
          .filter((s) => !s.startsWith('['))
          .map((s) => {
            const [first, last] = s.split('-').map(Number);
            return [first!, last ?? first!] as [number, number];
          }),
        failing: flagList.includes('fail') || flagList.includes('fail?'),
        connected: link === 'connected',
      };
    });
}

/**
 * A Redis Cluster of the test's own: `masters` × (1 + `replicasPerMaster`) redis-servers with
 * `cluster-enabled yes` on free loopback ports (bus ports chosen explicitly, `cluster-port`), joined with
 * `redis-cli --cluster create`. Tests kill a node (`node(port).kill('SIGKILL')`) to fail a master over, and read
 * who serves what with `nodes()` and `masterOfSlot()`. `stop()` ends every node and removes their directories.
 */
export class TestRedisCluster {
  readonly dir: string;
  readonly #nodes: TestRedis[];
  readonly #options: TestRedisClusterOptions;

  readonly #tlsPorts: number[];

  /** @internal use startTestRedisCluster */
  constructor(dir: string, nodes: TestRedis[], options: TestRedisClusterOptions, tlsPorts: number[] = []) {
    this.#tlsPorts = tlsPorts;
    this.dir = dir;
    this.#nodes = nodes;
    this.#options = options;
  }

  /** Every node's port, in start order. */
  get ports(): number[] {
    return this.#nodes.map((n) => n.port);
  }

  /** Seed addresses, `127.0.0.1:<port>`. */
  get seeds(): string[] {
    return this.ports.map((port) => `127.0.0.1:${port}`);
  }

  /** The cluster as HPNS_REDIS_URL_<REGION> names one: every node's `redis://` URL, comma-separated. */
  get url(): string {
    return this.ports.map((port) => `redis://127.0.0.1:${port}`).join(',');
  }

  /** The TLS ports of the nodes, in node order (with the `tls` option). */
  get tlsPorts(): number[] {
    return this.#tlsPorts;
  }

  /** The cluster's TLS seed list, `rediss://localhost:<tls port>,…` (with the `tls` option). */
  get tlsUrl(): string {
    if (this.#tlsPorts.length === 0) throw new Error('this test cluster was started without TLS');
    return this.#tlsPorts.map((port) => `rediss://localhost:${port}`).join(',');
  }

  /** The node listening on `port`. */
  node(port: number): TestRedis {
    const node = this.#nodes.find((n) => n.port === port);
    if (node === undefined) throw new Error(`no cluster node on port ${port}`);
    return node;
  }

  /** `CLUSTER NODES` as seen by the first running node. */
  async nodes(): Promise<ClusterNode[]> {
    for (const node of this.#nodes) {
      if (node.pid === undefined) continue;
      try {
        return parseClusterNodes(await cli(node.port, 'CLUSTER', 'NODES'));
      } catch {
        // that node is not answering; ask the next
      }
    }
    throw new Error('no cluster node answers');
  }

  /** The slot of a key (CRC16 mod 16384, hash tags honoured), as the cluster computes it. */
  async slotOf(key: string): Promise<number> {
    const running = this.#nodes.find((n) => n.pid !== undefined);
    if (running === undefined) throw new Error('no cluster node is running');
    return Number((await cli(running.port, 'CLUSTER', 'KEYSLOT', key)).trim());
  }

  /** The master serving `slot` now. */
  async masterOfSlot(slot: number): Promise<ClusterNode> {
    const master = (await this.nodes()).find(
      (n) => n.role === 'master' && !n.failing && n.slots.some(([a, b]) => slot >= a && slot <= b),
    );
    if (master === undefined) throw new Error(`no master serves slot ${slot}`);
    return master;
  }

  /**
   * Resolves once every running node reports `cluster_state:ok`, all 16384 slots are served by masters that
   * are not failing, and each expected replica is attached and in sync with its master.
   */
  async waitHealthy(timeoutMs = this.#options.startTimeoutMs ?? 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.#healthy().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`the Redis cluster in ${this.dir} did not become healthy`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async #healthy(): Promise<boolean> {
    for (const node of this.#nodes) {
      if (node.pid === undefined) continue;
      if (!(await cli(node.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
    }
    const nodes = await this.nodes();
    const masters = nodes.filter((n) => n.role === 'master' && !n.failing && n.slots.length > 0);
    const served = masters.reduce((sum, m) => sum + m.slots.reduce((s, [a, b]) => s + b - a + 1, 0), 0);
    const replicas = nodes.filter((n) => n.role === 'replica' && !n.failing && n.connected);
    const expected = (this.#options.masters ?? 3) * (this.#options.replicasPerMaster ?? 1);
    const running = this.#nodes.filter((n) => n.pid !== undefined).length;
    if (served !== 16384 || replicas.length < Math.min(expected, running - masters.length)) return false;
    // Attached is not yet replicating: each replica's link to its master must be up (initial sync done).
    for (const replica of replicas) {
      if (!(await cli(replica.port, 'INFO', 'replication')).includes('master_link_status:up')) return false;
    }
    return true;
  }

  /** Stops every node and removes the cluster's directory. */
  async stop(): Promise<void> {
    await Promise.all(this.#nodes.map((n) => n.kill('SIGTERM')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts a Redis Cluster for one test file; throws a clear error when redis-server or redis-cli is missing. */
export async function startTestRedisCluster(
  options: TestRedisClusterOptions = {},
): Promise<TestRedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 1;
  if (masters < 3) throw new Error('a Redis Cluster needs at least 3 masters');
  const dir = mkdtempSync(join(tmpdir(), 'hpns-redis-cluster-'));
  const nodes: TestRedis[] = [];
  const tlsPorts: number[] = [];
  let tlsArgs: string[] = [];
  if (options.tls !== undefined) {
    writeFileSync(join(dir, 'server.crt'), options.tls.certPem);
    writeFileSync(join(dir, 'server.key'), options.tls.keyPem);
    writeFileSync(join(dir, 'ca.crt'), options.tls.caPem);
    tlsArgs = [
      ...['--tls-cert-file', join(dir, 'server.crt'), '--tls-key-file', join(dir, 'server.key')],
      ...['--tls-ca-cert-file', join(dir, 'ca.crt'), '--tls-auth-clients', 'no'],
      // The bus and replication over TLS too: every hop encrypted.
      ...['--tls-cluster', 'yes', '--tls-replication', 'yes'],
    ];
  }
  try {
    for (let i = 0; i < masters * (1 + replicas); i += 1) {
      const nodeDir = join(dir, `node-${i}`);
      mkdirSync(nodeDir);
      // A port freePort() found free can be taken before redis-server binds it (suites in parallel start
      // servers too, and each node needs two or three ports): a node that cannot start is tried again on fresh
      // ports.
      for (let attempt = 1; ; attempt += 1) {
        const tlsPort = options.tls === undefined ? undefined : await freePort();
        const node = new TestRedis(await freePort(), nodeDir, {
          appendOnly: options.appendOnly ?? false,
          args: [
            ...(tlsPort === undefined ? [] : ['--tls-port', String(tlsPort), ...tlsArgs]),
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            String(options.nodeTimeoutMs ?? 1000),
            '--cluster-port',
            String(await freePort()),
            // A replica whose link was down longer than the timeout may still take over: tests kill masters.
            '--cluster-replica-validity-factor',
            '0',
            // Replicas sync at once instead of after Redis's 5 s wait for more replicas (diskless sync), so a
            // cluster is replicating when it is reported healthy.
            '--repl-diskless-sync-delay',
            '0',
          ],
        });
        try {
          // start() refuses a port that another server answers on.
          await node.start();
          nodes.push(node);
          if (tlsPort !== undefined) tlsPorts.push(tlsPort);
          break;
        } catch (error) {
          if (attempt >= 3) throw error;
          // A failed start may have written a node id to nodes.conf; the next attempt starts clean.
          rmSync(join(nodeDir, 'nodes.conf'), { force: true });
        }
      }
    }
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    const cluster = new TestRedisCluster(dir, nodes, options, tlsPorts);
    await cluster.waitHealthy();
    return cluster;
  } catch (error) {
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
