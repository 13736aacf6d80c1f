import { type Queue } from 'bullmq';
import { type ProviderKind, type PushResponse } from '@hpns/protocol';
import {
  addEnvelope,
  type AckTracker,
  type DeadLetters,
  type DeadTokenCache,
  type EnvelopePush,
  type FinalOutcomes,
  type OutcomeMessage,
  type PayloadCipher,
} from '@hpns/queue';
import { type Logger } from '@hpns/runtime';
import { isFinal, type Decision } from './decide';

/** One push's decision, as the effects apply it. */
export interface Decided {
  push: EnvelopePush;
  decision: Decision;
  /** Time the worker spent on the push (send included), in ms. */
  durationMs: number;
}

export interface EffectsDeps {
  /**
   * The queue shards retries go back to, per provider (opened on the worker's BullMQ connection): each retry
   * envelope goes to the next shard, round robin, like the ingress's envelopes.
   */
  queues: Partial<Record<ProviderKind, readonly Queue[]>>;
  cipher: PayloadCipher;
  deadTokens: DeadTokenCache;
  acks?: AckTracker;
  finalOutcomes?: FinalOutcomes;
  deadLetters?: DeadLetters;
  /** One message with many outcomes (publishOutcomes), and the single shape (publishOutcome) for one. */
  publishMany: (channel: string, messages: readonly OutcomeMessage[]) => Promise<void>;
  publishOne: (channel: string, message: OutcomeMessage) => Promise<void>;
  logger: Logger;
  /** Reports each decision (metrics). */
  onDecision?: (decided: Decided, nowMs: number) => void;
  /** Pushes due within this many ms of each other share a retry envelope. Default 250. */
  retryGroupMs?: number;
  /** Pushes per retry envelope at most. Default 256. */
  maxPushes?: number;
  now?: () => number;
}

/**
 * Applies the decisions of one job's pushes, in batches: one outcome message per reply channel (the ingress that
 * made the pushes), dead-token, ack and final-outcome writes together on the auto-pipelined side connection, one
 * dead-letter write, and the pushes to try again in new delayed envelopes grouped by due time (so that one slow
 * push never holds the others back). Bookkeeping that fails (Redis briefly away) is logged and changes nothing
 * about the push; a retry envelope that cannot be added fails the apply, so the job is taken again (the pushes
 * are never dropped; those already delivered may then be sent twice).
 */
export class Effects {
  readonly #deps: EffectsDeps;
  readonly #now: () => number;
  /** The shard the next retry envelope goes to (round robin). */
  #nextShard = 0;

  constructor(deps: EffectsDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  async apply(decided: readonly Decided[]): Promise<void> {
    const deps = this.#deps;
    const now = this.#now();
    const byChannel = new Map<string, OutcomeMessage[]>();
    const bookkeeping: Promise<unknown>[] = [];
    const failures: { push: EnvelopePush; reason: string }[] = [];
    const again: Decided[] = [];
    const guard = (what: string, work: Promise<unknown>) =>
      bookkeeping.push(
        work.catch((err: unknown) =>
          deps.logger.warn({ event: `${what}.write_failed`, err }, `could not record ${what}`),
        ),
      );

    for (const item of decided) {
      const { push, decision } = item;
      const { routing, content } = push.job;
      deps.onDecision?.(item, now);
      if (decision.fate === 'retry' || decision.fate === 'held') {
        again.push(item);
        continue;
      }
      if (!isFinal(decision)) continue;
      const response: PushResponse = decision.response;
      if (routing.replyTo !== undefined) {
        let list = byChannel.get(routing.replyTo);
        if (list === undefined) byChannel.set(routing.replyTo, (list = []));
        list.push({ requestId: routing.requestId, response });
      }
      if (decision.fate === 'invalid_token') {
        guard('dead_token', deps.deadTokens.markDead(routing.targetType, content.device_id, decision.reason));
      }
      if (decision.fate === 'delivered' && content.ack_id !== '' && deps.acks !== undefined) {
        guard('ack', deps.acks.delivered(content.ack_id, routing.acceptedAtMs));
      }
      if (response.status !== 'OK' && deps.finalOutcomes !== undefined) {
        guard(
          'final_outcome',
          deps.finalOutcomes.remember(routing.requestId, routing.acceptedAtMs, response),
        );
      }
      if (decision.fate === 'failed') failures.push({ push, reason: decision.reason });
      if (decision.fate === 'expired') failures.push({ push, reason: 'expired' });
    }
    for (const [channel, messages] of byChannel) {
      // One outcome goes in the single shape, which an ingress of the release before envelopes reads too (its
      // one-push jobs, during a rolling upgrade); several in one batch message.
      const [only] = messages;
      if (messages.length === 1 && only !== undefined) guard('outcome', deps.publishOne(channel, only));
      else guard('outcome', deps.publishMany(channel, messages));
    }
    if (failures.length > 0 && deps.deadLetters !== undefined) {
      guard('dead_letter', deps.deadLetters.record(failures));
    }
    const retries = this.#requeue(again);
    await Promise.all(bookkeeping);
    await retries;
  }

  /** New delayed envelopes for the pushes to try again, grouped by provider and due time. */
  async #requeue(again: Decided[]): Promise<void> {
    if (again.length === 0) return;
    const deps = this.#deps;
    const groupMs = deps.retryGroupMs ?? 250;
    const maxPushes = deps.maxPushes ?? 256;
    const due = (d: Decided) =>
      d.decision.fate === 'retry' || d.decision.fate === 'held' ? d.decision.atMs : 0;
    const sorted = [...again].sort((a, b) => due(a) - due(b));
    const adds: Promise<unknown>[] = [];
    for (const provider of ['apns', 'fcm'] as const) {
      const mine = sorted.filter((d) => d.push.job.routing.provider === provider);
      const shards = deps.queues[provider];
      if (mine.length === 0) continue;
      if (shards === undefined || shards.length === 0) throw new Error(`no ${provider} queue for retries`);
      let i = 0;
      while (i < mine.length) {
        const start = due(mine[i] as Decided);
        let j = i;
        while (j < mine.length && j - i < maxPushes && due(mine[j] as Decided) - start <= groupMs) j += 1;
        const group = mine.slice(i, j);
        // The latest due time of the group: no push goes before its own (a Retry-After is a floor).
        const atMs = due(group[group.length - 1] as Decided);
        const queue = shards[this.#nextShard++ % shards.length] as Queue;
        adds.push(
          addEnvelope(
            queue,
            deps.cipher,
            group.map((d) => d.push),
            atMs - this.#now(),
          ),
        );
        i = j;
      }
    }
    await Promise.all(adds);
  }
}
