import { type Region } from '@hpns/protocol';
import {
  createProducerConnection,
  envelopeMeta,
  outcomeChannel,
  RegionQueues,
  waitForReady,
} from '@hpns/queue';
import { REDIS_BACKEND_KINDS } from '@hpns/testkit';
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
 * configuration would, and must still never connect to the US Redis, let alone take US jobs. On clusters (one
 * per region, queue shards spread over their masters) "the US Redis" is every node of the US cluster, replicas
 * included: a client that reached any of them could have learnt the whole cluster from it.
 */
const US = 'us' as Region;
const DE = 'de' as Region;

describe.each(REDIS_BACKEND_KINDS)('a DE worker with two regions’ Redis configured (%s)', (kind) => {
  let fixture: WorkerFixture;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    fixture = await startWorkerFixture({ name: 'pin', regions: [US, DE], backend: kind });
  }, 60_000);

  afterAll(async () => {
    await stopWorker(worker);
    await fixture?.close();
  });

  it('delivers the DE queue and never opens a connection to the US Redis', async () => {
    const { sims } = fixture;
    const producer = (region: Region) => fixture.producer(region);
    const jobs = (region: Region, tag: string) =>
      Array.from({ length: 50 }, (_, i) => {
        const provider = i % 2 === 0 ? 'apns' : 'fcm';
        return pushJob(region, provider, deviceFor(provider, i, tag), outcomeChannel(region, 'pin-test'));
      });
    const usJobs = jobs(US, 'u');
    const deJobs = jobs(DE, 'd');
    // Ten rounds, so that each provider's pushes form several envelopes, which go round the shards.
    for (let round = 0; round < 10; round++) {
      const slice = (list: typeof usJobs) => list.slice(round * 5, round * 5 + 5);
      await Promise.all([
        ...slice(usJobs).map((j) => producer(US).enqueue(j)),
        ...slice(deJobs).map((j) => producer(DE).enqueue(j)),
      ]);
    }
    // The test's own US client goes before counting: a cluster client opens a connection per slots refresh.
    await fixture.closeProducer(US);
    const us = fixture.backend(US);
    const before = await us.connectionsReceived();

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
    // No node of the US Redis saw a new connection at all (counted before our own check connects below).
    expect(await us.connectionsReceived()).toBe(before);
    // Its jobs are still waiting, untouched, on every shard.
    const usConnection = createProducerConnection({ url: us.url });
    // A fail-fast connection takes commands only once ready, and a queue sends some as it is made.
    await waitForReady(usConnection, 10_000);
    // The count does see a client connecting (so its staying put above means something).
    expect(await us.connectionsReceived()).toBeGreaterThan(before);
    const queues = new RegionQueues({ region: US, connection: usConnection, shards: fixture.shards });
    try {
      // Pushes in the waiting envelopes per provider and shard, read from their clear part.
      const waiting = await Promise.all(
        queues.providers.map((p) =>
          Promise.all(
            queues.shardQueues(p).map(async (queue) => {
              const jobs = await queue.getWaiting(0, -1);
              return jobs.reduce((sum, j) => sum + (envelopeMeta(j.data)?.length ?? 0), 0);
            }),
          ),
        ),
      );
      expect(waiting.flat().reduce((a, b) => a + b, 0)).toBe(usJobs.length);
      // With shards, each provider's envelopes went round them: the DE worker had every shard to consume.
      for (const perShard of waiting) expect(perShard.every((n) => n > 0)).toBe(true);
    } finally {
      await queues.close();
      usConnection.disconnect();
    }
    // The DE Redis did see the worker, by its connection name.
    expect(await fixture.backend(DE).clientList()).toContain('name=hpns-worker-de');
  }, 60_000);
});
