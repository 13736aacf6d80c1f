import { type TestCa } from '../tls/test-ca';
import { type ApnsFaultProfile } from './faults';
import { type ApnsSigningKey, type ProviderTokenRules } from './provider-token';
import { type ApnsEnvironment } from './token-registry';

/**
 * How `SETTINGS_MAX_CONCURRENT_STREAMS` behaves per connection (reference §7.1, §1.6, §1.8):
 * - `fixed`: `maxConcurrentStreams` from the start;
 * - `token-gated`: 1 until a push on the connection passes provider-token checks, then `maxConcurrentStreams`
 *   (Apple: "APNs allows only one stream until you post a request with a valid token");
 * - `error-drop`: token-gated, and back to 1 after a rejected push (410 excepted), up again after a success
 *   ([observed] rdar 27870881).
 */
export type ApnsStreamLimitMode = 'fixed' | 'token-gated' | 'error-drop';

/** Options of {@link createApnsSimulator}. All optional. */
export interface ApnsSimulatorOptions {
  /** Interface to listen on. Default `127.0.0.1` (loopback only). */
  host?: string;
  /** TCP port. Default 0: a free port, read it back from `port`/`url`. */
  port?: number;
  /** TLS material (CA and server certificate). Default: a fresh {@link createTestCa} for this simulator. */
  tls?: TestCa;
  /**
   * The APNs environment played (§1.1). `sandbox` adds `apns-unique-id` to answers (§1.4); tokens and keys
   * registered for the other environment are rejected. Default `production`.
   */
  environment?: ApnsEnvironment;
  /** `SETTINGS_MAX_CONCURRENT_STREAMS` once a connection is open for business. Default 1000 (§1.8). */
  maxConcurrentStreams?: number;
  /** See {@link ApnsStreamLimitMode}. Default `token-gated`, as Apple documents for token connections. */
  streamLimitMode?: ApnsStreamLimitMode;
  /**
   * `token`: every push needs a valid ES256 provider token (§1.6). `none`: the `authorization` header is
   * ignored and a push counts as authenticated (an accept-all peer for load tests, like pushy's benchmark
   * server). Default `token`.
   */
  auth?: 'token' | 'none';
  /** Signing keys to register at start (more with `registerKey`). Default none. */
  keys?: readonly ApnsSigningKey[];
  /** Unregistered, non-magic tokens: `accept` them, or `reject` with 400 `BadDeviceToken`. Default `accept`. */
  unknownTokens?: 'accept' | 'reject';
  /** Honour the magic token prefixes of `APNS_MAGIC_TOKEN_PREFIXES`. Default true. */
  magicTokens?: boolean;
  /** Only 64-hex-char device tokens (pushy's rule); else 64–200 even-length hex (§1.2). Default false. */
  strictTokenLength?: boolean;
  /** The fault profile at start. Default: none (healthy, zero latency). */
  faults?: ApnsFaultProfile;
  /** Seed of the random faults and the latency model. Default 1. */
  seed?: number;
  /** How many recent pushes `requests()` keeps. 0 turns capture off. Default 1000. */
  captureLimit?: number;
  /** How many receipts (token, ack_id, status per answered push) `receipts()` keeps. Default 250,000. */
  receiptLimit?: number;
  /**
   * The simulator clock in ms since epoch, used for provider-token ages, `Unregistered` timestamps and rate
   * windows. Tests inject one (or call `advanceClock`) to move time without sleeping. Default `Date.now`.
   */
  now?: () => number;
  /** Oldest accepted provider-token `iat`, ms. Default 3,600,000 (one hour, §1.6). */
  providerTokenMaxAgeMs?: number;
  /** How far in the future `iat` may be, ms. Default 60,000 ([assumption], §7.1). */
  providerTokenFutureSkewMs?: number;
  /** Minimum ms between provider-token changes on one connection. Default 1,200,000 (20 min, §1.6). */
  providerTokenMinUpdateIntervalMs?: number;
}

/** Options with defaults applied (TLS and listening are resolved by the factory). */
export interface ResolvedApnsOptions {
  environment: ApnsEnvironment;
  maxConcurrentStreams: number;
  streamLimitMode: ApnsStreamLimitMode;
  auth: 'token' | 'none';
  acceptUnknownTokens: boolean;
  magicTokens: boolean;
  strictTokenLength: boolean;
  seed: number;
  captureLimit: number;
  receiptLimit: number;
  now: () => number;
  tokenRules: ProviderTokenRules;
}

export function resolveApnsOptions(options: ApnsSimulatorOptions): ResolvedApnsOptions {
  const maxConcurrentStreams = options.maxConcurrentStreams ?? 1000;
  if (!Number.isInteger(maxConcurrentStreams) || maxConcurrentStreams < 1) {
    throw new Error('maxConcurrentStreams must be a positive integer');
  }
  return {
    environment: options.environment ?? 'production',
    maxConcurrentStreams,
    streamLimitMode: options.streamLimitMode ?? 'token-gated',
    auth: options.auth ?? 'token',
    acceptUnknownTokens: (options.unknownTokens ?? 'accept') === 'accept',
    magicTokens: options.magicTokens ?? true,
    strictTokenLength: options.strictTokenLength ?? false,
    seed: options.seed ?? 1,
    captureLimit: options.captureLimit ?? 1000,
    receiptLimit: options.receiptLimit ?? 250_000,
    now: options.now ?? Date.now,
    tokenRules: {
      maxAgeMs: options.providerTokenMaxAgeMs ?? 3_600_000,
      futureSkewMs: options.providerTokenFutureSkewMs ?? 60_000,
      minUpdateIntervalMs: options.providerTokenMinUpdateIntervalMs ?? 1_200_000,
    },
  };
}
