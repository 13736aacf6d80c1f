import { readFileSync } from 'node:fs';
import { type ConfigFiles } from './config-env';
import { type HpnsConfig } from './config-types';
import { type Logger } from './logger';

/** Reads configuration files from the local file system (the production `ConfigFiles`). */
export const nodeConfigFiles: ConfigFiles = {
  readText: (path) => readFileSync(path, 'utf8'),
};

/**
 * A secret-free view of the configuration, logged once at start-up (STYLE.md §8): file paths, ids and
 * settings, never a key, certificate, password or a Redis password.
 */
export function summarizeConfig(config: HpnsConfig): Record<string, unknown> {
  return {
    listenAddress: config.listenAddress,
    adminListenAddress: config.adminListenAddress,
    regions: [...config.regions],
    redis: Object.fromEntries(
      Object.entries(config.redis).map(([region, redis]) => [region, redis.displayUrl]),
    ),
    targets: config.targets.map((target) => `${target.type}:${target.provider}`),
    apple: config.apple.map((target) => ({
      type: target.type,
      topic: target.topic,
      useDevelopment: target.useDevelopment,
      auth:
        target.auth.kind === 'token'
          ? {
              kind: 'token',
              keyFile: target.auth.keyFile,
              keyId: target.auth.keyId,
              teamId: target.auth.teamId,
            }
          : {
              kind: 'certificate',
              certFile: target.auth.certFile,
              hasPassword: target.auth.password.reveal() !== '',
            },
    })),
    android: config.android.map((target) => ({
      type: target.type,
      serviceFile: target.serviceFile,
      projectId: target.projectId,
      clientEmail: target.clientEmail,
      tokenUri: target.tokenUri,
    })),
    sendTimeoutMs: config.sendTimeoutMs,
    retryTimeoutMs: config.retryTimeoutMs,
    throttle: { ...config.throttle, varyByHeaders: [...config.throttle.varyByHeaders] },
    enableMetrics: config.enableMetrics,
    log: { ...config.log },
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    payloadKeyIds: config.payloadKeys.map((key) => key.id),
    tokenHashKey: config.tokenHashKey === undefined ? 'not set' : 'set',
    deadLetters: { holdContent: config.deadLetters.holdContent },
    currentPayloadKeyId: config.currentPayloadKeyId ?? null,
  };
}

/**
 * The key that hashes device tokens and ack ids in Redis: `HPNS_TOKEN_HASH_KEY`, or else the oldest payload key
 * (`fallback: true`: retiring that key would reset the dead-token cache and ack joins). Undefined when there is
 * neither. Every process that hashes tokens takes its key from here, so they all agree.
 */
export function resolveTokenHashKey(
  config: HpnsConfig,
  keys: readonly { key: Buffer }[],
): { key: Buffer; fallback: boolean } | undefined {
  const configured = config.tokenHashKey?.reveal();
  if (configured !== undefined) return { key: configured, fallback: false };
  const first = keys[0];
  return first === undefined ? undefined : { key: first.key, fallback: true };
}

/** resolveTokenHashKey for a service: the fallback is logged as a warning; no key at all is a bug of main. */
export function tokenHashKeyOf(config: HpnsConfig, keys: readonly { key: Buffer }[], logger: Logger): Buffer {
  const resolved = resolveTokenHashKey(config, keys);
  if (resolved === undefined) throw new Error('no key to hash tokens with');
  if (resolved.fallback) {
    logger.warn(
      { event: 'config.token_hash_key' },
      'HPNS_TOKEN_HASH_KEY not set: hashing tokens with the oldest payload key',
    );
  }
  return resolved.key;
}
