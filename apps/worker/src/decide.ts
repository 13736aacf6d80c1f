import {
  EXPIRED_FAIL_TEXT,
  pushResponseForOutcome,
  type DeliveryOutcome,
  type ProviderKind,
  type PushResponse,
} from '@hpns/protocol';
import { retryDelayMs, type BackoffOptions } from '@hpns/queue';

/**
 * The one owner of a push's fate (STYLE.md §6). Every step of a push's life in the worker reports what it saw
 * as one Observation; decide() turns it, with where the push stands, into a Decision. Pure: no clock, no random
 * source, no I/O of its own (the jitter comes in the state); the effects module applies the decisions.
 */
export type Observation =
  /** The push was taken from the queue and is about to be sent. */
  | { kind: 'due' }
  /** It was sent and the provider answered (or the transport failed: a `retryable` outcome). */
  | { kind: 'sent'; outcome: DeliveryOutcome }
  /** Its target's circuit breaker is open: nothing was sent; a probe is allowed in `waitMs`. */
  | { kind: 'circuit_open'; waitMs: number }
  /** Its content cannot be opened here; `notYet` when a key or format a newer release rolled out first. */
  | { kind: 'unreadable'; notYet: boolean }
  /** The provider client threw (a bug of ours, never a provider's answer). */
  | { kind: 'provider_bug' };

export interface PushState {
  provider: ProviderKind;
  /** Sends made so far, counting the one observed (`sent`). */
  attempts: number;
  expiresAtMs: number;
  nowMs: number;
  /** A uniform random number on [0, 1), drawn by the caller, for the backoff's jitter. */
  jitter: number;
}

export interface DecisionPolicy {
  backoff?: BackoffOptions;
  /**
   * Sends after which a push still retryable fails for good. Only a guard against a bug (a provider answer
   * misclassified as retryable): retries are bounded by the push's time to live. Default 1000.
   */
  attemptGuard?: number;
  /** How long a push that is not readable yet waits before it is taken again, in ms. Default 5000. */
  notYetReadableMs?: number;
}

/** The FAIL text of a push whose content cannot be opened by the worker. */
export const UNREADABLE_FAIL_TEXT = 'push could not be read by the delivery worker';
/** The FAIL text of a push whose provider client threw. */
export const INTERNAL_ERROR_FAIL_TEXT = 'internal error';

export type Decision =
  /** Go ahead and send. */
  | { fate: 'send' }
  | { fate: 'delivered'; response: PushResponse }
  /** The token is dead: REMOVE, and into the dead-token cache with the provider's reason. */
  | { fate: 'invalid_token'; reason: string; response: PushResponse }
  /** Send again at `atMs` (backoff with jitter, never before a Retry-After), in a new delayed envelope. */
  | { fate: 'retry'; atMs: number; reason: string }
  /** Not attempted (open circuit, not readable yet): taken again at `atMs`, no attempt used up. */
  | { fate: 'held'; atMs: number; reason: string }
  /** Failed for good: FAIL and a dead-letter record with the reason. */
  | { fate: 'failed'; reason: string; response: PushResponse }
  /** Its time to live ran out before it could be delivered. */
  | { fate: 'expired'; response: PushResponse };

const EXPIRED: Decision = { fate: 'expired', response: { status: 'FAIL', error: EXPIRED_FAIL_TEXT } };

/** Decisions whose answer is final (the waiting ingress is told, a failure is recorded). */
export function isFinal(decision: Decision): decision is Extract<Decision, { response: PushResponse }> {
  return 'response' in decision;
}

export function decide(observation: Observation, state: PushState, policy: DecisionPolicy = {}): Decision {
  switch (observation.kind) {
    case 'due':
      return state.nowMs >= state.expiresAtMs ? EXPIRED : { fate: 'send' };
    case 'circuit_open': {
      const atMs = state.nowMs + Math.max(1, observation.waitMs);
      return atMs >= state.expiresAtMs ? EXPIRED : { fate: 'held', atMs, reason: 'circuit_open' };
    }
    case 'unreadable': {
      if (!observation.notYet) {
        return {
          fate: 'failed',
          reason: 'unreadable',
          response: { status: 'FAIL', error: UNREADABLE_FAIL_TEXT },
        };
      }
      const atMs = state.nowMs + (policy.notYetReadableMs ?? 5000);
      return atMs >= state.expiresAtMs ? EXPIRED : { fate: 'held', atMs, reason: 'not_yet_readable' };
    }
    case 'provider_bug':
      // Visible at once instead of retried until the TTL: a bug does not heal by itself.
      return {
        fate: 'failed',
        reason: 'internal_error',
        response: { status: 'FAIL', error: INTERNAL_ERROR_FAIL_TEXT },
      };
    case 'sent':
      break;
  }
  const { outcome } = observation;
  switch (outcome.kind) {
    case 'delivered':
      return { fate: 'delivered', response: { status: 'OK' } };
    case 'invalid_token':
      return { fate: 'invalid_token', reason: outcome.reason, response: { status: 'REMOVE' } };
    case 'rejected':
      return {
        fate: 'failed',
        reason: outcome.reason,
        response: pushResponseForOutcome(outcome, state.provider),
      };
    case 'retryable': {
      if (state.attempts >= (policy.attemptGuard ?? 1000)) {
        return {
          fate: 'failed',
          reason: 'attempt_limit',
          response: pushResponseForOutcome(outcome, state.provider),
        };
      }
      const delay = retryDelayMs(state.attempts, policy.backoff, () => state.jitter, outcome.retryAfterMs);
      const atMs = state.nowMs + Math.max(1, delay);
      // A retry that could only happen after the push expired is pointless: give up now.
      return atMs >= state.expiresAtMs ? EXPIRED : { fate: 'retry', atMs, reason: outcome.reason };
    }
  }
}
