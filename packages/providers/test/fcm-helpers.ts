import { makePushNotification, parseRegion, type PushJob, type PushNotification } from '@hpns/protocol';
import { Secret, type AndroidTargetConfig } from '@hpns/runtime';
import {
  createFcmSimulator,
  createOAuthSimulator,
  createTestCa,
  generateServiceAccount,
  type FcmSimulator,
  type OAuthSimulator,
  type TestCa,
  type TestServiceAccount,
} from '@hpns/testkit';
import { FcmProvider, type FcmProviderOptions } from '../src/fcm/fcm-provider';

/** The OAuth and FCM simulators on one test CA, and a service account the OAuth simulator knows. */
export interface FcmWorld {
  ca: TestCa;
  oauth: OAuthSimulator;
  fcm: FcmSimulator;
  account: TestServiceAccount;
  target: AndroidTargetConfig;
  close(): Promise<void>;
}

export const PROJECT_ID = 'hpns-fcm';
export const TARGET_TYPE = 'android_rn';

export async function startFcmWorld(): Promise<FcmWorld> {
  const ca = createTestCa();
  const oauth = await createOAuthSimulator({ ca });
  const fcm = await createFcmSimulator({ ca, accessTokens: oauth.accessTokens });
  const account = generateServiceAccount({ projectId: PROJECT_ID, tokenUri: oauth.tokenUrl });
  oauth.registerServiceAccount(account);
  return {
    ca,
    oauth,
    fcm,
    account,
    target: androidTarget(account, oauth.tokenUrl),
    close: async () => {
      await fcm.close();
      await oauth.close();
    },
  };
}

/** Back to a clean state between tests: no tokens, faults, counts; the account registered again. */
export function resetFcmWorld(world: FcmWorld): void {
  world.oauth.reset();
  world.fcm.reset();
  world.oauth.registerServiceAccount(world.account);
}

/** The config loader's view of a service account (runtime `AndroidTargetConfig`). */
export function androidTarget(
  account: TestServiceAccount,
  tokenUri: string,
  overrides: Partial<AndroidTargetConfig> = {},
): AndroidTargetConfig {
  return {
    type: TARGET_TYPE,
    serviceFile: '/etc/hpns/service-account.json',
    projectId: account.projectId,
    clientEmail: account.clientEmail,
    privateKey: new Secret(account.privateKeyPem),
    tokenUri,
    ...overrides,
  };
}

export function fcmProvider(world: FcmWorld, options: Partial<FcmProviderOptions> = {}): FcmProvider {
  return new FcmProvider({
    targets: [world.target],
    baseUrl: world.fcm.url,
    ca: world.ca.caPem,
    requestTimeoutMs: 5_000,
    ...options,
  });
}

let sequence = 0;

/** A registration token of the shape FCM issues (`<instance id>:APA91b…`), unique per call. */
export function registrationToken(): string {
  sequence += 1;
  return `dQw4w9WgXcQ${sequence}:APA91bH${'x'.repeat(40)}${sequence}`;
}

export function pushJob(fields: Partial<PushNotification> = {}, targetType = TARGET_TYPE): PushJob {
  const nowMs = Date.now();
  sequence += 1;
  return {
    v: 1,
    routing: {
      requestId: `req-${sequence}`,
      region: parseRegion('us'),
      provider: 'fcm',
      targetType,
      transport: 'standard',
      appVersion: 2,
      pushType: fields.type ?? 'message',
      acceptedAtMs: nowMs,
      expiresAtMs: nowMs + 60_000,
    },
    content: makePushNotification({
      platform: targetType,
      server_id: 'srv1',
      device_id: registrationToken(),
      type: 'message',
      ack_id: `ack-${sequence}`,
      ...fields,
    }),
  };
}

/**
 * Resolves once `condition()` holds, checking after each turn of the event loop: for state another party
 * changes (a server-side count, a background refresh) where there is no event to await. Never a fixed sleep.
 */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > giveUpAt) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
