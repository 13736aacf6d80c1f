import { Queue } from 'bullmq';
import { type Redis } from 'ioredis';
import { type PushJob, type Region } from '@hpns/protocol';
import {
  createPayloadCipher,
  createProducerConnection,
  createWorkerConnection,
  DeadTokenCache,
  PushConsumer,
  PushProducer,
  pushQueueName,
  queuePrefix,
  type AttemptInfo,
  type AttemptResult,
  keyedHasher,
} from '@hpns/queue';
import { startTestRedis, type TestRedis } from '@hpns/testkit';
import { KEY_A, KEY_B, makeJob } from './support';

const US = 'us' as Region;

describe('PushConsumer', () => {
  let redis: TestRedis;
  let producerConnection: Redis;
  let producer: PushProducer;
  let queue: Queue;
  const cipher = createPayloadCipher([KEY_A]);
  const connections: Redis[] = [];
  const consumers: PushConsumer[] = [];

  const consumer = (
    processor: (job: PushJob, attempt: number) => Promise<AttemptResult>,
    extra: object = {},
  ) => {
    const connection = createWorkerConnection({ url: redis.url });
    connections.push(connection);
    const created = new PushConsumer({
      region: US,
      provider: 'apns',
      connection,
      cipher,
      processor: (job: PushJob, info: AttemptInfo) => processor(job, info.attempt),
      random: () => 0,
      ...extra,
    });
    consumers.push(created);
    created.start();
    return created;
  };

  beforeAll(async () => {
    redis = await startTestRedis();
    producerConnection = createProducerConnection({ url: redis.url });
    await new Promise((resolve) => producerConnection.once('ready', resolve));
    producer = new PushProducer({ region: US, connection: producerConnection, cipher, attempts: 5 });
    const name = pushQueueName(US, 'apns');
    queue = new Queue(name, { connection: producerConnection, prefix: queuePrefix(name) });
  });
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((c) => c.close(1000)));
    connections.splice(0).forEach((c) => c.disconnect());
    await queue.obliterate({ force: true });
  });
  afterAll(async () => {
    await queue.close();
    await producer.close();
    producerConnection.disconnect();
    await redis.stop();
  });

  it('opens the job, hands it to the processor and removes it once complete', async () => {
    const seen: PushJob[] = [];
    const job = makeJob();
    const done = new Promise<void>((resolve) => {
      consumer(async (push) => {
        seen.push(push);
        return { action: 'complete' };
      }).worker.on('completed', () => resolve());
    });
    await producer.enqueue(job);
    await done;
    expect(seen).toEqual([job]);
    expect(await queue.getJob(job.routing.requestId)).toBeUndefined();
  });

  it('retries no sooner than the Retry-After the processor reports', async () => {
    const attempts: number[] = [];
    const finished = new Promise<void>((resolve) => {
      consumer(async (_push, attempt) => {
        attempts.push(Date.now());
        if (attempt === 1) return { action: 'retry', reason: 'TooManyRequests', retryAfterMs: 700 };
        resolve();
        return { action: 'complete' };
      });
    });
    await producer.enqueue(makeJob());
    await finished;
    expect(attempts).toHaveLength(2);
    expect((attempts[1] as number) - (attempts[0] as number)).toBeGreaterThanOrEqual(700);
  });

  it('defers a job without using up an attempt', async () => {
    const seen: number[] = [];
    const times: number[] = [];
    const done = new Promise<void>((resolve) => {
      consumer(async (_push, attempt) => {
        seen.push(attempt);
        times.push(Date.now());
        if (seen.length < 3) return { action: 'defer', delayMs: 100 };
        resolve();
        return { action: 'complete' };
      });
    });
    await producer.enqueue(makeJob());
    await done;
    expect(seen).toEqual([1, 1, 1]);
    expect((times[2] as number) - (times[0] as number)).toBeGreaterThanOrEqual(200);
  });

  it('fails for good with the reason and keeps no content on the failed job', async () => {
    const job = makeJob();
    const failed = new Promise<void>((resolve) => {
      consumer(async () => ({ action: 'fail', reason: 'BadTopic' })).worker.on('failed', () =>
        setTimeout(resolve, 100),
      );
    });
    await producer.enqueue(job);
    await failed;
    const stored = await queue.getJob(job.routing.requestId);
    expect(stored?.failedReason).toBe('BadTopic');
    expect(stored?.attemptsMade).toBe(1);
    expect(stored?.data).toEqual({
      routing: {
        region: 'us',
        provider: 'apns',
        targetType: 'apple_rn',
        pushType: 'message',
        acceptedAtMs: job.routing.acceptedAtMs,
        expiresAtMs: job.routing.expiresAtMs,
      },
    });
  });

  it('scrubs a job that fails on its last attempt', async () => {
    const lastProducer = new PushProducer({
      region: US,
      connection: producerConnection,
      cipher,
      attempts: 2,
    });
    const job = makeJob();
    const failed = new Promise<void>((resolve) => {
      consumer(async () => ({ action: 'retry', reason: 'InternalServerError' })).worker.on('failed', (j) => {
        if (j?.finishedOn !== undefined) resolve();
      });
    });
    await lastProducer.enqueue(job);
    await failed;
    await lastProducer.close();
    const stored = await queue.getJob(job.routing.requestId);
    expect(stored?.attemptsMade).toBe(2);
    expect(stored?.failedReason).toBe('InternalServerError');
    expect(Object.keys(stored?.data as object)).toEqual(['routing']);
  });

  it('fails a job it cannot open, without calling the processor', async () => {
    let called = false;
    const unreadable: unknown[] = [];
    const other = createPayloadCipher([KEY_B]);
    // One attempt: a job sealed with a key this worker lacks is retried until its last attempt.
    const otherProducer = new PushProducer({
      region: US,
      connection: producerConnection,
      cipher: other,
      attempts: 1,
    });
    const failed = new Promise<void>((resolve) => {
      consumer(
        async () => {
          called = true;
          return { action: 'complete' };
        },
        {
          onUnreadable: (_id: string, error: unknown, routing: unknown, final: boolean) =>
            unreadable.push({ error, routing, final }),
        },
      ).worker.on('failed', () => resolve());
    });
    await otherProducer.enqueue(makeJob());
    await failed;
    await otherProducer.close();
    expect(called).toBe(false);
    expect(unreadable).toEqual([
      {
        error: expect.objectContaining({ code: 'HPNS_PAYLOAD_KEY_MISSING' }),
        routing: expect.objectContaining({ region: 'us' }),
        final: true,
      },
    ]);
  });

  it('retries a job sealed in a newer format (a rolling upgrade) instead of failing it for good', async () => {
    let called = false;
    const unreadable: { code: unknown; final: boolean }[] = [];
    // A newer release's job: format 4, which this release cannot read.
    const newer = { ...cipher, seal: (job: PushJob) => ({ ...cipher.seal(job), v: 4 }) as never };
    const newerProducer = new PushProducer({ region: US, connection: producerConnection, cipher: newer });
    const seen = new Promise<void>((resolve) => {
      consumer(
        async () => {
          called = true;
          return { action: 'complete' };
        },
        {
          onUnreadable: (_id: string, error: { code?: unknown }, _routing: unknown, final: boolean) => {
            unreadable.push({ code: error.code, final });
            resolve();
          },
        },
      );
    });
    const job = makeJob();
    await newerProducer.enqueue(job);
    await seen;
    await newerProducer.close();
    expect(called).toBe(false);
    expect(unreadable).toEqual([{ code: 'HPNS_PAYLOAD_FORMAT_UNKNOWN', final: false }]);
    // Put back for a later attempt, content intact (not scrubbed, not failed).
    let stored = await queue.getJob(job.routing.requestId);
    for (let i = 0; i < 50 && (await stored?.getState()) !== 'delayed'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      stored = await queue.getJob(job.routing.requestId);
    }
    expect(await stored?.getState()).toBe('delayed');
    expect(stored?.failedReason).toBe('payload_format_unknown');
    expect((stored?.data as { c?: string }).c).toEqual(expect.any(String));
    await stored?.remove();
  });

  it('aborts the sends still in flight when close() reaches its deadline', async () => {
    let started: () => void = () => undefined;
    const running = new Promise<void>((resolve) => (started = resolve));
    let aborted: () => void = () => undefined;
    const abortSeen = new Promise<void>((resolve) => (aborted = resolve));
    const connection = createWorkerConnection({ url: redis.url });
    connections.push(connection);
    const stuck = new PushConsumer({
      region: US,
      provider: 'apns',
      connection,
      cipher,
      processor: (_job, info) => {
        started();
        // A send that answers only when aborted, as the providers do with the signal.
        return new Promise<AttemptResult>((resolve) =>
          info.signal?.addEventListener('abort', () => {
            aborted();
            resolve({ action: 'retry', reason: 'aborted' });
          }),
        );
      },
    });
    stuck.start();
    await producer.enqueue(makeJob());
    await running;
    // BullMQ's close() waits for jobs in flight even when forced after a graceful start: without the abort,
    // this would never return.
    await stuck.close(200);
    await abortSeen;
  });

  it('hands a crashed worker’s job to another worker once its lock expires', async () => {
    const job = makeJob();
    let firstTook: () => void = () => undefined;
    const taken = new Promise<void>((resolve) => (firstTook = resolve));
    const crashed = consumer(
      () => {
        firstTook();
        return new Promise<AttemptResult>(() => undefined); // hangs, as a worker killed mid-send
      },
      { lockDurationMs: 1000, stalledIntervalMs: 200 },
    );
    await producer.enqueue(job);
    await taken;
    // Simulate the crash: stop lock renewal without giving the job back.
    await crashed.worker.close(true);
    const redelivered = new Promise<number>((resolve) => {
      consumer(
        async (_push, attempt) => {
          resolve(attempt);
          return { action: 'complete' };
        },
        { lockDurationMs: 1000, stalledIntervalMs: 200 },
      );
    });
    expect(await redelivered).toBeGreaterThanOrEqual(1);
  });
});

describe('DeadTokenCache', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(() => redis.stop());

  it('remembers a dead token by an HMAC of it, per target type, with a TTL', async () => {
    const connection = createWorkerConnection({ url: redis.url });
    try {
      const cache = new DeadTokenCache({
        region: US,
        connection,
        hasher: keyedHasher(Buffer.alloc(32, 3)),
        ttlSec: 60,
      });
      const token = 'f'.repeat(64);
      await cache.markDead('apple_rn', token, 'Unregistered');
      expect(await cache.deadReason('apple_rn', token)).toBe('Unregistered');
      expect(await cache.deadReason('apple_rnbeta', token)).toBeUndefined();
      const keys = await connection.keys('*');
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatch(/^hpns:dead-us:[A-Za-z0-9_-]{43}$/);
      expect(keys[0]).not.toContain('ffffffff');
      expect(await connection.ttl(keys[0] as string)).toBeGreaterThan(50);
      await cache.forget('apple_rn', token);
      expect(await cache.deadReason('apple_rn', token)).toBeUndefined();
    } finally {
      connection.disconnect();
    }
  });
});
