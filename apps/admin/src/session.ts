import { type RedisConnection } from '@hpns/queue';
import { HpnsError, type Region } from '@hpns/protocol';
import {
  createPayloadCipher,
  createProducerConnection,
  keyedHasher,
  waitForReady,
  type KeyedHasher,
  type PayloadCipher,
} from '@hpns/queue';
import {
  loadConfig,
  loadRedisConfig,
  resolveTokenHashKey,
  type ConfigEnv,
  type ConfigFiles,
  type RedisRegionConfig,
} from '@hpns/runtime';
import { SettingsError } from './args';
import { type CliIo } from './output';

/** What the commands that open or hash pushes need of the services' settings. */
export interface ServiceKeys {
  /** The services' payload keys: opens held dead-letter content and seals what is queued again. */
  readonly cipher: PayloadCipher;
  /** The services' token-hash key: finds a device token's dead-token cache entry. */
  readonly hasher: KeyedHasher;
  /** Every configured platform type (HPNS_CONFIG_FILE's targets), in file order. */
  readonly targetTypes: readonly string[];
}

export interface AdminSessionOptions {
  env: ConfigEnv;
  files: ConfigFiles;
  io: CliIo;
  /** How long to wait for a region's Redis, in ms. Default 5000. */
  connectTimeoutMs?: number;
}

/** Shown in Redis's `CLIENT LIST` while the CLI runs (the residency checks list who is connected). */
export const CLI_CONNECTION_NAME = 'hpns-admin-cli';

/**
 * The settings and Redis connections of one CLI run, read the way the services read them: HPNS_REGIONS with
 * HPNS_REDIS_URL_<REGION> (or HPNS_REDIS_URL), HPNS_REDIS_CA_FILE, and for the commands that need them the
 * payload keys and the token-hash key (loadConfig, without provider credentials). A region's Redis is connected
 * on first use only, so a command about one region needs no other region reachable. `close()` ends them all.
 */
export class AdminSession {
  readonly regions: readonly Region[];
  readonly #redis: Readonly<Record<string, RedisRegionConfig>>;
  readonly #options: AdminSessionOptions;
  readonly #connections = new Map<Region, RedisConnection>();
  #keys: ServiceKeys | undefined;

  /**
   * @throws SettingsError when no Redis is named; HpnsError HPNS_CONFIG_INVALID for malformed settings.
   */
  constructor(options: AdminSessionOptions) {
    this.#options = options;
    // No fallback to a local Redis: a tool that pauses queues and deletes records must be told where they are.
    const named = Object.keys(options.env).some((name) => /^HPNS_REDIS_URL(_[A-Z0-9]+)?(_FILE)?$/.test(name));
    if (!named) {
      throw new SettingsError('no Redis is configured: set HPNS_REDIS_URL_<REGION> (or HPNS_REDIS_URL)');
    }
    const { regions, redis, warnings } = loadRedisConfig(options.env, options.files);
    for (const warning of warnings) options.io.err(`warning: ${warning}`);
    this.regions = regions;
    this.#redis = redis;
  }

  /** The queue shards per provider of a region (HPNS_QUEUE_SHARDS), as its services have them. */
  shards(region: Region): number {
    return this.#redis[region]?.shards ?? 1;
  }

  /**
   * A ready connection to the region's Redis (fail-fast: a command that cannot reach Redis fails at once).
   * @throws HpnsError HPNS_REDIS_UNAVAILABLE naming the region and its URL (without the password).
   */
  async redis(region: Region): Promise<RedisConnection> {
    const open = this.#connections.get(region);
    if (open !== undefined) return open;
    const settings = this.#redis[region];
    if (settings === undefined) throw new HpnsError('HPNS_REGION_INVALID', `region ${region} has no Redis`);
    const connection = createProducerConnection({
      url: settings.url.reveal(),
      cluster: settings.cluster,
      ca: settings.caPem,
      connectionName: CLI_CONNECTION_NAME,
      // disconnect() ends only connections that never became ready (close()): ioredis would wait 2 s for a
      // refused socket to close again, holding up the exit of a command that has already failed.
      disconnectTimeoutMs: 100,
    });
    connection.on('error', () => undefined); // each command reports its own failure
    this.#connections.set(region, connection);
    const timeoutMs = this.#options.connectTimeoutMs ?? 5000;
    await waitForReady(connection, timeoutMs).catch((cause: unknown) => {
      throw new HpnsError(
        'HPNS_REDIS_UNAVAILABLE',
        `the Redis of region ${region} (${settings.displayUrl}) cannot be reached within ${timeoutMs} ms`,
        { cause },
      );
    });
    return connection;
  }

  /**
   * The services' keys and targets, loaded once (loadConfig without provider credentials: the same
   * HPNS_PAYLOAD_KEYS, HPNS_PAYLOAD_KEY_ID, HPNS_TOKEN_HASH_KEY and HPNS_CONFIG_FILE as the workers).
   * @throws HpnsError HPNS_CONFIG_INVALID; SettingsError when no payload key is configured.
   */
  keys(): ServiceKeys {
    if (this.#keys !== undefined) return this.#keys;
    const { config, warnings } = loadConfig(this.#options.env, this.#options.files, { credentials: false });
    for (const warning of warnings) this.#options.io.err(`warning: ${warning}`);
    const keys = config.payloadKeys.map((k) => ({ id: k.id, key: k.key.reveal() }));
    if (keys.length === 0) {
      // HPNS_DEV_MODE lets a service run on a key it generated itself; nothing it sealed can be read here.
      throw new SettingsError('HPNS_PAYLOAD_KEYS is required: set the payload keys the services use');
    }
    const hashKey = resolveTokenHashKey(config, keys);
    if (hashKey?.fallback === true) {
      this.#options.io.err(
        'warning: HPNS_TOKEN_HASH_KEY not set: hashing tokens with the oldest payload key, as the services do',
      );
    }
    this.#keys = {
      cipher: createPayloadCipher(keys, config.currentPayloadKeyId),
      hasher: keyedHasher((hashKey as { key: Buffer }).key),
      targetTypes: config.targets.map((target) => target.type),
    };
    return this.#keys;
  }

  async close(): Promise<void> {
    await Promise.allSettled(
      [...this.#connections.values()].map((connection) =>
        connection.status === 'ready' ? connection.quit() : Promise.resolve(connection.disconnect()),
      ),
    );
    this.#connections.clear();
  }
}
