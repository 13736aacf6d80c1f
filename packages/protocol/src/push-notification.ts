import { type GoStructSchema } from './go-decode';

/**
 * The body of `POST /api/v1/send_push`: the Mattermost server's `model.PushNotification`, field for field, with
 * its JSON names (reference/mattermost-wire.md §1.3). Every field has Go's zero value when absent.
 */
export interface PushNotification {
  /** Mattermost id of this device send; `""` for test pushes. */
  ack_id: string;
  /** The push target type, possibly with a `-vN` app-version suffix (`apple_rn-v2`). */
  platform: string;
  /** The calling server's telemetry id. Required. */
  server_id: string;
  /** APNs device token or FCM registration token. Required. */
  device_id: string;
  post_id: string;
  /** `CAN_REPLY` for messages. */
  category: string;
  /** Ignored by the push proxy (it sets `default` itself); kept for completeness. */
  sound: string;
  message: string;
  /** Unread count; `-1` means "leave the badge alone"; absent (0) clears it. */
  badge: number;
  /** Ignored by the push proxy (content-available is decided per type). */
  cont_ava: number;
  team_id: string;
  channel_id: string;
  root_id: string;
  channel_name: string;
  /** `message`, `clear`, `update_badge`, `session`, `test`, or anything newer (passed through). */
  type: string;
  sub_type: string;
  sender_id: string;
  sender_name: string;
  override_username: string;
  override_icon_url: string;
  /** The string `"true"` for webhook posts. */
  from_webhook: string;
  /** `v2` for current servers (`2` in test pushes). */
  version: string;
  is_crt_enabled: boolean;
  is_id_loaded: boolean;
  /** ES256 JWT from the server, or `""`. */
  signature: string;
  /** `voip` routes an Apple push through PushKit. */
  transport: string;
}

export const PUSH_NOTIFICATION_SCHEMA: GoStructSchema = {
  qualifiedName: 'model.PushNotification',
  name: 'PushNotification',
  fields: {
    ack_id: 'string',
    platform: 'string',
    server_id: 'string',
    device_id: 'string',
    post_id: 'string',
    category: 'string',
    sound: 'string',
    message: 'string',
    badge: 'int',
    cont_ava: 'int',
    team_id: 'string',
    channel_id: 'string',
    root_id: 'string',
    channel_name: 'string',
    type: 'string',
    sub_type: 'string',
    sender_id: 'string',
    sender_name: 'string',
    override_username: 'string',
    override_icon_url: 'string',
    from_webhook: 'string',
    version: 'string',
    is_crt_enabled: 'bool',
    is_id_loaded: 'bool',
    signature: 'string',
    transport: 'string',
  },
};

/** The notification kinds the Mattermost server sends (any other string is passed through as is). */
export const PUSH_TYPES = ['message', 'clear', 'update_badge', 'session', 'test'] as const;
export type KnownPushType = (typeof PUSH_TYPES)[number];

/** The push type as kept in clear (job names, routing, metric labels): a known type, or `other`. */
export function boundedPushType(type: string): KnownPushType | 'other' {
  return (PUSH_TYPES as readonly string[]).includes(type) ? (type as KnownPushType) : 'other';
}

/** Byte limits the push proxy applies before building payloads (reference §1.3). */
export const MESSAGE_MAX_BYTES = 2047;
export const MESSAGE_TRUNCATED_BYTES = 2046;
export const CHANNEL_NAME_MAX_BYTES = 64;

/** The signature value the proxy sends when the server sent none. */
export const NO_SIGNATURE = 'NO_SIGNATURE';

/** A notification with every field at its zero value, overridden by `fields`. */
export function makePushNotification(fields: Partial<PushNotification> = {}): PushNotification {
  return {
    ack_id: '',
    platform: '',
    server_id: '',
    device_id: '',
    post_id: '',
    category: '',
    sound: '',
    message: '',
    badge: 0,
    cont_ava: 0,
    team_id: '',
    channel_id: '',
    root_id: '',
    channel_name: '',
    type: '',
    sub_type: '',
    sender_id: '',
    sender_name: '',
    override_username: '',
    override_icon_url: '',
    from_webhook: '',
    version: '',
    is_crt_enabled: false,
    is_id_loaded: false,
    signature: '',
    transport: '',
    ...fields,
  };
}
