import { type AccessTokenRecord, type AccessTokenStore } from '../oauth/access-token-store';
import { fcmReplies, type FcmReply } from './fcm-errors';

/**
 * The bearer check in front of `messages:send` (reference/apns-fcm.md §2.1, §2.4, §7.2): the token must be one
 * the OAuth simulator minted, unexpired, for a service account of the project in the URL, with a scope that
 * covers FCM.
 */

/** §2.1: either scope lets a service account send. */
export const FCM_SCOPES: readonly string[] = [
  'https://www.googleapis.com/auth/firebase.messaging',
  'https://www.googleapis.com/auth/cloud-platform',
];

export type AuthResult = { ok: true; record: AccessTokenRecord } | { ok: false; reply: FcmReply };

/** The access token in an `Authorization: Bearer <token>` header (scheme case-insensitive), if any. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1];
}

export function authorize(
  header: string | string[] | undefined,
  project: string,
  store: AccessTokenStore,
  nowMs: number,
): AuthResult {
  const token = bearerToken(header);
  if (token === undefined) return { ok: false, reply: fcmReplies.missingCredentials() };
  const record = store.lookup(token);
  if (record === undefined || record.expiresAtMs <= nowMs) {
    return { ok: false, reply: fcmReplies.invalidCredentials() };
  }
  // The URL may name the project by id or by number (§2.1).
  if (project !== record.projectId && project !== record.projectNumber) {
    return { ok: false, reply: fcmReplies.permissionDenied(project) };
  }
  if (!record.scopes.some((scope) => FCM_SCOPES.includes(scope))) {
    return { ok: false, reply: fcmReplies.insufficientScope() };
  }
  return { ok: true, record };
}
