import { FAIL_TEXTS } from './fail-texts';
import { decodeGoStruct } from './go-decode';
import { readFirstGoJsonValue } from './go-json';
import { BOUNDED_ID_FIELDS, DEVICE_ID_MAX_LENGTH, ID_MAX_LENGTH, isBoundedId } from './identifiers';
import { type ProviderKind, type Transport, parsePlatform, voipAliasTarget } from './platform';
import {
  CHANNEL_NAME_MAX_BYTES,
  MESSAGE_MAX_BYTES,
  MESSAGE_TRUNCATED_BYTES,
  PUSH_NOTIFICATION_SCHEMA,
  type PushNotification,
} from './push-notification';
import { truncateUtf8, utf8ByteLength } from './utf8';

/** Looks up a configured push target type (exact, case-sensitive, like the proxy's map). */
export type TargetLookup = (type: string) => ProviderKind | undefined;

/** A send_push request that passed every check of the proxy, ready to route. */
export interface SendPushRequest {
  /** The decoded notification, `message` and `channel_name` already truncated. */
  notification: PushNotification;
  /** The configured target type that delivers it (suffix stripped, VoIP alias resolved). */
  targetType: string;
  provider: ProviderKind;
  /** `voip` only for Apple targets, from `transport: "voip"` or an `apple_voip_*` platform. */
  transport: Transport;
  /** From the platform's `-vN` suffix; 1 by default. */
  appVersion: number;
}

/**
 * Which check a request failed: the proxy's (reference §1.5), or HPNS's bounds on the ids a caller chooses
 * (`*_invalid`, identifiers.ts). Used as a metric label: a bounded set.
 */
export type SendPushFailure =
  | 'decode'
  | 'server_id'
  | 'server_id_invalid'
  | 'device_id'
  | 'device_id_invalid'
  | 'id_invalid'
  | 'platform';

export type SendPushDecodeResult =
  { ok: true; request: SendPushRequest } | { ok: false; failure: SendPushFailure; error: string };

/**
 * Decodes and validates a send_push body in the proxy's order, with its FAIL texts: decode → server_id →
 * device_id → truncation and `-vN` → platform lookup; HPNS's bounds on the ids (identifiers.ts) come right after
 * the proxy's check of the same field, before anything uses them. Never throws.
 */
export function decodeSendPush(body: string, lookup: TargetLookup): SendPushDecodeResult {
  const read = readFirstGoJsonValue(body);
  if (!read.ok) return { ok: false, failure: 'decode', error: FAIL_TEXTS.bodyUnreadable(read.error) };
  const decoded = decodeGoStruct<PushNotification>(read.value, PUSH_NOTIFICATION_SCHEMA);
  const typeError = decoded.typeErrors[0];
  if (typeError !== undefined) {
    return { ok: false, failure: 'decode', error: FAIL_TEXTS.bodyUnreadable(typeError) };
  }
  const notification = decoded.value;
  const serverId = notification.server_id;
  if (serverId === '') return { ok: false, failure: 'server_id', error: FAIL_TEXTS.missingServerId };
  if (!isBoundedId(serverId, ID_MAX_LENGTH)) {
    return { ok: false, failure: 'server_id_invalid', error: FAIL_TEXTS.invalidServerId };
  }
  if (notification.device_id === '') {
    return { ok: false, failure: 'device_id', error: FAIL_TEXTS.missingDeviceId(serverId) };
  }
  if (!isBoundedId(notification.device_id, DEVICE_ID_MAX_LENGTH)) {
    return { ok: false, failure: 'device_id_invalid', error: FAIL_TEXTS.invalidDeviceId(serverId) };
  }
  for (const field of BOUNDED_ID_FIELDS) {
    if (!isBoundedId(notification[field], ID_MAX_LENGTH)) {
      return { ok: false, failure: 'id_invalid', error: FAIL_TEXTS.invalidId(field, serverId) };
    }
  }
  if (utf8ByteLength(notification.message) > MESSAGE_MAX_BYTES) {
    notification.message = truncateUtf8(notification.message, MESSAGE_TRUNCATED_BYTES);
  }
  notification.channel_name = truncateUtf8(notification.channel_name, CHANNEL_NAME_MAX_BYTES);
  const parsed = parsePlatform(notification.platform);
  const route = resolveTarget(parsed.type, notification.transport, lookup);
  if (route === undefined) {
    return { ok: false, failure: 'platform', error: FAIL_TEXTS.missingPlatform(parsed.type, serverId) };
  }
  return { ok: true, request: { notification, ...route, appVersion: parsed.appVersion } };
}

function resolveTarget(
  type: string,
  transportField: string,
  lookup: TargetLookup,
): Pick<SendPushRequest, 'targetType' | 'provider' | 'transport'> | undefined {
  const provider = lookup(type);
  if (provider !== undefined) {
    const transport: Transport = provider === 'apns' && transportField === 'voip' ? 'voip' : 'standard';
    return { targetType: type, provider, transport };
  }
  const aliased = voipAliasTarget(type);
  if (aliased !== undefined && lookup(aliased) === 'apns') {
    return { targetType: aliased, provider: 'apns', transport: 'voip' };
  }
  return undefined;
}
