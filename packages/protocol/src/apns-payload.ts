import { emojize } from './emoji/emojize';
import { type Transport } from './platform';
import { NO_SIGNATURE, type PushNotification } from './push-notification';
import { goJsonString } from './response';
import { utf8ByteLength } from './utf8';

/**
 * The APNs request for a push, reproducing the Go push proxy (reference/mattermost-wire.md §2.2–§2.4):
 * the same `aps` dictionary and custom keys, serialised as Go does it (top-level keys sorted, `aps` and
 * `alert` members in apns2's struct order, HTML-safe escaping), so the body is byte-identical.
 *
 * One deliberate deviation (docs/compatibility.md): a push whose `aps` holds nothing but `content-available`
 * (test pushes) goes out as `apns-push-type: background` with priority 5, as Apple requires, instead of the
 * proxy's `alert`/10. The payload, and so what the app sees, is unchanged.
 */

/** APNs payload limits in bytes (Apple: 4 KB, 5 KB for VoIP). */
export const APNS_MAX_PAYLOAD_BYTES = 4096;
export const APNS_VOIP_MAX_PAYLOAD_BYTES = 5120;

export type ApnsPushType = 'alert' | 'background' | 'voip';

export interface ApsAlert {
  body?: string;
  title?: string;
}

/** The `aps` dictionary, members in apns2's struct order. */
export interface ApsDictionary {
  alert?: string | ApsAlert;
  badge?: number;
  category?: string;
  'content-available'?: 1;
  'mutable-content'?: 1;
  sound?: string;
  'thread-id'?: string;
}

export type ApnsCustomValue = string | boolean;

export interface ApnsPayload {
  aps: ApsDictionary;
  custom: Record<string, ApnsCustomValue>;
}

export interface ApnsRequestOptions {
  /** The target's bundle id (`ApplePushTopic`); `.voip` is appended for VoIP pushes. */
  topic: string;
  /** `voip` sends through PushKit (topic suffix, push type voip, VoIP payload). */
  transport: Transport;
  /** App version from the platform suffix; v2+ apps get badge 1 on a clear with badge 0. */
  appVersion: number;
  /** When APNs may stop trying, epoch seconds (`apns-expiration`). Omitted: the proxy sends none. */
  expirationEpochSeconds?: number;
  /** A canonical lower-case UUID for `apns-id`. Omitted: APNs assigns one. */
  apnsId?: string;
}

export interface ApnsRequest {
  /** `:path` of the request. */
  path: string;
  /** Request headers, lower-case names, string values. */
  headers: Record<string, string>;
  pushType: ApnsPushType;
  priority: 5 | 10;
  payload: ApnsPayload;
  /** The JSON body as sent. */
  body: string;
  /** Body size in bytes. */
  byteLength: number;
  /** The limit for this push type; a longer body is refused by APNs with PayloadTooLarge. */
  maxBytes: number;
}

const APS_ORDER: ReadonlyArray<keyof ApsDictionary> = [
  'alert',
  'badge',
  'category',
  'content-available',
  'mutable-content',
  'sound',
  'thread-id',
];

function signatureOf(n: PushNotification): string {
  return n.signature === '' ? NO_SIGNATURE : n.signature;
}

function setIfNotEmpty(custom: Record<string, ApnsCustomValue>, key: string, value: string): void {
  if (value !== '') custom[key] = value;
}

/** The standard (non-VoIP) payload of §2.3. */
export function buildApnsPayload(n: PushNotification, appVersion: number): ApnsPayload {
  const aps: ApsDictionary = {};
  const custom: Record<string, ApnsCustomValue> = {};

  if (n.badge === 0 && n.type === 'clear' && appVersion > 1) aps.badge = 1;
  else if (n.badge !== -1) aps.badge = n.badge;

  if (n.is_id_loaded) {
    if (n.category !== '') aps.category = n.category;
    aps.sound = 'default';
    custom.version = n.version;
    custom.id_loaded = true;
    aps['mutable-content'] = 1;
    // apns2 creates the alert dictionary even when the body is empty; `body` itself is omitempty.
    aps.alert = n.message === '' ? {} : { body: n.message };
    aps['content-available'] = 1;
  } else if (n.type === 'message' || n.type === 'session') {
    if (n.category !== '') aps.category = n.category;
    aps.sound = 'default';
    custom.version = n.version;
    aps['mutable-content'] = 1;
    if (n.type === 'message') aps['content-available'] = 1;
    const text = emojize(n.message);
    if (n.channel_name !== '' && n.version === 'v2') {
      const alert: ApsAlert = {};
      if (text !== '') alert.body = text;
      alert.title = n.channel_name;
      aps.alert = alert;
    } else {
      aps.alert = text;
    }
    setIfNotEmpty(custom, 'channel_name', n.channel_name);
  } else if (n.type === 'clear' || n.type === 'test') {
    aps['content-available'] = 1;
  }

  custom.type = n.type;
  custom.sub_type = n.sub_type;
  custom.server_id = n.server_id;
  setIfNotEmpty(custom, 'ack_id', n.ack_id);
  custom.is_crt_enabled = n.is_crt_enabled;
  if (n.channel_id !== '') {
    custom.channel_id = n.channel_id;
    aps['thread-id'] = n.is_crt_enabled && n.root_id !== '' ? n.root_id : n.channel_id;
  }
  custom.signature = signatureOf(n);
  setIfNotEmpty(custom, 'team_id', n.team_id);
  setIfNotEmpty(custom, 'sender_id', n.sender_id);
  setIfNotEmpty(custom, 'sender_name', n.sender_name);
  setIfNotEmpty(custom, 'post_id', n.post_id);
  setIfNotEmpty(custom, 'root_id', n.root_id);
  setIfNotEmpty(custom, 'override_username', n.override_username);
  setIfNotEmpty(custom, 'override_icon_url', n.override_icon_url);
  setIfNotEmpty(custom, 'from_webhook', n.from_webhook);
  return { aps, custom };
}

/** The VoIP payload of §2.4: content-available only, call routing keys at the top level. */
export function buildApnsVoipPayload(n: PushNotification): ApnsPayload {
  const custom: Record<string, ApnsCustomValue> = {
    type: n.type,
    sub_type: n.sub_type,
    channel_id: n.channel_id,
    server_id: n.server_id,
    post_id: n.post_id,
    thread_id: n.root_id,
    sender_id: n.sender_id,
    id_loaded: n.is_id_loaded,
  };
  setIfNotEmpty(custom, 'sender_name', n.sender_name);
  setIfNotEmpty(custom, 'channel_name', n.channel_name);
  setIfNotEmpty(custom, 'ack_id', n.ack_id);
  custom.signature = signatureOf(n);
  return { aps: { 'content-available': 1 }, custom };
}

function serializeValue(value: ApnsCustomValue | number): string {
  return typeof value === 'string' ? goJsonString(value) : String(value);
}

function serializeAps(aps: ApsDictionary): string {
  const members: string[] = [];
  for (const key of APS_ORDER) {
    const value = aps[key];
    if (value === undefined) continue;
    let text: string;
    if (typeof value === 'object') {
      const alert: string[] = [];
      if (value.body !== undefined) alert.push(`"body":${goJsonString(value.body)}`);
      if (value.title !== undefined) alert.push(`"title":${goJsonString(value.title)}`);
      text = `{${alert.join(',')}}`;
    } else {
      text = serializeValue(value);
    }
    members.push(`${goJsonString(key)}:${text}`);
  }
  return `{${members.join(',')}}`;
}

/** The payload as Go's json.Marshal writes apns2's map: keys sorted, `aps` among them. */
export function serializeApnsPayload(payload: ApnsPayload): string {
  const keys = [...Object.keys(payload.custom).filter((key) => key !== 'aps'), 'aps'].sort();
  const members = keys.map((key) => {
    const value =
      key === 'aps' ? serializeAps(payload.aps) : serializeValue(payload.custom[key] as ApnsCustomValue);
    return `${goJsonString(key)}:${value}`;
  });
  return `{${members.join(',')}}`;
}

/** True when `aps` asks for nothing visible: no alert, badge or sound (a background push, for Apple). */
function isBackgroundOnly(aps: ApsDictionary): boolean {
  return aps.alert === undefined && aps.badge === undefined && aps.sound === undefined;
}

/** Builds the APNs request (path, headers, body) for a push. */
export function buildApnsRequest(n: PushNotification, options: ApnsRequestOptions): ApnsRequest {
  const voip = options.transport === 'voip';
  const payload = voip ? buildApnsVoipPayload(n) : buildApnsPayload(n, options.appVersion);
  let pushType: ApnsPushType = 'alert';
  let priority: 5 | 10 = 10;
  if (voip) pushType = 'voip';
  else if (isBackgroundOnly(payload.aps)) {
    pushType = 'background';
    priority = 5;
  }
  const headers: Record<string, string> = {
    'apns-topic': voip ? `${options.topic}.voip` : options.topic,
    'apns-push-type': pushType,
    'apns-priority': String(priority),
    'content-type': 'application/json; charset=utf-8',
  };
  if (options.expirationEpochSeconds !== undefined) {
    headers['apns-expiration'] = String(Math.max(0, Math.floor(options.expirationEpochSeconds)));
  }
  if (options.apnsId !== undefined) headers['apns-id'] = options.apnsId;
  const body = serializeApnsPayload(payload);
  return {
    path: `/3/device/${n.device_id}`,
    headers,
    pushType,
    priority,
    payload,
    body,
    byteLength: utf8ByteLength(body),
    maxBytes: voip ? APNS_VOIP_MAX_PAYLOAD_BYTES : APNS_MAX_PAYLOAD_BYTES,
  };
}
