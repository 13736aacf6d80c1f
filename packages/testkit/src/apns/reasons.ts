/**
 * Every APNs error reason the simulator can answer, with its HTTP status.
 *
 * Source: reference/apns-fcm.md §1.4 (status table) and §1.5 (every reason string), which paraphrase Apple's
 * "Handling notification responses from APNs" (developer.apple.com/documentation/usernotifications/
 * handling-notification-responses-from-apns). `BadPayload` is the one entry Apple does not document; see below.
 */
export const APNS_REASON_STATUS = {
  // 400 — bad request [Apple, §1.5]
  BadCollapseId: 400,
  BadDeviceToken: 400,
  BadExpirationDate: 400,
  BadMessageId: 400,
  BadPriority: 400,
  BadTopic: 400,
  DeviceTokenNotForTopic: 400,
  DuplicateHeaders: 400,
  IdleTimeout: 400,
  InvalidPushType: 400,
  MissingDeviceToken: 400,
  MissingTopic: 400,
  PayloadEmpty: 400,
  TopicDisallowed: 400,
  /**
   * [assumption] A body that is not a JSON object. Apple documents no reason for it (reference §8, "Exact APNs
   * behaviour for malformed JSON payloads … undocumented"); the simulator still rejects it so that a client bug
   * shows up in tests. Clients must treat it like any unknown 400: fail, do not retry.
   */
  BadPayload: 400,
  // 403 — certificate or provider-token problem [Apple, §1.5]
  BadCertificate: 403,
  BadCertificateEnvironment: 403,
  ExpiredProviderToken: 403,
  Forbidden: 403,
  InvalidProviderToken: 403,
  MissingProviderToken: 403,
  UnrelatedKeyIdInToken: 403,
  BadEnvironmentKeyIdInToken: 403,
  // 404 / 405 [Apple, §1.4]
  BadPath: 404,
  MethodNotAllowed: 405,
  // 410 — token no longer active [Apple, §1.5]; `timestamp` accompanies Unregistered (§1.4)
  ExpiredToken: 410,
  Unregistered: 410,
  // 413 [Apple, §1.2 payload limits]
  PayloadTooLarge: 413,
  // 429 [Apple, §1.5]
  TooManyProviderTokenUpdates: 429,
  TooManyRequests: 429,
  // 5xx [Apple, §1.5]
  InternalServerError: 500,
  ServiceUnavailable: 503,
  Shutdown: 503,
} as const satisfies Record<string, number>;

/** An APNs `reason` string the simulator knows. */
export type ApnsReason = keyof typeof APNS_REASON_STATUS;

/** True when `value` is a reason of {@link APNS_REASON_STATUS}. */
export function isApnsReason(value: unknown): value is ApnsReason {
  return typeof value === 'string' && Object.hasOwn(APNS_REASON_STATUS, value);
}

/** The HTTP status APNs answers with `reason`. */
export function apnsStatusOf(reason: ApnsReason): number {
  return APNS_REASON_STATUS[reason];
}
