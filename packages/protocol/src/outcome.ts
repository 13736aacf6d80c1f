import { type ProviderKind } from './platform';
import { type PushResponse } from './response';

/**
 * What a provider's answer to one send means. A provider's `send()` resolves one of these (it throws only for
 * bugs); the worker maps it to a queue action in one place.
 *
 * - `delivered`: the provider accepted the push.
 * - `invalid_token`: the token is dead (the Mattermost server is told REMOVE; the token goes into the
 *   dead-token cache).
 * - `retryable`: try again later (429, 5xx, transport errors), no sooner than `retryAfterMs` when given.
 * - `rejected`: the provider refused this push for good (FAIL with the reason).
 */
export type DeliveryOutcome =
  | { kind: 'delivered'; statusCode: number }
  | {
      kind: 'invalid_token';
      /** Provider reason (`Unregistered`, `UNREGISTERED`, …). */
      reason: string;
      statusCode: number;
      /** APNs 410 `timestamp`: when the token stopped being valid, epoch ms. */
      invalidSinceMs?: number;
    }
  | {
      kind: 'retryable';
      /** Provider reason, or a transport error code (`ECONNRESET`, `timeout`, …). */
      reason: string;
      /** HTTP status, 0 for transport errors. */
      statusCode: number;
      /** Earliest retry, from the provider's `Retry-After`, in ms. */
      retryAfterMs?: number;
    }
  | { kind: 'rejected'; reason: string; statusCode: number };

export type DeliveryOutcomeKind = DeliveryOutcome['kind'];

export const DELIVERY_OUTCOME_KINDS: readonly DeliveryOutcomeKind[] = [
  'delivered',
  'invalid_token',
  'retryable',
  'rejected',
];

/** The FAIL text for a push that outlived its time to live. */
export const EXPIRED_FAIL_TEXT = 'expired';

/**
 * The FAIL text for a push that failed for good. The Go proxy answers `unknown transport error` or
 * `unknown send response error` (APNs) and hides the reason; HPNS appends the provider's reason, which the
 * Mattermost server only logs (docs/compatibility.md).
 */
export function failTextForOutcome(
  outcome: Extract<DeliveryOutcome, { kind: 'retryable' | 'rejected' }>,
  provider: ProviderKind,
): string {
  if (outcome.statusCode === 0) return `unknown transport error: ${outcome.reason}`;
  const prefix = provider === 'apns' ? 'unknown send response error' : 'fcm send error';
  return `${prefix}: ${outcome.reason}`;
}

/**
 * The answer for the Mattermost server once an outcome is final (a `retryable` outcome is final only when
 * the queue gives up on it).
 */
export function pushResponseForOutcome(outcome: DeliveryOutcome, provider: ProviderKind): PushResponse {
  switch (outcome.kind) {
    case 'delivered':
      return { status: 'OK' };
    case 'invalid_token':
      return { status: 'REMOVE' };
    case 'retryable':
    case 'rejected':
      return { status: 'FAIL', error: failTextForOutcome(outcome, provider) };
  }
}
