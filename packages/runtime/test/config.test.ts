import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { isHpnsError, type HpnsError } from '@hpns/protocol';
import {
  loadConfig,
  nodeConfigFiles,
  parseListenAddress,
  summarizeConfig,
  type ConfigFiles,
} from '@hpns/runtime';

// Keys are generated at test time (STYLE.md §16): no credential is committed.
const P8 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
  type: 'pkcs8',
  format: 'pem',
}) as string;
const RSA = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
  type: 'pkcs8',
  format: 'pem',
}) as string;
const CERT_PEM = `-----BEGIN CERTIFICATE-----\nMIIBfakecertificatebodyfortestsonly\n-----END CERTIFICATE-----\n${RSA}`;
const SERVICE_ACCOUNT = JSON.stringify({
  type: 'service_account',
  project_id: 'hpns-test',
  client_email: 'push@hpns-test.iam.gserviceaccount.com',
  private_key: RSA,
});
const PAYLOAD_KEY = Buffer.alloc(32, 7).toString('base64');
const CERT_PASSWORD = 'cert-password-not-for-logs';

/** The sample file of the Go proxy's repository, every key of reference §4. */
const SAMPLE = {
  ListenAddress: ':8066',
  ThrottlePerSec: 300,
  ThrottleMemoryStoreSize: 50000,
  ThrottleVaryByHeader: 'X-Forwarded-For',
  EnableMetrics: false,
  SendTimeoutSec: 30,
  RetryTimeoutSec: 8,
  ApplePushSettings: [
    {
      Type: 'apple',
      ApplePushUseDevelopment: false,
      ApplePushCertPrivate: '/certs/apple.pem',
      ApplePushCertPassword: CERT_PASSWORD,
      ApplePushTopic: 'com.mattermost.Mattermost',
      AppleAuthKeyFile: '',
      AppleAuthKeyID: '',
      AppleTeamID: '',
    },
    {
      Type: 'apple_rn',
      ApplePushUseDevelopment: true,
      ApplePushCertPrivate: '',
      ApplePushCertPassword: '',
      ApplePushTopic: 'com.mattermost.react.native',
      AppleAuthKeyFile: '/certs/AuthKey_ABC123DEFG.p8',
      AppleAuthKeyID: 'ABC123DEFG',
      AppleTeamID: 'TEAM123456',
    },
  ],
  AndroidPushSettings: [
    { Type: 'android', AndroidApiKey: '', ServiceFileLocation: '/certs/android.json' },
    { Type: 'android_rn', AndroidApiKey: '', ServiceFileLocation: '/certs/android.json' },
  ],
  EnableConsoleLog: true,
  EnableFileLog: false,
  LogFileLocation: '',
  LogFormat: 'plain',
};

function memoryFiles(entries: Record<string, string>): ConfigFiles {
  return {
    readText(path) {
      const text = entries[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return text;
    },
  };
}

const CERTS = {
  '/certs/apple.pem': CERT_PEM,
  '/certs/AuthKey_ABC123DEFG.p8': P8,
  '/certs/android.json': SERVICE_ACCOUNT,
};

function load(file: unknown, env: Record<string, string> = {}, extra: Record<string, string> = {}) {
  const text = typeof file === 'string' ? file : JSON.stringify(file);
  return loadConfig(
    { HPNS_CONFIG_FILE: '/etc/hpns/push.json', HPNS_PAYLOAD_KEYS: `k0:${PAYLOAD_KEY}`, ...env },
    memoryFiles({ '/etc/hpns/push.json': text, ...CERTS, ...extra }),
  );
}

function loadError(
  file: unknown,
  env: Record<string, string> = {},
  extra: Record<string, string> = {},
): HpnsError {
  try {
    load(file, env, extra);
  } catch (error) {
    if (isHpnsError(error, 'HPNS_CONFIG_INVALID')) return error;
    throw error;
  }
  throw new Error('loadConfig did not fail');
}

const problemsOf = (error: HpnsError) => error.details?.['problems'] as string[];

describe('loadConfig', () => {
  it('accepts the push proxy sample file as it is', () => {
    const { config, warnings } = load(SAMPLE);
    expect(config.listenAddress).toBe(':8066');
    expect(config.sendTimeoutMs).toBe(30_000);
    expect(config.retryTimeoutMs).toBe(8_000);
    expect(config.throttle).toEqual({
      enabled: true,
      perSec: 300,
      memoryStoreSize: 50000,
      varyByHeaders: ['X-Forwarded-For'],
    });
    expect(config.enableMetrics).toBe(false);
    expect(config.log).toEqual({ level: 'info', format: 'plain' });
    expect(config.regions).toEqual(['us']);
    expect(config.redis['us']?.displayUrl).toBe('redis://127.0.0.1:6379');
    expect(config.apple.map((t) => [t.type, t.topic, t.useDevelopment, t.auth.kind])).toEqual([
      ['apple', 'com.mattermost.Mattermost', false, 'certificate'],
      ['apple_rn', 'com.mattermost.react.native', true, 'token'],
    ]);
    const token = config.apple[1]?.auth;
    expect(token?.kind === 'token' && token.keyPem.reveal()).toBe(P8);
    const cert = config.apple[0]?.auth;
    expect(cert?.kind === 'certificate' && cert.password.reveal()).toBe(CERT_PASSWORD);
    expect(config.android.map((t) => [t.type, t.projectId, t.tokenUri])).toEqual([
      ['android', 'hpns-test', 'https://oauth2.googleapis.com/token'],
      ['android_rn', 'hpns-test', 'https://oauth2.googleapis.com/token'],
    ]);
    expect(warnings).toEqual([]);
  });

  it('matches keys case-insensitively, as Go encoding/json does', () => {
    const { config } = load({
      listenaddress: ':9000',
      SENDTIMEOUTSEC: 12,
      applepushsettings: [
        {
          type: 'apple_rn',
          applepushtopic: 'com.x',
          appleauthkeyfile: '/certs/AuthKey_ABC123DEFG.p8',
          appleauthkeyid: 'ABC123DEFG',
          appleteamid: 'TEAM123456',
        },
      ],
    });
    expect(config.listenAddress).toBe(':9000');
    expect(config.sendTimeoutMs).toBe(12_000);
    expect(config.apple[0]?.topic).toBe('com.x');
  });

  it('warns about unknown keys and environment variables without failing', () => {
    const { warnings } = load(
      {
        ...SAMPLE,
        Colour: 'blue',
        AndroidPushSettings: [{ Type: 'android', ServiceFileLocation: '/certs/android.json', Extra: 1 }],
      },
      { HPNS_LISTEN_ADRESS: ':1' },
    );
    expect(warnings).toEqual([
      'unknown environment variable HPNS_LISTEN_ADRESS ignored',
      '/etc/hpns/push.json: AndroidPushSettings[0]: unknown key "Extra" ignored',
      '/etc/hpns/push.json: unknown key "Colour" ignored',
    ]);
  });

  it('applies the proxy defaults for zero and null values, and clamps the retry timeout', () => {
    const { config } = load({
      ListenAddress: null,
      SendTimeoutSec: 0,
      RetryTimeoutSec: 0,
      ThrottlePerSec: 0,
    });
    expect(config.listenAddress).toBe(':8086');
    expect(config.sendTimeoutMs).toBe(30_000);
    expect(config.retryTimeoutMs).toBe(8_000);
    expect(config.throttle.perSec).toBe(1);
    expect(load({ SendTimeoutSec: 5, RetryTimeoutSec: 20 }).config.retryTimeoutMs).toBe(5_000);
  });

  it('lets environment variables override the file and add HPNS settings', () => {
    const { config } = load(SAMPLE, {
      HPNS_LISTEN_ADDRESS: '0.0.0.0:8443',
      HPNS_SEND_TIMEOUT_SEC: '20',
      HPNS_ENABLE_METRICS: 'true',
      HPNS_ADMIN_TOKEN: 'a-long-enough-admin-token',
      HPNS_LOG_LEVEL: 'DEBUG',
      HPNS_REGIONS: 'us,de',
      HPNS_REDIS_URL_US: 'redis://127.0.0.1:7001',
      HPNS_REDIS_URL_DE: 'rediss://:s3cret@redis-de.internal:6380',
      HPNS_SHUTDOWN_TIMEOUT_MS: '2500',
      HPNS_PAYLOAD_KEYS: `k1:${PAYLOAD_KEY},k2:${Buffer.alloc(32, 9).toString('base64')}`,
    });
    expect(config.listenAddress).toBe('0.0.0.0:8443');
    expect(config.sendTimeoutMs).toBe(20_000);
    expect(config.enableMetrics).toBe(true);
    expect(config.log.level).toBe('debug');
    expect(config.regions).toEqual(['us', 'de']);
    expect(config.redis['de']?.displayUrl).toBe('rediss://:***@redis-de.internal:6380');
    expect(config.redis['de']?.url.reveal()).toBe('rediss://:s3cret@redis-de.internal:6380');
    expect(config.shutdownTimeoutMs).toBe(2500);
    expect(config.payloadKeys.map((k) => k.id)).toEqual(['k1', 'k2']);
    expect(config.currentPayloadKeyId).toBe('k2');
  });

  it('loads the targets without their credentials for a process that calls no provider (the ingress)', () => {
    const env = { HPNS_CONFIG_FILE: '/etc/hpns/push.json', HPNS_PAYLOAD_KEYS: `k0:${PAYLOAD_KEY}` };
    // Only the proxy config file exists: no key, certificate or service-account file.
    const files = memoryFiles({ '/etc/hpns/push.json': JSON.stringify(SAMPLE) });
    const { config } = loadConfig(env, files, { credentials: false });
    expect(config.targets).toEqual([
      { type: 'apple', provider: 'apns' },
      { type: 'apple_rn', provider: 'apns' },
      { type: 'android', provider: 'fcm' },
      { type: 'android_rn', provider: 'fcm' },
    ]);
    expect(config.apple).toEqual([]);
    expect(config.android).toEqual([]);
    expect(summarizeConfig(config)['targets']).toEqual([
      'apple:apns',
      'apple_rn:apns',
      'android:fcm',
      'android_rn:fcm',
    ]);
    // With credentials (a worker), the same files are missing.
    expect(() => loadConfig(env, files)).toThrow(
      /AppleAuthKeyFile: cannot read "\/certs\/AuthKey_ABC123DEFG.p8" \(no such file\)/,
    );
    // The same targets either way, when the files are there.
    expect(load(SAMPLE).config.targets).toEqual(config.targets);
    // The entries themselves are still checked: a type twice, no topic, no credentials named at all.
    const broken = {
      ApplePushSettings: [
        { ...SAMPLE.ApplePushSettings[1], ApplePushTopic: '' },
        { ...SAMPLE.ApplePushSettings[1], AppleAuthKeyFile: '', Type: 'apple_x' },
      ],
      AndroidPushSettings: [SAMPLE.AndroidPushSettings[0], SAMPLE.AndroidPushSettings[0]],
    };
    let problems: string[] = [];
    try {
      loadConfig(env, memoryFiles({ '/etc/hpns/push.json': JSON.stringify(broken) }), { credentials: false });
    } catch (error) {
      problems = problemsOf(error as HpnsError);
    }
    expect(problems).toEqual([
      "ApplePushSettings[0]: ApplePushTopic (the app's bundle id) is required",
      'ApplePushSettings[1]: needs AppleAuthKeyFile with AppleAuthKeyID and AppleTeamID (token auth) or ApplePushCertPrivate (certificate auth)',
      'AndroidPushSettings[1]: Type "android" is configured more than once',
    ]);
  });

  it('reads the format the ingress writes: 4 (envelopes) by default, 3 or 2 for a rolling upgrade', () => {
    expect(load({}).config.sealedJobFormat).toBe(4);
    expect(load({}, { HPNS_SEALED_JOB_FORMAT: '3' }).config.sealedJobFormat).toBe(3);
    expect(load({}, { HPNS_SEALED_JOB_FORMAT: '2' }).config.sealedJobFormat).toBe(2);
    for (const bad of ['1', '5']) {
      expect(problemsOf(loadError({}, { HPNS_SEALED_JOB_FORMAT: bad }))).toEqual([
        expect.stringContaining('HPNS_SEALED_JOB_FORMAT'),
      ]);
    }
  });

  it('reads the worker’s retry and circuit timing, and refuses values out of range', () => {
    const { config } = load(
      {},
      { HPNS_WORKER_RETRY_BASE_MS: '10', HPNS_WORKER_RETRY_MAX_MS: '100', HPNS_WORKER_CIRCUIT_OPEN_MS: '50' },
    );
    expect(config.worker).toMatchObject({ retryBaseMs: 10, retryMaxMs: 100, circuitOpenMs: 50 });
    expect(
      problemsOf(loadError({}, { HPNS_WORKER_RETRY_MAX_MS: '0', HPNS_WORKER_CIRCUIT_OPEN_MS: 'x' })),
    ).toEqual([
      expect.stringContaining('HPNS_WORKER_RETRY_MAX_MS'),
      expect.stringContaining('HPNS_WORKER_CIRCUIT_OPEN_MS'),
    ]);
  });

  it('trusts the CA of HPNS_REDIS_CA_FILE for rediss: URLs only, and checks the file', () => {
    const { config } = load(
      {},
      {
        HPNS_REGIONS: 'us,de',
        HPNS_REDIS_URL_US: 'redis://127.0.0.1:7001',
        HPNS_REDIS_URL_DE: 'rediss://redis-de.internal:6380',
        HPNS_REDIS_CA_FILE: '/certs/apple.pem',
      },
    );
    expect(config.redis['de']?.caPem).toContain('-----BEGIN CERTIFICATE-----');
    expect(config.redis['us']?.caPem).toBeUndefined();
    // Set, but no rediss: URL to use it for: a warning, not an error.
    expect(load({}, { HPNS_REDIS_CA_FILE: '/certs/apple.pem' }).warnings).toContain(
      'HPNS_REDIS_CA_FILE is set but no Redis URL is rediss: (TLS); it is not used',
    );
    expect(problemsOf(loadError({}, { HPNS_REDIS_CA_FILE: '/etc/hpns/push.json' }))).toEqual([
      'HPNS_REDIS_CA_FILE "/etc/hpns/push.json" holds no PEM certificate',
    ]);
    expect(problemsOf(loadError({}, { HPNS_REDIS_CA_FILE: '/certs/missing.pem' }))).toEqual([
      expect.stringContaining('HPNS_REDIS_CA_FILE'),
    ]);
  });

  it('reads secrets from *_FILE variables and refuses both forms at once', () => {
    const files = { '/run/secrets/keys': `k1:${PAYLOAD_KEY}\n`, '/run/secrets/pw': `${CERT_PASSWORD}-env\n` };
    const { config } = load(
      SAMPLE,
      {
        HPNS_PAYLOAD_KEYS: '',
        HPNS_PAYLOAD_KEYS_FILE: '/run/secrets/keys',
        HPNS_APPLE_CERT_PASSWORD_APPLE_FILE: '/run/secrets/pw',
      },
      files,
    );
    expect(config.payloadKeys[0]?.key.reveal().equals(Buffer.alloc(32, 7))).toBe(true);
    const cert = config.apple[0]?.auth;
    expect(cert?.kind === 'certificate' && cert.password.reveal()).toBe(`${CERT_PASSWORD}-env`);
    const error = loadError(
      SAMPLE,
      { HPNS_PAYLOAD_KEYS: `k1:${PAYLOAD_KEY}`, HPNS_PAYLOAD_KEYS_FILE: '/run/secrets/keys' },
      files,
    );
    expect(problemsOf(error)).toEqual([
      'HPNS_PAYLOAD_KEYS and HPNS_PAYLOAD_KEYS_FILE are both set; set only one',
    ]);
    expect(
      problemsOf(loadError(SAMPLE, { HPNS_PAYLOAD_KEYS: '', HPNS_PAYLOAD_KEYS_FILE: '/run/secrets/none' })),
    ).toEqual(['HPNS_PAYLOAD_KEYS_FILE: cannot read "/run/secrets/none" (no such file)']);
  });

  it('reports every problem at once', () => {
    const error = loadError(
      {
        ListenAddress: 8066,
        SendTimeoutSec: '30',
        EnableMetrics: 'yes',
        ApplePushSettings: [
          {
            Type: 'apple_rn',
            ApplePushTopic: '',
            AppleAuthKeyFile: '/certs/missing.p8',
            AppleAuthKeyID: 'short',
            AppleTeamID: 'TEAM123456',
          },
          { Type: 'apple_rn', ApplePushTopic: 'com.y' },
        ],
        AndroidPushSettings: [{ Type: 'android_rn', ServiceFileLocation: '' }, 'oops'],
      },
      {
        HPNS_REGIONS: 'us,EU',
        HPNS_LOG_LEVEL: 'loud',
        HPNS_SHUTDOWN_TIMEOUT_MS: 'soon',
        HPNS_PAYLOAD_KEYS: 'k1:c2hvcnQ=',
      },
    );
    expect(error.code).toBe('HPNS_CONFIG_INVALID');
    expect(problemsOf(error)).toEqual([
      '/etc/hpns/push.json: AndroidPushSettings[1] must be an object, got a string',
      '/etc/hpns/push.json: ListenAddress must be of type string, got number',
      '/etc/hpns/push.json: SendTimeoutSec must be of type int, got string',
      '/etc/hpns/push.json: EnableMetrics must be true or false, got string',
      'HPNS_REGIONS: "EU" is not a region name (lower-case letters and digits, 2-16 characters)',
      "ApplePushSettings[0]: ApplePushTopic (the app's bundle id) is required",
      'ApplePushSettings[0]: AppleAuthKeyID must be the 10-character key id, got "short"',
      'ApplePushSettings[0]: AppleAuthKeyFile: cannot read "/certs/missing.p8" (no such file)',
      'ApplePushSettings[1]: Type "apple_rn" is configured more than once',
      'HPNS_LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, got "loud"',
      'HPNS_SHUTDOWN_TIMEOUT_MS must be a whole number, got "soon"',
      'HPNS_PAYLOAD_KEYS: key k1 must be exactly 32 bytes in base64',
    ]);
    expect(error.message).toMatch(/^configuration has 12 problems:\n {2}- /);
  });

  it('never prints a secret: not in errors, the summary, JSON or inspect', () => {
    const env = {
      HPNS_REDIS_URL: 'redis://:redis-pass-xyz@127.0.0.1:6379',
      HPNS_PAYLOAD_KEYS: `k1:${PAYLOAD_KEY}`,
    };
    const { config } = load(SAMPLE, env);
    const secrets = [
      CERT_PASSWORD,
      'redis-pass-xyz',
      PAYLOAD_KEY,
      P8.split('\n')[1] as string,
      RSA.split('\n')[1] as string,
    ];
    const printed = [
      JSON.stringify(summarizeConfig(config)),
      JSON.stringify(config),
      inspect(config, { depth: 10 }),
    ];
    for (const text of printed) for (const secret of secrets) expect(text).not.toContain(secret);
    expect(summarizeConfig(config)['redis']).toEqual({ us: 'redis://:***@127.0.0.1:6379' });

    // A file that is not JSON is reported without echoing it (the Go proxy prints the whole file).
    const broken = `{"ApplePushSettings":[{"ApplePushCertPassword":"${CERT_PASSWORD}"}],}`;
    const error = loadError(broken);
    expect(problemsOf(error)).toEqual([
      "/etc/hpns/push.json: not valid JSON (invalid character '}' looking for beginning of object key string)",
    ]);
    const badAccount = loadError(SAMPLE, {}, { '/certs/android.json': `{"private_key": "${CERT_PASSWORD}"` });
    const badUrl = loadError(SAMPLE, { HPNS_REDIS_URL: `redis://:${CERT_PASSWORD}@[bad` });
    for (const e of [error, badAccount, badUrl])
      expect(`${e.message} ${JSON.stringify(e.details)}`).not.toContain(CERT_PASSWORD);
  });

  it('reads the ingress and worker settings, and refuses to run without a payload key outside dev mode', () => {
    const { config } = load(SAMPLE, {
      HPNS_REGIONS: 'us,de',
      HPNS_REDIS_URL_US: 'redis://127.0.0.1:1',
      HPNS_REDIS_URL_DE: 'redis://127.0.0.1:2',
      HPNS_LISTEN_MODE: 'hpns',
      HPNS_EXTRA_LISTENERS: 'tpns@127.0.0.1:8087, open@:8088',
      HPNS_REGION_HOSTS: 'push.example=us, hpns-de.push.example=de, Global.Push.Example=global',
      HPNS_WAIT_MS: '2000',
      HPNS_PUSH_TTL_SEC: '600',
      HPNS_WORKER_REGION: 'de',
      HPNS_WORKER_CONCURRENCY: '250',
    });
    expect(config.ingress).toEqual({
      listeners: [
        { address: ':8066', mode: 'hpns' },
        { address: '127.0.0.1:8087', mode: 'tpns' },
        { address: ':8088', mode: 'open' },
      ],
      regionHosts: { 'push.example': 'us', 'hpns-de.push.example': 'de', 'global.push.example': 'global' },
      knownRegions: ['us', 'de'],
      waitMs: 2000,
      testWaitMs: 15_000,
      tpnsRatePerSec: 10,
      tpnsCallerRatePerSec: 10,
      tpnsLimitRegion: 'us',
      clientAddressHeader: undefined,
      clientAddressHops: 1,
    });
    expect(config.worker).toEqual({
      region: 'de',
      concurrency: 250,
      retryBaseMs: 1000,
      retryMaxMs: 60_000,
      circuitOpenMs: 5000,
    });
    expect(config.providerEndpoints).toEqual({
      apnsUrl: undefined,
      fcmUrl: undefined,
      oauthTokenUrl: undefined,
      caPem: undefined,
    });
    const sim = load(
      {},
      {
        HPNS_APNS_URL: 'https://127.0.0.1:8443/',
        HPNS_FCM_URL: 'https://127.0.0.1:8444',
        HPNS_OAUTH_TOKEN_URL: 'https://127.0.0.1:8445/token',
        HPNS_PROVIDER_CA_FILE: '/certs/apple.pem',
      },
    ).config.providerEndpoints;
    expect(sim).toMatchObject({
      apnsUrl: 'https://127.0.0.1:8443',
      fcmUrl: 'https://127.0.0.1:8444',
      oauthTokenUrl: 'https://127.0.0.1:8445/token',
    });
    expect(sim.caPem).toContain('BEGIN CERTIFICATE');
    expect(problemsOf(loadError({}, { HPNS_APNS_URL: 'http://apns' }))).toEqual([
      'HPNS_APNS_URL must be an https URL, got "http://apns"',
    ]);
    expect(config.pushTtlMs).toBe(600_000);
    expect(config.devMode).toBe(false);
    expect(config.tokenHashKey).toBeUndefined();
    expect(
      load({}, { HPNS_TOKEN_HASH_KEY: PAYLOAD_KEY })
        .config.tokenHashKey?.reveal()
        .equals(Buffer.alloc(32, 7)),
    ).toBe(true);
    expect(problemsOf(loadError({}, { HPNS_TOKEN_HASH_KEY: 'c2hvcnQ=' }))).toEqual([
      'HPNS_TOKEN_HASH_KEY must be exactly 32 bytes in base64',
    ]);
    expect(problemsOf(loadError({}, { HPNS_PAYLOAD_KEYS: '' }))).toEqual([
      'HPNS_PAYLOAD_KEYS is required (or HPNS_DEV_MODE=true for a generated development key)',
    ]);
    expect(
      problemsOf(
        loadError(
          {},
          {
            HPNS_LISTEN_MODE: 'paid',
            HPNS_EXTRA_LISTENERS: 'open',
            HPNS_REGION_HOSTS: 'x',
            HPNS_WORKER_REGION: 'eu',
            HPNS_TLS_CERT_FILE: '/c',
          },
        ),
      ),
    ).toEqual([
      'HPNS_TLS_CERT_FILE and HPNS_TLS_KEY_FILE must be set together',
      'HPNS_LISTEN_MODE: listener mode must be one of open, tpns, hpns, got "paid"',
      'HPNS_EXTRA_LISTENERS: entry "open" must be "<mode>@<host:port>"',
      'HPNS_REGION_HOSTS: entry "x" must be "<host>=<region or global>"',
      'HPNS_WORKER_REGION: "eu" is not one of HPNS_REGIONS (us)',
    ]);
  });

  it('reads the free tier’s limits and the trusted client-address header, and checks them', () => {
    const twoRegions = {
      HPNS_REGIONS: 'us,de',
      HPNS_REDIS_URL_US: 'redis://127.0.0.1:1',
      HPNS_REDIS_URL_DE: 'redis://127.0.0.1:2',
    };
    const { config, warnings } = load(SAMPLE, {
      ...twoRegions,
      HPNS_TPNS_CALLER_RATE_PER_SEC: '25',
      HPNS_TPNS_LIMIT_REGION: 'de',
      HPNS_CLIENT_ADDRESS_HEADER: 'X-Forwarded-For',
      HPNS_CLIENT_ADDRESS_HOPS: '2',
    });
    expect(config.ingress).toMatchObject({
      tpnsCallerRatePerSec: 25,
      tpnsLimitRegion: 'de',
      clientAddressHeader: 'x-forwarded-for',
      clientAddressHops: 2,
    });
    expect(warnings).toEqual([]);
    expect(load(SAMPLE, { HPNS_CLIENT_ADDRESS_HOPS: '2' }).warnings).toEqual([
      'HPNS_CLIENT_ADDRESS_HOPS is ignored: HPNS_CLIENT_ADDRESS_HEADER is not set',
    ]);
    expect(
      problemsOf(
        loadError(
          {},
          {
            ...twoRegions,
            HPNS_TPNS_LIMIT_REGION: 'eu',
            HPNS_CLIENT_ADDRESS_HEADER: 'X Forwarded For',
            HPNS_CLIENT_ADDRESS_HOPS: '0',
            HPNS_TPNS_CALLER_RATE_PER_SEC: '0',
          },
        ),
      ),
    ).toEqual([
      'HPNS_TPNS_LIMIT_REGION: "eu" is not one of HPNS_REGIONS (us, de)',
      'HPNS_CLIENT_ADDRESS_HEADER: "X Forwarded For" is not an HTTP header name',
      expect.stringContaining('HPNS_TPNS_CALLER_RATE_PER_SEC'),
      expect.stringContaining('HPNS_CLIENT_ADDRESS_HOPS'),
    ]);
  });

  it('requires one Redis per region when there are several', () => {
    expect(
      problemsOf(loadError({}, { HPNS_REGIONS: 'us,de', HPNS_REDIS_URL: 'redis://127.0.0.1:1' })),
    ).toEqual([
      'HPNS_REDIS_URL is for single-region setups; set HPNS_REDIS_URL_<REGION> for each region',
      'HPNS_REDIS_URL_US is required: every region has its own Redis',
      'HPNS_REDIS_URL_DE is required: every region has its own Redis',
    ]);
    const { warnings } = load({}, { HPNS_REDIS_URL: 'redis://redis.example.internal:6379' });
    expect(warnings).toContain(
      'HPNS_REDIS_URL_US: plain redis: to redis.example.internal; use rediss: (TLS) off the local host',
    );
  });

  it('reads a comma-separated seed list as a Redis Cluster, with per-region shards', () => {
    const { config, warnings } = load(
      {},
      {
        HPNS_REGIONS: 'us,de',
        HPNS_REDIS_URL_US:
          'rediss://:pw@10.0.0.1:6379, rediss://:pw@10.0.0.2:6379,rediss://:pw@10.0.0.3:6379',
        HPNS_REDIS_URL_DE: 'rediss://:pw@clustercfg.de.internal:6379',
        HPNS_REDIS_CLUSTER_DE: 'true',
        HPNS_QUEUE_SHARDS: '6',
        HPNS_QUEUE_SHARDS_DE: '3',
        HPNS_REDIS_WAIT_REPLICAS: '1',
      },
    );
    // TLS everywhere: no warning about Redis.
    expect(warnings.filter((w) => /redis|shard/i.test(w))).toEqual([]);
    expect(config.redis['us']).toMatchObject({
      cluster: true,
      shards: 6,
      displayUrl: 'rediss://:***@10.0.0.1:6379,rediss://:***@10.0.0.2:6379,rediss://:***@10.0.0.3:6379',
    });
    expect(config.redis['us']?.url.reveal()).toBe(
      'rediss://:pw@10.0.0.1:6379,rediss://:pw@10.0.0.2:6379,rediss://:pw@10.0.0.3:6379',
    );
    expect(config.redis['de']).toMatchObject({ cluster: true, shards: 3, waitReplicas: 1 });
    // The default: one Redis, one shard, no wait for replicas.
    expect(load({}, {}).config.redis['us']).toMatchObject({ cluster: false, shards: 1, waitReplicas: 0 });
    expect(problemsOf(loadError({}, { HPNS_REDIS_WAIT_REPLICAS: '9' }))).toEqual([
      'HPNS_REDIS_WAIT_REPLICAS must be between 0 and 5, got 9',
    ]);
  });

  it('refuses malformed seed lists and shard counts without echoing a password', () => {
    const problems = problemsOf(
      loadError(
        {},
        {
          HPNS_REGIONS: 'us,de,jp',
          HPNS_REDIS_URL_US: 'rediss://:pw@10.0.0.1:6379,redis://:pw@10.0.0.2:6379',
          HPNS_REDIS_URL_DE: 'rediss://:pw@a:1,rediss://:other@b:1',
          HPNS_REDIS_CLUSTER_DE: 'maybe',
          HPNS_REDIS_URL_JP: 'rediss://:pw@a:1,rediss://:pw@b:1',
          HPNS_REDIS_CLUSTER_JP: 'false',
          HPNS_QUEUE_SHARDS_JP: '257',
          HPNS_QUEUE_SHARDS: '0',
        },
      ),
    );
    expect(problems).toEqual([
      'HPNS_QUEUE_SHARDS must be between 1 and 256, got 0',
      'HPNS_REDIS_URL_US: seed 2 differs from the first in scheme or credentials; a cluster has one of each',
      'HPNS_REDIS_CLUSTER_DE must be true or false, got "maybe"',
      'HPNS_REDIS_URL_DE: seed 2 differs from the first in scheme or credentials; a cluster has one of each',
      'HPNS_QUEUE_SHARDS_JP must be between 1 and 256, got 257',
      'HPNS_REDIS_URL_JP: several URLs name a cluster, but the setting says it is not one',
    ]);
    expect(problems.join('\n')).not.toContain('pw');
    expect(problemsOf(loadError({}, { HPNS_REDIS_URL: 'rediss://a:1,,nonsense' }))).toEqual([
      'HPNS_REDIS_URL_US: seed 2 is not a valid URL',
    ]);
    // A cluster has only database 0, a lone configuration endpoint too.
    expect(
      problemsOf(loadError({}, { HPNS_REDIS_URL: 'rediss://a:1/2', HPNS_REDIS_CLUSTER_US: 'true' })),
    ).toEqual(['HPNS_REDIS_URL_US: seed 1 names a database; a cluster has only database 0']);
    // Shards on a single Redis are allowed (a rehearsal of a layout) but spread nothing: a warning says so.
    expect(load({}, { HPNS_QUEUE_SHARDS: '4' }).warnings).toContain(
      'region us: 4 queue shards on a single Redis spread no load; shards pay off on a cluster',
    );
  });

  it('validates service-account files and warns about the deprecated AndroidApiKey', () => {
    const account = JSON.stringify({ type: 'service_account', project_id: 'p' });
    const error = loadError(
      { AndroidPushSettings: [{ Type: 'android', ServiceFileLocation: '/certs/bad.json' }] },
      {},
      { '/certs/bad.json': account },
    );
    expect(problemsOf(error)).toEqual([
      'AndroidPushSettings[0]: service account file "/certs/bad.json" lacks client_email, private_key',
    ]);
    const { warnings } = load({
      AndroidPushSettings: [
        { Type: 'android', ServiceFileLocation: '/certs/android.json', AndroidApiKey: 'AIza' },
      ],
    });
    expect(warnings).toEqual([
      'AndroidPushSettings[0]: AndroidApiKey is deprecated and ignored (FCM v1 uses the service account)',
    ]);
  });

  it('runs without a config file, from defaults and the environment alone', () => {
    const { config, warnings } = loadConfig({ HPNS_DEV_MODE: 'true' }, memoryFiles({}));
    expect(config.listenAddress).toBe(':8086');
    expect(config.adminListenAddress).toBe('127.0.0.1:9464');
    expect(config.apple).toEqual([]);
    expect(warnings).toEqual([
      'no ApplePushSettings or AndroidPushSettings: every send_push will fail as unknown platform',
    ]);
    expect(
      problemsOf(loadError({}, { HPNS_LISTEN_ADDRESS: 'localhost', HPNS_ADMIN_LISTEN_ADDRESS: ':70000' })),
    ).toEqual([
      'listen address (ListenAddress / HPNS_LISTEN_ADDRESS) must be "host:port" or ":port" with a port from 0 to 65535, got "localhost"',
      'HPNS_ADMIN_LISTEN_ADDRESS must be "host:port" or ":port" with a port from 0 to 65535, got ":70000"',
    ]);
  });

  it('reads real files through nodeConfigFiles', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpns-config-'));
    try {
      writeFileSync(join(dir, 'key.p8'), P8);
      writeFileSync(
        join(dir, 'push.json'),
        `\ufeff${JSON.stringify({ ApplePushSettings: [{ Type: 'apple_rn', ApplePushTopic: 'com.x', AppleAuthKeyFile: join(dir, 'key.p8'), AppleAuthKeyID: 'ABC123DEFG', AppleTeamID: 'TEAM123456' }] })}`,
      );
      const { config } = loadConfig(
        { HPNS_CONFIG_FILE: join(dir, 'push.json'), HPNS_DEV_MODE: '1' },
        nodeConfigFiles,
      );
      expect(config.apple[0]?.auth.kind).toBe('token');
      expect(() => loadConfig({ HPNS_CONFIG_FILE: join(dir, 'absent.json') }, nodeConfigFiles)).toThrow(
        /HPNS_CONFIG_FILE: cannot read ".*absent\.json" \(no such file\)/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('parseListenAddress', () => {
  it('splits host and port, and binds all interfaces when the host is empty', () => {
    expect(parseListenAddress(':8086')).toEqual({ host: '0.0.0.0', port: 8086 });
    expect(parseListenAddress('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListenAddress('[::1]:80')).toEqual({ host: '::1', port: 80 });
  });

  it('reads HPNS_DEFAULT_REGION, one of HPNS_REGIONS', () => {
    const env = {
      HPNS_REGIONS: 'us,de',
      HPNS_REDIS_URL_US: 'redis://a:6379',
      HPNS_REDIS_URL_DE: 'redis://b:6379',
    };
    expect(load(SAMPLE, env).config.ingress.defaultRegion).toBeUndefined();
    expect(load(SAMPLE, { ...env, HPNS_DEFAULT_REGION: 'de' }).config.ingress.defaultRegion).toBe('de');
    expect(problemsOf(loadError(SAMPLE, { ...env, HPNS_DEFAULT_REGION: 'eu' }))).toEqual([
      'HPNS_DEFAULT_REGION: "eu" is not one of HPNS_REGIONS (us, de)',
    ]);
  });

  it('refuses a non-loopback admin address without a token, unless explicitly allowed', () => {
    for (const address of ['0.0.0.0:9464', ':9464', '10.0.0.7:9464', '[::]:9464']) {
      expect(problemsOf(loadError(SAMPLE, { HPNS_ADMIN_LISTEN_ADDRESS: address }))).toEqual([
        expect.stringContaining(`HPNS_ADMIN_LISTEN_ADDRESS ${address} is not a loopback address`),
      ]);
    }
    for (const address of ['127.0.0.1:9464', 'localhost:9464', '[::1]:9464', '127.0.0.2:1'])
      expect(load(SAMPLE, { HPNS_ADMIN_LISTEN_ADDRESS: address }).config.admin.token).toBeUndefined();
    const allowed = load(SAMPLE, {
      HPNS_ADMIN_LISTEN_ADDRESS: '0.0.0.0:9464',
      HPNS_ADMIN_ALLOW_UNAUTHENTICATED: 'true',
    });
    expect(allowed.config.admin).toEqual({ token: undefined, allowUnauthenticated: true });
  });

  it('reads the admin token from HPNS_ADMIN_TOKEN_FILE, never prints it, and refuses a short one', () => {
    const { config } = load(
      SAMPLE,
      { HPNS_ADMIN_LISTEN_ADDRESS: '0.0.0.0:9464', HPNS_ADMIN_TOKEN_FILE: '/run/secrets/admin-token' },
      { '/run/secrets/admin-token': 'tok-0123456789abcdef-xyz\n' },
    );
    expect(config.admin.token?.reveal()).toBe('tok-0123456789abcdef-xyz');
    expect(JSON.stringify(config)).not.toContain('tok-0123456789abcdef-xyz');
    const short = loadError(SAMPLE, { HPNS_ADMIN_TOKEN: 'short' });
    expect(problemsOf(short)).toEqual(['HPNS_ADMIN_TOKEN must be at least 16 characters']);
    expect(problemsOf(loadError(SAMPLE, { HPNS_ADMIN_TOKEN: 'has spaces in the admin token' }))).toEqual([
      'HPNS_ADMIN_TOKEN must be printable ASCII without spaces',
    ]);
  });

  it('refuses EnableMetrics without an admin token (the API listener is open to callers)', () => {
    expect(problemsOf(loadError({ ...SAMPLE, EnableMetrics: true }))).toEqual([
      expect.stringContaining('EnableMetrics (HPNS_ENABLE_METRICS) serves /metrics on the API listener'),
    ]);
    expect(
      load({ ...SAMPLE, EnableMetrics: true }, { HPNS_ADMIN_TOKEN: '0123456789abcdef0123' }).config
        .enableMetrics,
    ).toBe(true);
  });

  it('holds dead-lettered content only when HPNS_DEAD_LETTER_HOLD_CONTENT says so', () => {
    expect(load(SAMPLE).config.deadLetters.holdContent).toBe(false);
    expect(load(SAMPLE, { HPNS_DEAD_LETTER_HOLD_CONTENT: 'true' }).config.deadLetters.holdContent).toBe(true);
    expect(problemsOf(loadError(SAMPLE, { HPNS_DEAD_LETTER_HOLD_CONTENT: 'maybe' }))).toEqual([
      'HPNS_DEAD_LETTER_HOLD_CONTENT must be true or false, got "maybe"',
    ]);
  });

  it('turns the throttle on only for ThrottlePerSec above 0, bounds its store, and checks the header names', () => {
    const off = load({ ...SAMPLE, ThrottlePerSec: 0 }).config.throttle;
    expect(off).toMatchObject({ enabled: false, perSec: 1 });
    const bounded = load({ ...SAMPLE, ThrottleMemoryStoreSize: 0 });
    expect(bounded.config.throttle).toMatchObject({ enabled: true, perSec: 300, memoryStoreSize: 50_000 });
    expect(bounded.warnings).toContain(
      'ThrottleMemoryStoreSize 0 (unbounded in the Go proxy) is bounded at 50000 callers',
    );
    expect(
      load(SAMPLE, { HPNS_THROTTLE_VARY_BY_HEADER: 'X-Real-IP X-Forwarded-For' }).config.throttle
        .varyByHeaders,
    ).toEqual(['X-Real-IP', 'X-Forwarded-For']);
    expect(problemsOf(loadError({ ...SAMPLE, ThrottleVaryByHeader: 'X-Forwarded-For,X-Real-IP' }))).toEqual([
      'ThrottleVaryByHeader: "X-Forwarded-For,X-Real-IP" is not an HTTP header name (names are separated by spaces)',
    ]);
  });

  it('skips entries without any credentials with a warning each, as the Go proxy does, but refuses broken ones', () => {
    const { config, warnings } = load({
      ...SAMPLE,
      ApplePushSettings: [
        ...SAMPLE.ApplePushSettings,
        { Type: 'apple_other', ApplePushCertPrivate: '', ApplePushTopic: 'com.mattermost.Mattermost' },
      ],
      AndroidPushSettings: [...SAMPLE.AndroidPushSettings, { Type: 'android_beta', AndroidApiKey: '' }],
    });
    expect(config.targets.map((t) => t.type)).not.toContain('apple_other');
    expect(config.targets.map((t) => t.type)).not.toContain('android_beta');
    expect(warnings.filter((w) => w.includes('skipped'))).toHaveLength(2);
    // Half a token configuration is a mistake, not an absent credential.
    expect(
      problemsOf(
        loadError({
          ...SAMPLE,
          ApplePushSettings: [{ Type: 'apple', AppleAuthKeyID: 'ABC123DEFG', ApplePushTopic: 'com.x' }],
        }),
      ),
    ).toEqual([expect.stringContaining('ApplePushSettings[0]: needs AppleAuthKeyFile')]);
  });
});
