import { type DeliveryOutcome } from '@hpns/protocol';

/**
 * FCM HTTP v1 answers → `DeliveryOutcome` (reference/apns-fcm.md §2.4, §2.5; mattermost-wire.md §3.4). Pure: the
 * provider reads the response and calls these. Order, as firebase-admin does it (§2.4, `getErrorCode`): the
 * `FcmError.errorCode` detail first, then the `google.rpc.Status` name, then the HTTP status alone.
 *
 * Vendor documents cited per row:
 * [ErrorCode]  https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
 * [Tokens]     https://firebase.google.com/docs/cloud-messaging/manage-tokens ("Detect invalid token responses")
 * [Scale]      https://firebase.google.com/docs/cloud-messaging/scale-fcm ("Handling retries")
 * [Quotas]     https://firebase.google.com/docs/cloud-messaging/throttling-and-quotas
 * [RpcCode]    https://github.com/googleapis/googleapis/blob/master/google/rpc/code.proto
 * [APNs]       https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns
 * [Proxy]      mattermost-push-proxy server/android_notification_server.go (mattermost-wire.md §3.4)
 */

const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
const APNS_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.ApnsError';

/** What an FCM error body says, as far as it could be read (any field may be missing). */
export interface FcmErrorInfo {
  /** `details[@type=…FcmError].errorCode` (`UNREGISTERED`, `QUOTA_EXCEEDED`, …). */
  errorCode?: string;
  /** `error.status`, the google.rpc code name (`UNAUTHENTICATED`, `PERMISSION_DENIED`, …). */
  status?: string;
  /** `error.message`: Google's text, for logs only (§8: not a contract), except the APNs case below. */
  message?: string;
  /** `details[@type=…ApnsError]`: Apple's answer when FCM forwarded the message to APNs. */
  apns?: { statusCode?: number; reason?: string };
}

/** An FCM response as the provider read it. */
export interface FcmAnswer {
  statusCode: number;
  error: FcmErrorInfo;
  /** From `Retry-After`, in ms. */
  retryAfterMs?: number;
}

export interface FcmClassifyOptions {
  /**
   * `retryAfterMs` for a 429 without `Retry-After`, in ms. [ErrorCode] QUOTA_EXCEEDED: "retry with exponential
   * backoff with a minimum initial delay of 1 minute". Default 60,000.
   */
  quotaRetryAfterMs?: number;
}

/** Reads a google.rpc.Status error body; never throws (a non-JSON body gives `{}`). */
export function parseFcmError(body: string): FcmErrorInfo {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return {};
  }
  const error = (parsed as { error?: unknown } | null)?.error;
  if (typeof error !== 'object' || error === null) return {};
  const { status, message, details } = error as { status?: unknown; message?: unknown; details?: unknown };
  const info: FcmErrorInfo = {};
  if (typeof status === 'string') info.status = status;
  if (typeof message === 'string') info.message = message;
  if (Array.isArray(details)) {
    for (const detail of details as unknown[]) {
      if (typeof detail !== 'object' || detail === null) continue;
      const d = detail as Record<string, unknown>;
      if (d['@type'] === FCM_ERROR_TYPE && typeof d.errorCode === 'string') info.errorCode = d.errorCode;
      if (d['@type'] === APNS_ERROR_TYPE) {
        info.apns = {
          ...(typeof d.statusCode === 'number' ? { statusCode: d.statusCode } : {}),
          ...(typeof d.reason === 'string' ? { reason: d.reason } : {}),
        };
      }
    }
  }
  return info;
}

/**
 * True when FCM refused *our* access token: 401 without an FcmError detail. §2.4 [observed]: an expired or
 * revoked OAuth token gets 401 UNAUTHENTICATED with `WWW-Authenticate: … error="invalid_token"` and no FcmError;
 * a 401 *with* FcmError THIRD_PARTY_AUTH_ERROR is about the project's APNs/web-push credentials instead
 * ([ErrorCode] THIRD_PARTY_AUTH_ERROR). The provider refreshes the token and replays the send once (§2.5 table).
 */
export function isAccessTokenRejected(answer: FcmAnswer): boolean {
  return answer.statusCode === 401 && answer.error.errorCode === undefined;
}

const invalidToken = (answer: FcmAnswer, reason: string): DeliveryOutcome => ({
  kind: 'invalid_token',
  reason,
  statusCode: answer.statusCode,
});
const rejected = (answer: FcmAnswer, reason: string): DeliveryOutcome => ({
  kind: 'rejected',
  reason,
  statusCode: answer.statusCode,
});
const retryable = (answer: FcmAnswer, reason: string, defaultRetryAfterMs?: number): DeliveryOutcome => {
  const retryAfterMs = answer.retryAfterMs ?? defaultRetryAfterMs;
  return {
    kind: 'retryable',
    reason,
    statusCode: answer.statusCode,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  };
};

/** Apple's reasons that mean the device token is dead [APNs]: 410 Unregistered / ExpiredToken, 400 BadDeviceToken. */
const APNS_DEAD_TOKEN_REASONS = new Set(['Unregistered', 'ExpiredToken', 'BadDeviceToken']);

/**
 * An iOS token that APNs reported dead, which FCM answers as 400 INVALID_ARGUMENT rather than 404
 * (§2.4 [observed]: "APNs device token is disabled." with ApnsError 410 Unregistered). The ApnsError detail is
 * the structured signal; the message text is the fallback when the detail is missing.
 */
function apnsDeadTokenReason(info: FcmErrorInfo): string | undefined {
  const reason = info.apns?.reason;
  if (reason !== undefined && APNS_DEAD_TOKEN_REASONS.has(reason)) return reason;
  if (info.apns?.statusCode === 410) return 'Unregistered';
  if (info.message !== undefined && /APNs device token is disabled/i.test(info.message)) {
    return 'APNS_TOKEN_DISABLED';
  }
  return undefined;
}

type Rule = (answer: FcmAnswer, options: Required<FcmClassifyOptions>) => DeliveryOutcome;

/** By `FcmError.errorCode` ([ErrorCode] lists every value). */
const BY_ERROR_CODE: Record<string, Rule> = {
  // [ErrorCode] UNREGISTERED (404): "App instance was unregistered from FCM … the token used is no longer valid".
  // [Tokens]: delete the token. [Proxy]: REMOVE.
  UNREGISTERED: (a) => invalidToken(a, 'UNREGISTERED'),
  // [ErrorCode] SENDER_ID_MISMATCH (403): "The authenticated sender ID is different from the sender ID for the
  // registration token" – the token can never work for this project. [Proxy]: REMOVE.
  SENDER_ID_MISMATCH: (a) => invalidToken(a, 'SENDER_ID_MISMATCH'),
  // [ErrorCode] INVALID_ARGUMENT (400): invalid token, package name, message too big, bad data key or TTL.
  // Only the APNs-dead variant is a token verdict ([APNs] 410/BadDeviceToken, §2.4); the rest may be our
  // payload, and [Proxy] answers FAIL for them, so they are rejected.
  INVALID_ARGUMENT: (a) => {
    const apnsReason = apnsDeadTokenReason(a.error);
    return apnsReason !== undefined ? invalidToken(a, apnsReason) : rejected(a, 'INVALID_ARGUMENT');
  },
  // [ErrorCode] QUOTA_EXCEEDED (429): honour Retry-After, else back off "with a minimum initial delay of
  // 1 minute". [Quotas]: the quota refills within the following minute.
  QUOTA_EXCEEDED: (a, o) => retryable(a, 'QUOTA_EXCEEDED', o.quotaRetryAfterMs),
  // [ErrorCode] UNAVAILABLE (503): "the server is overloaded … retry the same request" honouring Retry-After;
  // [Scale]: back off with jitter.
  UNAVAILABLE: (a) => retryable(a, 'UNAVAILABLE'),
  // [ErrorCode] INTERNAL (500): "unknown internal error … retry the same request" as for UNAVAILABLE.
  INTERNAL: (a) => retryable(a, 'INTERNAL'),
  // [ErrorCode] THIRD_PARTY_AUTH_ERROR (401): the project's APNs certificate / auth key or web-push key is
  // invalid or missing: an operator must fix the Firebase project; a retry cannot help.
  THIRD_PARTY_AUTH_ERROR: (a) => rejected(a, 'THIRD_PARTY_AUTH_ERROR'),
  // [ErrorCode] APNS_AUTH_ERROR: the deprecated name of THIRD_PARTY_AUTH_ERROR.
  APNS_AUTH_ERROR: (a) => rejected(a, 'APNS_AUTH_ERROR'),
  // [ErrorCode] UNSPECIFIED_ERROR: "No more information is available about this error": not retried.
  UNSPECIFIED_ERROR: (a) => rejected(a, 'UNSPECIFIED_ERROR'),
};

/** By `error.status` when there is no (known) FcmError ([RpcCode] names; §2.5 last rows). */
const BY_RPC_STATUS: Record<string, Rule> = {
  // §2.4 [observed], §2.5: 401 without FcmError is our OAuth token; reached only after the one replay with a
  // fresh token also failed, so it is the token endpoint or the clock: try later.
  UNAUTHENTICATED: (a) => retryable(a, 'UNAUTHENTICATED'),
  // §2.4 [observed]: the service account lacks `cloudmessaging.messages.create`, the API is disabled, or the
  // project is wrong. [RpcCode] PERMISSION_DENIED: "must not be used for rejections caused by exhausting some
  // resource". An operator must act.
  PERMISSION_DENIED: (a) => rejected(a, 'PERMISSION_DENIED'),
  // [RpcCode] RESOURCE_EXHAUSTED / [Quotas]: 429 without the FcmError detail is the same quota.
  RESOURCE_EXHAUSTED: (a, o) => retryable(a, 'QUOTA_EXCEEDED', o.quotaRetryAfterMs),
  // [RpcCode] UNAVAILABLE: "most likely a transient condition … corrected by retrying with a backoff".
  UNAVAILABLE: (a) => retryable(a, 'UNAVAILABLE'),
  // [RpcCode] INTERNAL, DEADLINE_EXCEEDED: server-side failures, retried like UNAVAILABLE per [ErrorCode].
  INTERNAL: (a) => retryable(a, 'INTERNAL'),
  DEADLINE_EXCEEDED: (a) => retryable(a, 'DEADLINE_EXCEEDED'),
  // [RpcCode] NOT_FOUND without FcmError UNREGISTERED is a wrong URL or project, never a verdict on the token:
  // removing tokens on a misconfiguration would drop every device.
  NOT_FOUND: (a) => rejected(a, 'NOT_FOUND'),
  // [RpcCode] INVALID_ARGUMENT without FcmError: the body failed proto-JSON parsing (google.rpc.BadRequest).
  INVALID_ARGUMENT: (a) => rejected(a, 'INVALID_ARGUMENT'),
};

/** A non-200 answer (not a 401 awaiting its replay) as a `DeliveryOutcome`. */
export function classifyFcmAnswer(answer: FcmAnswer, options: FcmClassifyOptions = {}): DeliveryOutcome {
  if (answer.statusCode >= 200 && answer.statusCode < 300) {
    return { kind: 'delivered', statusCode: answer.statusCode };
  }
  const resolved = { quotaRetryAfterMs: options.quotaRetryAfterMs ?? 60_000 };
  const { errorCode, status } = answer.error;
  const byCode = errorCode === undefined ? undefined : BY_ERROR_CODE[errorCode];
  if (byCode !== undefined) return byCode(answer, resolved);
  const byStatus = status === undefined ? undefined : BY_RPC_STATUS[status];
  if (byStatus !== undefined) return byStatus(answer, resolved);
  return classifyByHttpStatus(answer, resolved);
}

/**
 * Last resort, for bodies that are not google.rpc.Status (an HTML error page from a proxy or load balancer):
 * firebase-admin's HTTP fallback (§2.4: 400 invalid-argument, 401/403 authentication, 500 internal,
 * 503 unavailable), with every 5xx, 408 and 429 treated as transient (RFC 9110 §15.5.9, §15.6, RFC 6585 §4).
 */
function classifyByHttpStatus(answer: FcmAnswer, options: Required<FcmClassifyOptions>): DeliveryOutcome {
  const code = answer.statusCode;
  if (code === 429) return retryable(answer, 'QUOTA_EXCEEDED', options.quotaRetryAfterMs);
  if (code === 401) return retryable(answer, 'UNAUTHENTICATED');
  if (code === 500) return retryable(answer, 'INTERNAL');
  if (code === 503) return retryable(answer, 'UNAVAILABLE');
  if (code >= 500 || code === 408) return retryable(answer, `HTTP_${code}`);
  return rejected(answer, `HTTP_${code}`);
}
