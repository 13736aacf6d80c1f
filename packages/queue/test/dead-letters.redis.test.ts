import { type RedisConnection as Redis } from '@hpns/queue';
import { type Region } from '@hpns/protocol';
import {
  createPayloadCipher,
  createWorkerConnection,
  DeadLetters,
  deadLetterContentKey,
  type DeadLetterEntry,
} from '@hpns/queue';
import { startTestRedis, type TestRedis } from '@hpns/testkit';
import { KEY_A, makeJob } from './support';

const US = 'us' as Region;

describe('DeadLetters', () => {
  let redis: TestRedis;
  let connection: Redis;
  const cipher = createPayloadCipher([KEY_A]);

  beforeAll(async () => {
    redis = await startTestRedis();
    connection = createWorkerConnection({ url: redis.url });
  });
  afterEach(() => connection.flushall());
  afterAll(async () => {
    connection.disconnect();
    await redis.stop();
  });

  it('records routing, reason and attempts, newest first, and no content', async () => {
    const letters = new DeadLetters({ region: US, connection, now: () => 1_700_000_010_000 });
    const a = makeJob({ message: 'secret one' });
    const b = makeJob({ message: 'secret two', provider: 'fcm' });
    await letters.record([
      {
        push: {
          job: a,
          attempts: 3,
          firstAttemptAtMs: 1_700_000_001_000,
          lastAttemptAtMs: 1_700_000_009_000,
        },
        reason: 'BadTopic',
      },
      { push: { job: b, attempts: 0 }, reason: 'expired' },
    ]);
    const [newest, older] = await letters.list(10);
    expect(newest).toEqual({
      id: expect.stringMatching(/^\d+-\d+$/),
      requestId: b.routing.requestId,
      region: 'us',
      provider: 'fcm',
      targetType: 'android_rn',
      pushType: 'message',
      reason: 'expired',
      attempts: 0,
      acceptedAtMs: b.routing.acceptedAtMs,
      expiresAtMs: b.routing.expiresAtMs,
      failedAtMs: 1_700_000_010_000,
      contentHeld: false,
    });
    expect(older).toMatchObject({
      reason: 'BadTopic',
      attempts: 3,
      firstAttemptAtMs: 1_700_000_001_000,
      lastAttemptAtMs: 1_700_000_009_000,
    });
    const everything = JSON.stringify(await connection.xrange('hpns:dlq-us', '-', '+'));
    expect(everything).not.toContain('secret');
    expect(everything).not.toContain('a'.repeat(64));
    expect(await connection.keys('hpns:dlq-content-*')).toEqual([]);
  });

  it('holds the sealed content, when asked, until the push’s TTL ends', async () => {
    const now = Date.now();
    const letters = new DeadLetters({ region: US, connection, holdContent: cipher });
    const job = makeJob({ message: 'hold me' });
    job.routing.acceptedAtMs = now;
    job.routing.expiresAtMs = now + 60_000;
    const gone = makeJob();
    gone.routing.expiresAtMs = now - 1;
    await letters.record([
      { push: { job, attempts: 1 }, reason: 'Unauthorized' },
      { push: { job: gone, attempts: 1 }, reason: 'expired' },
    ]);
    const sealed = await letters.heldContent(job.routing.requestId);
    expect(JSON.stringify(sealed)).not.toContain('hold me');
    expect(cipher.openEnvelope(sealed)).toEqual([{ job, attempts: 1 }]);
    const ttl = await connection.pttl(deadLetterContentKey(US, job.routing.requestId));
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    // A push whose TTL is over keeps nothing.
    expect(await letters.heldContent(gone.routing.requestId)).toBeUndefined();
    const list = await letters.list();
    expect(list.map((l) => l.contentHeld)).toEqual([false, true]);
  });

  it('keeps at most maxRecords (approximately) and nothing past the retention', async () => {
    let ahead = 0;
    const letters = new DeadLetters({
      region: US,
      connection,
      maxRecords: 100,
      retentionMs: 60_000,
      now: () => Date.now() + ahead,
    });
    const batch = (reason: string) =>
      letters.record(Array.from({ length: 100 }, () => ({ push: { job: makeJob(), attempts: 1 }, reason })));
    for (let i = 0; i < 10; i += 1) await batch('old');
    // MAXLEN ~ trims whole stream nodes: near the cap, never the 1,000 written.
    expect(await connection.xlen('hpns:dlq-us')).toBeLessThan(300);
    // Two retentions later (a clock ahead of Redis's): every old record is gone.
    ahead = 120_000;
    await batch('new');
    expect((await letters.list(1000)).filter((l) => l.reason === 'old')).toEqual([]);
  });

  it('reads every record in pages, oldest first, finds one by id, and removes records with their held content', async () => {
    const letters = new DeadLetters({ region: US, connection, holdContent: cipher });
    const now = Date.now();
    const jobs = Array.from({ length: 25 }, () => {
      const job = makeJob();
      job.routing.expiresAtMs = now + 60_000;
      return job;
    });
    await letters.record(jobs.map((job) => ({ push: { job, attempts: 1 }, reason: 'BadTopic' })));
    const pages: number[] = [];
    const seen: string[] = [];
    for await (const page of letters.pages(10)) {
      pages.push(page.length);
      seen.push(...page.map((e) => e.requestId));
    }
    expect(pages).toEqual([10, 10, 5]);
    expect(seen).toEqual(jobs.map((j) => j.routing.requestId));

    const [newest, second] = await letters.list(2);
    expect(await letters.get(newest?.id as string)).toEqual(newest);
    expect(await letters.get('0-1')).toBeUndefined();
    expect(await letters.get('not an id')).toBeUndefined();

    expect(await letters.remove([newest as DeadLetterEntry, newest as DeadLetterEntry])).toBe(1);
    expect(await letters.heldContent(newest?.requestId as string)).toBeUndefined();
    // Records only: the held content stays (a redriven push that failed again may own it by now).
    expect(await letters.removeRecords([second?.id as string])).toBe(1);
    expect(await letters.holdsContent(second?.requestId as string)).toBe(true);
    expect(await connection.xlen('hpns:dlq-us')).toBe(23);

    // Taken once: GETDEL hands the content to one caller only.
    expect(await letters.takeHeldContent(second?.requestId as string)).toBeDefined();
    expect(await letters.takeHeldContent(second?.requestId as string)).toBeUndefined();
  });
});
