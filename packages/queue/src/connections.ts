import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { HpnsError } from '@hpns/protocol';

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
 */

export interface ConnectionOptions {
  /** `redis://` or `rediss://` URL. */
  url: string;
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

function baseOptions(options: ConnectionOptions): RedisOptions {
  const url = new URL(options.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
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

/** A fail-fast connection for enqueueing (ingress). */
export function createProducerConnection(options: ConnectionOptions): Redis {
  return new Redis(options.url, {
    ...baseOptions(options),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Commands issued in one event-loop turn (dead-token lookups, rate-limit counters, batched adds) go out in
    // one write: under load this removed most of the per-command socket writes from the ingress profile.
    enableAutoPipelining: true,
    retryStrategy: reconnectDelayMs,
  });
}

/** A connection that outlives Redis outages (workers, outcome subscribers). */
export function createWorkerConnection(options: ConnectionOptions): Redis {
  return new Redis(options.url, {
    ...baseOptions(options),
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    retryStrategy: reconnectDelayMs,
  });
}

/**
 * Resolves once `connection` is ready. A fail-fast connection refuses commands until then, and BullMQ's queue
 * set-up runs commands as soon as a Queue is created, so producers are built only on a ready connection.
 * @throws HpnsError HPNS_REDIS_UNAVAILABLE after `timeoutMs`.
 */
export function waitForReady(connection: Redis, timeoutMs: number): Promise<void> {
  if (connection.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      connection.off('ready', onReady);
      reject(new HpnsError('HPNS_REDIS_UNAVAILABLE', `Redis not reachable within ${timeoutMs} ms`));
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
