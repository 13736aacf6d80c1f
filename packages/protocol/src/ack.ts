import { FAIL_TEXTS } from './fail-texts';
import { ID_MAX_LENGTH, isBoundedId } from './identifiers';
import { decodeGoStruct, type GoStructSchema } from './go-decode';
import { readFirstGoJsonValue } from './go-json';

/**
 * The body of `POST /api/v1/ack`: the Mattermost server's `model.PushNotificationAck`
 * (reference/mattermost-wire.md §1.7, §8.5).
 */
export interface PushNotificationAck {
  /** The `ack_id` of the push being acknowledged. */
  id: string;
  /** When the device received the push, epoch milliseconds. */
  received_at: number;
  /** The client platform reported by the app: `ios` or `android` (not the push target type). */
  platform: string;
  /** The push's `type`. */
  type: string;
  post_id: string;
  is_id_loaded: boolean;
}

export const PUSH_NOTIFICATION_ACK_SCHEMA: GoStructSchema = {
  qualifiedName: 'model.PushNotificationAck',
  name: 'PushNotificationAck',
  fields: {
    id: 'string',
    received_at: 'int64',
    platform: 'string',
    type: 'string',
    post_id: 'string',
    is_id_loaded: 'bool',
  },
};

/** Which check an ack failed (the proxy's, or HPNS's bounds on its ids: `id_invalid`). A metric label. */
export type AckFailure = 'decode' | 'id' | 'id_invalid' | 'platform' | 'type';

export type AckDecodeResult =
  { ok: true; ack: PushNotificationAck } | { ok: false; failure: AckFailure; error: string };

/** Decodes and validates an ack body in the proxy's order, with its FAIL texts. Never throws. */
export function decodeAck(body: string): AckDecodeResult {
  const read = readFirstGoJsonValue(body);
  if (!read.ok) return { ok: false, failure: 'decode', error: FAIL_TEXTS.ackUnreadable(read.error) };
  const decoded = decodeGoStruct<PushNotificationAck>(read.value, PUSH_NOTIFICATION_ACK_SCHEMA);
  const typeError = decoded.typeErrors[0];
  if (typeError !== undefined)
    return { ok: false, failure: 'decode', error: FAIL_TEXTS.ackUnreadable(typeError) };
  const ack = decoded.value;
  if (ack.id === '') return { ok: false, failure: 'id', error: FAIL_TEXTS.missingAckId };
  if (!isBoundedId(ack.id, ID_MAX_LENGTH))
    return { ok: false, failure: 'id_invalid', error: FAIL_TEXTS.invalidAckId };
  if (!isBoundedId(ack.post_id, ID_MAX_LENGTH))
    return { ok: false, failure: 'id_invalid', error: FAIL_TEXTS.invalidAckPostId };
  if (ack.platform === '') return { ok: false, failure: 'platform', error: FAIL_TEXTS.missingAckPlatform };
  if (ack.type === '') return { ok: false, failure: 'type', error: FAIL_TEXTS.missingAckType };
  return { ok: true, ack };
}
