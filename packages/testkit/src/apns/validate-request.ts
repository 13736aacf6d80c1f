import { type IncomingHttpHeaders } from 'node:http2';
import { resolveTopic, type ApnsSimPushType } from './push-types';
import { type ApnsReason } from './reasons';

/** The headers of a push that passed {@link validatePushHeaders}. */
export interface ValidPushHeaders {
  /** The device token from `:path`, as sent. */
  token: string;
  topic: string;
  /** `topic` without its push-type suffix (§1.3). */
  bundleId: string;
  pushType: ApnsSimPushType;
  /** 10, 5 or 1; 10 when the header is absent (§1.2). */
  priority: number;
  /** The request's `apns-id`, when it sent one. */
  apnsId: string | undefined;
  /** Body limit in bytes for this push type. */
  maxPayloadBytes: number;
}

/** How device tokens in `:path` are checked. */
export interface TokenFormat {
  /** Only 64 hex characters, as pushy's mock does (§1.2). Otherwise any even-length hex of 64–200 chars. */
  strictTokenLength: boolean;
}

const PATH_PREFIX = '/3/device/';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^[0-9a-fA-F]+$/;
const PRIORITIES: Record<string, number> = { '10': 10, '5': 5, '1': 1 };
const MAX_COLLAPSE_ID_BYTES = 64;

/** Whether `token` has the shape of an APNs device token (§1.2: hex, 32 bytes today, "don't assume size"). */
export function isWellFormedDeviceToken(token: string, format: TokenFormat): boolean {
  if (!HEX.test(token)) return false;
  if (format.strictTokenLength) return token.length === 64;
  return token.length % 2 === 0 && token.length >= 64 && token.length <= 200;
}

/**
 * Validates the request headers in the order of pushy's `ValidatingPushNotificationHandler` (reference §6 and
 * §7.1: "Full header validation of §1.2 in pushy's order"): apns-id → method → topic present → collapse-id →
 * priority → push type → path and token format. Three checks pushy lacks are slotted in where they first
 * become decidable: `DuplicateHeaders` first (nothing else is well defined when a header repeats),
 * `BadExpirationDate` and the push-type ↔ topic-suffix rule (§1.3) after the push type, and `background` at
 * priority 10 (`BadPriority`, [assumption] §1.2) after that.
 *
 * Pure: the token registry, provider token and payload checks come after it, in the simulator.
 */
export function validatePushHeaders(
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[],
  format: TokenFormat,
): ValidPushHeaders | ApnsReason {
  if (hasDuplicateHeader(rawHeaders)) return 'DuplicateHeaders';

  const apnsId = headers['apns-id'] as string | undefined;
  if (apnsId !== undefined && !UUID.test(apnsId)) return 'BadMessageId';

  if (headers[':method'] !== 'POST') return 'MethodNotAllowed';

  // Token connections always need a topic (§1.2: "required for token auth"); empty counts as missing, as in
  // go-apnsmock (§6).
  const topic = headers['apns-topic'] as string | undefined;
  if (topic === undefined || topic === '') return 'MissingTopic';

  const collapseId = headers['apns-collapse-id'] as string | undefined;
  if (collapseId !== undefined && Buffer.byteLength(collapseId) > MAX_COLLAPSE_ID_BYTES)
    return 'BadCollapseId';

  const priorityHeader = headers['apns-priority'] as string | undefined;
  const priority = priorityHeader === undefined ? 10 : PRIORITIES[priorityHeader];
  if (priority === undefined) return 'BadPriority';

  const resolved = resolveTopic(headers['apns-push-type'] as string | undefined, topic);
  if (typeof resolved === 'string') return resolved;

  const expiration = headers['apns-expiration'] as string | undefined;
  if (expiration !== undefined && !/^\d{1,12}$/.test(expiration)) return 'BadExpirationDate';

  // §1.3: background must use 5 ("using priority 10 is an error"); location allows only 10 or 5.
  if (resolved.pushType === 'background' && priority === 10) return 'BadPriority';
  if (resolved.pushType === 'location' && priority === 1) return 'BadPriority';

  const path = headers[':path'] ?? '';
  if (path === PATH_PREFIX) return 'MissingDeviceToken';
  if (!path.startsWith(PATH_PREFIX)) return 'BadPath';
  const token = path.slice(PATH_PREFIX.length);
  if (!isWellFormedDeviceToken(token, format)) return 'BadDeviceToken';

  return {
    token,
    topic,
    bundleId: resolved.bundleId,
    pushType: resolved.pushType,
    priority,
    apnsId,
    maxPayloadBytes: resolved.maxPayloadBytes,
  };
}

function hasDuplicateHeader(rawHeaders: readonly string[]): boolean {
  // rawHeaders is [name, value, name, value, …]; names arrive lower-case over HTTP/2. A request has about ten
  // headers, so comparing pairs is cheaper than building a Set for every push.
  for (let i = 2; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    for (let j = 0; j < i; j += 2) if (rawHeaders[j] === name) return true;
  }
  return false;
}
