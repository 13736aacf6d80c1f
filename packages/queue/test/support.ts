import { randomBytes } from 'node:crypto';
import { makePushNotification, type PushJob, type Region } from '@hpns/protocol';

export const KEY_A = { id: 'a', key: Buffer.alloc(32, 1) };
export const KEY_B = { id: 'b', key: Buffer.alloc(32, 2) };

export function makeJob(
  overrides: { region?: string; provider?: 'apns' | 'fcm'; requestId?: string; message?: string } = {},
): PushJob {
  return {
    v: 1,
    routing: {
      requestId: overrides.requestId ?? `r${randomBytes(8).toString('hex')}`,
      region: (overrides.region ?? 'us') as Region,
      provider: overrides.provider ?? 'apns',
      targetType: overrides.provider === 'fcm' ? 'android_rn' : 'apple_rn',
      transport: 'standard',
      appVersion: 2,
      pushType: 'message',
      acceptedAtMs: 1_700_000_000_000,
      expiresAtMs: 1_700_000_030_000,
    },
    content: makePushNotification({
      platform: 'apple_rn-v2',
      server_id: 'server1234567890123456789a',
      device_id: 'a'.repeat(64),
      message: overrides.message ?? 'The launch moved to Thursday 10:00',
      channel_name: 'Town Square',
      sender_name: 'alice',
      badge: 3,
      is_crt_enabled: true,
      type: 'message',
      version: 'v2',
    }),
  };
}
