import { HpnsError, isRegionName, type Region } from '@hpns/protocol';
import {
  isHeaderName,
  listenAddressProblem,
  parseBoolSetting,
  parseIntSetting,
  readConfigFile,
  readEnvSetting,
  type ConfigEnv,
  type ConfigFiles,
  type ConfigIssues,
} from './config-env';
import { androidTargets, appleTargets } from './config-targets';
import {
  Secret,
  type HpnsConfig,
  type LogLevel,
  type PayloadKeyConfig,
  type RedisRegionConfig,
  type TargetConfig,
} from './config-types';
import { readProxyConfigFile, type ProxyFileSettings } from './proxy-config-file';
import { readServiceSettings, SERVICE_ENV_VARS } from './config-service';
import { MAX_QUEUE_SHARDS, parseRedisTarget, type RedisTarget } from './redis-target';

/** The result of a successful load: the config and the warnings to log once a logger exists. */
export interface LoadedConfig {
  readonly config: HpnsConfig;
  readonly warnings: readonly string[];
}

/**
 * Every environment variable HPNS reads. Any other `HPNS_*` variable is warned about (a typo would otherwise be
 * silently ignored). `*_FILE` forms of secrets and the per-region/per-type families are matched separately.
 */
export const CONFIG_ENV_VARS = [
  'HPNS_CONFIG_FILE',
  'HPNS_LISTEN_ADDRESS',
  'HPNS_ADMIN_LISTEN_ADDRESS',
  'HPNS_REGIONS',
  'HPNS_REDIS_URL',
  'HPNS_REDIS_CA_FILE',
  'HPNS_QUEUE_SHARDS',
  'HPNS_REDIS_WAIT_REPLICAS',
  'HPNS_SEND_TIMEOUT_SEC',
  'HPNS_RETRY_TIMEOUT_SEC',
  'HPNS_THROTTLE_PER_SEC',
  'HPNS_THROTTLE_MEMORY_STORE_SIZE',
  'HPNS_THROTTLE_VARY_BY_HEADER',
  'HPNS_ENABLE_METRICS',
  'HPNS_LOG_LEVEL',
  'HPNS_LOG_FORMAT',
  'HPNS_SHUTDOWN_TIMEOUT_MS',
  'HPNS_PAYLOAD_KEYS',
  'HPNS_PAYLOAD_KEY_ID',
  // Read by the ingress for GET /version (the image's build sets it); not part of the validated config.
  'HPNS_BUILD_HASH',
  ...SERVICE_ENV_VARS,
] as const;

const ENV_FAMILIES = [
  /^HPNS_REDIS_URL_[A-Z0-9]+$/,
  /^HPNS_REDIS_CLUSTER_[A-Z0-9]+$/,
  /^HPNS_QUEUE_SHARDS_[A-Z0-9]+$/,
  /^HPNS_APPLE_CERT_PASSWORD_[A-Z0-9_]+$/,
];
const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const DEFAULT_LISTEN_ADDRESS = ':8086';
const DEFAULT_ADMIN_LISTEN_ADDRESS = '127.0.0.1:9464';
/** Callers the throttle remembers when ThrottleMemoryStoreSize is 0 (the upstream sample's 50000). */
const DEFAULT_THROTTLE_STORE_SIZE = 50_000;
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const MAX_TIMEOUT_SEC = 3600;

function warnUnknownEnv(env: ConfigEnv, issues: ConfigIssues): void {
  const known = new Set<string>(CONFIG_ENV_VARS);
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('HPNS_') || env[name] === undefined) continue;
    const base = name.endsWith('_FILE') ? name.slice(0, -'_FILE'.length) : name;
    if (known.has(name) || known.has(base) || ENV_FAMILIES.some((family) => family.test(base))) continue;
    if (name.startsWith('HPNS_TEST_') || name.startsWith('HPNS_REQUIRE_')) continue; // test-suite switches
    issues.warnings.push(`unknown environment variable ${name} ignored`);
  }
}

/** An integer setting that the file may give (`fileKey`) and the environment may override (`envName`). */
function intSetting(
  env: ConfigEnv,
  files: ConfigFiles,
  issues: ConfigIssues,
  file: ProxyFileSettings,
  fileKey: 'SendTimeoutSec' | 'RetryTimeoutSec' | 'ThrottlePerSec' | 'ThrottleMemoryStoreSize',
  envName: string,
  max: number,
): number {
  const text = readEnvSetting(env, files, issues, envName);
  if (text !== undefined) return parseIntSetting(issues, envName, text, 0, max) ?? 0;
  const value = file[fileKey];
  if (value < 0 || value > max) {
    issues.problems.push(`${fileKey} must be between 0 and ${max}, got ${value}`);
    return 0;
  }
  return value;
}

function regionsSetting(env: ConfigEnv, files: ConfigFiles, issues: ConfigIssues): Region[] {
  const text = readEnvSetting(env, files, issues, 'HPNS_REGIONS') ?? 'us';
  const names = text.split(',').map((name) => name.trim());
  const regions: Region[] = [];
  for (const name of names) {
    if (!isRegionName(name)) {
      issues.problems.push(
        `HPNS_REGIONS: ${JSON.stringify(name)} is not a region name (lower-case letters and digits, 2-16 characters)`,
      );
    } else if (regions.includes(name as Region)) {
      issues.problems.push(`HPNS_REGIONS: region ${name} is listed twice`);
    } else {
      regions.push(name as Region);
    }
  }
  return regions;
}

/** The URL without its password, for logs. */
export function redactRedisUrl(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password !== '') copy.password = '***';
  return copy.href;
}

function redisSettings(
  env: ConfigEnv,
  files: ConfigFiles,
  issues: ConfigIssues,
  regions: readonly Region[],
): Record<string, RedisRegionConfig> {
  const shared = readEnvSetting(env, files, issues, 'HPNS_REDIS_URL');
  if (shared !== undefined && regions.length > 1) {
    // One Redis for two regions would mix their data: each region names its own.
    issues.problems.push(
      'HPNS_REDIS_URL is for single-region setups; set HPNS_REDIS_URL_<REGION> for each region',
    );
  }
  const caFile = readEnvSetting(env, files, issues, 'HPNS_REDIS_CA_FILE');
  const caPem =
    caFile === undefined ? undefined : readConfigFile(files, issues, 'HPNS_REDIS_CA_FILE', caFile);
  if (caPem !== undefined && !caPem.includes('-----BEGIN CERTIFICATE-----')) {
    issues.problems.push(`HPNS_REDIS_CA_FILE ${JSON.stringify(caFile)} holds no PEM certificate`);
  }
  const sharedShards = readEnvSetting(env, files, issues, 'HPNS_QUEUE_SHARDS');
  const defaultShards =
    sharedShards === undefined
      ? 1
      : (parseIntSetting(issues, 'HPNS_QUEUE_SHARDS', sharedShards, 1, MAX_QUEUE_SHARDS) ?? 1);
  const waitText = readEnvSetting(env, files, issues, 'HPNS_REDIS_WAIT_REPLICAS');
  const waitReplicas =
    waitText === undefined ? 0 : (parseIntSetting(issues, 'HPNS_REDIS_WAIT_REPLICAS', waitText, 0, 5) ?? 0);
  const redis: Record<string, RedisRegionConfig> = {};
  for (const region of regions) {
    const suffix = region.toUpperCase();
    const name = `HPNS_REDIS_URL_${suffix}`;
    const text = readEnvSetting(env, files, issues, name) ?? (regions.length === 1 ? shared : undefined);
    if (text === undefined && regions.length > 1) {
      issues.problems.push(`${name} is required: every region has its own Redis`);
      continue;
    }
    const clusterName = `HPNS_REDIS_CLUSTER_${suffix}`;
    const clusterText = readEnvSetting(env, files, issues, clusterName);
    const clusterSetting =
      clusterText === undefined ? undefined : parseBoolSetting(issues, clusterName, clusterText);
    const shardsName = `HPNS_QUEUE_SHARDS_${suffix}`;
    const shardsText = readEnvSetting(env, files, issues, shardsName);
    const shards =
      shardsText === undefined
        ? defaultShards
        : (parseIntSetting(issues, shardsName, shardsText, 1, MAX_QUEUE_SHARDS) ?? defaultShards);
    let target: RedisTarget;
    try {
      target = parseRedisTarget(text ?? DEFAULT_REDIS_URL, clusterSetting);
    } catch (error) {
      // The parser's messages never hold the URL (it may hold a password).
      issues.problems.push(`${name}: ${(error as Error).message}`);
      continue;
    }
    const tls = target.seeds[0]?.protocol === 'rediss:';
    for (const url of target.seeds) {
      if (!tls && !isLoopbackHost(url.hostname)) {
        issues.warnings.push(
          `${name}: plain redis: to ${url.hostname}; use rediss: (TLS) off the local host`,
        );
      }
    }
    if (!target.cluster && shards > 1) {
      issues.warnings.push(
        `region ${region}: ${shards} queue shards on a single Redis spread no load; shards pay off on a cluster`,
      );
    }
    redis[region] = {
      url: new Secret(target.seeds.map((url) => url.href).join(',')),
      displayUrl: target.seeds.map((url) => redactRedisUrl(url)).join(','),
      cluster: target.cluster,
      shards,
      waitReplicas,
      caPem: tls ? caPem : undefined,
    };
  }
  if (caPem !== undefined && !Object.values(redis).some((r) => r.caPem !== undefined)) {
    issues.warnings.push('HPNS_REDIS_CA_FILE is set but no Redis URL is rediss: (TLS); it is not used');
  }
  return redis;
}

function payloadKeys(
  env: ConfigEnv,
  files: ConfigFiles,
  issues: ConfigIssues,
): { keys: PayloadKeyConfig[]; current: string | undefined; given: boolean } {
  const text = readEnvSetting(env, files, issues, 'HPNS_PAYLOAD_KEYS');
  const keys: PayloadKeyConfig[] = [];
  if (text !== undefined) {
    text.split(',').forEach((entry, index) => {
      const separator = entry.indexOf(':');
      const id = entry.slice(0, separator).trim();
      const material = entry.slice(separator + 1).trim();
      const bytes = Buffer.from(material, 'base64');
      if (separator < 0 || !/^[A-Za-z0-9_-]{1,32}$/.test(id)) {
        issues.problems.push(
          `HPNS_PAYLOAD_KEYS: entry ${index + 1} must be "<id>:<base64 key>" with a short id`,
        );
      } else if (bytes.length !== 32 || bytes.toString('base64') !== material) {
        issues.problems.push(`HPNS_PAYLOAD_KEYS: key ${id} must be exactly 32 bytes in base64`); // value not echoed
      } else if (keys.some((key) => key.id === id)) {
        issues.problems.push(`HPNS_PAYLOAD_KEYS: key id ${id} is listed twice`);
      } else {
        keys.push({ id, key: new Secret(bytes) });
      }
    });
  }
  const chosen = readEnvSetting(env, files, issues, 'HPNS_PAYLOAD_KEY_ID');
  if (chosen !== undefined && !keys.some((key) => key.id === chosen)) {
    issues.problems.push(
      `HPNS_PAYLOAD_KEY_ID: no key with id ${JSON.stringify(chosen)} in HPNS_PAYLOAD_KEYS`,
    );
  }
  return {
    keys,
    current: chosen ?? keys[keys.length - 1]?.id,
    given: Boolean(env['HPNS_PAYLOAD_KEYS'] || env['HPNS_PAYLOAD_KEYS_FILE']),
  };
}

/** A host is the local host: `localhost`, `::1` (bracketed or not) or 127.0.0.0/8. */
function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** `127.0.0.1:9464`, `localhost:9464`, `[::1]:9464`; `:9464` and `0.0.0.0:9464` bind every interface. */
export function isLoopbackAddress(address: string): boolean {
  return isLoopbackHost(address.slice(0, address.lastIndexOf(':')));
}

/** @throws HpnsError HPNS_CONFIG_INVALID listing every problem, when there is any. */
function throwIfProblems(issues: ConfigIssues): void {
  if (issues.problems.length === 0) return;
  const count = issues.problems.length;
  throw new HpnsError(
    'HPNS_CONFIG_INVALID',
    `configuration has ${count} problem${count === 1 ? '' : 's'}:\n${issues.problems.map((p) => `  - ${p}`).join('\n')}`,
    { details: { problems: [...issues.problems], warnings: [...issues.warnings] } },
  );
}

/** The regions and their Redis settings alone, read as loadConfig reads them (for admin tools). */
export interface RedisConfig {
  readonly regions: readonly Region[];
  readonly redis: Readonly<Record<string, RedisRegionConfig>>;
  readonly warnings: readonly string[];
}

/**
 * Reads `HPNS_REGIONS`, the Redis URL of each region and `HPNS_REDIS_CA_FILE` (and their `*_FILE` forms) as
 * loadConfig does, and nothing else: what an admin tool needs to reach the regions' Redis.
 * @throws HpnsError HPNS_CONFIG_INVALID
 */
export function loadRedisConfig(env: ConfigEnv, files: ConfigFiles): RedisConfig {
  const issues: ConfigIssues = { problems: [], warnings: [] };
  const regions = regionsSetting(env, files, issues);
  const redis = redisSettings(env, files, issues, regions);
  throwIfProblems(issues);
  return { regions, redis, warnings: issues.warnings };
}

function addressSetting(issues: ConfigIssues, name: string, value: string): string {
  const problem = listenAddressProblem(name, value);
  if (problem !== undefined) issues.problems.push(problem);
  return value;
}

/**
 * Builds the configuration from the environment and the files it names: `HPNS_CONFIG_FILE` (optional) is a
 * `mattermost-push-proxy.json` read as the Go proxy reads it; `HPNS_*` variables override its keys and add
 * HPNS's own settings; secrets may come from `*_FILE`. Collects every problem and throws once.
 *
 * @throws HpnsError HPNS_CONFIG_INVALID, whose message lists every problem (never a secret value) and whose
 *   `details.problems` holds them as an array.
 */
export interface LoadConfigOptions {
  /**
   * Read and check the provider credentials (APNs keys and certificates, FCM service accounts). Default true.
   * false for a process that never calls a provider (the ingress): only the targets' types and providers are
   * loaded (`config.targets`), `apple` and `android` are empty, and the key files need not be there.
   */
  credentials?: boolean;
}

export function loadConfig(
  env: ConfigEnv,
  files: ConfigFiles,
  options: LoadConfigOptions = {},
): LoadedConfig {
  const issues: ConfigIssues = { problems: [], warnings: [] };
  warnUnknownEnv(env, issues);

  let file: ProxyFileSettings = readProxyConfigFile('(none)', '{}').settings;
  const configPath = env['HPNS_CONFIG_FILE'];
  if (configPath !== undefined && configPath !== '') {
    const text = readConfigFile(files, issues, 'HPNS_CONFIG_FILE', configPath);
    if (text !== undefined) {
      const read = readProxyConfigFile(configPath, text);
      issues.problems.push(...read.problems);
      issues.warnings.push(...read.warnings);
      file = read.settings;
    }
  }

  const setting = (name: string) => readEnvSetting(env, files, issues, name);
  const listenAddress = addressSetting(
    issues,
    'listen address (ListenAddress / HPNS_LISTEN_ADDRESS)',
    setting('HPNS_LISTEN_ADDRESS') ?? (file.ListenAddress || DEFAULT_LISTEN_ADDRESS),
  );
  const adminListenAddress = addressSetting(
    issues,
    'HPNS_ADMIN_LISTEN_ADDRESS',
    setting('HPNS_ADMIN_LISTEN_ADDRESS') ?? DEFAULT_ADMIN_LISTEN_ADDRESS,
  );
  if (listenAddress === adminListenAddress) {
    issues.problems.push(`the API and the admin server cannot both listen on ${listenAddress}`);
  }

  const regions = regionsSetting(env, files, issues);
  const redis = redisSettings(env, files, issues, regions);

  const seenTypes = new Set<string>();
  const targets: TargetConfig[] = [];
  const credentials = options.credentials ?? true;
  const apple = appleTargets(file.ApplePushSettings, seenTypes, env, files, issues, targets, credentials);
  const android = androidTargets(file.AndroidPushSettings, seenTypes, files, issues, targets, credentials);
  if (file.ApplePushSettings.length + file.AndroidPushSettings.length === 0) {
    issues.warnings.push(
      'no ApplePushSettings or AndroidPushSettings: every send_push will fail as unknown platform',
    );
  } else if (targets.length === 0 && issues.problems.length === 0) {
    issues.warnings.push(
      'no ApplePushSettings or AndroidPushSettings entry has credentials: every send_push will fail as unknown platform',
    );
  }

  // The proxy's defaults and clamp (reference §4): 0 → 30 s and 0 → 8 s, retry timeout ≤ send timeout.
  const sendTimeoutSec =
    intSetting(env, files, issues, file, 'SendTimeoutSec', 'HPNS_SEND_TIMEOUT_SEC', MAX_TIMEOUT_SEC) || 30;
  const retryTimeoutSec = Math.min(
    intSetting(env, files, issues, file, 'RetryTimeoutSec', 'HPNS_RETRY_TIMEOUT_SEC', MAX_TIMEOUT_SEC) || 8,
    sendTimeoutSec,
  );
  // The throttle is on only when ThrottlePerSec is set above 0. The Go proxy read 0 as 1 but never denied
  // anything (reference §1.8); HPNS's throttle does deny, so a default of 1 request/s would stop everything.
  const perSec = intSetting(env, files, issues, file, 'ThrottlePerSec', 'HPNS_THROTTLE_PER_SEC', 1_000_000);
  const storeText = intSetting(
    env,
    files,
    issues,
    file,
    'ThrottleMemoryStoreSize',
    'HPNS_THROTTLE_MEMORY_STORE_SIZE',
    100_000_000,
  );
  // 0 was an unbounded map in the Go proxy: memory a caller who invents header values could fill.
  const memoryStoreSize = storeText === 0 ? DEFAULT_THROTTLE_STORE_SIZE : storeText;
  if (perSec > 0 && storeText === 0) {
    issues.warnings.push(
      `ThrottleMemoryStoreSize 0 (unbounded in the Go proxy) is bounded at ${DEFAULT_THROTTLE_STORE_SIZE} callers`,
    );
  }
  const varyBy = setting('HPNS_THROTTLE_VARY_BY_HEADER') ?? file.ThrottleVaryByHeader;

  const varyByHeaders = varyBy.split(' ').filter((h) => h !== '');
  const badHeader = varyByHeaders.find((h) => !isHeaderName(h));
  if (badHeader !== undefined)
    issues.problems.push(
      `ThrottleVaryByHeader: ${JSON.stringify(badHeader)} is not an HTTP header name (names are separated by spaces)`,
    );
  const metricsText = setting('HPNS_ENABLE_METRICS');
  const enableMetrics =
    metricsText === undefined
      ? file.EnableMetrics
      : (parseBoolSetting(issues, 'HPNS_ENABLE_METRICS', metricsText) ?? false);

  const levelText = (setting('HPNS_LOG_LEVEL') ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(levelText as LogLevel)) {
    issues.problems.push(
      `HPNS_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(levelText)}`,
    );
  }
  const formatText = setting('HPNS_LOG_FORMAT') ?? file.LogFormat;
  if (formatText !== '' && formatText !== 'plain' && formatText !== 'json') {
    issues.warnings.push(
      `LogFormat ${JSON.stringify(formatText)} is not plain or json; treated as plain, as the proxy does`,
    );
  }
  if (file.EnableFileLog || file.LogFileLocation !== '') {
    issues.warnings.push(
      'EnableFileLog/LogFileLocation are ignored: HPNS writes JSON log lines to stdout only',
    );
  }

  const shutdownText = setting('HPNS_SHUTDOWN_TIMEOUT_MS');
  const shutdownTimeoutMs =
    shutdownText === undefined
      ? 10_000
      : (parseIntSetting(issues, 'HPNS_SHUTDOWN_TIMEOUT_MS', shutdownText, 100, 600_000) ?? 0);

  const { keys, current, given } = payloadKeys(env, files, issues);
  const service = readServiceSettings(env, files, issues, listenAddress, regions);
  if (!given && !service.devMode) {
    // Queued content is always encrypted; only development mode may run on a key generated at start-up.
    issues.problems.push(
      'HPNS_PAYLOAD_KEYS is required (or HPNS_DEV_MODE=true for a generated development key)',
    );
  }

  // The admin routes tell a lot about the service (queue depths, targets, errors): off loopback, only with a
  // token, or when the operator says so explicitly (a private network with its own controls).
  // A token that was given but is unreadable or malformed is a problem reported already.
  const tokenGiven = Boolean(env['HPNS_ADMIN_TOKEN'] || env['HPNS_ADMIN_TOKEN_FILE']);
  if (
    !tokenGiven &&
    !service.admin.allowUnauthenticated &&
    listenAddressProblem('HPNS_ADMIN_LISTEN_ADDRESS', adminListenAddress) === undefined &&
    !isLoopbackAddress(adminListenAddress)
  ) {
    issues.problems.push(
      `HPNS_ADMIN_LISTEN_ADDRESS ${adminListenAddress} is not a loopback address and no HPNS_ADMIN_TOKEN_FILE is set: ` +
        'set a token (every admin route but /healthz then needs it), bind 127.0.0.1, or set HPNS_ADMIN_ALLOW_UNAUTHENTICATED=true',
    );
  }
  if (enableMetrics && !tokenGiven && !service.admin.allowUnauthenticated) {
    issues.problems.push(
      'EnableMetrics (HPNS_ENABLE_METRICS) serves /metrics on the API listener, which callers reach: set HPNS_ADMIN_TOKEN_FILE ' +
        '(the route then needs it) or HPNS_ADMIN_ALLOW_UNAUTHENTICATED=true',
    );
  }

  throwIfProblems(issues);
  const config: HpnsConfig = {
    listenAddress,
    adminListenAddress,
    regions,
    redis,
    targets,
    apple,
    android,
    sendTimeoutMs: sendTimeoutSec * 1000,
    retryTimeoutMs: retryTimeoutSec * 1000,
    throttle: {
      enabled: perSec > 0,
      perSec: perSec || 1,
      memoryStoreSize,
      varyByHeaders,
    },
    enableMetrics,
    log: { level: levelText as LogLevel, format: formatText === 'json' ? 'json' : 'plain' },
    shutdownTimeoutMs,
    payloadKeys: keys,
    currentPayloadKeyId: current,
    ...service,
  };
  return { config, warnings: issues.warnings };
}
