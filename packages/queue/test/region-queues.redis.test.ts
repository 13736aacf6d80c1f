import { type RedisConnection as Redis } from '@hpns/queue';
import { type Region } from '@hpns/protocol';
import {
  addEnvelope,
  createPayloadCipher,
  createProducerConnection,
  createWorkerConnection,
  PushConsumer,
  RegionQueues,
  waitForReady,
  type JobDisposition,
  type OpenedJob,
  type UnreadableJob,
} from '@hpns/queue';
import { startTestRedis, type TestRedis } from '@hpns/testkit';
import { KEY_A, makeJob } from './support';

const US = 'us' as Region;

/**
 * How long a paused queue is watched for a job it must not hand out. A running BullMQ worker takes a waiting job
 * within milliseconds, so this window is many fetch cycles long; a negative cannot be awaited as an event.
 */
const WATCH_MS = 750;

describe('RegionQueues', () => {
  let redis: TestRedis;
  let connection: Redis;
  let queues: RegionQueues;
  const cipher = createPayloadCipher([KEY_A]);

  beforeAll(async () => {
    redis = await startTestRedis();
    connection = createProducerConnection({ url: redis.url });
    await waitForReady(connection, 10_000);
    queues = new RegionQueues({ region: US, connection });
  });
  afterEach(async () => {
    await queues.resume();
    for (const provider of queues.providers) await queues.queue(provider).obliterate({ force: true });
  });
  afterAll(async () => {
    await queues.close();
    connection.disconnect();
    await redis.stop();
  });

  it('opens one queue per provider and reports counts, the oldest waiting envelope’s age and the pause flag', async () => {
    expect(await queues.status(1_000)).toEqual([
      {
        region: 'us',
        provider: 'apns',
        queue: 'push-us-apns',
        shard: 0,
        leftover: false,
        waiting: 0,
        active: 0,
        delayed: 0,
        failed: 0,
        oldestWaitingMs: undefined,
        paused: false,
      },
      expect.objectContaining({ provider: 'fcm', queue: 'push-us-fcm', waiting: 0, paused: false }),
    ]);
    const apns = queues.queue('apns');
    await addEnvelope(apns, cipher, [{ job: makeJob(), attempts: 0 }]);
    const [first] = await apns.getJobs(['waiting']);
    // Far enough apart to tell the oldest from the newest.
    await new Promise((resolve) => setTimeout(resolve, 30));
    await addEnvelope(apns, cipher, [{ job: makeJob(), attempts: 0 }]);
    await addEnvelope(apns, cipher, [{ job: makeJob(), attempts: 0 }], 60_000);
    const now = Date.now();
    const [status] = await queues.status(now);
    expect(status).toMatchObject({ waiting: 2, delayed: 1, paused: false });
    expect(status?.oldestWaitingMs).toBe(now - (first?.timestamp as number));
  });

  it('pauses and resumes every provider’s queue, or only the one named', async () => {
    await queues.pause(['fcm']);
    expect((await queues.status()).map((s) => s.paused)).toEqual([false, true]);
    await queues.pause();
    expect((await queues.status()).map((s) => s.paused)).toEqual([true, true]);
    await queues.resume(['apns']);
    expect((await queues.status()).map((s) => s.paused)).toEqual([false, true]);
    await queues.resume();
    expect((await queues.status()).map((s) => s.paused)).toEqual([false, false]);
  });

  it('stops a running PushConsumer from taking jobs while paused, lets its job in flight finish, and restarts it on resume', async () => {
    const workerConnection = createWorkerConnection({ url: redis.url });
    const taken: string[] = [];
    let release: () => void = () => undefined;
    const inFlight = new Promise<void>((resolve) => (release = resolve));
    let onTaken: () => void = () => undefined;
    const consumer = new PushConsumer({
      region: US,
      provider: 'apns',
      connection: workerConnection,
      cipher,
      handler: async (job: OpenedJob | UnreadableJob): Promise<JobDisposition> => {
        const id = job.readable ? (job.pushes[0]?.job.routing.requestId ?? '') : '';
        taken.push(id);
        onTaken();
        if (id === 'r-in-flight') await inFlight;
        return { action: 'complete' };
      },
    });
    consumer.start();
    const nextTaken = () => new Promise<void>((resolve) => (onTaken = resolve));
    try {
      const apns = queues.queue('apns');
      let taking = nextTaken();
      await addEnvelope(apns, cipher, [{ job: makeJob({ requestId: 'r-in-flight' }), attempts: 0 }]);
      await taking;

      await queues.pause();
      await addEnvelope(apns, cipher, [{ job: makeJob({ requestId: 'r-while-paused' }), attempts: 0 }]);
      // A retry envelope that falls due while paused waits as well.
      await addEnvelope(
        apns,
        cipher,
        [{ job: makeJob({ requestId: 'r-due-while-paused' }), attempts: 0 }],
        100,
      );
      release();
      await new Promise((resolve) => setTimeout(resolve, WATCH_MS));
      expect(taken).toEqual(['r-in-flight']);
      const [paused] = await queues.status();
      expect(paused).toMatchObject({ waiting: 2, active: 0, delayed: 0, paused: true });

      taking = new Promise<void>((resolve) => {
        onTaken = () => {
          if (taken.length === 3) resolve();
        };
      });
      await queues.resume();
      await taking;
      expect(taken.slice(1).sort()).toEqual(['r-due-while-paused', 'r-while-paused']);
    } finally {
      await consumer.close(2000);
      workerConnection.disconnect();
    }
  });
});
