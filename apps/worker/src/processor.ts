import { type DeliveryOutcome, type ProviderKind, type PushJob, type PushResponse } from '@hpns/protocol';
import { type PushProvider } from '@hpns/providers';
import {
  type AckTracker,
  type AttemptResult,
  type DeadTokenCache,
  type FinalOutcomes,
  type OutcomeMessage,
  type PushProcessor,
} from '@hpns/queue';
import { type Logger } from '@hpns/runtime';
import {
  CircuitBreaker,
  circuitTarget,
  type CircuitBreakerOptions,
  type CircuitState,
} from './circuit-breaker';
import { decideAttempt, EXPIRED, type AttemptDecision } from './outcome-policy';

export interface PushProcessorDeps {
  /** One provider per kind; a job for a kind that has none is a bug (the worker consumes only its kinds). */
  providers: Partial<Record<ProviderKind, PushProvider>>;
  deadTokens: DeadTokenCache;
  /** Records deliveries that carry an ack id, for time-to-device (optional). */
  acks?: AckTracker;
  /** Remembers final outcomes other than OK, for a second copy of the push (optional). */
  finalOutcomes?: FinalOutcomes;
  /** Publishes an outcome to the waiting ingress (publishOutcome on a worker connection). */
  publish: (channel: string, message: OutcomeMessage) => Promise<void>;
  logger: Logger;
  breaker?: CircuitBreakerOptions;
  /** Reports circuit state changes per target (metrics). */
  onCircuitChange?: (target: string, state: CircuitState) => void;
  /** Reports each attempt's decision (metrics). */
  onDecision?: (job: PushJob, decision: AttemptDecision, durationMs: number) => void;
  now?: () => number;
}

/**
 * The worker's processor: expiry check, circuit breaker, one send, then the outcome policy's decision applied
 * (dead-token cache, answer to the waiting ingress). Side effects that fail (Redis briefly away) are logged and
 * do not change the decision: the push itself was delivered or not, whatever happens to its bookkeeping.
 */
export function createPushProcessor(deps: PushProcessorDeps): PushProcessor {
  const now = deps.now ?? Date.now;
  const breakers = new Map<string, CircuitBreaker>();
  const breakerFor = (target: string) => {
    let breaker = breakers.get(target);
    if (breaker === undefined) {
      breaker = new CircuitBreaker({
        ...deps.breaker,
        now,
        onStateChange: (state) => {
          deps.logger.warn({ event: 'circuit.state', target, state }, `circuit ${state} for ${target}`);
          deps.onCircuitChange?.(target, state);
        },
      });
      breakers.set(target, breaker);
    }
    return breaker;
  };

  const answer = async (job: PushJob, response: PushResponse | undefined) => {
    const channel = job.routing.replyTo;
    if (response === undefined || channel === undefined) return;
    try {
      await deps.publish(channel, { requestId: job.routing.requestId, response });
    } catch (err) {
      deps.logger.warn(
        { event: 'outcome.publish_failed', requestId: job.routing.requestId, err },
        'could not publish outcome',
      );
    }
  };

  const apply = async (
    job: PushJob,
    decision: AttemptDecision,
    startedAt: number,
  ): Promise<AttemptResult> => {
    if (decision.deadTokenReason !== undefined) {
      try {
        await deps.deadTokens.markDead(
          job.routing.targetType,
          job.content.device_id,
          decision.deadTokenReason,
        );
      } catch (err) {
        deps.logger.warn({ event: 'dead_token.write_failed', err }, 'could not record dead token');
      }
    }
    if (decision.response?.status === 'OK' && job.content.ack_id !== '' && deps.acks !== undefined) {
      try {
        await deps.acks.delivered(job.content.ack_id, job.routing.acceptedAtMs);
      } catch (err) {
        deps.logger.warn({ event: 'ack.track_failed', err }, 'could not record delivery for ack tracking');
      }
    }
    if (
      decision.response !== undefined &&
      decision.response.status !== 'OK' &&
      deps.finalOutcomes !== undefined
    ) {
      try {
        await deps.finalOutcomes.remember(job.routing.requestId, job.routing.acceptedAtMs, decision.response);
      } catch (err) {
        deps.logger.warn({ event: 'final_outcome.write_failed', err }, 'could not record final outcome');
      }
    }
    await answer(job, decision.response);
    deps.onDecision?.(job, decision, now() - startedAt);
    return decision.result;
  };

  return async (job, info) => {
    const startedAt = now();
    const { routing } = job;
    if (startedAt >= routing.expiresAtMs) return apply(job, EXPIRED, startedAt);
    const provider = deps.providers[routing.provider];
    if (provider === undefined) throw new Error(`no ${routing.provider} provider in this worker`);

    const target = circuitTarget(routing.provider, routing.targetType);
    const breaker = breakerFor(target);
    const waitMs = breaker.acquire();
    if (waitMs > 0) {
      if (startedAt + waitMs >= routing.expiresAtMs) return apply(job, EXPIRED, startedAt);
      // Counted like every other decision (jobs by result `defer`): an open circuit shows in the job rates.
      const deferred: AttemptDecision = { result: { action: 'defer', delayMs: waitMs } };
      deps.onDecision?.(job, deferred, now() - startedAt);
      return deferred.result;
    }

    let outcome: DeliveryOutcome;
    try {
      outcome = await provider.send(job, info.signal);
    } catch (err) {
      // A provider throws only for bugs; fail this push visibly instead of retrying it 25 times, and release
      // the breaker's probe slot.
      breaker.record(false);
      deps.logger.error(
        { event: 'delivery.bug', requestId: routing.requestId, target, err },
        'provider threw',
      );
      return apply(
        job,
        {
          result: { action: 'fail', reason: 'internal_error' },
          response: { status: 'FAIL', error: 'internal error' },
        },
        startedAt,
      );
    }
    breaker.record(outcome.kind !== 'retryable');
    const decision = decideAttempt(outcome, {
      provider: routing.provider,
      attempt: info.attempt,
      maxAttempts: info.maxAttempts,
      nowMs: now(),
      expiresAtMs: routing.expiresAtMs,
    });
    if (decision.result.action !== 'complete') {
      deps.logger.info(
        {
          event: decision.result.action === 'retry' ? 'delivery.retry' : 'delivery.failed',
          requestId: routing.requestId,
          target,
          attempt: info.attempt,
          reason: 'reason' in decision.result ? decision.result.reason : undefined,
          device_id: job.content.device_id,
        },
        'delivery attempt did not succeed',
      );
    }
    return apply(job, decision, startedAt);
  };
}
