import { randomBytes } from 'node:crypto';
import {
  makePushNotification,
  parseRegion,
  type PushJob,
  type PushJobRouting,
  type PushNotification,
} from '@hpns/protocol';
import { Registry, Secret, type AppleTargetConfig } from '@hpns/runtime';
import {
  createApnsSimulator,
  createTestCa,
  generateApnsKey,
  type ApnsSimulator,
  type ApnsSimulatorOptions,
  type TestApnsKey,
  type TestCa,
} from '@hpns/testkit';
import { type ApnsProviderOptions } from '../src/apns/apns-options';
import { ApnsProvider } from '../src/apns/apns-provider';

/** Shared by the APNs provider tests: a simulator with one signing key, targets, jobs and a provider aimed at it. */

export const BUNDLE_ID = 'com.mattermost.rnbeta';
export const TARGET = 'apple_rn';

let sharedCa: TestCa | undefined;

/** One CA per test file: RSA key generation is the slow part of starting a simulator. */
export function testCa(): TestCa {
  sharedCa ??= createTestCa();
  return sharedCa;
}

export function randomToken(): string {
  return randomBytes(32).toString('hex');
}

export interface ApnsTestBed {
  sim: ApnsSimulator;
  key: TestApnsKey;
  provider: ApnsProvider;
  registry: Registry;
  close(): Promise<void>;
}

export function tokenTarget(key: TestApnsKey, fields: Partial<AppleTargetConfig> = {}): AppleTargetConfig {
  return {
    type: TARGET,
    topic: BUNDLE_ID,
    useDevelopment: false,
    auth: {
      kind: 'token',
      keyFile: '/dev/null',
      keyPem: new Secret(key.privateKeyPem),
      keyId: key.keyId,
      teamId: key.teamId,
    },
    ...fields,
  };
}

/** Starts a simulator (token auth, one key) and an ApnsProvider with one target aimed at it. */
export async function startApnsTestBed(
  simOptions: ApnsSimulatorOptions = {},
  providerOptions: Partial<ApnsProviderOptions> = {},
): Promise<ApnsTestBed> {
  const key = generateApnsKey();
  const sim = await createApnsSimulator({
    tls: testCa(),
    ...simOptions,
    keys: [{ keyId: key.keyId, teamId: key.teamId, publicKey: key.publicKey }],
  });
  const registry = new Registry();
  const provider = new ApnsProvider({
    targets: [tokenTarget(key)],
    registry,
    endpoints: { [TARGET]: { address: '127.0.0.1', port: sim.port, caPem: sim.caPem } },
    connectionsPerEndpoint: 2,
    ...providerOptions,
  });
  return {
    sim,
    key,
    provider,
    registry,
    close: async () => {
      await provider.close();
      await sim.close();
    },
  };
}

/** A `message` push as a Mattermost server sends it (mattermost-wire.md §8.3), to `deviceId`. */
export function messageNotification(
  deviceId: string,
  fields: Partial<PushNotification> = {},
): PushNotification {
  return makePushNotification({
    ack_id: 'ack1',
    platform: 'apple_rn-v2',
    server_id: 'srv1',
    device_id: deviceId,
    post_id: 'p1',
    category: 'CAN_REPLY',
    message: 'hello',
    badge: 3,
    team_id: 't1',
    channel_id: 'ch1',
    channel_name: 'town-square',
    type: 'message',
    sender_id: 's1',
    sender_name: 'alice',
    version: 'v2',
    ...fields,
  });
}

export function pushJob(content: PushNotification, routing: Partial<PushJobRouting> = {}): PushJob {
  const now = Date.now();
  return {
    v: 1,
    routing: {
      requestId: `req-${randomBytes(4).toString('hex')}`,
      region: parseRegion('us'),
      provider: 'apns',
      targetType: TARGET,
      transport: content.transport === 'voip' ? 'voip' : 'standard',
      appVersion: 2,
      pushType: content.type,
      acceptedAtMs: now,
      expiresAtMs: now + 60_000,
      ...routing,
    },
    content,
  };
}

/** A job for a message push to `deviceId`. */
export function messageJob(deviceId: string, fields: Partial<PushNotification> = {}): PushJob {
  return pushJob(messageNotification(deviceId, fields));
}

/** The value of `name{labels}` in the registry (0 when absent). */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  const match = values.find((value) =>
    Object.entries(labels).every(([label, wanted]) => String(value.labels[label]) === wanted),
  );
  return match?.value ?? 0;
}
