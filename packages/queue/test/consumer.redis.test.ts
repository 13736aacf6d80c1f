import { Queue } from 'bullmq';
import { type RedisConnection as Redis } from '@hpns/queue';
import { type Region } from '@hpns/protocol';
import {
  createPayloadCipher,
  createProducerConnection,
  createWorkerConnection,
  DeadTokenCache,
  PushConsumer,
  PushProducer,
  pushQueueName,
  queuePrefix,
  keyedHasher,
  type JobDisposition,
  type OpenedJob,
  type UnreadableJob,
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
    handler: (job: OpenedJob | UnreadableJob, signal?: AbortSignal) => Promise<JobDisposition>,
    extra: object = {},
  ) => {
    const connection = createWorkerConnection({ url: redis.url });
    connections.push(connection);
    const created = new PushConsumer({
      region: US,
      provider: 'apns',
      connection,
      cipher,
      handler,
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
    producer = new PushProducer({ region: US, connection: producerConnection, cipher });
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

  const seen = () => {
    const jobs: (OpenedJob | UnreadableJob)[] = [];
    let notify: () => void = () => undefined;
    return {
      jobs,
      next: () => new Promise<void>((resolve) => (notify = resolve)),
      handler: async (job: OpenedJob | UnreadableJob): Promise<JobDisposition> => {
        jobs.push(job);
        notify();
        return { action: 'complete' };
      },
    };
  };

  it('opens an envelope, hands its pushes to the handler and removes the job once complete', async () => {
    const jobs = [makeJob(), makeJob({ message: 'second' })];
    const log = seen();
    const taken = log.next();
    const results = await Promise.all(jobs.map((j) => producer.enqueue(j)));
    // Pushes of one turn share one envelope.
    expect(new Set(results.map((r) => !r.duplicate && r.envelopeId)).size).toBe(1);
    consumer(log.handler);
    await taken;
    const [job] = log.jobs as [OpenedJob];
    expect(job.readable).toBe(true);
    expect(job.format).toBe(4);
    expect(job.pushes.map((p) => p.job)).toEqual(jobs);
    expect(job.pushes.map((p) => p.attempts)).toEqual([0, 0]);
    while ((await queue.getJobCounts('active', 'completed'))['active'] !== 0)
      await new Promise((r) => setTimeout(r, 10));
    expect(await queue.getJobCounts('waiting', 'active', 'completed', 'failed')).toEqual({
      waiting: 0,
      active: 0,
      completed: 0,
      failed: 0,
    });
  });

  it('opens one-push jobs of formats 1 to 3 (queued by an older ingress) as a one-push job', async () => {
    for (const format of [2, 3] as const) {
      const old = createPayloadCipher([KEY_A], undefined, { format });
      const j = makeJob();
      await queue.add('message', old.seal(j), { jobId: j.routing.requestId, attempts: 25 });
    }
    const log = seen();
    consumer(log.handler);
    while (log.jobs.length < 2) await log.next();
    expect(log.jobs.map((j) => j.readable && j.format).sort()).toEqual([2, 3]);
    for (const j of log.jobs) expect(j.readable && j.pushes.length).toBe(1);
  });

  it('takes a job again, unchanged and without using an attempt, when the handler says later', async () => {
    await producer.enqueue(makeJob());
    const times: number[] = [];
    let done: () => void = () => undefined;
    const twice = new Promise<void>((resolve) => (done = resolve));
    consumer(async (job) => {
      times.push(Date.now());
      if (times.length === 1) return { action: 'later', delayMs: 300 };
      expect(job.readable).toBe(true);
      done();
      return { action: 'complete' };
    });
    await twice;
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(250);
  });

  it('hands over an envelope it cannot open with its pushes’ clear part, telling garbage from not-yet', async () => {
    const other = createPayloadCipher([KEY_B]);
    const j = makeJob();
    const sealed = other.sealEnvelope([{ job: j, attempts: 2 }]);
    await queue.add('envelope', sealed, { jobId: 'ekeyb' });
    await queue.add(
      'envelope',
      { ...sealed, k: 'a', c: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
      { jobId: 'egarbled' },
    );
    const log = seen();
    consumer(log.handler);
    while (log.jobs.length < 2) await log.next();
    const byId = new Map(log.jobs.map((x) => [x.id, x as UnreadableJob]));
    expect(byId.get('ekeyb')).toMatchObject({ readable: false, notYet: true });
    expect(byId.get('egarbled')).toMatchObject({ readable: false, notYet: false });
    for (const x of byId.values()) {
      expect(x.pushes).toEqual([{ routing: j.routing, attempts: 2 }]);
    }
  });

  it('retries a job whose handler throws, and scrubs it down to its clear part when it fails for good', async () => {
    const j = makeJob({ message: 'secret words' });
    await queue.add('envelope', cipher.sealEnvelope([{ job: j, attempts: 0 }]), {
      jobId: 'ebug',
      attempts: 2,
    });
    let calls = 0;
    consumer(
      async () => {
        calls += 1;
        throw new Error('a bug');
      },
      { backoff: { baseDelayMs: 10, maxDelayMs: 10 } },
    );
    let failed = await queue.getJob('ebug');
    while (failed?.finishedOn === undefined || failed.data.c !== undefined) {
      await new Promise((r) => setTimeout(r, 20));
      failed = await queue.getJob('ebug');
    }
    expect(calls).toBe(2);
    expect(JSON.stringify(failed.data)).not.toContain('"c"');
    expect(Object.keys(failed.data as object).sort()).toEqual(['h', 'p', 's', 'v']);
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
      handler: (_job, signal) => {
        started();
        // A send that answers only when aborted, as the providers do with the signal.
        return new Promise<JobDisposition>((resolve) =>
          signal?.addEventListener('abort', () => {
            aborted();
            resolve({ action: 'complete' });
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
        return new Promise<JobDisposition>(() => undefined); // hangs, as a worker killed mid-send
      },
      { lockDurationMs: 1000, stalledIntervalMs: 200 },
    );
    await producer.enqueue(job);
    await taken;
    // Simulate the crash: stop lock renewal without giving the job back.
    await crashed.worker.close(true);
    const redelivered = new Promise<string>((resolve) => {
      consumer(
        async (opened) => {
          resolve(opened.readable ? (opened.pushes[0]?.job.routing.requestId ?? '') : '');
          return { action: 'complete' };
        },
        { lockDurationMs: 1000, stalledIntervalMs: 200 },
      );
    });
    expect(await redelivered).toBe(job.routing.requestId);
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
