import { randomBytes } from 'node:crypto';
import { ArrivalSchedule, checkProfile, Fleet, Reconciler, runLoad, type AnswerEvent } from '@hpns/loadtest';
import { FAIL_TEXTS, type Region } from '@hpns/protocol';
import {
  createWorkerConnection,
  keySlot,
  outcomeChannel,
  pushQueueShard,
  waitForReady,
  type RedisConnection,
} from '@hpns/queue';
import { FCM_DEAD_TOKEN_PREFIX, type ServiceProcess } from '@hpns/testkit';
import {
  counterValue,
  sendPushBody,
  startClusterStack,
  type ClusterStack,
  type IngressProcess,
} from './support/cluster-stack';

/**
 * A Redis Cluster master SIGKILLed under load (DESIGN.md targets: no acknowledged push lost when a Redis master
 * is killed). One ingress and one worker process for `us` on a 3-master + 3-replica cluster with 3 queue
 * shards (one per master); the load-test kit sends a steady 200 pushes/s through real send_push requests, and
 * 4 s in, the master of one shard's slot is killed; its replica takes over after the 1 s node timeout.
 *
 * The shard chosen is the one whose master also holds the ingress's outcome channel, so the kill covers the
 * producer (adds to a shard whose node is gone), the worker (its blocking read on that node) and the sharded
 * subscriber (its SSUBSCRIBE on that node) at once.
 *
 * Judged: every push answered OK reached a simulator (the kit's reconciliation against the receipts); every
 * push not answered OK got the retryable FAIL of a Redis outage, and the ingress counted each as `unavailable`
 * (HPNS_REDIS_UNAVAILABLE), never `internal_error`; nothing timed out; after the failover the killed shard takes
 * pushes again, and outcomes reach the ingress again (a dead token is answered REMOVE, synchronously).
 */
const US = 'us' as Region;
const RATE = 200;
const DURATION_MS = 16_000;
const KILL_AFTER_MS = 4000;

describe('a Redis Cluster master SIGKILLed under load', () => {
  let stack: ClusterStack;
  let ingress: IngressProcess;
  let worker: ServiceProcess;
  let admin: RedisConnection | undefined;

  beforeAll(async () => {
    stack = await startClusterStack({ name: 'cluster-failover', shards: 3 });
    // One at a time: a process still starting when a sibling's start fails would escape afterAll.
    worker = await stack.spawnWorker();
    ingress = await stack.spawnIngress();
    admin = createWorkerConnection({ url: stack.cluster.url, connectionName: 'failover-test' });
    admin.on('error', () => undefined);
    await waitForReady(admin, 10_000);
  }, 120_000);

  afterAll(async () => {
    admin?.disconnect();
    await stack?.close();
  }, 60_000);

  it('answers every push OK-and-delivered or refused with the retryable FAIL, and recovers', async () => {
    const { cluster, sims } = stack;
    // The shard that shares a master with the ingress's outcome channel.
    const channelSlot = keySlot(outcomeChannel(US, ingress.instanceId));
    const channelMaster = await cluster.masterOfSlot(channelSlot);
    const shards = [0, 1, 2].map((index) => pushQueueShard(US, 'apns', index));
    const masters = await Promise.all(shards.map((s) => cluster.masterOfSlot(keySlot(s.prefix))));
    const victimIndex = masters.findIndex((m) => m.port === channelMaster.port);
    expect(victimIndex).toBeGreaterThanOrEqual(0);
    const victimShard = shards[victimIndex]!;
    const victimSlot = keySlot(victimShard.prefix);
    const victimPort = masters[victimIndex]!.port;

    const fleet = new Fleet(
      checkProfile({
        servers: 5,
        devicesPerServer: 2000,
        kinds: { message: 1 },
        platforms: { 'apple_rn-v2': 1, 'android_rn-v2': 1 },
        regions: { us: 1 },
        deadTokens: 0,
      }),
    );
    const reconciler = new Reconciler(sims.info.controlUrl, fleet);
    await reconciler.start();

    const schedule = ArrivalSchedule.constant(RATE, DURATION_MS);
    const answers: AnswerEvent[] = [];
    let killedAt = Number.POSITIVE_INFINITY;
    let killedAtEpochMs = 0;
    let failedOverAt: number | undefined;
    let firstAddAfterKillEpochMs: number | undefined;
    let loadDone = false;

    // Kills the victim a few seconds in, then follows the failover: when a replica serves the slot, and when the
    // first envelope is added to the victim's shard on its new master (its BullMQ event stream, whose entry ids
    // are the new master's clock in ms).
    const chaos = (async () => {
      await new Promise((r) => setTimeout(r, KILL_AFTER_MS));
      killedAt = performance.now();
      killedAtEpochMs = Date.now();
      await cluster.node(victimPort).kill('SIGKILL');
      // Events stamped after the victim's exit can only come from the new master (the victim's last ones reach
      // the replica too, and a SIGKILL takes a few ms to land on a busy machine).
      const goneEpochMs = Date.now();
      const events = `${victimShard.prefix}:${victimShard.name}:events`;
      while (!loadDone && (failedOverAt === undefined || firstAddAfterKillEpochMs === undefined)) {
        await new Promise((r) => setTimeout(r, 50));
        if (failedOverAt === undefined) {
          const master = await cluster.masterOfSlot(victimSlot).catch(() => undefined);
          if (master !== undefined && master.port !== victimPort) failedOverAt = performance.now();
          continue;
        }
        const added = (await admin!.xrange(events, String(goneEpochMs + 1), '+').catch(() => [])) as [
          string,
          string[],
        ][];
        const first = added.find(([, fields]) => fields[1] === 'added');
        if (first !== undefined) firstAddAfterKillEpochMs = Number(first[0].split('-')[0]);
      }
    })();

    const run = await runLoad({
      target: {
        endpoint: { host: '127.0.0.1', port: ingress.port, tls: false },
        host: `127.0.0.1:${ingress.port}`,
        basePath: '',
      },
      model: { kind: 'open', schedule, maxConnections: 256 },
      next: () => fleet.next(),
      timeoutMs: 30_000,
      onAnswer: (event) => {
        answers.push(event);
        if (event.outcome === 'ok') reconciler.answeredOk(event.push.ackId);
      },
    });
    loadDone = true;
    await chaos;
    const reconciled = await reconciler.finish(3000, 60_000);

    // After the failover, outcomes still reach this ingress: dead tokens (new ones, so the dead-token cache
    // cannot answer for the worker) come back REMOVE from the worker, through the channel on the new master.
    const afterwards: string[] = [];
    for (let i = 0; i < 5; i++) {
      const token = `${FCM_DEAD_TOKEN_PREFIX}${randomBytes(12).toString('hex')}:APA91b${'x'.repeat(120)}`;
      const res = await fetch(`${ingress.url}/api/v1/send_push`, {
        method: 'POST',
        body: sendPushBody('android_rn-v2', token, `after-${i}-${randomBytes(4).toString('hex')}`),
      });
      afterwards.push(await res.text());
    }

    const metrics = await (await fetch(`${ingress.adminUrl}/metrics`)).text();
    const requests = (result: string) =>
      counterValue(metrics, 'hpns_ingress_requests_total', { endpoint: 'send_push', result });
    const refused = answers.filter((a) => a.outcome !== 'ok');
    const wrongRefusals = refused.filter((a) => a.outcome !== 'fail' || a.text !== FAIL_TEXTS.unavailable);
    const lastRefusal = Math.max(killedAt, ...refused.map((a) => a.doneAt));
    // Answered OK at the wait bound (HPNS_WAIT_MS, 3 s): the outcome came too late (a push on the killed shard
    // waited for the failover) or was published while the channel's node was away (pub/sub keeps nothing).
    const lateOutcomes = answers.filter((a) => a.outcome === 'ok' && a.doneAt - a.sentAt >= 2900).length;
    // What each refusal failed on (the ingress logs it), e.g. `enqueue` or `dead-token lookup`: every push
    // also reads and writes keys of its own (dead tokens, idempotency) that live on any master.
    const refusedOn: Record<string, number> = {};
    for (const line of ingress.output) {
      if (!line.includes('"send_push.unavailable"')) continue;
      const what = /^(.*?) failed:/.exec(
        String((JSON.parse(line) as { err?: { message?: string } }).err?.message),
      )?.[1];
      refusedOn[what ?? 'other'] = (refusedOn[what ?? 'other'] ?? 0) + 1;
    }
    const ms = (t: number | undefined) => (t === undefined ? undefined : Math.round(t));
    const report = {
      sent: run.recorder.answered,
      notSent: run.notSent,
      abandoned: run.abandoned,
      ok: reconciled.answeredOk,
      refused: refused.length,
      refusedUnavailable: requests('unavailable'),
      refusedOn,
      // Pushes queued without a lookup whose key sat on the killed master (their queue shard was healthy).
      lookupsSkipped: {
        deadToken: counterValue(metrics, 'hpns_ingress_lookups_skipped_total', { lookup: 'dead_token' }),
        idempotency: counterValue(metrics, 'hpns_ingress_lookups_skipped_total', { lookup: 'idempotency' }),
      },
      internalErrors: requests('internal_error'),
      delivered: reconciled.delivered,
      missing: reconciled.missing,
      duplicates: reconciled.duplicates,
      deliveredWithoutOk: reconciled.deliveredWithoutOk,
      lostReceipts: reconciled.lostReceipts,
      // How long receipts kept coming after the last answer (3 s of quiet end the wait): a shard whose
      // consumer did not follow the failover would show here as a long drain.
      drainMs: Math.round(reconciled.waitedMs),
      lateOutcomes,
      killedShard: victimShard.name,
      failoverMs: ms(failedOverAt === undefined ? undefined : failedOverAt - killedAt),
      firstAddOnNewMasterMs:
        firstAddAfterKillEpochMs === undefined ? undefined : firstAddAfterKillEpochMs - killedAtEpochMs,
      lastRefusalMs: ms(lastRefusal - killedAt),
      afterFailover: afterwards.map((a) => a.trim()),
    };
    process.stderr.write(`cluster failover: ${JSON.stringify(report)}\n`);

    expect(killedAt).toBeLessThan(Number.POSITIVE_INFINITY);
    expect(run.notSent + run.abandoned).toBe(0);
    expect(run.recorder.answered).toBe(schedule.total);
    expect(reconciled.lostReceipts).toBe(0);
    // No OK without a delivery.
    expect(reconciled.missing).toBe(0);
    // Every refusal is the retryable FAIL, and the ingress refused it as a Redis outage, not a bug of ours.
    expect(wrongRefusals.map((a) => `${a.outcome} ${a.text}`)).toEqual([]);
    expect(requests('internal_error')).toBe(0);
    expect(requests('unavailable')).toBe(refused.length);
    // It recovered: the slot failed over, the killed shard took pushes again, refusals stopped during the run.
    expect(failedOverAt).toBeDefined();
    expect(firstAddAfterKillEpochMs).toBeDefined();
    expect(lastRefusal - killedAt).toBeLessThan(DURATION_MS - KILL_AFTER_MS - 2000);
    expect(afterwards).toEqual(afterwards.map(() => '{"status":"REMOVE"}\n'));
    expect(worker.child.exitCode).toBeNull();
  }, 150_000);
});
