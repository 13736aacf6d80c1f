import { parseArgs } from 'node:util';
import { type Region } from '@hpns/protocol';
import {
  DeadLetters,
  FinalOutcomes,
  redriveDeadLetters,
  RegionQueues,
  type DeadLetterEntry,
  type RedriveSkipReason,
} from '@hpns/queue';
import {
  countArg,
  filterOf,
  FILTER_OPTIONS,
  isEmptyFilter,
  matches,
  regionArg,
  UsageError,
  type DeadLetterFilter,
} from '../args';
import { formatRelative, renderTable, writeJson, type CliIo } from '../output';
import { type AdminSession } from '../session';

/** A dead letter's stream entry id, as `dlq list` shows it. */
const ENTRY_ID = /^\d{1,20}-\d{1,20}$/;
/** A request id as the ingress makes them (`r` and base64url); what FAIL logs and records name a push by. */
const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;

interface Scope {
  regions: readonly Region[];
  filter: DeadLetterFilter;
  nowMs: number;
}

function scopeOf(session: AdminSession, values: Record<string, unknown>, nowMs: number): Scope {
  const region = values['region'] as string | undefined;
  return {
    regions: region === undefined ? session.regions : [regionArg(region, session.regions, '--region')],
    filter: filterOf(values),
    nowMs,
  };
}

async function lettersOf(session: AdminSession, region: Region): Promise<DeadLetters> {
  return new DeadLetters({ region, connection: await session.redis(region) });
}

/** Every matching record of one region, oldest first. */
async function collect(letters: DeadLetters, scope: Scope): Promise<DeadLetterEntry[]> {
  const found: DeadLetterEntry[] = [];
  for await (const page of letters.pages()) {
    for (const entry of page) if (matches(entry, scope.filter, scope.nowMs)) found.push(entry);
  }
  return found;
}

/** A record as `--json` gives it: every stored field, ids and times in ms since the epoch. Never content. */
function recordJson(entry: DeadLetterEntry): Record<string, unknown> {
  return { ...entry };
}

async function list(session: AdminSession, args: string[], json: boolean, io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...FILTER_OPTIONS, region: { type: 'string' }, limit: { type: 'string', default: '100' } },
  });
  if (positionals.length > 0) throw new UsageError('dlq list takes no arguments, only filters');
  const limit = countArg(values.limit, '--limit', 1, 1_000_000);
  const scope = scopeOf(session, values, Date.now());
  const found: DeadLetterEntry[] = [];
  for (const region of scope.regions) found.push(...(await collect(await lettersOf(session, region), scope)));
  found.sort((a, b) => b.failedAtMs - a.failedAtMs);
  const shown = found.slice(0, limit);
  if (json) {
    writeJson(io, { matched: found.length, deadLetters: shown.map(recordJson) });
    return 0;
  }
  const now = scope.nowMs;
  const table = renderTable(
    [
      'id',
      'region',
      'provider',
      'target',
      'type',
      'reason',
      'attempts',
      'failed',
      'expires',
      'held',
      'request',
    ],
    shown.map((e) => [
      e.id,
      e.region,
      e.provider,
      e.targetType,
      e.pushType,
      e.reason,
      String(e.attempts),
      formatRelative(e.failedAtMs, now),
      formatRelative(e.expiresAtMs, now),
      e.contentHeld ? 'yes' : 'no',
      e.requestId,
    ]),
  );
  if (table !== '') io.out(table);
  io.out(
    `${shown.length} of ${found.length} matching dead letter${found.length === 1 ? '' : 's'}` +
      (shown.length < found.length ? ` (newest first; --limit ${limit})` : ''),
  );
  return 0;
}

async function show(session: AdminSession, args: string[], json: boolean, io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { region: { type: 'string' } },
  });
  const [id, ...extra] = positionals;
  if (id === undefined || extra.length > 0) throw new UsageError('dlq show takes one id');
  const byEntryId = ENTRY_ID.test(id);
  if (!byEntryId && !REQUEST_ID.test(id)) {
    throw new UsageError(
      `${JSON.stringify(id)} is neither a dead-letter id (like 1712345678901-0, the ID column of dlq list) nor a request id`,
    );
  }
  const scope = scopeOf(session, values, Date.now());
  const found: { entry: DeadLetterEntry; heldNow: boolean }[] = [];
  for (const region of scope.regions) {
    const letters = await lettersOf(session, region);
    const entries = byEntryId
      ? [await letters.get(id)].filter((e): e is DeadLetterEntry => e !== undefined)
      : (await collect(letters, scope)).filter((e) => e.requestId === id);
    for (const entry of entries) found.push({ entry, heldNow: await letters.holdsContent(entry.requestId) });
  }
  if (found.length === 0) {
    io.err(`no dead letter ${id} in ${scope.regions.join(', ')}`);
    return 1;
  }
  if (json) {
    writeJson(io, {
      deadLetters: found.map(({ entry, heldNow }) => ({ ...recordJson(entry), contentHeldNow: heldNow })),
    });
    return 0;
  }
  const now = scope.nowMs;
  const time = (ms: number | undefined) =>
    ms === undefined ? '-' : `${new Date(ms).toISOString()} (${formatRelative(ms, now)})`;
  const blocks = found.map(({ entry: e, heldNow }) =>
    renderTable(
      ['field', 'value'],
      [
        ['id', e.id],
        ['region', e.region],
        ['request id', e.requestId],
        ['provider', e.provider],
        ['target', e.targetType],
        ['push type', e.pushType],
        ['reason', e.reason],
        ['attempts', String(e.attempts)],
        ['accepted', time(e.acceptedAtMs)],
        ['first attempt', time(e.firstAttemptAtMs)],
        ['last attempt', time(e.lastAttemptAtMs)],
        ['failed', time(e.failedAtMs)],
        ['expires', time(e.expiresAtMs)],
        [
          'content',
          !e.contentHeld
            ? 'not held (HPNS_DEAD_LETTER_HOLD_CONTENT was off, or the TTL had ended)'
            : heldNow
              ? 'held, sealed, until it expires: redrivable'
              : 'was held, gone now (expired, purged or redriven)',
        ],
      ],
    ),
  );
  io.out(blocks.join('\n\n'));
  return 0;
}

/** What each skip reason means, in the order the counts are reported. */
const SKIP_TEXT: Record<RedriveSkipReason, string> = {
  expired: 'its TTL is over',
  content_not_held: 'its content was not held',
  content_gone: 'its held content is gone (expired, purged or redriven)',
  content_unreadable: 'no loaded payload key opens its held content',
  no_queue: 'no queue for its provider here',
};

/** Counts by skip reason, in SKIP_TEXT's order (so the output does not depend on the records' order). */
function skipCounts(
  skipped: readonly { reason: RedriveSkipReason }[],
): Partial<Record<RedriveSkipReason, number>> {
  const counts: Partial<Record<RedriveSkipReason, number>> = {};
  for (const reason of Object.keys(SKIP_TEXT) as RedriveSkipReason[]) {
    const n = skipped.filter((s) => s.reason === reason).length;
    if (n > 0) counts[reason] = n;
  }
  return counts;
}

async function redrive(session: AdminSession, args: string[], json: boolean, io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...FILTER_OPTIONS,
      region: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  if (positionals.length > 0) throw new UsageError('dlq redrive takes no arguments, only filters');
  const dryRun = values['dry-run'];
  const scope = scopeOf(session, values, Date.now());
  const { cipher } = session.keys();
  const reports = [];
  for (const region of scope.regions) {
    const connection = await session.redis(region);
    const deadLetters = new DeadLetters({ region, connection });
    const entries = await collect(deadLetters, scope);
    const queues = new RegionQueues({ region, connection, shards: session.shards(region) });
    try {
      const result = await redriveDeadLetters(entries, {
        deadLetters,
        queues,
        cipher,
        finalOutcomes: new FinalOutcomes({ region, connection }),
        dryRun,
        now: () => scope.nowMs,
      });
      reports.push({ region, matched: entries.length, ...result });
    } finally {
      await queues.close();
    }
  }
  const redriven = reports.reduce((sum, r) => sum + r.redriven.length, 0);
  const matched = reports.reduce((sum, r) => sum + r.matched, 0);
  if (json) {
    writeJson(io, {
      dryRun,
      matched,
      redriven,
      skipped: skipCounts(reports.flatMap((r) => r.skipped)),
      regions: reports.map((r) => ({
        region: r.region,
        matched: r.matched,
        redriven: r.redriven.map((e) => ({ id: e.id, requestId: e.requestId })),
        skipped: r.skipped.map(({ entry, reason }) => ({ id: entry.id, requestId: entry.requestId, reason })),
      })),
    });
  } else {
    for (const r of reports) {
      const counts = skipCounts(r.skipped);
      const why = Object.entries(counts).map(([reason, n]) => `${n} ${reason}`);
      io.out(
        `${r.region}: ${r.matched} matched, ${r.redriven.length} ${dryRun ? 'would be redriven' : 'redriven'}, ` +
          `${r.skipped.length} skipped${why.length > 0 ? ` (${why.join(', ')})` : ''}`,
      );
      for (const { entry, reason } of r.skipped) {
        io.out(`  skipped ${entry.id} ${entry.requestId}: ${SKIP_TEXT[reason]}`);
      }
    }
    if (redriven > 0 && !dryRun) {
      io.out('Redriven pushes are queued again with fresh attempts and their records removed.');
    }
  }
  if (redriven === 0) {
    io.err(matched === 0 ? 'no dead letter matched' : 'nothing could be redriven');
    return 1;
  }
  return 0;
}

async function purge(session: AdminSession, args: string[], json: boolean, io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...FILTER_OPTIONS,
      region: { type: 'string' },
      all: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  if (positionals.length > 0) throw new UsageError('dlq purge takes no arguments, only filters');
  const scope = scopeOf(session, values, Date.now());
  if (isEmptyFilter(scope.filter) && !values.all) {
    throw new UsageError('dlq purge with no filter removes every record: say so with --all');
  }
  const dryRun = values['dry-run'];
  const reports: { region: Region; matched: number; removed: number }[] = [];
  for (const region of scope.regions) {
    const letters = await lettersOf(session, region);
    const entries = await collect(letters, scope);
    const removed = dryRun ? 0 : await letters.remove(entries);
    reports.push({ region, matched: entries.length, removed });
  }
  const matched = reports.reduce((sum, r) => sum + r.matched, 0);
  if (json) writeJson(io, { dryRun, matched, regions: reports });
  else {
    for (const r of reports) {
      io.out(
        dryRun
          ? `${r.region}: ${r.matched} would be removed`
          : `${r.region}: ${r.removed} removed, with their held content`,
      );
    }
  }
  if (matched === 0) {
    io.err('no dead letter matched');
    return 1;
  }
  return 0;
}

/** `dlq list | show | redrive | purge`. */
export async function dlqCommand(
  session: AdminSession,
  args: string[],
  json: boolean,
  io: CliIo,
): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'list') return list(session, rest, json, io);
  if (sub === 'show') return show(session, rest, json, io);
  if (sub === 'redrive') return redrive(session, rest, json, io);
  if (sub === 'purge') return purge(session, rest, json, io);
  throw new UsageError(
    sub === undefined
      ? 'dlq needs a subcommand: list, show, redrive or purge'
      : `unknown dlq subcommand ${JSON.stringify(sub)}: list, show, redrive or purge`,
  );
}
