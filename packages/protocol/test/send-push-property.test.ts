import fc from 'fast-check';
import {
  BOUNDED_ID_FIELDS,
  decodeAck,
  decodeSendPush,
  DEVICE_ID_MAX_LENGTH,
  foldGoKey,
  ID_MAX_LENGTH,
  isBoundedId,
  PUSH_NOTIFICATION_SCHEMA,
  utf8ByteLength,
  type ProviderKind,
} from '@hpns/protocol';
import { anyBody, objectText, type Member } from './support/bodies';

const TARGETS: Record<string, ProviderKind> = { apple_rn: 'apns', android_rn: 'fcm' };
const lookup = (type: string) => TARGETS[type];

/** Go's int is int64: an integer literal (no fraction, no exponent) within its range. */
const isInt64Literal = (text: string) =>
  /^-?\d+$/.test(text) && BigInt(text) >= -(2n ** 63n) && BigInt(text) <= 2n ** 63n - 1n;

/** Every FAIL text the decoder may produce (reference §1.5). */
const DOCUMENTED_FAILS = [
  /^Failed to read message body: (EOF|unexpected EOF)$/,
  /^Failed to read message body: invalid character '.{1,6}' (looking for beginning of value|looking for beginning of object key string|after object key|after object key:value pair|after array element|in string literal|in string escape code|in \\u hexadecimal character escape|in numeric literal|after decimal point in numeric literal|in exponent of numeric literal|in literal (true|false|null) \(expecting '[a-z]'\)|exceeded max depth)$/su,
  /^Failed to read message body: json: cannot unmarshal (string|bool|array|object|number|number \S+) into Go (struct field PushNotification\.[a-z_]+ of type (string|int|bool)|value of type model\.PushNotification)$/,
  /^Failed because of missing server Id$/,
  /^Failed because of invalid server Id \(more than 64 characters or not printable ASCII\)$/,
  // Past the server id check, the id echoed is bounded: no FAIL text carries more than 64 characters of it.
  /^Failed because of missing device Id serverId=[\x21-\x7e]{1,64}$/,
  /^Failed because of invalid device Id \(more than 512 characters or not printable ASCII\) serverId=[\x21-\x7e]{1,64}$/,
  /^Failed because of invalid (ack_id|post_id|team_id|channel_id|root_id|sender_id) \(more than 64 characters or not printable ASCII\) serverId=[\x21-\x7e]{1,64}$/,
  /^Did not send message because of missing platform property type=.* serverId=[\x21-\x7e]{1,64}$/su,
];

describe('decodeSendPush (properties)', () => {
  it('never throws and always yields a valid request or a documented FAIL text (10,000 bodies)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(anyBody, (body) => {
        const result = decodeSendPush(body, lookup);
        if (result.ok) {
          accepted++;
          const { notification, targetType, appVersion } = result.request;
          expect(notification.server_id).not.toBe('');
          expect(notification.device_id).not.toBe('');
          // Every id a caller chose is within its bounds once accepted (identifiers.ts).
          expect(isBoundedId(notification.server_id, ID_MAX_LENGTH)).toBe(true);
          expect(isBoundedId(notification.device_id, DEVICE_ID_MAX_LENGTH)).toBe(true);
          for (const field of BOUNDED_ID_FIELDS)
            expect(isBoundedId(notification[field], ID_MAX_LENGTH)).toBe(true);
          expect(targetType in TARGETS).toBe(true);
          expect(Number.isInteger(appVersion)).toBe(true);
          expect(utf8ByteLength(notification.message)).toBeLessThanOrEqual(2047);
          expect(utf8ByteLength(notification.channel_name)).toBeLessThanOrEqual(64);
        } else {
          expect(DOCUMENTED_FAILS.some((pattern) => pattern.test(result.error))).toBe(true);
        }
      }),
      { numRuns: 10_000 },
    );
    // The generator must reach the accept path often enough for the property to mean something.
    expect(accepted).toBeGreaterThan(500);
  });

  it('decodes well-formed objects like a model of Go’s rules built on JSON.parse (3,000 bodies)', () => {
    const fields = PUSH_NOTIFICATION_SCHEMA.fields;
    const byFolded = new Map(Object.keys(fields).map((name) => [foldGoKey(name), name]));
    const model = (members: Member[]) => {
      const out: Record<string, unknown> = {};
      let typeError: string | undefined;
      for (const [key, value] of members) {
        const field = byFolded.get(foldGoKey(key));
        if (field === undefined || value === null) continue;
        const kind = fields[field];
        const ok =
          (kind === 'string' && typeof value === 'string') ||
          (kind === 'bool' && typeof value === 'boolean') ||
          (kind === 'int' && typeof value === 'number' && isInt64Literal(JSON.stringify(value)));
        if (!ok) typeError ??= field;
        else out[field] = kind === 'string' ? (value as string).toWellFormed() : value;
      }
      return { out, typeError };
    };
    fc.assert(
      fc.property(objectText, ({ members, text }) => {
        const expected = model(members);
        const result = decodeSendPush(text, lookup);
        if (expected.typeError !== undefined) {
          expect(result.ok).toBe(false);
          expect(!result.ok && result.error).toContain(
            `Go struct field PushNotification.${expected.typeError} of type`,
          );
          return;
        }
        if (!result.ok) {
          expect(result.failure).not.toBe('decode');
          return;
        }
        const n = result.request.notification as unknown as Record<string, unknown>;
        for (const [field, value] of Object.entries(expected.out)) {
          if (field === 'message' || field === 'channel_name') continue; // truncated; checked elsewhere
          expect(n[field]).toEqual(value);
        }
      }),
      { numRuns: 3_000 },
    );
  });
});

describe('decodeAck (properties)', () => {
  it('never throws on arbitrary bodies (2,000 bodies)', () => {
    fc.assert(
      fc.property(anyBody, (body) => {
        const result = decodeAck(body);
        if (!result.ok)
          expect(result.error).toMatch(
            /^Failed (to read ack body: |because of missing ack (Id|platform|type)$|because of invalid ack (Id|post_id) \(more than 64 characters or not printable ASCII\)$)/,
          );
      }),
      { numRuns: 2_000 },
    );
  });
});
