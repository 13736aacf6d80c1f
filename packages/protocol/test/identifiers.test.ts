import fc from 'fast-check';
import {
  BOUNDED_ID_FIELDS,
  decodeAck,
  decodeSendPush,
  DEVICE_ID_MAX_LENGTH,
  FAIL_TEXTS,
  ID_MAX_LENGTH,
  isBoundedId,
  type ProviderKind,
} from '@hpns/protocol';

const TARGETS: Record<string, ProviderKind> = { apple_rn: 'apns', android_rn: 'fcm' };
const lookup = (type: string) => TARGETS[type];

/** `model.NewId()`: 26 characters of base32 `[a-z0-9]`. */
const mattermostId = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'),
  minLength: 26,
  maxLength: 26,
});
const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
const base64url = (min: number, max: number) =>
  fc.string({
    unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'),
    minLength: min,
    maxLength: max,
  });
/** An APNs token (64 hex today, up to 200 foreseen) or an FCM registration token (`<instance id>:APA91b…`). */
const deviceToken = fc.oneof(
  hex(64),
  hex(200),
  fc.tuple(base64url(22, 22), base64url(120, 160)).map(([id, rest]) => `${id}:APA91b${rest}`),
);

/** A push as the Mattermost server sends it (reference §8.3), with ids and a token of every real shape. */
const mattermostPush = fc
  .record({
    server_id: mattermostId,
    device_id: deviceToken,
    ack_id: mattermostId,
    post_id: fc.oneof(mattermostId, fc.constant('')),
    team_id: fc.oneof(mattermostId, fc.constant('')),
    channel_id: mattermostId,
    root_id: fc.oneof(mattermostId, fc.constant('')),
    sender_id: mattermostId,
    platform: fc.constantFrom('apple_rn-v2', 'android_rn-v2', 'apple_rn', 'android_rn'),
    type: fc.constantFrom('message', 'clear', 'update_badge', 'session', 'test'),
    message: fc.string({ maxLength: 80 }),
  })
  .map((fields) => JSON.stringify({ ...fields, version: 'v2', is_crt_enabled: false, is_id_loaded: false }));

const body = (fields: Record<string, unknown>) =>
  JSON.stringify({ platform: 'apple_rn-v2', server_id: 's1', device_id: 'a'.repeat(64), ...fields });

describe('isBoundedId', () => {
  it('holds exactly for strings within the length of printable ASCII without the space (5,000 strings)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), fc.nat(70), (value, max) => {
        const expected = value.length <= max && [...value].every((c) => c >= '!' && c <= '~');
        expect(isBoundedId(value, max)).toBe(expected);
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('decodeSendPush: bounds on the ids a caller chooses', () => {
  it('accepts every push shaped as the Mattermost server sends it (2,000 pushes)', () => {
    fc.assert(
      fc.property(mattermostPush, (text) => {
        const result = decodeSendPush(text, lookup);
        expect(result.ok ? 'ok' : result.error).toBe('ok');
      }),
      { numRuns: 2_000 },
    );
  });

  it('refuses a server id one character over the bound, without echoing it; accepts one at the bound', () => {
    const atBound = decodeSendPush(body({ server_id: 's'.repeat(ID_MAX_LENGTH) }), lookup);
    expect(atBound.ok).toBe(true);
    const over = decodeSendPush(body({ server_id: 's'.repeat(ID_MAX_LENGTH + 1) }), lookup);
    expect(over).toEqual({ ok: false, failure: 'server_id_invalid', error: FAIL_TEXTS.invalidServerId });
    expect(FAIL_TEXTS.invalidServerId).toBe(
      'Failed because of invalid server Id (more than 64 characters or not printable ASCII)',
    );
  });

  it('refuses a 60 KB server id with a short FAIL text (the flood of issue 14, D1)', () => {
    const result = decodeSendPush(body({ server_id: `k-${'S'.repeat(60_000)}` }), lookup);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.length).toBeLessThan(120);
  });

  it.each([
    ['a space', 'srv 1'],
    ['a control character', 'srv\u0001'],
    ['a line break', 'srv\n1'],
    ['a non-ASCII letter', 'srvé'],
    ['a look-alike letter', 'srv\u0430'],
  ])('refuses a server id with %s', (_what, serverId) => {
    const result = decodeSendPush(body({ server_id: serverId }), lookup);
    expect(!result.ok && result.failure).toBe('server_id_invalid');
  });

  it('refuses a device token over 512 characters, naming the (bounded) server id', () => {
    expect(decodeSendPush(body({ device_id: 'a'.repeat(DEVICE_ID_MAX_LENGTH) }), lookup).ok).toBe(true);
    const over = decodeSendPush(body({ device_id: 'a'.repeat(DEVICE_ID_MAX_LENGTH + 1) }), lookup);
    expect(over).toEqual({
      ok: false,
      failure: 'device_id_invalid',
      error:
        'Failed because of invalid device Id (more than 512 characters or not printable ASCII) serverId=s1',
    });
  });

  it.each(BOUNDED_ID_FIELDS.map((field) => [field]))(
    'refuses %s over 64 characters, and accepts it empty or at the bound',
    (field) => {
      expect(decodeSendPush(body({ [field]: '' }), lookup).ok).toBe(true);
      expect(decodeSendPush(body({ [field]: 'x'.repeat(ID_MAX_LENGTH) }), lookup).ok).toBe(true);
      const over = decodeSendPush(body({ [field]: 'x'.repeat(ID_MAX_LENGTH + 1) }), lookup);
      expect(over).toEqual({
        ok: false,
        failure: 'id_invalid',
        error: `Failed because of invalid ${field} (more than 64 characters or not printable ASCII) serverId=s1`,
      });
    },
  );

  it('keeps the proxy’s order: a missing id is reported as the proxy does before any bound', () => {
    const failures = [
      body({ server_id: '' }),
      body({ server_id: 'x'.repeat(65), device_id: '' }),
      body({ device_id: '', ack_id: 'x'.repeat(65) }),
      body({ device_id: 'd'.repeat(513), ack_id: 'x'.repeat(65) }),
      body({ ack_id: 'x'.repeat(65), platform: 'nope' }),
    ].map((text) => {
      const result = decodeSendPush(text, lookup);
      return result.ok ? 'ok' : result.failure;
    });
    expect(failures).toEqual([
      'server_id',
      'server_id_invalid',
      'device_id',
      'device_id_invalid',
      'id_invalid',
    ]);
  });
});

describe('decodeAck: bounds on its ids', () => {
  const ack = (fields: Record<string, unknown>) =>
    JSON.stringify({ id: 'a1', platform: 'ios', type: 'message', received_at: 1, ...fields });

  it('refuses an ack id or post id over 64 characters', () => {
    expect(decodeAck(ack({ id: 'x'.repeat(64), post_id: 'p'.repeat(64) })).ok).toBe(true);
    expect(decodeAck(ack({ id: 'x'.repeat(65) }))).toEqual({
      ok: false,
      failure: 'id_invalid',
      error: 'Failed because of invalid ack Id (more than 64 characters or not printable ASCII)',
    });
    expect(decodeAck(ack({ post_id: 'p\n' }))).toEqual({
      ok: false,
      failure: 'id_invalid',
      error: 'Failed because of invalid ack post_id (more than 64 characters or not printable ASCII)',
    });
  });
});
