// Shared by the infra tests: fake secret files for loadConfig, the optional tools, and small process helpers.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { type ConfigFiles } from '@hpns/runtime';
import { createTestCa, generateApnsKey, generateServiceAccount } from '@hpns/testkit';

export const REQUIRE_TOOLS = process.env['HPNS_REQUIRE_INFRA_TOOLS'] === '1';

/**
 * Whether an optional validation tool runs here. Missing, the checks that need it are skipped with a note on
 * stderr, or fail when HPNS_REQUIRE_INFRA_TOOLS=1 (for CI, once it installs them).
 */
export function optionalTool(command: string, args: readonly string[], install: string): boolean {
  const ok = spawnSync(command, [...args], { stdio: 'ignore' }).status === 0;
  if (!ok) {
    const note = `${command} is not available (${install})`;
    if (REQUIRE_TOOLS) throw new Error(`HPNS_REQUIRE_INFRA_TOOLS=1 but ${note}`);
    process.stderr.write(`infra tests: ${note}; skipping the checks that need it\n`);
  }
  return ok;
}

/** A ConfigFiles over a path → text map; a missing path fails like fs does (ENOENT). */
export function filesFrom(files: Readonly<Record<string, string>>): ConfigFiles {
  return {
    readText(path: string): string {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return text;
    },
  };
}

let credentials: {
  apnsKey: string;
  apnsKeyId: string;
  apnsTeamId: string;
  serviceAccount: string;
  ca: string;
};

/** Test-only credentials (generated once per test file). */
export function testCredentials(): typeof credentials {
  if (credentials === undefined) {
    const apns = generateApnsKey();
    credentials = {
      apnsKey: apns.privateKeyPem,
      apnsKeyId: apns.keyId,
      apnsTeamId: apns.teamId,
      serviceAccount: generateServiceAccount({
        projectId: 'hpns-infra-test',
        tokenUri: 'https://127.0.0.1:1/token',
      }).json,
      ca: createTestCa().caPem,
    };
  }
  return credentials;
}

/**
 * What a mounted secret file named `path` would hold, chosen by its file name (the names docker-compose.yml
 * and the Helm chart use). Throws for a name it does not know, so a new secret needs a fixture here.
 */
export function fakeSecret(path: string): string {
  const name = basename(path);
  const creds = testCredentials();
  if (/payload[-_]keys$/.test(name)) return `k1:${randomBytes(32).toString('base64')}\n`;
  if (/token[-_]hash[-_]key$/.test(name)) return `${randomBytes(32).toString('base64')}\n`;
  if (/admin[-_]token$/.test(name)) return `${randomBytes(24).toString('hex')}\n`;
  const redis = /redis[-_]url(?:[-_]([a-z0-9]+))?$/.exec(name);
  if (redis) return `redis://:secret@redis-${redis[1] ?? 'local'}:6379\n`;
  if (name.endsWith('.p8')) return creds.apnsKey;
  if (/service-account.*\.json$/.test(name)) return creds.serviceAccount;
  if (/ca.*\.pem$/.test(name)) return creds.ca;
  throw new Error(`no fake content for secret file ${path}`);
}

/** The push-proxy config infra/docker/run-simulators.mjs writes, for credentials under `dir`. */
export function simulatorProxyConfig(dir: string): string {
  const creds = testCredentials();
  return JSON.stringify({
    ApplePushSettings: ['apple_rn', 'apple_rnbeta'].map((type) => ({
      Type: type,
      ApplePushTopic: `com.example.${type}`,
      AppleAuthKeyFile: `${dir}/AuthKey_${creds.apnsKeyId}-test-only.p8`,
      AppleAuthKeyID: creds.apnsKeyId,
      AppleTeamID: creds.apnsTeamId,
    })),
    AndroidPushSettings: ['android_rn', 'android_rnbeta'].map((type) => ({
      Type: type,
      ServiceFileLocation: `${dir}/fcm-service-account-test-only.json`,
    })),
  });
}
