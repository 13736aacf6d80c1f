import {
  makePushNotification,
  PUSH_JOB_VERSION,
  type DeliveryOutcome,
  type ProviderKind,
} from '@hpns/protocol';
import { type PushProvider } from '@hpns/providers';
import { type EnvelopePush, type JobHandler, type OpenedJob, type UnreadableJob } from '@hpns/queue';
import { type Logger } from '@hpns/runtime';
import {
  CircuitBreaker,
  circuitTarget,
  type CircuitBreakerOptions,
  type CircuitState,
} from './circuit-breaker';
import { decide, type Decision, type DecisionPolicy, type Observation } from './decide';
import { type Decided, type Effects } from './effects';

/** A counting semaphore: at most `limit` holders at once, the others wait in order. */
export class Gate {
  readonly #limit: number;
  #held = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  acquire(): Promise<void> | undefined {
    if (this.#held < this.#limit) {
      this.#held += 1;
      return undefined;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#held -= 1;
  }
}

export interface JobHandlerDeps {
  /** One provider per kind; a job for a kind that has none is a bug (the worker consumes only its kinds). */
  providers: Partial<Record<ProviderKind, PushProvider>>;
  effects: Effects;
  logger: Logger;
  /** Sends in flight per target (`apns/apple_rn`) at most. Default 100. */
  inFlightPerTarget?: number;
  breaker?: CircuitBreakerOptions;
  /** Reports circuit state changes per target (metrics). */
  onCircuitChange?: (target: string, state: CircuitState) => void;
  policy?: DecisionPolicy;
  now?: () => number;
  random?: () => number;
}

/**
 * The worker's job handler: every push of a job is taken through decide() — due, circuit, one send under the
 * target's in-flight cap — concurrently, and the decisions go to the effects module together.
 */
export function createJobHandler(deps: JobHandlerDeps): JobHandler {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const breakers = new Map<string, CircuitBreaker>();
  const gates = new Map<string, Gate>();
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
  const gateFor = (target: string) => {
    let gate = gates.get(target);
    if (gate === undefined) gates.set(target, (gate = new Gate(deps.inFlightPerTarget ?? 100)));
    return gate;
  };
  const judge = (push: EnvelopePush, observation: Observation): Decision =>
    decide(
      observation,
      {
        provider: push.job.routing.provider,
        attempts: push.attempts,
        expiresAtMs: push.job.routing.expiresAtMs,
        nowMs: now(),
        jitter: random(),
      },
      deps.policy,
    );

  const deliver = async (push: EnvelopePush, signal: AbortSignal | undefined): Promise<Decided> => {
    const startedAt = now();
    const { routing } = push.job;
    const done = (decision: Decision): Decided => ({ push, decision, durationMs: now() - startedAt });
    const first = judge(push, { kind: 'due' });
    if (first.fate !== 'send') return done(first);
    const provider = deps.providers[routing.provider];
    if (provider === undefined) throw new Error(`no ${routing.provider} provider in this worker`);
    const target = circuitTarget(routing.provider, routing.targetType);
    const breaker = breakerFor(target);
    const gate = gateFor(target);
    await gate.acquire();
    try {
      const waitMs = breaker.acquire();
      if (waitMs > 0) return done(judge(push, { kind: 'circuit_open', waitMs }));
      const sentAt = now();
      push.attempts += 1;
      push.firstAttemptAtMs ??= sentAt;
      push.lastAttemptAtMs = sentAt;
      let outcome: DeliveryOutcome;
      try {
        outcome = await provider.send(push.job, signal);
      } catch (err) {
        breaker.record(false);
        deps.logger.error(
          { event: 'delivery.bug', requestId: routing.requestId, target, err },
          'provider threw',
        );
        return done(judge(push, { kind: 'provider_bug' }));
      }
      breaker.record(outcome.kind !== 'retryable');
      const decision = judge(push, { kind: 'sent', outcome });
      if (decision.fate !== 'delivered') {
        deps.logger.info(
          {
            event: decision.fate === 'retry' ? 'delivery.retry' : 'delivery.not_delivered',
            fate: decision.fate,
            requestId: routing.requestId,
            target,
            attempt: push.attempts,
            reason: 'reason' in decision ? decision.reason : undefined,
            device_id: push.job.content.device_id,
          },
          'delivery attempt did not succeed',
        );
      }
      return done(decision);
    } finally {
      gate.release();
    }
  };

  const unreadable = async (job: UnreadableJob) => {
    deps.logger.error(
      { event: 'job.unreadable', jobId: job.id, format: job.format, notYet: job.notYet, err: job.error },
      'job content cannot be opened',
    );
    const nowMs = now();
    // Not readable yet: the whole job is taken again unchanged (its content cannot be re-sealed), unless every
    // push in it has expired meanwhile.
    if (job.notYet && job.pushes.some((p) => p.routing.expiresAtMs > nowMs)) {
      return { action: 'later', delayMs: deps.policy?.notYetReadableMs ?? 5000 } as const;
    }
    const decided = job.pushes.map(({ routing, ...state }): Decided => {
      // The clear part only: a push without content, enough for the answer and the dead-letter record.
      const push: EnvelopePush = {
        ...state,
        job: { v: PUSH_JOB_VERSION, routing, content: makePushNotification({}) },
      };
      return { push, decision: judge(push, { kind: 'unreadable', notYet: job.notYet }), durationMs: 0 };
    });
    await deps.effects.apply(decided);
    return { action: 'complete' } as const;
  };

  const readable = async (job: OpenedJob, signal: AbortSignal | undefined) => {
    const decided = await Promise.all(job.pushes.map((push) => deliver(push, signal)));
    await deps.effects.apply(decided);
    return { action: 'complete' } as const;
  };

  return (job, signal) => (job.readable ? readable(job, signal) : unreadable(job));
}
