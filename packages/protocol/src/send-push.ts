import { decodeGoStruct } from './go-decode';
import { readFirstGoJsonValue } from './go-json';
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

/** Which check of the proxy's order (reference §1.5) a request failed. */
export type SendPushFailure = 'decode' | 'server_id' | 'device_id' | 'platform';

export type SendPushDecodeResult =
  { ok: true; request: SendPushRequest } | { ok: false; failure: SendPushFailure; error: string };

/**
 * Decodes and validates a send_push body exactly in the proxy's order, with its FAIL texts:
 * decode → server_id → device_id → truncation and `-vN` → platform lookup. Never throws.
 */
export function decodeSendPush(body: string, lookup: TargetLookup): SendPushDecodeResult {
  const read = readFirstGoJsonValue(body);
  if (!read.ok) return { ok: false, failure: 'decode', error: `Failed to read message body: ${read.error}` };
  const decoded = decodeGoStruct<PushNotification>(read.value, PUSH_NOTIFICATION_SCHEMA);
  const typeError = decoded.typeErrors[0];
  if (typeError !== undefined) {
    return { ok: false, failure: 'decode', error: `Failed to read message body: ${typeError}` };
  }
  const notification = decoded.value;
  if (notification.server_id === '') {
    return { ok: false, failure: 'server_id', error: 'Failed because of missing server Id' };
  }
  if (notification.device_id === '') {
    return {
      ok: false,
      failure: 'device_id',
      error: `Failed because of missing device Id serverId=${notification.server_id}`,
    };
  }
  if (utf8ByteLength(notification.message) > MESSAGE_MAX_BYTES) {
    notification.message = truncateUtf8(notification.message, MESSAGE_TRUNCATED_BYTES);
  }
  notification.channel_name = truncateUtf8(notification.channel_name, CHANNEL_NAME_MAX_BYTES);
  const parsed = parsePlatform(notification.platform);
  const route = resolveTarget(parsed.type, notification.transport, lookup);
  if (route === undefined) {
    return {
      ok: false,
      failure: 'platform',
      error: `Did not send message because of missing platform property type=${parsed.type} serverId=${notification.server_id}`,
    };
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
