import { randomBytes } from 'node:crypto';
import { type Region } from '@hpns/protocol';
import { keySlot, outcomeChannel } from '@hpns/queue';
import { APNS_MAGIC_TOKEN_PREFIXES, FCM_DEAD_TOKEN_PREFIX, type ServiceProcess } from '@hpns/testkit';
import {
  counterValue,
  sendPushBody,
  startClusterStack,
  type ClusterStack,
  type IngressProcess,
} from './support/cluster-stack';

/**
 * Scale-out on a Redis Cluster (DESIGN.md "Scale-out"): two ingress processes and two worker processes for
 * `us` on a 3-master + 3-replica cluster with 6 queue shards. Pushes go to both ingresses; each is delivered,
 * and each outcome reaches the ingress that waits for it (sharded pub/sub on the ingress's own channel): a
 * push to a dead token comes back REMOVE from the ingress it was sent to, within the wait bound, never OK.
 * Then one worker is SIGKILLed while pushes flow: the survivor delivers every push (at least once; the
 * duplicates are counted and printed).
 */
const US = 'us' as Region;
const WAIT_MS = 3000;

type Platform = 'apple_rn-v2' | 'android_rn-v2';

interface Sent {
  ackId: string;
  platform: Platform;
  dead: boolean;
  /** Which ingress (0 or 1) it was sent to. */
  via: number;
  answer: string;
  ms: number;
}

function liveToken(platform: Platform): string {
  return platform === 'apple_rn-v2'
    ? randomBytes(32).toString('hex')
    : `${randomBytes(11).toString('hex')}:APA91b${randomBytes(90).toString('base64url')}`;
}

function deadToken(platform: Platform): string {
  return platform === 'apple_rn-v2'
    ? `${APNS_MAGIC_TOKEN_PREFIXES.unregistered}${randomBytes(28).toString('hex')}`
    : `${FCM_DEAD_TOKEN_PREFIX}${randomBytes(7).toString('hex')}:APA91b${randomBytes(90).toString('base64url')}`;
}

/** Counts 200 receipts per ack id at both simulators, reading on from where the last read ended. */
class Deliveries {
  readonly count = new Map<string, number>();
  #apns = 0;
  #fcm = 0;

  constructor(private readonly stack: ClusterStack) {}

  poll(): void {
    const { apns, fcm } = this.stack.sims;
    for (;;) {
      const page = apns.receipts(this.#apns, 10_000);
      for (const [, , ackId, status] of page.items) this.#add(ackId, status);
      this.#apns = page.next;
      if (page.items.length < 10_000) break;
    }
    for (;;) {
      const page = fcm.receipts(this.#fcm, 10_000);
      for (const [, , ackId, status] of page.items) this.#add(ackId, status);
      this.#fcm = page.next;
      if (page.items.length < 10_000) break;
    }
  }

  #add(ackId: string, status: number): void {
    if (status === 200) this.count.set(ackId, (this.count.get(ackId) ?? 0) + 1);
  }

  /** Polls until every ack id of `expected` has a delivery, or `timeoutMs` passed. */
  async waitFor(expected: readonly string[], timeoutMs: number): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.poll();
      const missing = expected.filter((id) => !this.count.has(id));
      if (missing.length === 0 || Date.now() > deadline) return missing;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  duplicatesOf(ids: readonly string[]): number {
    return ids.reduce((sum, id) => sum + Math.max(0, (this.count.get(id) ?? 0) - 1), 0);
  }
}

describe('two ingresses and two workers on a Redis Cluster', () => {
  let stack: ClusterStack;
  const ingresses: IngressProcess[] = [];
  const workers: ServiceProcess[] = [];

  beforeAll(async () => {
    // Provider latency, so that the worker killed later holds envelopes in flight.
    stack = await startClusterStack({
      name: 'cluster-horizontal',
      shards: 6,
      latency: { p50Ms: 20, p99Ms: 60 },
    });
    // One at a time: a process still starting when a sibling's start fails would escape afterAll.
    for (let i = 0; i < 2; i++) workers.push(await stack.spawnWorker());
    for (let i = 0; i < 2; i++) ingresses.push(await stack.spawnIngress({ HPNS_WAIT_MS: String(WAIT_MS) }));
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
  }, 60_000);

  /**
   * Sends `count` pushes, alternating between the ingresses and the platforms, `concurrency` at a time;
   * `dead(i)` says which go to a dead token. `paceMs` spaces out the starts (a steady flow).
   */
  async function send(
    count: number,
    options: {
      concurrency: number;
      dead?: (i: number) => boolean;
      paceMs?: number;
      onSent?: (i: number) => void;
    },
  ): Promise<Sent[]> {
    const results: Sent[] = [];
    let next = 0;
    const lane = async () => {
      while (next < count) {
        const i = next++;
        const platform: Platform = i % 2 === 0 ? 'apple_rn-v2' : 'android_rn-v2';
        const dead = options.dead?.(i) ?? false;
        const via = Math.floor(i / 2) % 2;
        const ackId = `h${randomBytes(12).toString('hex')}`;
        const started = performance.now();
        const res = await fetch(`${ingresses[via]!.url}/api/v1/send_push`, {
          method: 'POST',
          body: sendPushBody(platform, dead ? deadToken(platform) : liveToken(platform), ackId),
          signal: AbortSignal.timeout(30_000),
        });
        const answer = (await res.text()).trim();
        results.push({ ackId, platform, dead, via, answer, ms: performance.now() - started });
        options.onSent?.(results.length);
        if (options.paceMs !== undefined) await new Promise((r) => setTimeout(r, options.paceMs));
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, lane));
    return results;
  }

  it('delivers pushes sent to either ingress, and each outcome reaches the ingress it was sent to', async () => {
    const { cluster } = stack;
    const channelMasters = await Promise.all(
      ingresses.map(
        async (i) => (await cluster.masterOfSlot(keySlot(outcomeChannel(US, i.instanceId)))).port,
      ),
    );
    const deliveries = new Deliveries(stack);
    // Every 10th push goes to a dead token (a fresh one each time, so the dead-token cache cannot answer).
    const sent = await send(600, { concurrency: 16, dead: (i) => i % 10 === 3 });
    const live = sent.filter((s) => !s.dead);
    const dead = sent.filter((s) => s.dead);
    const missing = await deliveries.waitFor(
      live.map((s) => s.ackId),
      30_000,
    );
    const wrong = [
      ...live.filter((s) => s.answer !== '{"status":"OK"}'),
      ...dead.filter((s) => s.answer !== '{"status":"REMOVE"}' || s.ms >= WAIT_MS),
    ];
    const workerJobs = await Promise.all(
      workers.map(async (w) => {
        const text = await (await fetch(`${String(w.started['admin'])}/metrics`)).text();
        return counterValue(text, 'hpns_worker_jobs_total', { result: 'complete' });
      }),
    );
    const report = {
      sent: sent.length,
      perIngress: [0, 1].map((via) => sent.filter((s) => s.via === via).length),
      channelMasters,
      removeAnswered: dead.filter((s) => s.answer === '{"status":"REMOVE"}').length,
      deadSent: dead.length,
      slowestRemoveMs: Math.round(Math.max(...dead.map((s) => s.ms))),
      delivered: live.length - missing.length,
      missing: missing.length,
      duplicates: deliveries.duplicatesOf(live.map((s) => s.ackId)),
      jobsCompletedPerWorker: workerJobs,
    };
    process.stderr.write(`cluster horizontal, outcomes: ${JSON.stringify(report)}\n`);
    expect(missing).toEqual([]);
    expect(
      wrong.map((s) => `${s.platform} dead=${s.dead} via ${s.via}: ${s.answer} in ${Math.round(s.ms)} ms`),
    ).toEqual([]);
    // Both workers took part.
    expect(workerJobs.every((n) => n > 0)).toBe(true);
  }, 120_000);

  it('delivers every push through the surviving worker when the other is SIGKILLed mid-flow', async () => {
    const deliveries = new Deliveries(stack);
    const [victim, survivor] = workers as [ServiceProcess, ServiceProcess];
    const total = 3000;
    let killed = false;
    let killing: Promise<unknown> | undefined;
    const sent = await send(total, {
      concurrency: 24,
      paceMs: 50,
      onSent: (n) => {
        if (n === Math.floor(total / 3) && killing === undefined) {
          killed = true;
          victim.child.kill('SIGKILL');
          killing = victim.exited;
        }
      },
    });
    await killing;
    const ids = sent.map((s) => s.ackId);
    const missing = await deliveries.waitFor(ids, 60_000);
    // Let late redeliveries land before counting duplicates.
    await new Promise((r) => setTimeout(r, 1000));
    deliveries.poll();
    const notOk = sent.filter((s) => s.answer !== '{"status":"OK"}');
    const report = {
      sent: sent.length,
      ok: sent.length - notOk.length,
      delivered: ids.length - missing.length,
      missing: missing.length,
      duplicates: deliveries.duplicatesOf(ids),
      answeredAtBound: sent.filter((s) => s.ms >= WAIT_MS - 100).length,
      killedAfterAnswers: Math.floor(total / 3),
      victimSignal: (await victim.exited).signal,
    };
    process.stderr.write(`cluster horizontal, worker killed: ${JSON.stringify(report)}\n`);
    expect(killed).toBe(true);
    expect(notOk.map((s) => s.answer)).toEqual([]);
    expect(missing).toEqual([]);
    expect(survivor.child.exitCode).toBeNull();
  }, 150_000);
});
