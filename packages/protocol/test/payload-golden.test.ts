import {
  buildApnsRequest,
  buildFcmRequest,
  decodeSendPush,
  type ProviderKind,
  type SendPushRequest,
} from '@hpns/protocol';

/**
 * Golden tests: for every notification kind the Mattermost server sends (reference/mattermost-wire.md §8.3,
 * §8.4), the request as the server writes it → the exact APNs headers and body and the exact FCM message.
 * Expected values are written out by hand from §2.2–§2.5 and §3.2, not produced by the code under test.
 */

const TARGETS: Record<string, ProviderKind> = {
  apple: 'apns',
  apple_rn: 'apns',
  apple_rnbeta: 'apns',
  android: 'fcm',
  android_rn: 'fcm',
};
const TOPIC = 'com.mattermost.react.native';

function decode(body: Record<string, unknown>): SendPushRequest {
  const result = decodeSendPush(JSON.stringify(body), (type) => TARGETS[type]);
  if (!result.ok) throw new Error(`unexpected FAIL: ${result.error}`);
  return result.request;
}

function apns(body: Record<string, unknown>) {
  const request = decode(body);
  expect(request.provider).toBe('apns');
  return buildApnsRequest(request.notification, {
    topic: TOPIC,
    transport: request.transport,
    appVersion: request.appVersion,
  });
}

function fcm(body: Record<string, unknown>) {
  const request = decode(body);
  expect(request.provider).toBe('fcm');
  return buildFcmRequest(request.notification).message;
}

const ALERT_HEADERS = {
  'apns-topic': TOPIC,
  'apns-push-type': 'alert',
  'apns-priority': '10',
  'content-type': 'application/json; charset=utf-8',
};

interface GoldenCase {
  name: string;
  /** The send_push body, without `platform`. */
  request: Record<string, unknown>;
  apnsHeaders: Record<string, string>;
  /** APNs body for a v2 app (`apple_rn-v2`). */
  apnsBodyV2: string;
  /** APNs body for a legacy app (`apple_rn`), when it differs. */
  apnsBodyLegacy?: string;
  fcmData: Record<string, string>;
}

const CASES: GoldenCase[] = [
  {
    name: 'message, full contents, v2 title split, emoji',
    request: {
      ack_id: 'ack1',
      server_id: 'srv',
      device_id: 'tok',
      post_id: 'post1',
      category: 'CAN_REPLY',
      message: 'alice: hello :smile:',
      badge: 3,
      team_id: 'team1',
      channel_id: 'ch1',
      channel_name: 'Town Square',
      type: 'message',
      sender_id: 'user1',
      sender_name: 'alice',
      version: 'v2',
      is_crt_enabled: false,
      is_id_loaded: false,
      signature: 'sig.jwt',
    },
    apnsHeaders: ALERT_HEADERS,
    apnsBodyV2:
      '{"ack_id":"ack1","aps":{"alert":{"body":"alice: hello 😄 ","title":"Town Square"},"badge":3,"category":"CAN_REPLY","content-available":1,"mutable-content":1,"sound":"default","thread-id":"ch1"},"channel_id":"ch1","channel_name":"Town Square","is_crt_enabled":false,"post_id":"post1","sender_id":"user1","sender_name":"alice","server_id":"srv","signature":"sig.jwt","sub_type":"","team_id":"team1","type":"message","version":"v2"}',
    fcmData: {
      ack_id: 'ack1',
      type: 'message',
      sub_type: '',
      version: 'v2',
      channel_id: 'ch1',
      is_crt_enabled: 'false',
      server_id: 'srv',
      category: 'CAN_REPLY',
      signature: 'sig.jwt',
      badge: '3',
      team_id: 'team1',
      sender_id: 'user1',
      sender_name: 'alice',
      message: 'alice: hello 😄 ',
      channel_name: 'Town Square',
      post_id: 'post1',
      override_username: '',
      override_icon_url: '',
      from_webhook: '',
    },
  },
  {
    name: 'message from an old server (no version): plain alert string, no signature',
    request: {
      ack_id: 'ack2',
      server_id: 'srv',
      device_id: 'tok',
      post_id: 'post2',
      category: 'CAN_REPLY',
      message: 'bob: hi',
      badge: 1,
      channel_id: 'ch2',
      channel_name: 'dev',
      type: 'message',
      sender_id: 'u2',
      sender_name: 'bob',
      is_crt_enabled: false,
      is_id_loaded: false,
      signature: '',
    },
    apnsHeaders: ALERT_HEADERS,
    apnsBodyV2:
      '{"ack_id":"ack2","aps":{"alert":"bob: hi","badge":1,"category":"CAN_REPLY","content-available":1,"mutable-content":1,"sound":"default","thread-id":"ch2"},"channel_id":"ch2","channel_name":"dev","is_crt_enabled":false,"post_id":"post2","sender_id":"u2","sender_name":"bob","server_id":"srv","signature":"NO_SIGNATURE","sub_type":"","type":"message","version":""}',
    fcmData: {
      ack_id: 'ack2',
      type: 'message',
      sub_type: '',
      version: '',
      channel_id: 'ch2',
      is_crt_enabled: 'false',
      server_id: 'srv',
      category: 'CAN_REPLY',
      signature: 'NO_SIGNATURE',
      badge: '1',
      team_id: '',
      sender_id: 'u2',
      sender_name: 'bob',
      message: 'bob: hi',
      channel_name: 'dev',
      post_id: 'post2',
      override_username: '',
      override_icon_url: '',
      from_webhook: '',
    },
  },
  {
    name: 'message, generic contents without channel, webhook overrides, HTML-escaped URL',
    request: {
      ack_id: 'ack3',
      server_id: 'srv',
      device_id: 'tok',
      post_id: 'p3',
      category: 'CAN_REPLY',
      message: 'alice mentioned you.',
      badge: 2,
      team_id: 't1',
      channel_id: 'ch3',
      type: 'message',
      sender_id: 'u1',
      sender_name: 'alice',
      override_username: 'bot',
      override_icon_url: 'https://example.com/i.png?a=1&b=2',
      from_webhook: 'true',
      version: 'v2',
      is_crt_enabled: false,
      is_id_loaded: false,
      signature: 'sig',
    },
    apnsHeaders: ALERT_HEADERS,
    apnsBodyV2:
      '{"ack_id":"ack3","aps":{"alert":"alice mentioned you.","badge":2,"category":"CAN_REPLY","content-available":1,"mutable-content":1,"sound":"default","thread-id":"ch3"},"channel_id":"ch3","from_webhook":"true","is_crt_enabled":false,"override_icon_url":"https://example.com/i.png?a=1\\u0026b=2","override_username":"bot","post_id":"p3","sender_id":"u1","sender_name":"alice","server_id":"srv","signature":"sig","sub_type":"","team_id":"t1","type":"message","version":"v2"}',
    fcmData: {
      ack_id: 'ack3',
      type: 'message',
      sub_type: '',
      version: 'v2',
      channel_id: 'ch3',
      is_crt_enabled: 'false',
      server_id: 'srv',
      category: 'CAN_REPLY',
      signature: 'sig',
      badge: '2',
      team_id: 't1',
      sender_id: 'u1',
      sender_name: 'alice',
      message: 'alice mentioned you.',
      channel_name: '',
      post_id: 'p3',
      override_username: 'bot',
      override_icon_url: 'https://example.com/i.png?a=1&b=2',
      from_webhook: 'true',
    },
  },
  {
    name: 'message, id-loaded contents: raw body, id_loaded flag, sender hidden on Android',
    request: {
      ack_id: 'ack4',
      server_id: 'srv',
      device_id: 'tok',
      post_id: 'p4',
      category: 'CAN_REPLY',
      message: "You've received a new message. :smile:",
      badge: 4,
      team_id: 't1',
      channel_id: 'ch4',
      root_id: 'r4',
      type: 'message',
      sender_id: 'recipient',
      version: 'v2',
      is_crt_enabled: true,
      is_id_loaded: true,
      signature: 'sig',
    },
    apnsHeaders: ALERT_HEADERS,
    apnsBodyV2:
      '{"ack_id":"ack4","aps":{"alert":{"body":"You\'ve received a new message. :smile:"},"badge":4,"category":"CAN_REPLY","content-available":1,"mutable-content":1,"sound":"default","thread-id":"r4"},"channel_id":"ch4","id_loaded":true,"is_crt_enabled":true,"post_id":"p4","root_id":"r4","sender_id":"recipient","server_id":"srv","signature":"sig","sub_type":"","team_id":"t1","type":"message","version":"v2"}',
    fcmData: {
      ack_id: 'ack4',
      type: 'message',
      sub_type: '',
      version: 'v2',
      channel_id: 'ch4',
      is_crt_enabled: 'true',
      server_id: 'srv',
      category: 'CAN_REPLY',
      signature: 'sig',
      badge: '4',
      root_id: 'r4',
      post_id: 'p4',
      message: "You've received a new message. :smile:",
      id_loaded: 'true',
      sender_id: 'recipient',
      sender_name: 'Someone',
      team_id: 't1',
    },
  },
  {
    name: 'message, CRT reply: thread-id is the root post',
    request: {
      ack_id: 'ack5',
      server_id: 'srv',
      device_id: 'tok',
      post_id: 'p5',
      category: 'CAN_REPLY',
      message: 'carol: agreed :+1:',
      badge: 7,
      team_id: 't1',
      channel_id: 'ch5',
      root_id: 'r5',
      channel_name: 'Reply in dev',
      type: 'message',
      sender_id: 'u3',
      sender_name: 'carol',
      version: 'v2',
      is_crt_enabled: true,
      is_id_loaded: false,
      signature: 'sig',
    },
    apnsHeaders: ALERT_HEADERS,
    apnsBodyV2:
      '{"ack_id":"ack5","aps":{"alert":{"body":"carol: agreed 👍 ","title":"Reply in dev"},"badge":7,"category":"CAN_REPLY","content-available":1,"mutable-content":1,"sound":"default","thread-id":"r5"},"channel_id":"ch5","channel_name":"Reply in dev","is_crt_enabled":true,"post_id":"p5","root_id":"r5","sender_id":"u3","sender_name":"carol","server_id":"srv","signature":"sig","sub_type":"","team_id":"t1","type":"message","version":"v2"}',
    fcmData: {
      ack_id: 'ack5',
      type: 'message',
      sub_type: '',
      version: 'v2',
      channel_id: 'ch5',
      is_crt_enabled: 'true',
      server_id: 'srv',
      category: 'CAN_REPLY',
      signature: 'sig',
      badge: '7',
      root_id: 'r5',
      team_id: 't1',
      sender_id: 'u3',
      sender_name: 'carol',
      message: 'carol: agreed 👍 ',
      channel_name: 'Reply in dev',
      post_id: 'p5',
      override_username: '',
      override_icon_url: '',
      from_webhook: '',
    },
  },
  {
    name: 'clear with badge 0: badge 1 for v2 apps, 0 for legacy apps',
    request: {
      ack_id: 'ack6',
      server_id: 'srv',
      device_id: 'tok',
      post_id: '',
      channel_id: 'ch6',
      cont_ava: 1,
      type: 'clear',
      version: 'v2',
      is_crt_enabled: false,
      is_id_loaded: false,
      signature: 'sig',
    },
    apnsHeaders: ALERT_HEADERS,
    apnsBodyV2:
      '{"ack_id":"ack6","aps":{"badge":1,"content-available":1,"thread-id":"ch6"},"channel_id":"ch6","is_crt_enabled":false,"server_id":"srv","signature":"sig","sub_type":"","type":"clear"}',
    apnsBodyLegacy:
      '{"ack_id":"ack6","aps":{"badge":0,"content-available":1,"thread-id":"ch6"},"channel_id":"ch6","is_crt_enabled":false,"server_id":"srv","signature":"sig","sub_type":"","type":"clear"}',
    fcmData: {
      ack_id: 'ack6',
      type: 'clear',
      sub_type: '',
      version: 'v2',
      channel_id: 'ch6',
      is_crt_enabled: 'false',
      server_id: 'srv',
      category: '',
      signature: 'sig',
      badge: '0',
    },
  },
  {
    name: 'clear with unread left: the badge is sent as is',
    request: {
      ack_id: 'ack6b',
      server_id: 'srv',
      device_id: 'tok',
      post_id: '',
      channel_id: 'ch6',
      root_id: 'r6',
      cont_ava: 1,
      badge: 3,
      type: 'clear',
      version: 'v2',
      is_crt_enabled: true,
      is_id_loaded: false,
      signature: 'sig',
    },
    apnsHeaders: ALERT_HEADERS,
    apnsBodyV2:
      '{"ack_id":"ack6b","aps":{"badge":3,"content-available":1,"thread-id":"r6"},"channel_id":"ch6","is_crt_enabled":true,"root_id":"r6","server_id":"srv","signature":"sig","sub_type":"","type":"clear"}',
    fcmData: {
      ack_id: 'ack6b',
      type: 'clear',
      sub_type: '',
      version: 'v2',
      channel_id: 'ch6',
      is_crt_enabled: 'true',
      server_id: 'srv',
      category: '',
      signature: 'sig',
      badge: '3',
      root_id: 'r6',
    },
  },
  {
    name: 'update_badge: badge only, request sound and cont_ava ignored',
    request: {
      ack_id: 'ack7',
      server_id: 'srv',
      device_id: 'tok',
      post_id: '',
      sound: 'none',
      cont_ava: 1,
      badge: 5,
      type: 'update_badge',
      version: 'v2',
      is_crt_enabled: false,
      is_id_loaded: false,
      signature: 'sig',
    },
    apnsHeaders: ALERT_HEADERS,
    apnsBodyV2:
      '{"ack_id":"ack7","aps":{"badge":5},"is_crt_enabled":false,"server_id":"srv","signature":"sig","sub_type":"","type":"update_badge"}',
    fcmData: {
      ack_id: 'ack7',
      type: 'update_badge',
      sub_type: '',
      version: 'v2',
      channel_id: '',
      is_crt_enabled: 'false',
      server_id: 'srv',
      category: '',
      signature: 'sig',
      badge: '5',
    },
  },
  {
    name: 'session expired: alert text with ": " left alone by the emoji scan',
    request: {
      ack_id: 'ack8',
      server_id: 'srv',
      device_id: 'tok',
      post_id: '',
      message: 'Session Expired: Please log in to continue receiving notifications.',
      type: 'session',
      version: 'v2',
      is_crt_enabled: false,
      is_id_loaded: false,
      signature: 'sig',
    },
    apnsHeaders: ALERT_HEADERS,
    apnsBodyV2:
      '{"ack_id":"ack8","aps":{"alert":"Session Expired: Please log in to continue receiving notifications.","badge":0,"mutable-content":1,"sound":"default"},"is_crt_enabled":false,"server_id":"srv","signature":"sig","sub_type":"","type":"session","version":"v2"}',
    fcmData: {
      ack_id: 'ack8',
      type: 'session',
      sub_type: '',
      version: 'v2',
      channel_id: '',
      is_crt_enabled: 'false',
      server_id: 'srv',
      category: '',
      signature: 'sig',
      badge: '0',
      team_id: '',
      sender_id: '',
      sender_name: '',
      message: 'Session Expired: Please log in to continue receiving notifications.',
      channel_name: '',
      post_id: '',
      override_username: '',
      override_icon_url: '',
      from_webhook: '',
    },
  },
  {
    name: 'session wipe: empty message, sound "none" ignored as the proxy does',
    request: {
      ack_id: 'ack9',
      server_id: 'srv',
      device_id: 'tok',
      post_id: '',
      sound: 'none',
      cont_ava: 1,
      type: 'session',
      version: 'v2',
      is_crt_enabled: false,
      is_id_loaded: false,
      signature: 'sig',
    },
    apnsHeaders: ALERT_HEADERS,
    apnsBodyV2:
      '{"ack_id":"ack9","aps":{"alert":"","badge":0,"mutable-content":1,"sound":"default"},"is_crt_enabled":false,"server_id":"srv","signature":"sig","sub_type":"","type":"session","version":"v2"}',
    fcmData: {
      ack_id: 'ack9',
      type: 'session',
      sub_type: '',
      version: 'v2',
      channel_id: '',
      is_crt_enabled: 'false',
      server_id: 'srv',
      category: '',
      signature: 'sig',
      badge: '0',
      team_id: '',
      sender_id: '',
      sender_name: '',
      message: '',
      channel_name: '',
      post_id: '',
      override_username: '',
      override_icon_url: '',
      from_webhook: '',
    },
  },
  {
    name: 'test push: content-available only, sent as background with priority 5 (deviation)',
    request: {
      ack_id: '',
      server_id: 'srv',
      device_id: 'tok',
      post_id: '',
      badge: -1,
      type: 'test',
      version: '2',
      is_crt_enabled: false,
      is_id_loaded: false,
      signature: '',
    },
    apnsHeaders: { ...ALERT_HEADERS, 'apns-push-type': 'background', 'apns-priority': '5' },
    apnsBodyV2:
      '{"aps":{"content-available":1},"is_crt_enabled":false,"server_id":"srv","signature":"NO_SIGNATURE","sub_type":"","type":"test"}',
    fcmData: {
      ack_id: '',
      type: 'test',
      sub_type: '',
      version: '2',
      channel_id: '',
      is_crt_enabled: 'false',
      server_id: 'srv',
      category: '',
      signature: 'NO_SIGNATURE',
    },
  },
];

describe('APNs and FCM payloads (golden)', () => {
  describe.each(CASES)('$name', (c) => {
    it('builds the exact APNs request for a v2 app', () => {
      const request = apns({ ...c.request, platform: 'apple_rn-v2' });
      expect(request.headers).toEqual(c.apnsHeaders);
      expect(request.body).toBe(c.apnsBodyV2);
      expect(request.path).toBe(`/3/device/${c.request.device_id as string}`);
    });

    it('builds the exact APNs request for a legacy app', () => {
      const request = apns({ ...c.request, platform: 'apple_rn' });
      expect(request.headers).toEqual(c.apnsHeaders);
      expect(request.body).toBe(c.apnsBodyLegacy ?? c.apnsBodyV2);
    });

    it.each(['android_rn-v2', 'android_rn'])('builds the exact FCM message for %s', (platform) => {
      const message = fcm({ ...c.request, platform });
      expect(message).toEqual({
        message: { token: c.request.device_id, data: c.fcmData, android: { priority: 'HIGH' } },
      });
    });
  });
});

describe('VoIP pushes (golden)', () => {
  const call = {
    ack_id: 'ack10',
    server_id: 'srv',
    device_id: 'voiptok',
    post_id: 'p10',
    category: 'CAN_REPLY',
    message: 'dave is calling',
    badge: 1,
    channel_id: 'ch10',
    channel_name: 'Call',
    type: 'message',
    sub_type: 'calls',
    sender_id: 'u4',
    sender_name: 'dave',
    version: 'v2',
    is_crt_enabled: false,
    is_id_loaded: false,
    signature: 'sig',
  };
  const voipHeaders = {
    'apns-topic': `${TOPIC}.voip`,
    'apns-push-type': 'voip',
    'apns-priority': '10',
    'content-type': 'application/json; charset=utf-8',
  };
  const voipBody =
    '{"ack_id":"ack10","aps":{"content-available":1},"channel_id":"ch10","channel_name":"Call","id_loaded":false,"post_id":"p10","sender_id":"u4","sender_name":"dave","server_id":"srv","signature":"sig","sub_type":"calls","thread_id":"","type":"message"}';

  it('sends transport "voip" through PushKit with the VoIP payload', () => {
    const request = apns({ ...call, platform: 'apple_rn-v2', transport: 'voip' });
    expect(request.headers).toEqual(voipHeaders);
    expect(request.body).toBe(voipBody);
    expect(request.maxBytes).toBe(5120);
  });

  it('treats the apple_voip_rn platform alias as a VoIP push to apple_rn', () => {
    const decoded = decode({ ...call, platform: 'apple_voip_rn' });
    expect(decoded).toMatchObject({ targetType: 'apple_rn', transport: 'voip', provider: 'apns' });
    const request = apns({ ...call, platform: 'apple_voip_rn' });
    expect(request.headers).toEqual(voipHeaders);
    expect(request.body).toBe(voipBody);
  });

  it('omits empty sender_name, channel_name and ack_id and keeps thread_id from root_id', () => {
    const request = apns({
      ...call,
      platform: 'apple_rn',
      transport: 'voip',
      ack_id: '',
      sender_name: '',
      channel_name: '',
      root_id: 'r10',
      signature: '',
    });
    expect(request.body).toBe(
      '{"aps":{"content-available":1},"channel_id":"ch10","id_loaded":false,"post_id":"p10","sender_id":"u4","server_id":"srv","signature":"NO_SIGNATURE","sub_type":"calls","thread_id":"r10","type":"message"}',
    );
  });

  it('ignores transport "voip" on Android, as the proxy does', () => {
    const message = fcm({ ...call, platform: 'android_rn-v2', transport: 'voip' });
    expect(message.message.data).toEqual({
      ack_id: 'ack10',
      type: 'message',
      sub_type: 'calls',
      version: 'v2',
      channel_id: 'ch10',
      is_crt_enabled: 'false',
      server_id: 'srv',
      category: 'CAN_REPLY',
      signature: 'sig',
      badge: '1',
      team_id: '',
      sender_id: 'u4',
      sender_name: 'dave',
      message: 'dave is calling',
      channel_name: 'Call',
      post_id: 'p10',
      override_username: '',
      override_icon_url: '',
      from_webhook: '',
    });
  });
});

describe('APNs request options', () => {
  const body = {
    ack_id: 'a',
    server_id: 's',
    device_id: 'tok',
    type: 'update_badge',
    badge: 2,
    platform: 'apple_rn',
  };

  it('adds apns-expiration (whole seconds) and apns-id when given', () => {
    const request = decode(body);
    const built = buildApnsRequest(request.notification, {
      topic: TOPIC,
      transport: 'standard',
      appVersion: 1,
      expirationEpochSeconds: 1_800_000_000.7,
      apnsId: '123e4567-e89b-12d3-a456-426614174000',
    });
    expect(built.headers['apns-expiration']).toBe('1800000000');
    expect(built.headers['apns-id']).toBe('123e4567-e89b-12d3-a456-426614174000');
  });

  it('reports the body size against the 4096-byte limit', () => {
    const request = decode({ ...body, type: 'message', message: 'x'.repeat(2046) });
    const built = buildApnsRequest(request.notification, {
      topic: TOPIC,
      transport: 'standard',
      appVersion: 1,
    });
    expect(built.byteLength).toBe(Buffer.byteLength(built.body));
    expect(built.maxBytes).toBe(4096);
  });

  it('sets the FCM Android TTL in whole seconds, clamped to four weeks', () => {
    const request = decode({ ...body, platform: 'android_rn' });
    expect(buildFcmRequest(request.notification, { ttlSeconds: 30.9 }).message.message.android.ttl).toBe(
      '30s',
    );
    expect(buildFcmRequest(request.notification, { ttlSeconds: 1e9 }).message.message.android.ttl).toBe(
      '2419200s',
    );
  });
});
