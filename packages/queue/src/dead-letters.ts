import { type RedisConnection } from './connections';
import { type ProviderKind, type Region } from '@hpns/protocol';
import { type EnvelopePush } from './envelope';
import { deadLetterContentKey, deadLetterKey } from './names';
import { type PayloadCipher } from './payload-cipher';

/**
 * What is kept of a push that failed for good: its routing metadata, the reason and its attempts. Never its
 * content in clear (a reason is a provider code or one of HPNS's own words, never text a caller chose).
 */
export interface DeadLetter {
  requestId: string;
  region: Region;
  provider: ProviderKind;
  targetType: string;
  pushType: string;
  /** Why it failed: `expired`, `unreadable`, `internal_error`, `attempt_limit`, or the provider's reason. */
  reason: string;
  attempts: number;
  acceptedAtMs: number;
  expiresAtMs: number;
  firstAttemptAtMs?: number;
  lastAttemptAtMs?: number;
  failedAtMs: number;
  /** True when the push's sealed content is held until its TTL ends (DeadLetterOptions.holdContent). */
  contentHeld: boolean;
}

/** A record as stored, with its stream entry id (`<ms>-<seq>`), which admin tools name it by. */
export interface DeadLetterEntry extends DeadLetter {
  id: string;
}

export interface DeadLetterOptions {
  region: Region;
  /** The worker's side connection (auto-pipelined): a batch of records goes to Redis in one write. */
  connection: RedisConnection;
  /** How long records are kept, in ms. Default 24 h. */
  retentionMs?: number;
  /** Records kept at most (the oldest go first): bounds the stream's memory. Default 100,000 (~25 MB). */
  maxRecords?: number;
  /**
   * Hold each push's sealed content (a one-push envelope, encrypted as in the queue) until its TTL ends, so
   * that it can be sent again once the cause is fixed. Off by default: then nothing of the content outlives the
   * push's last attempt.
   */
  holdContent?: PayloadCipher;
  now?: () => number;
}

const FIELDS = [
  'requestId',
  'region',
  'provider',
  'targetType',
  'pushType',
  'reason',
  'attempts',
  'acceptedAtMs',
  'expiresAtMs',
  'firstAttemptAtMs',
  'lastAttemptAtMs',
  'failedAtMs',
  'contentHeld',
] as const;

/**
 * The dead-letter store of one region: a Redis stream (`hpns:dlq-<region>`), one entry per push, trimmed by age
 * and count on every write.
 */
export class DeadLetters {
  readonly #options: DeadLetterOptions;
  readonly #now: () => number;

  constructor(options: DeadLetterOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Records pushes that failed for good; the commands of one call go out together. */
  async record(failures: readonly { push: EnvelopePush; reason: string }[]): Promise<void> {
    if (failures.length === 0) return;
    const { connection, region, holdContent } = this.#options;
    const key = deadLetterKey(region);
    const now = this.#now();
    const writes: Promise<unknown>[] = [];
    for (const { push, reason } of failures) {
      const r = push.job.routing;
      const leftMs = r.expiresAtMs - now;
      const held = holdContent !== undefined && leftMs > 0;
      if (held) {
        const sealed = JSON.stringify(holdContent.sealEnvelope([push]));
        writes.push(
          connection.set(deadLetterContentKey(region, r.requestId), sealed, 'PX', Math.ceil(leftMs)),
        );
      }
      const letter: DeadLetter = {
        requestId: r.requestId,
        region: r.region,
        provider: r.provider,
        targetType: r.targetType,
        pushType: r.pushType,
        reason,
        attempts: push.attempts,
        acceptedAtMs: r.acceptedAtMs,
        expiresAtMs: r.expiresAtMs,
        ...(push.firstAttemptAtMs === undefined ? {} : { firstAttemptAtMs: push.firstAttemptAtMs }),
        ...(push.lastAttemptAtMs === undefined ? {} : { lastAttemptAtMs: push.lastAttemptAtMs }),
        failedAtMs: now,
        contentHeld: held,
      };
      const fields = FIELDS.flatMap((f) => (letter[f] === undefined ? [] : [f, String(letter[f])]));
      writes.push(
        connection.xadd(key, 'MAXLEN', '~', String(this.#options.maxRecords ?? 100_000), '*', ...fields),
      );
    }
    // Exact, so that nothing older than the retention stays (entries removed are few per call); ids are Redis's
    // clock, which a worker's agrees with to well within the retention.
    writes.push(connection.xtrim(key, 'MINID', String(now - (this.#options.retentionMs ?? 86_400_000))));
    await Promise.all(writes);
  }

  /** The newest records first, at most `count`. */
  async list(count = 100): Promise<DeadLetterEntry[]> {
    const entries = await this.#options.connection.xrevrange(
      deadLetterKey(this.#options.region),
      '+',
      '-',
      'COUNT',
      count,
    );
    return entries.map(parseEntry);
  }

  /**
   * Every record, oldest first, `pageSize` at a time (the stream holds up to `maxRecords`: an admin tool reads
   * it in pages rather than in one reply of tens of megabytes).
   */
  async *pages(pageSize = 1000): AsyncGenerator<DeadLetterEntry[]> {
    const key = deadLetterKey(this.#options.region);
    let from = '-';
    for (;;) {
      const entries = await this.#options.connection.xrange(key, from, '+', 'COUNT', pageSize);
      if (entries.length === 0) return;
      yield entries.map(parseEntry);
      if (entries.length < pageSize) return;
      from = `(${(entries[entries.length - 1] as [string, string[]])[0]}`;
    }
  }

  /** The record with stream entry id `id`, or undefined (also for a malformed id). */
  async get(id: string): Promise<DeadLetterEntry | undefined> {
    if (!ENTRY_ID.test(id)) return undefined;
    const [entry] = await this.#options.connection.xrange(deadLetterKey(this.#options.region), id, id);
    return entry === undefined ? undefined : parseEntry(entry);
  }

  /** Removes records and their held content; resolves with the number of records that were still there. */
  async remove(entries: readonly Pick<DeadLetterEntry, 'id' | 'requestId'>[]): Promise<number> {
    const { connection, region } = this.#options;
    let removed = 0;
    for (let i = 0; i < entries.length; i += REMOVE_BATCH) {
      const batch = entries.slice(i, i + REMOVE_BATCH);
      const [deleted] = await Promise.all([
        connection.xdel(deadLetterKey(region), ...batch.map((e) => e.id)),
        // One key per push (no multi-key command: the keys may live on different Redis Cluster nodes).
        ...batch.map((e) => connection.del(deadLetterContentKey(region, e.requestId))),
      ]);
      removed += deleted;
    }
    return removed;
  }

  /** Removes records only, leaving any held content (which a redriven push that failed again may own now). */
  async removeRecords(ids: readonly string[]): Promise<number> {
    let removed = 0;
    for (let i = 0; i < ids.length; i += REMOVE_BATCH) {
      removed += await this.#options.connection.xdel(
        deadLetterKey(this.#options.region),
        ...ids.slice(i, i + REMOVE_BATCH),
      );
    }
    return removed;
  }

  /** The held sealed content of a dead-lettered push (a one-push envelope), while its TTL lasts. */
  async heldContent(requestId: string): Promise<unknown> {
    const text = await this.#options.connection.get(deadLetterContentKey(this.#options.region, requestId));
    return text === null ? undefined : (JSON.parse(text) as unknown);
  }

  /** Whether content is still held for the push (without reading it). */
  async holdsContent(requestId: string): Promise<boolean> {
    return (await this.#options.connection.exists(deadLetterContentKey(this.#options.region, requestId))) > 0;
  }

  /**
   * Takes the held content of a push out of Redis (GETDEL): of two redrives of one push, only one gets it, so a
   * push is never queued twice. Undefined when none is held (never was, the TTL ended, or taken already).
   */
  async takeHeldContent(requestId: string): Promise<unknown> {
    const text = await this.#options.connection.getdel(deadLetterContentKey(this.#options.region, requestId));
    return text === null ? undefined : (JSON.parse(text) as unknown);
  }

  /** Puts taken content back until `expiresAtMs` (a redrive that could not queue it); nothing once that passed. */
  async holdAgain(requestId: string, sealed: unknown, expiresAtMs: number): Promise<void> {
    const leftMs = expiresAtMs - this.#now();
    if (leftMs <= 0) return;
    await this.#options.connection.set(
      deadLetterContentKey(this.#options.region, requestId),
      JSON.stringify(sealed),
      'PX',
      Math.ceil(leftMs),
    );
  }
}

/** Records removed per round trip. */
const REMOVE_BATCH = 500;
/** A Redis stream entry id: `<ms>-<seq>`. */
const ENTRY_ID = /^\d{1,20}-\d{1,20}$/;

function parseEntry([id, flat]: [string, string[]]): DeadLetterEntry {
  const raw: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) raw[flat[i] as string] = flat[i + 1] as string;
  const num = (name: string) => (raw[name] === undefined ? undefined : Number(raw[name]));
  return {
    id,
    requestId: raw['requestId'] ?? '',
    region: (raw['region'] ?? '') as Region,
    provider: (raw['provider'] ?? '') as ProviderKind,
    targetType: raw['targetType'] ?? '',
    pushType: raw['pushType'] ?? '',
    reason: raw['reason'] ?? '',
    attempts: num('attempts') ?? 0,
    acceptedAtMs: num('acceptedAtMs') ?? 0,
    expiresAtMs: num('expiresAtMs') ?? 0,
    ...(raw['firstAttemptAtMs'] === undefined ? {} : { firstAttemptAtMs: num('firstAttemptAtMs') }),
    ...(raw['lastAttemptAtMs'] === undefined ? {} : { lastAttemptAtMs: num('lastAttemptAtMs') }),
    failedAtMs: num('failedAtMs') ?? 0,
    contentHeld: raw['contentHeld'] === 'true',
  } as DeadLetterEntry;
}
