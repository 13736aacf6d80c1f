import { type RedisConnection as Redis } from '@hpns/queue';
import { type Region } from '@hpns/protocol';
import { envelopeMeta, outcomeChannel } from '@hpns/queue';
import {
  DeliveryLog,
  deviceFor,
  pushJob,
  spawnWorker,
  startWorkerFixture,
  stopWorker,
  type WorkerFixture,
  type WorkerProcess,
} from './support/worker-process';

/**
 * Data residency at the worker (issue #5): a DE worker process is given both regions' Redis URLs, as a shared
 * configuration would, and must still never connect to the US Redis, let alone take US jobs.
 */
const US = 'us' as Region;
const DE = 'de' as Region;

async function connectionsReceived(redis: Redis): Promise<number> {
  return Number(/total_connections_received:(\d+)/.exec(await redis.info('stats'))?.[1]);
}

describe('a DE worker with two Redis servers configured', () => {
  let fixture: WorkerFixture;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    fixture = await startWorkerFixture({ name: 'pin', regions: [US, DE] });
  }, 60_000);

  afterAll(async () => {
    await stopWorker(worker);
    await fixture?.close();
  });

  it('delivers the DE queue and never opens a connection to the US Redis', async () => {
    const { sims } = fixture;
    const connection = (region: Region) => fixture.connection(region);
    const producer = (region: Region) => fixture.producer(region);
    const us = connection(US);
    const before = await connectionsReceived(us);
    const jobs = (region: Region, tag: string) =>
      Array.from({ length: 50 }, (_, i) => {
        const provider = i % 2 === 0 ? 'apns' : 'fcm';
        return pushJob(region, provider, deviceFor(provider, i, tag), outcomeChannel(region, 'pin-test'));
      });
    const usJobs = jobs(US, 'u');
    const deJobs = jobs(DE, 'd');
    await Promise.all([
      ...usJobs.map((j) => producer(US).enqueue(j)),
      ...deJobs.map((j) => producer(DE).enqueue(j)),
    ]);

    // Told about both regions' Redis, as a shared configuration would.
    worker = await spawnWorker(fixture.env(DE));
    const log = new DeliveryLog(sims);
    const deadline = Date.now() + 30_000;
    while (log.firstAt.size < deJobs.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      log.poll();
    }
    // Every DE push delivered, no US push.
    expect(deJobs.filter((j) => !log.firstAt.has(j.content.device_id))).toEqual([]);
    expect(usJobs.filter((j) => log.firstAt.has(j.content.device_id))).toEqual([]);
    // The US Redis saw no new connection at all, and its jobs are still waiting, untouched.
    expect(await connectionsReceived(us)).toBe(before);
    const waiting = await Promise.all(
      (['apns', 'fcm'] as const).map(async (p) => {
        // Pushes in the waiting envelopes, read from their clear part.
        const jobs = await producer(US).queue(p).getWaiting(0, -1);
        return jobs.reduce((sum, j) => sum + (envelopeMeta(j.data)?.length ?? 0), 0);
      }),
    );
    expect(waiting.reduce((a, b) => a + b, 0)).toBe(usJobs.length);
    // The DE Redis did see the worker, by its connection name.
    const clients = await connection(DE).client('LIST');
    expect(String(clients)).toContain('name=hpns-worker-de');
  }, 60_000);
});
