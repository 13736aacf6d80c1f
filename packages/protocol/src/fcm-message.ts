import { emojize } from './emoji/emojize';
import { NO_SIGNATURE, type PushNotification } from './push-notification';
import { utf8ByteLength } from './utf8';

/**
 * The FCM HTTP v1 `messages:send` body for a push, reproducing the Go push proxy
 * (reference/mattermost-wire.md §3.2): a data-only message with high Android priority, every value a string.
 * `transport: voip` is ignored on Android, as the proxy does.
 */

/** FCM's limit on a message's data (keys and values), in bytes. */
export const FCM_MAX_DATA_BYTES = 4096;

/** The longest Android TTL FCM accepts: 4 weeks, in seconds. */
export const FCM_MAX_TTL_SECONDS = 2_419_200;

export interface FcmMessageOptions {
  /**
   * Android TTL in whole seconds (`android.ttl`), clamped to 0..4 weeks. Omitted: FCM's default of 4 weeks,
   * which is what the proxy sends.
   */
  ttlSeconds?: number;
}

export interface FcmMessage {
  message: {
    token: string;
    data: Record<string, string>;
    android: { priority: 'HIGH'; ttl?: string };
  };
}

export interface FcmRequest {
  message: FcmMessage;
  /** The JSON body as sent. */
  body: string;
  /** Bytes of data keys and values, the size FCM checks against FCM_MAX_DATA_BYTES. */
  dataByteLength: number;
}

/** The data map of §3.2. */
export function buildFcmData(n: PushNotification): Record<string, string> {
  const data: Record<string, string> = {
    ack_id: n.ack_id,
    type: n.type,
    sub_type: n.sub_type,
    version: n.version,
    channel_id: n.channel_id,
    is_crt_enabled: n.is_crt_enabled ? 'true' : 'false',
    server_id: n.server_id,
    category: n.category,
    signature: n.signature === '' ? NO_SIGNATURE : n.signature,
  };
  if (n.badge !== -1) data.badge = String(n.badge);
  if (n.root_id !== '') data.root_id = n.root_id;
  if (n.is_id_loaded) {
    data.post_id = n.post_id;
    data.message = n.message;
    data.id_loaded = 'true';
    data.sender_id = n.sender_id;
    // The proxy hides the sender of id-loaded pushes; the app fetches the real content.
    data.sender_name = 'Someone';
    data.team_id = n.team_id;
  } else if (n.type === 'message' || n.type === 'session') {
    data.team_id = n.team_id;
    data.sender_id = n.sender_id;
    data.sender_name = n.sender_name;
    data.message = emojize(n.message);
    data.channel_name = n.channel_name;
    data.post_id = n.post_id;
    data.override_username = n.override_username;
    data.override_icon_url = n.override_icon_url;
    data.from_webhook = n.from_webhook;
  }
  return data;
}

/** Byte size of a data map as FCM counts it: keys plus values. */
export function fcmDataByteLength(data: Readonly<Record<string, string>>): number {
  let bytes = 0;
  for (const key of Object.keys(data)) bytes += utf8ByteLength(key) + utf8ByteLength(data[key] as string);
  return bytes;
}

/** Builds the FCM v1 send body for a push. */
export function buildFcmRequest(n: PushNotification, options: FcmMessageOptions = {}): FcmRequest {
  const data = buildFcmData(n);
  const android: FcmMessage['message']['android'] = { priority: 'HIGH' };
  if (options.ttlSeconds !== undefined) {
    const ttl = Math.min(FCM_MAX_TTL_SECONDS, Math.max(0, Math.floor(options.ttlSeconds)));
    android.ttl = `${ttl}s`;
  }
  const message: FcmMessage = { message: { token: n.device_id, data, android } };
  return { message, body: JSON.stringify(message), dataByteLength: fcmDataByteLength(data) };
}
