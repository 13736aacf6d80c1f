import { isIP } from 'node:net';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { HpnsError } from '@hpns/protocol';
import { parseRedisTarget } from '@hpns/runtime';

/** A connection to a region's Redis: one server, or a Redis Cluster (ioredis routes each command by key slot). */
export type RedisConnection = Redis | Cluster;

/**
 * Redis connections, set up as BullMQ's production guide asks (reference/operations.md §A1):
 *
 * - a **producer** connection fails fast: no offline queue and one retry per command, so that an ingress
 *   answers at once with a retryable error (HPNS_REDIS_UNAVAILABLE) instead of holding requests while Redis is
 *   down;
 * - a **worker** connection waits out outages: `maxRetriesPerRequest: null` (BullMQ requires it for workers),
 *   the offline queue on, and reconnects backing off from 1 s to 20 s, forever.
 *
 * `rediss:` URLs use TLS (every hop is encrypted in production).
 *
 * A region's Redis is named by one URL, or by a comma-separated list of seed URLs of one Redis Cluster
 * (`rediss://a:6379,rediss://b:6379`); a lone seed is a cluster when `cluster` says so (a managed cluster's
 * configuration endpoint). The seeds share a scheme and credentials; the client learns every other node from
 * the cluster (CLUSTER SLOTS) and follows failovers and slot moves by itself.
 */

export interface ConnectionOptions {
  /** `redis://` or `rediss://` URL, or a comma-separated list of a cluster's seed URLs. */
  url: string;
  /** A cluster even with one seed URL. Default: a cluster when `url` lists more than one seed. */
  cluster?: boolean;
  /** Shown in `CLIENT LIST`, e.g. `hpns-ingress-us`. */
  connectionName?: string;
  /** Connect timeout in ms. Default 5000. */
  connectTimeoutMs?: number;
  /** CA certificates (PEM) trusted for `rediss:` instead of Node's default roots (a private CA). */
  ca?: string;
  /** Extra TLS options for `rediss:`. */
  tls?: RedisOptions['tls'];
  /**
   * How long `disconnect()` waits for the socket to close before destroying it, in ms. Default ioredis' 2000.
   * A short-lived tool sets it low: ioredis waits for a `close` that a refused socket has already emitted, so
   * giving up on an unreachable Redis would otherwise keep the process alive for the whole wait.
   */
  disconnectTimeoutMs?: number;
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

function baseOptions(options: ConnectionOptions, url: URL = new URL(options.url)): RedisOptions {
  const host = hostOf(url);
  return {
    connectionName: options.connectionName,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    ...(options.disconnectTimeoutMs === undefined ? {} : { disconnectTimeout: options.disconnectTimeoutMs }),
    ...(url.protocol === 'rediss:'
      ? {
          tls: {
            // SNI names a host, never an address (RFC 6066); the certificate is checked against either.
            ...(isIP(host) === 0 ? { servername: host } : {}),
            ...(options.ca === undefined ? {} : { ca: options.ca }),
            ...options.tls,
          },
        }
      : {}),
  };
}

/** Reconnect delay for attempt `times`: BullMQ's own curve, 1–20 s. */
export function reconnectDelayMs(times: number): number {
  return Math.max(Math.min(Math.exp(times), 20_000), 1000);
}

type Role = 'producer' | 'worker' | 'subscriber';

/**
 * The client of a cluster. Node connections get the TLS, credentials and timeouts of the seeds; a node that
 * goes away is not reconnected to (the slots are fetched again and its replica, once promoted, takes its
 * commands). Cluster-level retries cover a failover: a command that finds its slot's master gone is tried
 * again after a slots refresh (retryDelayOnFailover, CLUSTERDOWN, TRYAGAIN), up to `maxRedirections` times.
 */
function createCluster(options: ConnectionOptions, seeds: URL[], role: Role, extra: ClusterOptions): Cluster {
  const first = seeds[0] as URL;
  const base = baseOptions(options, first);
  const cluster = new Cluster(
    seeds.map((seed) => ({ host: hostOf(seed), port: Number(seed.port || 6379) })),
    {
      ...extra,
      redisOptions: {
        ...base,
        ...(first.username === '' ? {} : { username: decodeURIComponent(first.username) }),
        ...(first.password === '' ? {} : { password: decodeURIComponent(first.password) }),
        maxRetriesPerRequest: role === 'producer' ? 1 : null,
      },
      // Nodes are reached at the addresses the cluster announces; TLS checks them against the seed's name
      // (servername above), as managed clusters certify their nodes under one name.
      dnsLookup: (address, callback) => callback(null, address),
      clusterRetryStrategy: reconnectDelayMs,
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      retryDelayOnTryAgain: 100,
      maxRedirections: role === 'producer' ? 4 : 64,
      slotsRefreshTimeout: options.connectTimeoutMs ?? 5000,
      // A replica promoted or a slot moved is learned from MOVED at once; this catches a quiet change too.
      slotsRefreshInterval: 5000,
    },
  );
  // A node's own connection error (a certificate the CA does not sign, a refused password) would otherwise show
  // only as "Connection is closed" under "Failed to refresh slots cache": pass it on as `node error`.
  cluster.on('+node', (node: Redis) => {
    node.on('error', (error: Error) =>
      cluster.emit('node error', error, `${node.options.host}:${node.options.port}`),
    );
  });
  clusterSeeds.set(cluster, {
    host: hostOf(first),
    port: Number(first.port || 6379),
    options: cluster.options.redisOptions ?? {},
  });
  return cluster;
}

/** The first seed of each cluster client and its node options, to say why a cluster cannot be reached. */
const clusterSeeds = new WeakMap<Cluster, { host: string; port: number; options: RedisOptions }>();

/**
 * Why the first seed of a cluster refuses a connection (its TLS, password or socket error), in a few words;
 * undefined when it connects. The cluster client itself reports only that its slots could not be read.
 */
async function seedProblem(cluster: Cluster): Promise<string | undefined> {
  const seed = clusterSeeds.get(cluster);
  if (seed === undefined) return undefined;
  const probe = new Redis({
    ...seed.options,
    host: seed.host,
    port: seed.port,
    lazyConnect: true,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    disconnectTimeout: 100,
  });
  let problem: string | undefined;
  probe.on('error', (error: Error) => (problem ??= error.message));
  let timer: NodeJS.Timeout | undefined;
  // Bounded: a seed that takes the connection and then says nothing must not hold the error back.
  const silent = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      problem ??= 'no answer';
      resolve();
    }, 2000);
  });
  try {
    await Promise.race([probe.connect().then(async () => void (await probe.ping())), silent]);
  } catch (error) {
    problem ??= (error as Error).message;
  } finally {
    clearTimeout(timer);
    probe.disconnect();
  }
  return problem === undefined ? undefined : `seed ${seed.host}:${seed.port}: ${problem}`;
}

function connect(options: ConnectionOptions, role: Role): RedisConnection {
  const target = parseRedisTarget(options.url, options.cluster);
  if (target.cluster) {
    return createCluster(
      options,
      target.seeds,
      role,
      role === 'producer'
        ? { enableOfflineQueue: false, enableAutoPipelining: true }
        : { enableOfflineQueue: true, ...(role === 'subscriber' ? { shardedSubscribers: true } : {}) },
    );
  }
  const url = (target.seeds[0] as URL).href;
  if (role === 'producer') {
    return new Redis(url, {
      ...baseOptions(options),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Commands issued in one event-loop turn (dead-token lookups, rate-limit counters, batched adds) go out
      // in one write: under load this removed most of the per-command socket writes from the ingress profile.
      enableAutoPipelining: true,
      retryStrategy: reconnectDelayMs,
    });
  }
  return new Redis(url, {
    ...baseOptions(options),
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    retryStrategy: reconnectDelayMs,
  });
}

/** A fail-fast connection for enqueueing (ingress). */
export function createProducerConnection(options: ConnectionOptions): RedisConnection {
  return connect(options, 'producer');
}

/** A connection that outlives Redis outages (workers). */
export function createWorkerConnection(options: ConnectionOptions): RedisConnection {
  return connect(options, 'worker');
}

/**
 * A worker-style connection for an outcome subscription. On a cluster, sharded subscriptions go to the node
 * that holds each channel's slot, and follow it through a failover.
 */
export function createSubscriberConnection(options: ConnectionOptions): RedisConnection {
  return connect(options, 'subscriber');
}

/** Whether `connection` is a cluster client. */
export function isCluster(connection: RedisConnection): connection is Cluster {
  return connection instanceof Cluster;
}

/**
 * A second connection like `connection` (same server or cluster, same TLS and retry behaviour), with its own
 * name and, when asked, auto-pipelining.
 */
export function duplicateConnection(
  connection: RedisConnection,
  changes: { connectionName: string; enableAutoPipelining?: boolean },
): RedisConnection {
  if (isCluster(connection)) {
    return connection.duplicate(undefined, {
      ...(changes.enableAutoPipelining === undefined
        ? {}
        : { enableAutoPipelining: changes.enableAutoPipelining }),
      redisOptions: { ...connection.options.redisOptions, connectionName: changes.connectionName },
    });
  }
  return connection.duplicate(changes);
}

/**
 * Resolves once `connection` is ready. A fail-fast connection refuses commands until then, and BullMQ's queue
 * set-up runs commands as soon as a Queue is created, so producers are built only on a ready connection.
 * @throws HpnsError HPNS_REDIS_UNAVAILABLE after `timeoutMs`.
 */
export function waitForReady(connection: RedisConnection, timeoutMs: number): Promise<void> {
  if (connection.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      connection.off('ready', onReady);
      const why = isCluster(connection) ? seedProblem(connection) : Promise.resolve(undefined);
      void why.then((problem) =>
        reject(
          new HpnsError(
            'HPNS_REDIS_UNAVAILABLE',
            `Redis not reachable within ${timeoutMs} ms${problem === undefined ? '' : ` (${problem})`}`,
          ),
        ),
      );
    }, timeoutMs);
    connection.once('ready', onReady);
  });
}

/**
 * Runs a Redis command and reports any failure of it as HPNS_REDIS_UNAVAILABLE (retryable: the server is away,
 * failing over, loading, out of memory or refusing the connection), so that a caller can tell Redis trouble from
 * a bug of its own. `what` says which lookup failed.
 */
export async function redisCall<T>(what: string, command: () => Promise<T>): Promise<T> {
  try {
    return await command();
  } catch (cause) {
    throw redisUnavailable(what, cause);
  }
}

/** The HPNS_REDIS_UNAVAILABLE error for a Redis command (`what`) that failed with `cause`. */
export function redisUnavailable(what: string, cause: unknown): HpnsError {
  return new HpnsError(
    'HPNS_REDIS_UNAVAILABLE',
    `${what} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
    { cause },
  );
}
