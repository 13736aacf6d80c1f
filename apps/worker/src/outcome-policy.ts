import {
  EXPIRED_FAIL_TEXT,
  pushResponseForOutcome,
  type DeliveryOutcome,
  type ProviderKind,
  type PushResponse,
} from '@hpns/protocol';
import { type AttemptResult } from '@hpns/queue';

/**
 * The one place where a provider's answer becomes a queue action (STYLE.md §6): complete, retry later, or fail
 * for good; plus what to tell the waiting ingress and whether the token is dead. Pure: the processor applies
 * the decision.
 */
export interface AttemptDecision {
  result: AttemptResult;
  /** The answer for the Mattermost server, when the push's fate is final. */
  response?: PushResponse;
  /** Set when the token must go into the dead-token cache, with the provider's reason. */
  deadTokenReason?: string;
}

export interface AttemptContext {
  provider: ProviderKind;
  /** 1 for the first attempt. */
  attempt: number;
  maxAttempts: number;
  nowMs: number;
  /** The push's time to live ends here (routing.expiresAtMs). */
  expiresAtMs: number;
}

/** The decision for a push whose time to live ran out before (or while) it could be delivered. */
export const EXPIRED: AttemptDecision = {
  result: { action: 'fail', reason: 'expired' },
  response: { status: 'FAIL', error: EXPIRED_FAIL_TEXT },
};

export function decideAttempt(outcome: DeliveryOutcome, context: AttemptContext): AttemptDecision {
  switch (outcome.kind) {
    case 'delivered':
      return { result: { action: 'complete' }, response: { status: 'OK' } };
    case 'invalid_token':
      return {
        result: { action: 'complete' },
        response: { status: 'REMOVE' },
        deadTokenReason: outcome.reason,
      };
    case 'rejected':
      return {
        result: { action: 'fail', reason: outcome.reason },
        response: pushResponseForOutcome(outcome, context.provider),
      };
    case 'retryable': {
      // A retry that could only happen after the push expired is pointless: give up now.
      const earliestRetry = context.nowMs + (outcome.retryAfterMs ?? 0);
      if (earliestRetry >= context.expiresAtMs) return EXPIRED;
      if (context.attempt >= context.maxAttempts) {
        return {
          result: { action: 'fail', reason: outcome.reason },
          response: pushResponseForOutcome(outcome, context.provider),
        };
      }
      return {
        result: {
          action: 'retry',
          reason: outcome.reason,
          ...(outcome.retryAfterMs !== undefined ? { retryAfterMs: outcome.retryAfterMs } : {}),
        },
      };
    }
  }
}
