import { type AppleTargetConfig } from '@hpns/runtime';
import { type Registry } from 'prom-client';

/**
 * Where to send a target's pushes instead of Apple's host, e.g. a simulator (reference §4.4). Apple's hosts
 * (§1.1) are used when a target has no override: `api.push.apple.com`, or `api.sandbox.push.apple.com` for a
 * target with `useDevelopment`, port 443.
 */
export interface ApnsEndpointOverride {
  /** Host name or IP address. Also the `:authority` and, for a name, the TLS server name. Required. */
  address: string;
  /** TCP port. Default 443. */
  port?: number;
  /** PEM of the CA(s) the endpoint's certificate chains to (a simulator's `caPem`). Default: Node's roots. */
  caPem?: string | readonly string[];
}

/** Options of {@link ApnsProvider}. */
export interface ApnsProviderOptions {
  /** The configured Apple targets (`loadConfig().apple`). Required; may be empty. */
  targets: readonly AppleTargetConfig[];
  /** Where the provider metrics are registered (never prom-client's global registry). Required. */
  registry: Registry;
  /** Endpoint overrides by target type (`apple_rn`, …). Default: none, Apple's hosts. */
  endpoints?: Readonly<Record<string, ApnsEndpointOverride>>;
  /**
   * HTTP/2 connections per credential set and endpoint (targets with the same key and environment share them).
   * Apple recommends several connections for throughput (reference §1.8). Default 4.
   */
  connectionsPerEndpoint?: number;
  /**
   * Streams in flight per connection at most; the server's SETTINGS_MAX_CONCURRENT_STREAMS lowers it (APNs has
   * advertised 500–1500, and 1 on a new token connection, §1.8). Default 500.
   */
  maxInFlightPerConnection?: number;
  /**
   * Sends waiting for a free stream, per credential set and endpoint; more are answered `retryable`
   * (`queue_full`) at once. Default 10,000.
   */
  maxQueuedPerEndpoint?: number;
  /**
   * Bound of one send, waiting for a stream included, in ms; past it the stream is cancelled and the send is
   * `retryable` (`timeout`). The worker passes the proxy's RetryTimeoutSec here. Default 8,000.
   */
  requestTimeoutMs?: number;
  /**
   * A connection that has not completed TLS and HTTP/2 set-up (the server's SETTINGS) after this long is
   * dropped and the next push connects afresh, ms. Default 10,000.
   */
  connectTimeoutMs?: number;
  /** HTTP/2 PING interval on each connection, ms (node-apn's heart beat; Apple: ping idle connections). Default 60,000. */
  heartbeatMs?: number;
  /** Provider-token age at which a new one is minted before use, ms (§1.6: 20–60 min). Default 3,000,000 (50 min). */
  tokenRefreshAfterMs?: number;
  /** How long close() waits for connections to close gracefully before destroying them, ms. Default 2,000. */
  closeTimeoutMs?: number;
  /** Clock for provider tokens and Retry-After dates, epoch ms. Tests inject one. Default `Date.now`. */
  now?: () => number;
}

export interface ResolvedApnsOptions {
  connectionsPerEndpoint: number;
  maxInFlightPerConnection: number;
  maxQueuedPerEndpoint: number;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  heartbeatMs: number;
  tokenRefreshAfterMs: number;
  closeTimeoutMs: number;
  now: () => number;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < 1) throw new RangeError(`${name} must be a positive integer`);
  return resolved;
}

export function resolveApnsOptions(options: ApnsProviderOptions): ResolvedApnsOptions {
  return {
    connectionsPerEndpoint: positiveInteger('connectionsPerEndpoint', options.connectionsPerEndpoint, 4),
    maxInFlightPerConnection: positiveInteger(
      'maxInFlightPerConnection',
      options.maxInFlightPerConnection,
      500,
    ),
    maxQueuedPerEndpoint: positiveInteger('maxQueuedPerEndpoint', options.maxQueuedPerEndpoint, 10_000),
    requestTimeoutMs: positiveInteger('requestTimeoutMs', options.requestTimeoutMs, 8000),
    connectTimeoutMs: positiveInteger('connectTimeoutMs', options.connectTimeoutMs, 10_000),
    heartbeatMs: positiveInteger('heartbeatMs', options.heartbeatMs, 60_000),
    tokenRefreshAfterMs: positiveInteger('tokenRefreshAfterMs', options.tokenRefreshAfterMs, 3_000_000),
    closeTimeoutMs: positiveInteger('closeTimeoutMs', options.closeTimeoutMs, 2000),
    now: options.now ?? Date.now,
  };
}

/** Apple's provider API hosts (reference §1.1). */
export const APNS_PRODUCTION_HOST = 'api.push.apple.com';
export const APNS_SANDBOX_HOST = 'api.sandbox.push.apple.com';

export interface ApnsEndpoint {
  address: string;
  port: number;
  /** Trusted CA PEMs; undefined → Node's default roots. */
  ca: readonly string[] | undefined;
}

/** Where a target's pushes go: its override, else Apple's production or sandbox host (`useDevelopment`), port 443. */
export function resolveEndpoint(target: AppleTargetConfig, override?: ApnsEndpointOverride): ApnsEndpoint {
  const caPem = override?.caPem;
  return {
    address: override?.address ?? (target.useDevelopment ? APNS_SANDBOX_HOST : APNS_PRODUCTION_HOST),
    port: override?.port ?? 443,
    ca: caPem === undefined ? undefined : typeof caPem === 'string' ? [caPem] : caPem,
  };
}
