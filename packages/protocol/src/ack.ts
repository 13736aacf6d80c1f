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

export type AckFailure = 'decode' | 'id' | 'platform' | 'type';

export type AckDecodeResult =
  { ok: true; ack: PushNotificationAck } | { ok: false; failure: AckFailure; error: string };

/** Decodes and validates an ack body in the proxy's order, with its FAIL texts. Never throws. */
export function decodeAck(body: string): AckDecodeResult {
  const read = readFirstGoJsonValue(body);
  if (!read.ok) return { ok: false, failure: 'decode', error: `Failed to read ack body: ${read.error}` };
  const decoded = decodeGoStruct<PushNotificationAck>(read.value, PUSH_NOTIFICATION_ACK_SCHEMA);
  const typeError = decoded.typeErrors[0];
  if (typeError !== undefined)
    return { ok: false, failure: 'decode', error: `Failed to read ack body: ${typeError}` };
  const ack = decoded.value;
  if (ack.id === '') return { ok: false, failure: 'id', error: 'Failed because of missing ack Id' };
  if (ack.platform === '')
    return { ok: false, failure: 'platform', error: 'Failed because of missing ack platform' };
  if (ack.type === '') return { ok: false, failure: 'type', error: 'Failed because of missing ack type' };
  return { ok: true, ack };
}
