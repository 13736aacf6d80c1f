/**
 * Where FCM sends get their OAuth 2.0 access token (reference/apns-fcm.md §2.1, §3). The provider depends on
 * this interface only, so the Google library stays replaceable (DESIGN.md) and tests can hand in their own.
 */
export interface AccessTokenSource {
  /**
   * A token valid for sending now. Served from a cache; concurrent callers share one in-flight request to the
   * token endpoint. Rejects with an `AccessTokenError` when no token can be had.
   */
  getToken(): Promise<string>;
  /**
   * Optional fast path: the cached token when it is valid now, else undefined (then call `getToken()`). No
   * I/O of its own, though it may start a background refresh. Saves a promise per send on the hot path.
   */
  cachedToken?(): string | undefined;
  /**
   * Drops `token` from the cache because FCM refused it (401 UNAUTHENTICATED); the next `getToken()` mints a new
   * one. A token that is no longer the cached one is ignored, so many sends failing with the same revoked token
   * cause one mint, not one each.
   */
  invalidate(token: string): void;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/** Why no access token could be had: `reason` is a bounded label, `retryable` tells the provider's outcome. */
export class AccessTokenError extends Error {
  /**
   * `OAUTH_UNAVAILABLE` (5xx, 429, timeout, transport error: try later), `OAUTH_INVALID_GRANT` (the service
   * account or its key was refused, or the clock is off), `OAUTH_REJECTED` (any other 4xx), `OAUTH_CLOSED`.
   */
  readonly reason: AccessTokenFailureReason;
  readonly retryable: boolean;
  /** The token endpoint's HTTP status, 0 when none was received. */
  readonly statusCode: number;

  constructor(
    reason: AccessTokenFailureReason,
    message: string,
    options: { statusCode: number; retryable: boolean; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AccessTokenError';
    this.reason = reason;
    this.retryable = options.retryable;
    this.statusCode = options.statusCode;
  }
}

export type AccessTokenFailureReason =
  'OAUTH_UNAVAILABLE' | 'OAUTH_INVALID_GRANT' | 'OAUTH_REJECTED' | 'OAUTH_CLOSED';

export const ACCESS_TOKEN_FAILURE_REASONS: readonly AccessTokenFailureReason[] = [
  'OAUTH_UNAVAILABLE',
  'OAUTH_INVALID_GRANT',
  'OAUTH_REJECTED',
  'OAUTH_CLOSED',
];

/** True for an `AccessTokenError`, also across module copies (checks the shape, not the class). */
export function isAccessTokenError(value: unknown): value is AccessTokenError {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<AccessTokenError>;
  return (
    candidate.name === 'AccessTokenError' &&
    typeof candidate.retryable === 'boolean' &&
    ACCESS_TOKEN_FAILURE_REASONS.includes(candidate.reason as AccessTokenFailureReason)
  );
}
