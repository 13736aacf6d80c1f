import { type RedisConnection as Redis } from '@hpns/queue';
import { type PushJob, type Region } from '@hpns/protocol';
import {
  createPayloadCipher,
  createProducerConnection,
  DeadLetters,
  deadLetterContentKey,
  finalOutcomeKey,
  FinalOutcomes,
  redriveDeadLetters,
  RegionQueues,
  waitForReady,
  type DeadLetterEntry,
} from '@hpns/queue';
import { startTestRedis, type TestRedis } from '@hpns/testkit';
import { KEY_A, KEY_B, makeJob } from './support';

const US = 'us' as Region;

describe('redriveDeadLetters', () => {
  let redis: TestRedis;
  let connection: Redis;
  let queues: RegionQueues;
  let letters: DeadLetters;
  let plain: DeadLetters;
  const cipher = createPayloadCipher([KEY_A]);
  const finalOutcomes = () => new FinalOutcomes({ region: US, connection });

  beforeAll(async () => {
    redis = await startTestRedis();
    connection = createProducerConnection({ url: redis.url });
    await waitForReady(connection, 10_000);
    queues = new RegionQueues({ region: US, connection });
    letters = new DeadLetters({ region: US, connection, holdContent: cipher });
    plain = new DeadLetters({ region: US, connection });
  });
  afterEach(() => connection.flushall());
  afterAll(async () => {
    await queues.close();
    connection.disconnect();
    await redis.stop();
  });

  /** A push accepted now that has `leftMs` of its TTL left, with an ingress waiting on its reply channel. */
  function push(leftMs: number, message = 'the deploy is done'): PushJob {
    const job = makeJob({ message });
    const now = Date.now();
    job.routing.replyTo = 'hpns:{outcomes-us}:ingress-1';
    job.routing.acceptedAtMs = now - 1000;
    job.routing.expiresAtMs = now + leftMs;
    return job;
  }

  async function queued(): Promise<PushJob[]> {
    const jobs = await queues.queue('apns').getJobs(['waiting']);
    return jobs.flatMap((job) =>
      cipher.openEnvelope(job.data).map((p) => ({ ...p.job, attempts: p.attempts })),
    );
  }

  it('queues a held push with an open TTL again, afresh, and removes its record; a second run finds nothing', async () => {
    const job = push(60_000);
    await letters.record([
      { push: { job, attempts: 1000, firstAttemptAtMs: 1, lastAttemptAtMs: 2 }, reason: 'attempt_limit' },
    ]);
    await finalOutcomes().remember(job.routing.requestId, Date.now(), { status: 'FAIL', error: 'x' });
    const entries = await letters.list();

    const result = await redriveDeadLetters(entries, {
      deadLetters: letters,
      queues,
      cipher,
      finalOutcomes: finalOutcomes(),
    });
    expect(result.redriven.map((e) => e.requestId)).toEqual([job.routing.requestId]);
    expect(result.skipped).toEqual([]);
    const { replyTo: _gone, ...routing } = job.routing;
    // Attempts from 0 (it had hit the attempt limit), no reply channel, the same id, acceptance and expiry.
    expect(await queued()).toEqual([{ ...job, routing, attempts: 0 }]);
    expect(await letters.list()).toEqual([]);
    expect(await connection.exists(deadLetterContentKey(US, job.routing.requestId))).toBe(0);
    expect(await connection.exists(finalOutcomeKey(US, job.routing.requestId))).toBe(0);

    // The same records again (a second redrive run from a stale list): the content was taken, nothing is queued twice.
    const again = await redriveDeadLetters(entries, { deadLetters: letters, queues, cipher });
    expect(again.redriven).toEqual([]);
    expect(again.skipped.map((s) => s.reason)).toEqual(['content_gone']);
    expect(await queues.queue('apns').getWaitingCount()).toBe(1);
  });

  it('skips expired pushes and pushes recorded without content, and says why', async () => {
    const expired = push(60_000);
    const notHeld = push(60_000);
    const open = push(60_000);
    await letters.record([{ push: { job: expired, attempts: 1 }, reason: 'BadTopic' }]);
    await plain.record([{ push: { job: notHeld, attempts: 1 }, reason: 'BadTopic' }]);
    await letters.record([{ push: { job: open, attempts: 1 }, reason: 'BadTopic' }]);
    const entries = await letters.list();
    const byId = new Map(entries.map((e) => [e.requestId, e]));
    // The first push's TTL ends before the redrive runs (its held content would have gone with it too).
    (byId.get(expired.routing.requestId) as DeadLetterEntry).expiresAtMs = Date.now() - 1;

    const result = await redriveDeadLetters(entries, { deadLetters: letters, queues, cipher });
    expect(result.redriven.map((e) => e.requestId)).toEqual([open.routing.requestId]);
    expect(result.skipped.map((s) => [s.entry.requestId, s.reason])).toEqual([
      [notHeld.routing.requestId, 'content_not_held'],
      [expired.routing.requestId, 'expired'],
    ]);
    // Skipped records stay.
    expect((await letters.list()).map((e) => e.requestId).sort()).toEqual(
      [expired.routing.requestId, notHeld.routing.requestId].sort(),
    );
  });

  it('changes nothing on a dry run, and reports what a run would do', async () => {
    const job = push(60_000);
    await letters.record([{ push: { job, attempts: 1 }, reason: 'BadTopic' }]);
    const entries = await letters.list();
    const result = await redriveDeadLetters(entries, { deadLetters: letters, queues, cipher, dryRun: true });
    expect(result.redriven).toHaveLength(1);
    expect(await queues.queue('apns').getWaitingCount()).toBe(0);
    expect(await letters.list()).toHaveLength(1);
    expect(await letters.holdsContent(job.routing.requestId)).toBe(true);
  });

  it('leaves content no loaded key opens where it is', async () => {
    const job = push(60_000);
    await letters.record([{ push: { job, attempts: 1 }, reason: 'BadTopic' }]);
    const other = createPayloadCipher([KEY_B]);
    const result = await redriveDeadLetters(await letters.list(), {
      deadLetters: letters,
      queues,
      cipher: other,
    });
    expect(result.skipped.map((s) => s.reason)).toEqual(['content_unreadable']);
    expect(await letters.holdsContent(job.routing.requestId)).toBe(true);
    expect(await letters.list()).toHaveLength(1);
  });

  it('puts the content back when the queue refuses the add', async () => {
    const job = push(60_000);
    await letters.record([{ push: { job, attempts: 1 }, reason: 'BadTopic' }]);
    const entries = await letters.list();
    const broken = new RegionQueues({ region: US, connection });
    // A queue whose adds fail, as when Redis goes away between the take and the add.
    broken.queue('apns').add = () => Promise.reject(new Error('Connection is closed.'));
    await expect(
      redriveDeadLetters(entries, { deadLetters: letters, queues: broken, cipher }),
    ).rejects.toThrow('Connection is closed.');
    await broken.close();
    expect(await letters.holdsContent(job.routing.requestId)).toBe(true);
    expect(await letters.list()).toHaveLength(1);
  });

  it('never holds content in clear', async () => {
    const job = push(60_000, 'a secret launch date');
    await letters.record([{ push: { job, attempts: 1 }, reason: 'BadTopic' }]);
    const held = await connection.get(deadLetterContentKey(US, job.routing.requestId));
    expect(held).not.toBeNull();
    expect(held).not.toContain('secret');
    await redriveDeadLetters(await letters.list(), { deadLetters: letters, queues, cipher });
    const [waiting] = await queues.queue('apns').getJobs(['waiting']);
    expect(JSON.stringify(waiting?.data)).not.toContain('secret');
  });
});
