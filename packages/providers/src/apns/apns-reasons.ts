import { type DeliveryOutcome } from '@hpns/protocol';

/**
 * APNs answer → delivery outcome. Every row cites Apple's "Handling notification responses from APNs"
 * ({@link APPLE_RESPONSES_DOC}, abbreviated HNR below; reference/apns-fcm.md §1.4–§1.5 paraphrase it), whose
 * tables list each `:status` and `reason`, and whose retry rule is: most 4xx only after fixing the cause; never
 * retry BadDeviceToken, DeviceTokenNotForTopic, Forbidden, ExpiredToken, Unregistered, PayloadTooLarge;
 * TooManyRequests may be retried after a delay; 5xx may be retried with back-off.
 *
 * The outcome is what the worker acts on (DESIGN.md "Worker"): `invalid_token` → REMOVE and the dead-token
 * cache, `retryable` → the queue retries with back-off, `rejected` → FAIL with the reason kept.
 */
export const APPLE_RESPONSES_DOC =
  'https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns';

export type ApnsReasonOutcome = 'invalid_token' | 'retryable' | 'rejected';

export interface ApnsReasonRow {
  /** The `:status` Apple pairs with the reason. */
  readonly status: number;
  readonly outcome: ApnsReasonOutcome;
  /** The vendor-doc citation (what HNR says), and why the outcome follows from it. */
  readonly doc: string;
}

export const APNS_REASONS = {
  // ——— dead tokens: REMOVE, as the Go proxy does (mattermost-wire.md §2.5) ———
  BadDeviceToken: {
    status: 400,
    outcome: 'invalid_token',
    doc: 'HNR 400 BadDeviceToken: the device token is invalid (also a token of the other environment); never retry.',
  },
  DeviceTokenNotForTopic: {
    status: 400,
    outcome: 'invalid_token',
    doc: "HNR 400 DeviceTokenNotForTopic: the token does not match the topic (another app's token); never retry.",
  },
  MissingDeviceToken: {
    status: 400,
    outcome: 'invalid_token',
    doc: 'HNR 400 MissingDeviceToken: no device token in the :path. The Go proxy answers REMOVE (an empty id is dead).',
  },
  ExpiredToken: {
    status: 410,
    outcome: 'invalid_token',
    doc: 'HNR 410 ExpiredToken: the device token has expired; never retry.',
  },
  Unregistered: {
    status: 410,
    outcome: 'invalid_token',
    doc: 'HNR 410 Unregistered: the token is inactive for the topic; `timestamp` (ms) says since when; never retry.',
  },
  // ——— provider-side or transient: the queue retries ———
  TooManyRequests: {
    status: 429,
    outcome: 'retryable',
    doc: 'HNR 429 TooManyRequests: too many requests to the same device token; may be retried after a delay.',
  },
  TooManyProviderTokenUpdates: {
    status: 429,
    outcome: 'retryable',
    doc: 'HNR 429 TooManyProviderTokenUpdates: the provider token changed too often; keep it and retry later.',
  },
  InternalServerError: {
    status: 500,
    outcome: 'retryable',
    doc: 'HNR 500 InternalServerError: an internal server error; 5xx may be retried, with back-off.',
  },
  ServiceUnavailable: {
    status: 503,
    outcome: 'retryable',
    doc: 'HNR 503 ServiceUnavailable: the service is unavailable; 5xx may be retried, with back-off.',
  },
  Shutdown: {
    status: 503,
    outcome: 'retryable',
    doc: 'HNR 503 Shutdown: the APNs server is shutting down (then GOAWAY); reconnect and retry.',
  },
  ExpiredProviderToken: {
    status: 403,
    outcome: 'retryable',
    doc: 'HNR 403 ExpiredProviderToken: the provider token is stale; the signer mints a new one, then retry.',
  },
  IdleTimeout: {
    status: 400,
    outcome: 'retryable',
    doc: 'HNR 400 IdleTimeout: idle time out (normally in a GOAWAY); the push was not delivered, resend it.',
  },
  // ——— this push or this configuration is wrong: FAIL with the reason ———
  BadCollapseId: {
    status: 400,
    outcome: 'rejected',
    doc: 'HNR 400 BadCollapseId: collapse id over 64 bytes.',
  },
  BadExpirationDate: {
    status: 400,
    outcome: 'rejected',
    doc: 'HNR 400 BadExpirationDate: bad apns-expiration.',
  },
  BadMessageId: { status: 400, outcome: 'rejected', doc: 'HNR 400 BadMessageId: bad apns-id.' },
  BadPriority: { status: 400, outcome: 'rejected', doc: 'HNR 400 BadPriority: bad apns-priority.' },
  BadTopic: { status: 400, outcome: 'rejected', doc: 'HNR 400 BadTopic: the apns-topic is invalid.' },
  DuplicateHeaders: { status: 400, outcome: 'rejected', doc: 'HNR 400 DuplicateHeaders: a header repeated.' },
  InvalidPushType: { status: 400, outcome: 'rejected', doc: 'HNR 400 InvalidPushType: bad apns-push-type.' },
  MissingTopic: { status: 400, outcome: 'rejected', doc: 'HNR 400 MissingTopic: apns-topic required.' },
  PayloadEmpty: {
    status: 400,
    outcome: 'rejected',
    doc: 'HNR 400 PayloadEmpty: the message payload is empty.',
  },
  TopicDisallowed: {
    status: 400,
    outcome: 'rejected',
    doc: 'HNR 400 TopicDisallowed: pushing to this topic is not allowed.',
  },
  BadCertificate: {
    status: 403,
    outcome: 'rejected',
    doc: 'HNR 403 BadCertificate: the certificate is invalid.',
  },
  BadCertificateEnvironment: {
    status: 403,
    outcome: 'rejected',
    doc: 'HNR 403 BadCertificateEnvironment: the client certificate is for the wrong environment.',
  },
  Forbidden: {
    status: 403,
    outcome: 'rejected',
    doc: 'HNR 403 Forbidden: the action is not allowed; never retry.',
  },
  InvalidProviderToken: {
    status: 403,
    outcome: 'rejected',
    doc: 'HNR 403 InvalidProviderToken: the provider token is not valid, or its signature cannot be verified.',
  },
  MissingProviderToken: {
    status: 403,
    outcome: 'rejected',
    doc: 'HNR 403 MissingProviderToken: no certificate and no provider token.',
  },
  UnrelatedKeyIdInToken: {
    status: 403,
    outcome: 'rejected',
    doc: 'HNR 403 UnrelatedKeyIdInToken: the key id is not related to the connection (one key per pool here).',
  },
  BadEnvironmentKeyIdInToken: {
    status: 403,
    outcome: 'rejected',
    doc: 'HNR 403 BadEnvironmentKeyIdInToken: the key is scoped to the other environment.',
  },
  BadPath: { status: 404, outcome: 'rejected', doc: 'HNR 404 BadPath: the request :path is invalid.' },
  MethodNotAllowed: { status: 405, outcome: 'rejected', doc: 'HNR 405 MethodNotAllowed: only POST.' },
  PayloadTooLarge: {
    status: 413,
    outcome: 'rejected',
    doc: 'HNR 413 PayloadTooLarge: payload over 4096 bytes (5120 for VoIP); never retry.',
  },
} as const satisfies Record<string, ApnsReasonRow>;

export type ApnsReason = keyof typeof APNS_REASONS;

/**
 * Reasons for failures with no APNs answer (statusCode 0), all `retryable`: the push may or may not have
 * reached APNs (reference §7.4 scenario 4), except `refused_stream`, `queue_full` and `closed`, which never left.
 */
export const APNS_TRANSPORT_REASONS = [
  'timeout',
  'aborted',
  'closed',
  'queue_full',
  'refused_stream',
  'goaway',
  'tls_error',
  'transport_error',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
] as const;

export type ApnsTransportReason = (typeof APNS_TRANSPORT_REASONS)[number];

/** Every reason label the APNs provider can record (the metric's bounded set). */
export const APNS_METRIC_REASONS: readonly string[] = [
  ...Object.keys(APNS_REASONS),
  ...APNS_TRANSPORT_REASONS,
];

function isApnsReason(reason: string): reason is ApnsReason {
  return Object.hasOwn(APNS_REASONS, reason);
}

/** APNs's JSON error body, as far as HPNS reads it. */
export interface ApnsErrorBody {
  reason?: unknown;
  timestamp?: unknown;
}

/**
 * The outcome of an APNs answer other than 2xx. Known reasons follow the table; an unknown one (Apple adds
 * reasons now and then) is judged by status: 429 and 5xx retryable, anything else rejected with the reason kept
 * (`HTTP <status>` when the body had none).
 */
export function classifyApnsAnswer(
  status: number,
  body: ApnsErrorBody | undefined,
  retryAfterMs?: number,
): DeliveryOutcome {
  const reason = typeof body?.reason === 'string' && body.reason !== '' ? body.reason : `HTTP ${status}`;
  const retryable = (): DeliveryOutcome =>
    retryAfterMs === undefined
      ? { kind: 'retryable', reason, statusCode: status }
      : { kind: 'retryable', reason, statusCode: status, retryAfterMs };
  const known = isApnsReason(reason) ? APNS_REASONS[reason].outcome : undefined;
  switch (known) {
    case 'invalid_token': {
      const timestamp = body?.timestamp;
      // HNR: `timestamp` accompanies 410 only; "stop pushing until the device registers a later token".
      return status === 410 && typeof timestamp === 'number' && Number.isFinite(timestamp)
        ? { kind: 'invalid_token', reason, statusCode: status, invalidSinceMs: timestamp }
        : { kind: 'invalid_token', reason, statusCode: status };
    }
    case 'retryable':
      return retryable();
    case 'rejected':
      return { kind: 'rejected', reason, statusCode: status };
    case undefined:
      return status === 429 || status >= 500 ? retryable() : { kind: 'rejected', reason, statusCode: status };
  }
}
