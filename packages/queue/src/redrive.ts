import { type Queue } from 'bullmq';
import { type ProviderKind } from '@hpns/protocol';
import { type DeadLetterEntry, type DeadLetters } from './dead-letters';
import { type EnvelopePush } from './envelope';
import { type FinalOutcomes } from './final-outcomes';
import { type PayloadCipher } from './payload-cipher';
import { addEnvelope } from './producer';
import { type RegionQueues } from './region-queues';

/** Why a dead letter was not queued again. */
export type RedriveSkipReason =
  /** Its time to live is over: a late push is worse than none (a stale message, a stale badge). */
  | 'expired'
  /** Recorded without its content (HPNS_DEAD_LETTER_HOLD_CONTENT was off): there is nothing to send. */
  | 'content_not_held'
  /** Held once, not any more: the held copy ran out with the TTL, was purged, or another redrive took it. */
  | 'content_gone'
  /** No loaded payload key opens the held content, or it is not this push's; it stays held. */
  | 'content_unreadable'
  /** Its provider has no queue here (a record of another region or an unknown provider). */
  | 'no_queue';

export interface RedriveResult {
  /** Queued again (with `dryRun`: would be), and their records removed. */
  redriven: DeadLetterEntry[];
  skipped: { entry: DeadLetterEntry; reason: RedriveSkipReason }[];
}

export interface RedriveOptions {
  deadLetters: DeadLetters;
  /** The region's push queues (the dead letters' region). */
  queues: RegionQueues;
  /** Opens the held content and seals the new envelopes (the services' payload keys). */
  cipher: PayloadCipher;
  /** Forgets the pushes' remembered FAIL, so that a second copy of one is not answered FAIL while it is retried. */
  finalOutcomes?: FinalOutcomes;
  /** Report what would be queued; change nothing. Default false. */
  dryRun?: boolean;
  /** Pushes per new envelope at most. Default 256 (as the producer). */
  maxPushes?: number;
  now?: () => number;
}

/**
 * Queues dead-lettered pushes again: only those whose time to live is still open and whose sealed content is
 * still held (DeadLetterOptions.holdContent). Each push is taken out of its hold first (GETDEL), so that two
 * redrives running at once, or one run twice, never queue a push twice; once queued, its record is removed.
 * A redriven push starts afresh: attempts from 0 (a push that hit the attempt limit would fail again at once),
 * no reply channel (the ingress answered its caller long ago), and the same request id, accepted time and expiry:
 * the worker still drops it at its TTL. It can fail again, and is then recorded again.
 *
 * A process that dies between taking a push's content and queueing it loses that push (it had failed already);
 * a queue that refuses the add gets the content put back, and the error is thrown.
 */
export async function redriveDeadLetters(
  entries: readonly DeadLetterEntry[],
  options: RedriveOptions,
): Promise<RedriveResult> {
  const { deadLetters, queues, cipher } = options;
  const now = (options.now ?? Date.now)();
  const result: RedriveResult = { redriven: [], skipped: [] };
  const taken = new Map<ProviderKind, { entry: DeadLetterEntry; sealed: unknown; push: EnvelopePush }[]>();
  for (const entry of entries) {
    const skip = (reason: RedriveSkipReason) => result.skipped.push({ entry, reason });
    if (entry.expiresAtMs <= now) {
      skip('expired');
      continue;
    }
    if (!entry.contentHeld) {
      skip('content_not_held');
      continue;
    }
    if (entry.region !== queues.region || !queues.providers.includes(entry.provider)) {
      skip('no_queue');
      continue;
    }
    if (options.dryRun === true) {
      if (await deadLetters.holdsContent(entry.requestId)) result.redriven.push(entry);
      else skip('content_gone');
      continue;
    }
    const sealed = await deadLetters.takeHeldContent(entry.requestId);
    if (sealed === undefined) {
      skip('content_gone');
      continue;
    }
    let pushes: EnvelopePush[];
    try {
      pushes = cipher.openEnvelope(sealed);
    } catch {
      pushes = [];
    }
    const [push] = pushes;
    if (pushes.length !== 1 || push === undefined || push.job.routing.requestId !== entry.requestId) {
      await deadLetters.holdAgain(entry.requestId, sealed, entry.expiresAtMs);
      skip('content_unreadable');
      continue;
    }
    const { replyTo: _answered, ...routing } = push.job.routing;
    const fresh: EnvelopePush = { job: { ...push.job, routing }, attempts: 0 };
    let list = taken.get(entry.provider);
    if (list === undefined) taken.set(entry.provider, (list = []));
    list.push({ entry, sealed, push: fresh });
  }

  const maxPushes = options.maxPushes ?? 256;
  for (const [provider, list] of taken) {
    const shards = queues.shardQueues(provider);
    for (let i = 0; i < list.length; i += maxPushes) {
      const group = list.slice(i, i + maxPushes);
      try {
        await addEnvelope(
          // Groups go to the shards round robin, as the ingress's envelopes do.
          shards[(i / maxPushes) % shards.length] as Queue,
          cipher,
          group.map((g) => g.push),
        );
      } catch (error) {
        // Not queued: this group and every group still to go get their content back, for a later redrive.
        const queued = new Set(result.redriven.map((e) => e.id));
        const back = [...taken.values()].flat().filter((g) => !queued.has(g.entry.id));
        await Promise.allSettled(
          back.map((g) => deadLetters.holdAgain(g.entry.requestId, g.sealed, g.entry.expiresAtMs)),
        );
        throw error;
      }
      result.redriven.push(...group.map((g) => g.entry));
      await deadLetters.removeRecords(group.map((g) => g.entry.id));
      if (options.finalOutcomes !== undefined) {
        const outcomes = options.finalOutcomes;
        await Promise.all(group.map((g) => outcomes.forget(g.entry.requestId)));
      }
    }
  }
  return result;
}
