import { parseArgs } from 'node:util';
import { type ProviderKind, type Region } from '@hpns/protocol';
import { RegionQueues, type QueueStatus } from '@hpns/queue';
import { providerArg, regionArg, UsageError } from '../args';
import { formatDuration, renderTable, writeJson, type CliIo } from '../output';
import { type AdminSession } from '../session';

/** Runs `fn` with the push queues of a region, closing them after. */
async function withQueues<T>(
  session: AdminSession,
  region: Region,
  fn: (queues: RegionQueues) => Promise<T>,
): Promise<T> {
  const queues = new RegionQueues({
    region,
    connection: await session.redis(region),
    shards: session.shards(region),
  });
  try {
    return await fn(queues);
  } finally {
    await queues.close();
  }
}

/** `queues [--region R]`: every queue of every region (or one), counts in envelopes. */
export async function queuesCommand(
  session: AdminSession,
  args: string[],
  json: boolean,
  io: CliIo,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { region: { type: 'string' } },
  });
  if (positionals.length > 0) throw new UsageError('queues takes no arguments (use --region <region>)');
  const regions =
    values.region === undefined ? session.regions : [regionArg(values.region, session.regions, '--region')];
  const statuses: QueueStatus[] = [];
  for (const region of regions) statuses.push(...(await withQueues(session, region, (q) => q.status())));
  if (json) {
    writeJson(io, {
      queues: statuses.map((s) => ({ ...s, oldestWaitingMs: s.oldestWaitingMs ?? null })),
    });
    return 0;
  }
  io.out(
    renderTable(
      ['region', 'queue', 'waiting', 'active', 'delayed', 'failed', 'oldest waiting', 'paused'],
      statuses.map((s) => [
        s.region,
        s.leftover ? `${s.queue} (leftover, draining)` : s.queue,
        String(s.waiting),
        String(s.active),
        String(s.delayed),
        String(s.failed),
        s.oldestWaitingMs === undefined ? '-' : formatDuration(s.oldestWaitingMs),
        s.paused ? 'yes' : 'no',
      ]),
    ),
  );
  io.out('Counts are envelopes (queue jobs), each carrying one or many pushes.');
  return 0;
}

/**
 * `pause <region>` / `resume <region>` [--provider P]: BullMQ's queue pause on the region's queues (every
 * provider's unless --provider), which every worker honours before taking its next job.
 */
export async function pauseCommand(
  session: AdminSession,
  action: 'pause' | 'resume',
  args: string[],
  json: boolean,
  io: CliIo,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { provider: { type: 'string' } },
  });
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length > 0) throw new UsageError(`${action} takes one region`);
  const region = regionArg(name, session.regions, 'region');
  const only: ProviderKind | undefined =
    values.provider === undefined ? undefined : providerArg(values.provider);
  const statuses = await withQueues(session, region, async (queues) => {
    const providers = only === undefined ? queues.providers : [only];
    const before = new Map((await queues.status()).map((s) => [s.provider, s.paused]));
    if (action === 'pause') await queues.pause(providers);
    else await queues.resume(providers);
    const after = await queues.status();
    return after
      .filter((s) => providers.includes(s.provider))
      .map((s) => ({ queue: s.queue, provider: s.provider, paused: s.paused, was: before.get(s.provider) }));
  });
  if (json) {
    writeJson(io, {
      region,
      action,
      queues: statuses.map(({ queue, provider, paused, was }) => ({
        queue,
        provider,
        paused,
        changed: paused !== was,
      })),
    });
  } else {
    for (const s of statuses) {
      const state = s.paused ? 'paused' : 'running';
      io.out(`${s.queue}: ${s.paused === s.was ? `already ${state}` : state}`);
    }
    io.out(
      action === 'pause'
        ? `Workers of ${region} take no new work from these queues (jobs in flight finish); the ingress keeps accepting and pushes wait. Resume with: hpns resume ${region}`
        : `Workers of ${region} take work again; the backlog drains (see hpns queues --region ${region}).`,
    );
  }
  return 0;
}
