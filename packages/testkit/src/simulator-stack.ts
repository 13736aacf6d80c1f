import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApnsSimulator, type ApnsSimulator } from './apns/apns-simulator';
import { addApnsControlRoutes } from './apns/control-routes';
import { ControlRouter, createControlServer, type ControlServer } from './control-server';
import { generateApnsKey, generateServiceAccount } from './credentials';
import { addFcmControlRoutes } from './fcm/fcm-control';
import { createFcmSimulator, type FcmSimulator } from './fcm/fcm-simulator';
import { createAccessTokenStore } from './oauth/access-token-store';
import { addOAuthControlRoutes } from './oauth/oauth-control';
import { createOAuthSimulator, type OAuthSimulator } from './oauth/oauth-simulator';
import { type LatencyProfile } from './random';
import { createTestCa } from './tls/test-ca';

export interface SimulatorStackOptions {
  /** Where the CA, the .p8 key and the service-account JSON are written (created if missing). */
  outputDir: string;
  /** Host to bind every simulator. Default 127.0.0.1. */
  host?: string;
  /** Ports; 0 (default) picks free ones. */
  ports?: { apns?: number; fcm?: number; oauth?: number; control?: number };
  /** Added latency of APNs and FCM responses. Default none. */
  latency?: LatencyProfile;
  /** Seed of every random choice (faults, latency). Default 1. */
  seed?: number;
  /** The Firebase project id of the generated service account. Default `hpns-local`. */
  projectId?: string;
  /** How many recent requests each of APNs and FCM keeps for `requests()`. Default 1000. */
  captureLimit?: number;
}

/** What a client needs to use the simulators: URLs and the paths of the generated credentials. */
export interface SimulatorStackInfo {
  apnsUrl: string;
  fcmUrl: string;
  oauthTokenUrl: string;
  controlUrl: string;
  caFile: string;
  apnsKeyFile: string;
  apnsKeyId: string;
  apnsTeamId: string;
  serviceAccountFile: string;
  fcmProjectId: string;
}

/** The three simulators, their shared control API and generated credentials. Owns every socket: `close()`. */
export class SimulatorStack {
  readonly info: SimulatorStackInfo;
  readonly apns: ApnsSimulator;
  readonly fcm: FcmSimulator;
  readonly oauth: OAuthSimulator;
  readonly #control: ControlServer;

  /** @internal use startSimulatorStack */
  constructor(parts: {
    info: SimulatorStackInfo;
    apns: ApnsSimulator;
    fcm: FcmSimulator;
    oauth: OAuthSimulator;
    control: ControlServer;
  }) {
    this.info = parts.info;
    this.apns = parts.apns;
    this.fcm = parts.fcm;
    this.oauth = parts.oauth;
    this.#control = parts.control;
  }

  /**
   * Writes `<dir>/mattermost-push-proxy.json` with one Apple target (`apple_rn`, topic
   * `com.mattermost.react.native`) and one Android target (`android_rn`) holding these simulators' credentials;
   * returns its path. What a worker's HPNS_CONFIG_FILE names in a test.
   */
  writeProxyConfig(dir: string): string {
    const file = join(dir, 'mattermost-push-proxy.json');
    writeFileSync(
      file,
      JSON.stringify({
        ApplePushSettings: [
          {
            Type: 'apple_rn',
            ApplePushUseDevelopment: false,
            ApplePushTopic: 'com.mattermost.react.native',
            AppleAuthKeyFile: this.info.apnsKeyFile,
            AppleAuthKeyID: this.info.apnsKeyId,
            AppleTeamID: this.info.apnsTeamId,
          },
        ],
        AndroidPushSettings: [{ Type: 'android_rn', ServiceFileLocation: this.info.serviceAccountFile }],
      }),
    );
    return file;
  }

  /** The settings that aim an HPNS worker at these simulators instead of Apple and Google. */
  providerEnv(): Record<string, string> {
    return {
      HPNS_APNS_URL: this.info.apnsUrl,
      HPNS_FCM_URL: this.info.fcmUrl,
      HPNS_OAUTH_TOKEN_URL: this.info.oauthTokenUrl,
      HPNS_PROVIDER_CA_FILE: this.info.caFile,
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled([
      this.#control.close(),
      this.apns.close(),
      this.fcm.close(),
      this.oauth.close(),
    ]);
  }
}

/** Starts APNs, FCM and OAuth simulators with one test CA and fresh credentials, and writes the credentials out. */
export async function startSimulatorStack(options: SimulatorStackOptions): Promise<SimulatorStack> {
  const host = options.host ?? '127.0.0.1';
  const seed = options.seed ?? 1;
  mkdirSync(options.outputDir, { recursive: true });
  const ca = createTestCa();
  const apnsKey = generateApnsKey();
  const accessTokens = createAccessTokenStore();
  const oauth = await createOAuthSimulator({ ca, host, port: options.ports?.oauth ?? 0, accessTokens, seed });
  const oauthTokenUrl = `${oauth.url}/token`;
  const account = generateServiceAccount({
    projectId: options.projectId ?? 'hpns-local',
    tokenUri: oauthTokenUrl,
  });
  oauth.registerServiceAccount({
    clientEmail: account.clientEmail,
    projectId: account.projectId,
    publicKey: account.publicKey,
    privateKeyId: account.privateKeyId,
  });
  const fcm = await createFcmSimulator({
    accessTokens,
    ca,
    host,
    port: options.ports?.fcm ?? 0,
    seed,
    unknownTokens: 'accept',
    ...(options.captureLimit !== undefined ? { captureLimit: options.captureLimit } : {}),
    ...(options.latency ? { latency: options.latency } : {}),
  });
  const apns = await createApnsSimulator({
    tls: ca,
    host,
    port: options.ports?.apns ?? 0,
    keys: [{ keyId: apnsKey.keyId, teamId: apnsKey.teamId, publicKey: apnsKey.publicKey }],
    unknownTokens: 'accept',
    seed,
    ...(options.captureLimit !== undefined ? { captureLimit: options.captureLimit } : {}),
    ...(options.latency ? { faults: { latency: options.latency } } : {}),
  });
  const router = new ControlRouter();
  addApnsControlRoutes(apns, router);
  addFcmControlRoutes(router, fcm);
  addOAuthControlRoutes(router, oauth);
  const control = await createControlServer(router, { host, port: options.ports?.control ?? 0 });

  // Test-only material, named as such (STYLE.md §16).
  const caFile = join(options.outputDir, 'simulators-ca-test-only.pem');
  const apnsKeyFile = join(options.outputDir, `AuthKey_${apnsKey.keyId}-test-only.p8`);
  const serviceAccountFile = join(options.outputDir, 'fcm-service-account-test-only.json');
  writeFileSync(caFile, ca.caPem);
  writeFileSync(apnsKeyFile, apnsKey.privateKeyPem, { mode: 0o600 });
  writeFileSync(serviceAccountFile, account.json, { mode: 0o600 });

  return new SimulatorStack({
    apns,
    fcm,
    oauth,
    control,
    info: {
      apnsUrl: apns.url,
      fcmUrl: fcm.url,
      oauthTokenUrl,
      controlUrl: control.url,
      caFile,
      apnsKeyFile,
      apnsKeyId: apnsKey.keyId,
      apnsTeamId: apnsKey.teamId,
      serviceAccountFile,
      fcmProjectId: account.projectId,
    },
  });
}
