import { type Region } from '@hpns/protocol';
import { type ServiceConfig } from './config-service';

/**
 * The parsed, validated configuration of an HPNS process. Built only by `loadConfig` (config.ts) from a
 * `mattermost-push-proxy.json` file (accepted as it is), HPNS's own settings and environment overrides.
 * Fields holding secrets are wrapped in `Secret` so that a stray `JSON.stringify` or log line prints
 * `[redacted]` instead of the value.
 */
export interface HpnsConfig extends ServiceConfig {
  /** Where the push-proxy API (send_push, ack) listens, as `host:port` or `:port`. Default `:8086`. */
  readonly listenAddress: string;
  /** Where the admin server (/metrics, /healthz, /readyz) listens. Default `127.0.0.1:9464`. */
  readonly adminListenAddress: string;
  /** The regions this deployment serves, in configuration order. Default `['us']`. */
  readonly regions: readonly Region[];
  /** One Redis per region; the key set equals `regions`. */
  readonly redis: Readonly<Record<string, RedisRegionConfig>>;
  /** Every configured platform type and the provider that delivers it (Apple's first, in file order). */
  readonly targets: readonly TargetConfig[];
  /**
   * APNs targets keyed by platform type (e.g. `apple_rn`), in file order, with their credentials. Empty when
   * the config was loaded without credentials (`loadConfig(…, { credentials: false })`, the ingress).
   */
  readonly apple: readonly AppleTargetConfig[];
  /** FCM targets keyed by platform type (e.g. `android_rn`), in file order; empty without credentials. */
  readonly android: readonly AndroidTargetConfig[];
  /** The proxy's `SendTimeoutSec` (0 → 30) in milliseconds: the bound of one whole delivery attempt. */
  readonly sendTimeoutMs: number;
  /** The proxy's `RetryTimeoutSec` (0 → 8, clamped to the send timeout) in milliseconds: one provider call. */
  readonly retryTimeoutMs: number;
  /** The proxy's throttle settings (on when ThrottlePerSec > 0; ThrottleMemoryStoreSize 0 → 50,000). */
  readonly throttle: ThrottleConfig;
  /** Whether the push-proxy-compatible `/metrics` is also served on the API listener (`EnableMetrics`). */
  readonly enableMetrics: boolean;
  readonly log: LogConfig;
  /** Deadline for the whole graceful shutdown, in milliseconds. Default 10000. */
  readonly shutdownTimeoutMs: number;
  /** AES-256-GCM keys for queued content, by key id; empty when none is configured. */
  readonly payloadKeys: readonly PayloadKeyConfig[];
  /** The id of the key new jobs are encrypted with (the last listed key unless set). */
  readonly currentPayloadKeyId: string | undefined;
}

export interface RedisRegionConfig {
  /**
   * `redis://` or `rediss://` URL, or a cluster's comma-separated seed URLs (HPNS_REDIS_URL_<REGION>); may hold
   * a password, hence secret.
   */
  readonly url: Secret<string>;
  /** The URL (or URLs) with the password removed, for logs. */
  readonly displayUrl: string;
  /** A Redis Cluster: several seeds, or HPNS_REDIS_CLUSTER_<REGION>=true for one (a configuration endpoint). */
  readonly cluster: boolean;
  /** Queue shards per provider (HPNS_QUEUE_SHARDS_<REGION>, else HPNS_QUEUE_SHARDS; 1–256, default 1). */
  readonly shards: number;
  /**
   * Replicas that must acknowledge an envelope before its pushes are answered OK (HPNS_REDIS_WAIT_REPLICAS, 0–5,
   * default 0): with 1, a master killed right after an add cannot take answered pushes with it.
   */
  readonly waitReplicas: number;
  /**
   * CA certificates (PEM) trusted for a `rediss:` URL instead of Node's default roots (`HPNS_REDIS_CA_FILE`: a
   * Redis with a certificate of a private CA); undefined for `redis:` URLs and when not set.
   */
  readonly caPem: string | undefined;
}

export interface ThrottleConfig {
  /** Whether the ingress throttles callers of open listeners: ThrottlePerSec was set above 0. */
  readonly enabled: boolean;
  /** Requests per second per caller and ingress process (proxy `ThrottlePerSec`; 0 → off, read as 1). */
  readonly perSec: number;
  /** Callers remembered, least recently seen forgotten first (`ThrottleMemoryStoreSize`; 0 → 50,000). */
  readonly memoryStoreSize: number;
  /** Headers that identify a caller, space separated in the file (proxy `ThrottleVaryByHeader`). */
  readonly varyByHeaders: readonly string[];
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface LogConfig {
  /** Default `info`; `HPNS_LOG_LEVEL`. */
  readonly level: LogLevel;
  /** The proxy's `LogFormat`; HPNS always writes JSON lines to stdout and keeps the value for reference. */
  readonly format: 'json' | 'plain';
}

export type AppleAuth =
  | {
      readonly kind: 'token';
      /** Path of the .p8 key (`AppleAuthKeyFile`). */
      readonly keyFile: string;
      /** Contents of the .p8 key, read at start-up so a missing file is a config problem. */
      readonly keyPem: Secret<string>;
      readonly keyId: string;
      readonly teamId: string;
    }
  | {
      readonly kind: 'certificate';
      /** Path of the PEM holding certificate and private key (`ApplePushCertPrivate`). */
      readonly certFile: string;
      readonly certPem: Secret<string>;
      /** `ApplePushCertPassword`; empty when the key is not encrypted. */
      readonly password: Secret<string>;
    };

/** A configured platform type, without its credentials. */
export interface TargetConfig {
  readonly type: string;
  readonly provider: 'apns' | 'fcm';
}

export interface AppleTargetConfig {
  /** Platform type the Mattermost server sends (`apple_rn`, `apple_rnbeta`, …). */
  readonly type: string;
  /** APNs topic: the app's bundle id. */
  readonly topic: string;
  /** true → the APNs development (sandbox) endpoint. */
  readonly useDevelopment: boolean;
  readonly auth: AppleAuth;
}

export interface AndroidTargetConfig {
  readonly type: string;
  /** Path of the Google service-account JSON (`ServiceFileLocation`). */
  readonly serviceFile: string;
  readonly projectId: string;
  readonly clientEmail: string;
  readonly privateKey: Secret<string>;
  /** The service account's `token_uri` (Google's OAuth endpoint unless the file names another). */
  readonly tokenUri: string;
}

export interface PayloadKeyConfig {
  readonly id: string;
  /** 32 bytes. */
  readonly key: Secret<Buffer>;
}

/** A value that never prints itself: JSON, string conversion and util.inspect all give `[redacted]`. */
export class Secret<T> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  /** The secret value; call only where it is used (a TLS option, a signing call), never for logs. */
  reveal(): T {
    return this.#value;
  }

  toJSON(): string {
    return '[redacted]';
  }

  toString(): string {
    return '[redacted]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret([redacted])';
  }
}
