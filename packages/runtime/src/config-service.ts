import { isRegionName, type Region } from '@hpns/protocol';
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
import { Secret } from './config-types';

/** Who may push through a listener: anyone (`open`), anyone rate-limited (`tpns`), registered tenants (`hpns`). */
export type ListenerModeSetting = 'open' | 'tpns' | 'hpns';

export interface ListenerConfig {
  /** `host:port` or `:port`. */
  readonly address: string;
  readonly mode: ListenerModeSetting;
  /** HTTPS with these files (TLS ≥ 1.2); plain HTTP when absent. */
  readonly tls?: { readonly certFile: string; readonly certPem: string; readonly keyPem: Secret<string> };
}

export interface IngressConfig {
  /** The main listener (`ListenAddress` / `HPNS_LISTEN_ADDRESS`, mode `HPNS_LISTEN_MODE`) and any extra ones. */
  readonly listeners: readonly ListenerConfig[];
  /** Host → region or `global` (`HPNS_REGION_HOSTS`, `host=region,…`). */
  readonly regionHosts: Readonly<Record<string, string>>;
  /** Every region of the service, served here or not (`HPNS_KNOWN_REGIONS`). */
  readonly knownRegions: readonly string[];
  /** Wait for the outcome, in ms (`HPNS_WAIT_MS`, default 3000). */
  readonly waitMs: number;
  /** Wait for test pushes, in ms (`HPNS_TEST_WAIT_MS`, default 15000). */
  readonly testWaitMs: number;
  /** Per-server limit on `tpns` listeners, across regions (`HPNS_TPNS_RATE_PER_SEC`, default 10). */
  readonly tpnsRatePerSec: number;
  /** Per-caller-address limit on `tpns` listeners, across regions (`HPNS_TPNS_CALLER_RATE_PER_SEC`, default 10). */
  readonly tpnsCallerRatePerSec: number;
  /**
   * The region whose Redis holds the free tier's rate buckets (`HPNS_TPNS_LIMIT_REGION`, default the first of
   * HPNS_REGIONS). They hold keyed hashes and a time, for at most a few seconds.
   */
  readonly tpnsLimitRegion: Region | undefined;
  /**
   * The header a trusted proxy writes the client's address into (`HPNS_CLIENT_ADDRESS_HEADER`, e.g.
   * `X-Forwarded-For`); undefined: the socket peer is the caller.
   */
  readonly clientAddressHeader: string | undefined;
  /** Which entry of that header counts, from the right (`HPNS_CLIENT_ADDRESS_HOPS`, default 1). */
  readonly clientAddressHops: number;
  /**
   * The region of a request with no region prefix and no host mapping (`HPNS_DEFAULT_REGION`, one of
   * HPNS_REGIONS); undefined: such a request gets FAIL unless the deployment serves a single region.
   */
  readonly defaultRegion: Region | undefined;
}

/** Who may use the admin routes (/metrics, /readyz, the API listener's /metrics with EnableMetrics). */
export interface AdminAccessConfig {
  /**
   * The bearer token every admin route but /healthz requires (`HPNS_ADMIN_TOKEN`, better `HPNS_ADMIN_TOKEN_FILE`);
   * undefined: no token, allowed only on a loopback admin address or with HPNS_ADMIN_ALLOW_UNAUTHENTICATED.
   */
  readonly token: Secret<string> | undefined;
  /** `HPNS_ADMIN_ALLOW_UNAUTHENTICATED=true`: a non-loopback admin address without a token is accepted. */
  readonly allowUnauthenticated: boolean;
}

export interface DeadLetterConfig {
  /**
   * Hold the sealed content of a push that failed for good until its TTL ends, so that `hpns dlq redrive` can
   * send it again (`HPNS_DEAD_LETTER_HOLD_CONTENT`, default false: nothing of the content outlives the push's
   * last attempt). The content stays encrypted with the payload keys, as in the queue.
   */
  readonly holdContent: boolean;
}

export interface WorkerConfig {
  /** The one region a worker process serves (`HPNS_WORKER_REGION`); undefined in processes that are no worker. */
  readonly region: Region | undefined;
  /**
   * Sends in flight per provider target, and envelopes taken at once per provider queue
   * (`HPNS_WORKER_CONCURRENCY`, default 100).
   */
  readonly concurrency: number;
  /** The cap of the first retry's delay (`HPNS_WORKER_RETRY_BASE_MS`, default 1000). */
  readonly retryBaseMs: number;
  /** The largest retry delay (`HPNS_WORKER_RETRY_MAX_MS`, default 60000); retries go on until the push's TTL. */
  readonly retryMaxMs: number;
  /** How long a target's circuit stays open before a probe (`HPNS_WORKER_CIRCUIT_OPEN_MS`, default 5000). */
  readonly circuitOpenMs: number;
}

/** Where providers send, for the simulators and private test setups; production leaves all unset. */
export interface ProviderEndpointsConfig {
  /** APNs base URL instead of Apple's (`HPNS_APNS_URL`, e.g. `https://127.0.0.1:8443`). */
  readonly apnsUrl: string | undefined;
  /** FCM base URL instead of Google's (`HPNS_FCM_URL`). */
  readonly fcmUrl: string | undefined;
  /** Google OAuth token URL instead of the service account's (`HPNS_OAUTH_TOKEN_URL`). */
  readonly oauthTokenUrl: string | undefined;
  /** Extra CA (PEM) trusted for these endpoints (`HPNS_PROVIDER_CA_FILE`). */
  readonly caPem: string | undefined;
}

export interface ServiceConfig {
  readonly providerEndpoints: ProviderEndpointsConfig;
  /**
   * HMAC key (32 bytes) for the token and ack-id hashes kept in Redis (`HPNS_TOKEN_HASH_KEY`, base64). Kept apart
   * from the payload keys so that rotating those does not reset the dead-token cache. Undefined: not set.
   */
  readonly tokenHashKey: Secret<Buffer> | undefined;
  readonly ingress: IngressConfig;
  readonly worker: WorkerConfig;
  readonly admin: AdminAccessConfig;
  readonly deadLetters: DeadLetterConfig;
  /** Time to live of a push, in ms (`HPNS_PUSH_TTL_SEC`, default 3600 s). */
  readonly pushTtlMs: number;
  /**
   * The sealed-job format the ingress writes (`HPNS_SEALED_JOB_FORMAT`, 2 to 4, default 4: envelopes). 3 (or 2)
   * during a rolling upgrade from a release whose workers cannot open envelopes (or format 3): one job per push;
   * every format is read either way.
   */
  readonly sealedJobFormat: 2 | 3 | 4;
  /** Development mode (`HPNS_DEV_MODE`): a generated payload key is allowed. Never in production. */
  readonly devMode: boolean;
}

/** The environment variables this module reads (for the unknown-variable warning and the README table). */
export const SERVICE_ENV_VARS = [
  'HPNS_LISTEN_MODE',
  'HPNS_EXTRA_LISTENERS',
  'HPNS_TLS_CERT_FILE',
  'HPNS_TLS_KEY_FILE',
  'HPNS_REGION_HOSTS',
  'HPNS_KNOWN_REGIONS',
  'HPNS_WAIT_MS',
  'HPNS_TEST_WAIT_MS',
  'HPNS_TPNS_RATE_PER_SEC',
  'HPNS_TPNS_CALLER_RATE_PER_SEC',
  'HPNS_TPNS_LIMIT_REGION',
  'HPNS_CLIENT_ADDRESS_HEADER',
  'HPNS_CLIENT_ADDRESS_HOPS',
  'HPNS_PUSH_TTL_SEC',
  'HPNS_SEALED_JOB_FORMAT',
  'HPNS_WORKER_REGION',
  'HPNS_WORKER_CONCURRENCY',
  'HPNS_WORKER_RETRY_BASE_MS',
  'HPNS_WORKER_RETRY_MAX_MS',
  'HPNS_WORKER_CIRCUIT_OPEN_MS',
  'HPNS_DEV_MODE',
  'HPNS_APNS_URL',
  'HPNS_FCM_URL',
  'HPNS_OAUTH_TOKEN_URL',
  'HPNS_PROVIDER_CA_FILE',
  'HPNS_TOKEN_HASH_KEY',
  'HPNS_DEFAULT_REGION',
  'HPNS_ADMIN_TOKEN',
  'HPNS_ADMIN_ALLOW_UNAUTHENTICATED',
  'HPNS_DEAD_LETTER_HOLD_CONTENT',
] as const;

const MODES: readonly ListenerModeSetting[] = ['open', 'tpns', 'hpns'];

function mode(issues: ConfigIssues, name: string, text: string): ListenerModeSetting {
  if (MODES.includes(text as ListenerModeSetting)) return text as ListenerModeSetting;
  issues.problems.push(
    `${name}: listener mode must be one of ${MODES.join(', ')}, got ${JSON.stringify(text)}`,
  );
  return 'open';
}

function int(
  env: ConfigEnv,
  files: ConfigFiles,
  issues: ConfigIssues,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const text = readEnvSetting(env, files, issues, name);
  return text === undefined ? fallback : (parseIntSetting(issues, name, text, min, max) ?? fallback);
}

/** Reads the ingress, worker and lifetime settings. `listenAddress` is the main listener's, already checked. */
export function readServiceSettings(
  env: ConfigEnv,
  files: ConfigFiles,
  issues: ConfigIssues,
  listenAddress: string,
  regions: readonly Region[],
): ServiceConfig {
  const setting = (name: string) => readEnvSetting(env, files, issues, name);

  let tls: ListenerConfig['tls'];
  const certFile = setting('HPNS_TLS_CERT_FILE');
  const keyFile = setting('HPNS_TLS_KEY_FILE');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    issues.problems.push('HPNS_TLS_CERT_FILE and HPNS_TLS_KEY_FILE must be set together');
  } else if (certFile !== undefined && keyFile !== undefined) {
    const certPem = readConfigFile(files, issues, 'HPNS_TLS_CERT_FILE', certFile);
    const keyPem = readConfigFile(files, issues, 'HPNS_TLS_KEY_FILE', keyFile);
    if (certPem !== undefined && !certPem.includes('-----BEGIN CERTIFICATE-----')) {
      issues.problems.push(`HPNS_TLS_CERT_FILE ${JSON.stringify(certFile)} holds no PEM certificate`);
    } else if (keyPem !== undefined && !/-----BEGIN (?:RSA |EC )?PRIVATE KEY-----/.test(keyPem)) {
      issues.problems.push(`HPNS_TLS_KEY_FILE ${JSON.stringify(keyFile)} holds no PEM private key`);
    } else if (certPem !== undefined && keyPem !== undefined) {
      tls = { certFile, certPem, keyPem: new Secret(keyPem) };
    }
  }
  const listeners: ListenerConfig[] = [
    {
      address: listenAddress,
      mode: mode(issues, 'HPNS_LISTEN_MODE', setting('HPNS_LISTEN_MODE') ?? 'open'),
      ...(tls ? { tls } : {}),
    },
  ];
  for (const entry of (setting('HPNS_EXTRA_LISTENERS') ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')) {
    const at = entry.indexOf('@');
    if (at < 0) {
      issues.problems.push(
        `HPNS_EXTRA_LISTENERS: entry ${JSON.stringify(entry)} must be "<mode>@<host:port>"`,
      );
      continue;
    }
    const address = entry.slice(at + 1);
    const problem = listenAddressProblem('HPNS_EXTRA_LISTENERS', address);
    if (problem !== undefined) issues.problems.push(problem);
    else if (listeners.some((l) => l.address === address))
      issues.problems.push(`HPNS_EXTRA_LISTENERS: ${address} is used twice`);
    else listeners.push({ address, mode: mode(issues, 'HPNS_EXTRA_LISTENERS', entry.slice(0, at)) });
  }

  const regionHosts: Record<string, string> = {};
  for (const entry of (setting('HPNS_REGION_HOSTS') ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')) {
    const [host, region] = entry.split('=').map((part) => part.trim().toLowerCase());
    if (
      host === undefined ||
      host === '' ||
      region === undefined ||
      (region !== 'global' && !isRegionName(region))
    ) {
      issues.problems.push(
        `HPNS_REGION_HOSTS: entry ${JSON.stringify(entry)} must be "<host>=<region or global>"`,
      );
    } else {
      regionHosts[host] = region;
    }
  }
  const knownText = setting('HPNS_KNOWN_REGIONS');
  const knownRegions =
    knownText === undefined
      ? [...new Set([...regions, ...Object.values(regionHosts).filter((r) => r !== 'global')])]
      : knownText.split(',').map((r) => r.trim());
  for (const name of knownRegions) {
    if (!isRegionName(name))
      issues.problems.push(`HPNS_KNOWN_REGIONS: ${JSON.stringify(name)} is not a region name`);
  }

  const workerRegionText = setting('HPNS_WORKER_REGION');
  if (workerRegionText !== undefined && !regions.includes(workerRegionText as Region)) {
    issues.problems.push(
      `HPNS_WORKER_REGION: ${JSON.stringify(workerRegionText)} is not one of HPNS_REGIONS (${regions.join(', ')})`,
    );
  }
  const limitRegionText = setting('HPNS_TPNS_LIMIT_REGION');
  if (limitRegionText !== undefined && !regions.includes(limitRegionText as Region)) {
    issues.problems.push(
      `HPNS_TPNS_LIMIT_REGION: ${JSON.stringify(limitRegionText)} is not one of HPNS_REGIONS (${regions.join(', ')})`,
    );
  }
  const addressHeader = setting('HPNS_CLIENT_ADDRESS_HEADER');
  if (addressHeader !== undefined && !isHeaderName(addressHeader)) {
    issues.problems.push(
      `HPNS_CLIENT_ADDRESS_HEADER: ${JSON.stringify(addressHeader)} is not an HTTP header name`,
    );
  }
  if (addressHeader === undefined && setting('HPNS_CLIENT_ADDRESS_HOPS') !== undefined) {
    issues.warnings.push('HPNS_CLIENT_ADDRESS_HOPS is ignored: HPNS_CLIENT_ADDRESS_HEADER is not set');
  }
  const defaultRegionText = setting('HPNS_DEFAULT_REGION');
  if (defaultRegionText !== undefined && !regions.includes(defaultRegionText as Region)) {
    issues.problems.push(
      `HPNS_DEFAULT_REGION: ${JSON.stringify(defaultRegionText)} is not one of HPNS_REGIONS (${regions.join(', ')})`,
    );
  }
  const bool = (name: string) => {
    const text = setting(name);
    return text === undefined ? false : (parseBoolSetting(issues, name, text) ?? false);
  };
  const tokenText = setting('HPNS_ADMIN_TOKEN')?.trim();
  // The value is never echoed.
  const tokenProblem =
    tokenText === undefined
      ? undefined
      : tokenText.length < 16
        ? 'HPNS_ADMIN_TOKEN must be at least 16 characters'
        : !/^[\x21-\x7e]+$/.test(tokenText)
          ? 'HPNS_ADMIN_TOKEN must be printable ASCII without spaces'
          : undefined;
  if (tokenProblem !== undefined) issues.problems.push(tokenProblem);
  const httpsUrl = (name: string) => {
    const text = setting(name);
    if (text === undefined) return undefined;
    try {
      const url = new URL(text);
      if (url.protocol === 'https:') return text.replace(/\/+$/, '');
    } catch {
      // reported below
    }
    issues.problems.push(`${name} must be an https URL, got ${JSON.stringify(text)}`);
    return undefined;
  };
  const caFile = setting('HPNS_PROVIDER_CA_FILE');
  const caPem =
    caFile === undefined ? undefined : readConfigFile(files, issues, 'HPNS_PROVIDER_CA_FILE', caFile);
  if (caPem !== undefined && !caPem.includes('-----BEGIN CERTIFICATE-----')) {
    issues.problems.push(`HPNS_PROVIDER_CA_FILE ${JSON.stringify(caFile)} holds no PEM certificate`);
  }
  const hashText = setting('HPNS_TOKEN_HASH_KEY');
  let tokenHashKey: Secret<Buffer> | undefined;
  if (hashText !== undefined) {
    const bytes = Buffer.from(hashText.trim(), 'base64');
    if (bytes.length !== 32) issues.problems.push('HPNS_TOKEN_HASH_KEY must be exactly 32 bytes in base64');
    else tokenHashKey = new Secret(bytes);
  }
  return {
    tokenHashKey,
    providerEndpoints: {
      apnsUrl: httpsUrl('HPNS_APNS_URL'),
      fcmUrl: httpsUrl('HPNS_FCM_URL'),
      oauthTokenUrl: httpsUrl('HPNS_OAUTH_TOKEN_URL'),
      caPem,
    },
    ingress: {
      listeners,
      regionHosts,
      knownRegions,
      waitMs: int(env, files, issues, 'HPNS_WAIT_MS', 3000, 0, 60_000),
      testWaitMs: int(env, files, issues, 'HPNS_TEST_WAIT_MS', 15_000, 0, 60_000),
      tpnsRatePerSec: int(env, files, issues, 'HPNS_TPNS_RATE_PER_SEC', 10, 1, 1_000_000),
      tpnsCallerRatePerSec: int(env, files, issues, 'HPNS_TPNS_CALLER_RATE_PER_SEC', 10, 1, 1_000_000),
      tpnsLimitRegion: regions.includes(limitRegionText as Region) ? (limitRegionText as Region) : regions[0],
      clientAddressHeader: addressHeader?.toLowerCase(),
      clientAddressHops: int(env, files, issues, 'HPNS_CLIENT_ADDRESS_HOPS', 1, 1, 16),
      defaultRegion: regions.includes(defaultRegionText as Region)
        ? (defaultRegionText as Region)
        : undefined,
    },
    admin: {
      token: tokenText !== undefined && tokenProblem === undefined ? new Secret(tokenText) : undefined,
      allowUnauthenticated: bool('HPNS_ADMIN_ALLOW_UNAUTHENTICATED'),
    },
    deadLetters: { holdContent: bool('HPNS_DEAD_LETTER_HOLD_CONTENT') },
    worker: {
      region:
        workerRegionText !== undefined && regions.includes(workerRegionText as Region)
          ? (workerRegionText as Region)
          : undefined,
      concurrency: int(env, files, issues, 'HPNS_WORKER_CONCURRENCY', 100, 1, 10_000),
      retryBaseMs: int(env, files, issues, 'HPNS_WORKER_RETRY_BASE_MS', 1000, 1, 3_600_000),
      retryMaxMs: int(env, files, issues, 'HPNS_WORKER_RETRY_MAX_MS', 60_000, 1, 3_600_000),
      circuitOpenMs: int(env, files, issues, 'HPNS_WORKER_CIRCUIT_OPEN_MS', 5000, 1, 600_000),
    },
    pushTtlMs: int(env, files, issues, 'HPNS_PUSH_TTL_SEC', 3600, 1, 28 * 86_400) * 1000,
    sealedJobFormat: int(env, files, issues, 'HPNS_SEALED_JOB_FORMAT', 4, 2, 4) as 2 | 3 | 4,
    devMode: bool('HPNS_DEV_MODE'),
  };
}
