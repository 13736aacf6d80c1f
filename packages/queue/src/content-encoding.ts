import { type PushNotification } from '@hpns/protocol';

// The encoding of a notification's fields in sealed content, shared by the one-push formats 2 and 3
// (payload-cipher.ts) and envelopes (envelope.ts): field numbers instead of names, only the fields that differ from
// their zero value, and a preset dictionary for deflate.

/**
 * Version 2 field numbers: a field's number is its index here. Append only — a number never changes meaning,
 * or jobs queued by one release would be misread by the next (a test checks this list covers the schema).
 */
export const SEALED_FIELDS: readonly (keyof PushNotification)[] = [
  'ack_id',
  'platform',
  'server_id',
  'device_id',
  'post_id',
  'category',
  'sound',
  'message',
  'badge',
  'cont_ava',
  'team_id',
  'channel_id',
  'root_id',
  'channel_name',
  'type',
  'sub_type',
  'sender_id',
  'sender_name',
  'override_username',
  'override_icon_url',
  'from_webhook',
  'version',
  'is_crt_enabled',
  'is_id_loaded',
  'signature',
  'transport',
];
const FIELD_NUMBER = new Map(SEALED_FIELDS.map((name, index) => [name, index]));

/**
 * Preset deflate dictionary: strings nearly every push repeats (JSON punctuation, the values the Mattermost
 * server sends for category, type, version, platform, the ES256 JWT header of `signature`). Part of format 2:
 * never edit it, add a format version instead.
 */
export const DICTIONARY = Buffer.from(
  '","NO_SIGNATURE","default","none","clear","update_badge","session","test","calls","android_rn-v2",' +
    '"android_rn","apple_rn-v2","apple_rn","v2","CAN_REPLY",true,false,' +
    '"eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2tfaWQiOiI","message","Town Square","',
);

/** Fields that differ from their zero value, as `[number, value, number, value, …]` (formats 2 to 4). */
export function contentPairs(notification: PushNotification): unknown[] {
  const pairs: unknown[] = [];
  for (const field of SEALED_FIELDS) {
    const value = notification[field];
    if (value !== '' && value !== 0 && value !== false) pairs.push(FIELD_NUMBER.get(field), value);
  }
  return pairs;
}

/** @throws Error when `pairs` is not a list of known field numbers and values. */
export function fieldsFromPairs(pairs: unknown): Partial<PushNotification> {
  if (!Array.isArray(pairs) || pairs.length % 2 !== 0) throw new Error('content is not field pairs');
  const fields: Record<string, unknown> = {};
  for (let i = 0; i < pairs.length; i += 2) {
    const name = SEALED_FIELDS[pairs[i] as number];
    if (name === undefined) throw new Error(`unknown field number ${String(pairs[i])}`);
    fields[name] = pairs[i + 1];
  }
  return fields as Partial<PushNotification>;
}
