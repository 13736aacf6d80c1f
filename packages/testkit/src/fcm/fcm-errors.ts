/**
 * FCM's answers as `google.rpc.Status` bodies, exactly as Google sends them (reference/apns-fcm.md §2.4, §2.5).
 * Texts marked [observed] are copied from real responses quoted in §2.4 or in public bug reports; [assumption]
 * texts are not documented (§8: clients must not match on them).
 */

const FCM_ERROR = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
const APNS_ERROR = 'type.googleapis.com/google.firebase.fcm.v1.ApnsError';
const BAD_REQUEST = 'type.googleapis.com/google.rpc.BadRequest';
const QUOTA_FAILURE = 'type.googleapis.com/google.rpc.QuotaFailure';
const ERROR_INFO = 'type.googleapis.com/google.rpc.ErrorInfo';

/** One `google.rpc.BadRequest` field violation. */
export interface FieldViolation {
  field?: string;
  description: string;
}

/** A response the simulator sends: status, extra headers, JSON body, and the key it is counted under. */
export interface FcmReply {
  status: number;
  headers: Record<string, string>;
  body: object;
  /** `FcmError.errorCode` when present, else `error.status` (how firebase-admin reads it, §2.4), or `OK`. */
  code: string;
}

function rpcError(
  code: number,
  status: string,
  message: string,
  details?: object[],
  headers: Record<string, string> = {},
): FcmReply {
  const fcmError = details?.find((d) => (d as { '@type'?: string })['@type'] === FCM_ERROR) as
    { errorCode: string } | undefined;
  return {
    status: code,
    headers,
    body: { error: { code, message, status, ...(details !== undefined ? { details } : {}) } },
    code: fcmError?.errorCode ?? status,
  };
}

const fcmError = (errorCode: string): object => ({ '@type': FCM_ERROR, errorCode });
const apnsError = (statusCode: number, reason: string): object => ({
  '@type': APNS_ERROR,
  statusCode,
  reason,
});
const badRequest = (fieldViolations: readonly FieldViolation[]): object => ({
  '@type': BAD_REQUEST,
  fieldViolations,
});

const CREDENTIALS_HINT =
  'Expected OAuth 2 access token, login cookie or other valid authentication credential. ' +
  'See https://developers.google.com/identity/sign-in/web/devconsole-project.';
const REALM = 'Bearer realm="https://accounts.google.com/"';

export const fcmReplies = {
  success: (name: string): FcmReply => ({ status: 200, headers: {}, body: { name }, code: 'OK' }),

  /** §2.4 [observed]: a bad, expired or revoked access token; no FcmError detail. */
  invalidCredentials: (): FcmReply =>
    rpcError(
      401,
      'UNAUTHENTICATED',
      `Request had invalid authentication credentials. ${CREDENTIALS_HINT}`,
      undefined,
      {
        'www-authenticate': `${REALM}, error="invalid_token"`,
      },
    ),

  /** No `Authorization: Bearer` at all: Google's wording for a missing credential (RFC 6750 §3: no error code). */
  missingCredentials: (): FcmReply =>
    rpcError(
      401,
      'UNAUTHENTICATED',
      `Request is missing required authentication credential. ${CREDENTIALS_HINT}`,
      undefined,
      {
        'www-authenticate': REALM,
      },
    ),

  /** §2.4 [observed]: the token's service account has no rights on this project. */
  permissionDenied: (project: string): FcmReply =>
    rpcError(
      403,
      'PERMISSION_DENIED',
      `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${project}' (or it may not exist).`,
      [
        {
          '@type': ERROR_INFO,
          reason: 'IAM_PERMISSION_DENIED',
          domain: 'cloudresourcemanager.googleapis.com',
          metadata: { permission: 'cloudmessaging.messages.create', resource: `projects/${project}` },
        },
      ],
    ),

  /** A token minted without the firebase.messaging or cloud-platform scope (Google's generic scope answer). */
  insufficientScope: (): FcmReply =>
    rpcError(
      403,
      'PERMISSION_DENIED',
      'Request had insufficient authentication scopes.',
      [
        {
          '@type': ERROR_INFO,
          reason: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT',
          domain: 'googleapis.com',
          metadata: {
            method: 'google.firebase.fcm.v1.FcmService.SendMessage',
            service: 'fcm.googleapis.com',
          },
        },
      ],
      {
        'www-authenticate': `${REALM}, error="insufficient_scope", scope="https://www.googleapis.com/auth/firebase.messaging"`,
      },
    ),

  /** §7.2 [assumption]: Google answers unknown paths with HTML; JSON NOT_FOUND is easier on clients' parsers. */
  pathNotFound: (): FcmReply => rpcError(404, 'NOT_FOUND', 'Requested entity was not found.'),

  /** [assumption] 405 has no google.rpc code; the body keeps the Status shape. */
  methodNotAllowed: (): FcmReply =>
    rpcError(405, 'METHOD_NOT_ALLOWED', 'The request method is not allowed for this resource.', undefined, {
      allow: 'POST',
    }),

  /** A proto-JSON parse failure (bad JSON, wrong type, unknown field, bad enum/duration): BadRequest only. */
  badRequest: (violations: readonly FieldViolation[]): FcmReply =>
    rpcError(400, 'INVALID_ARGUMENT', violations.map((v) => v.description).join('\n'), [
      badRequest(violations),
    ]),

  /** An FCM-level rejection of the message (§2.5 INVALID_ARGUMENT). */
  invalidArgument: (message: string, violations?: readonly FieldViolation[]): FcmReply =>
    rpcError(400, 'INVALID_ARGUMENT', message, [
      fcmError('INVALID_ARGUMENT'),
      ...(violations !== undefined ? [badRequest(violations)] : []),
    ]),

  /** §2.4 [observed]. */
  invalidRegistrationToken: (): FcmReply =>
    rpcError(400, 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token', [
      fcmError('INVALID_ARGUMENT'),
    ]),

  /** §2.4: the app instance is gone; with `apns`, the iOS variant carrying APNs' 410. */
  unregistered: (apns = false): FcmReply =>
    rpcError(404, 'NOT_FOUND', 'Requested entity was not found.', [
      fcmError('UNREGISTERED'),
      ...(apns ? [apnsError(410, 'Unregistered')] : []),
    ]),

  /** §2.4 [observed]: an iOS token APNs reported dead, as a 400 rather than 404. */
  apnsTokenDisabled: (): FcmReply =>
    rpcError(400, 'INVALID_ARGUMENT', 'APNs device token is disabled.', [
      fcmError('INVALID_ARGUMENT'),
      apnsError(410, 'Unregistered'),
    ]),

  /** §2.4 [observed]: the Firebase project's APNs key is bad. */
  thirdPartyAuthError: (): FcmReply =>
    rpcError(401, 'UNAUTHENTICATED', 'Auth error from APNS or Web Push Service', [
      fcmError('THIRD_PARTY_AUTH_ERROR'),
      apnsError(403, 'InvalidProviderToken'),
    ]),

  /** [observed] SENDER_ID_MISMATCH body (public bug reports quote it verbatim). */
  senderIdMismatch: (): FcmReply =>
    rpcError(403, 'PERMISSION_DENIED', 'SenderId mismatch', [fcmError('SENDER_ID_MISMATCH')]),

  /** §2.5, §2.6: project quota or overload. Message text [assumption]. */
  quotaExceeded: (project: string, retryAfterSeconds?: number): FcmReply =>
    rpcError(
      429,
      'RESOURCE_EXHAUSTED',
      `Quota exceeded for quota metric 'Send requests' and limit 'Send requests per minute' of service 'fcm.googleapis.com' for consumer 'project_number:${project}'.`,
      [
        fcmError('QUOTA_EXCEEDED'),
        {
          '@type': QUOTA_FAILURE,
          violations: [
            { subject: `project_number:${project}`, description: 'Send requests per minute per project' },
          ],
        },
      ],
      retryAfterSeconds !== undefined ? { 'retry-after': String(retryAfterSeconds) } : {},
    ),

  /** §2.5: overloaded; Retry-After when given. */
  unavailable: (retryAfterSeconds?: number): FcmReply =>
    rpcError(
      503,
      'UNAVAILABLE',
      'The service is currently unavailable.',
      [fcmError('UNAVAILABLE')],
      retryAfterSeconds !== undefined ? { 'retry-after': String(retryAfterSeconds) } : {},
    ),

  /** §2.5. */
  internal: (): FcmReply => rpcError(500, 'INTERNAL', 'Internal error encountered.', [fcmError('INTERNAL')]),
};
