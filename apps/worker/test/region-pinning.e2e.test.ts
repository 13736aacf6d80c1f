import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Redis } from 'ioredis';
import { type Region } from '@hpns/protocol';
import {
  createPayloadCipher,
  createProducerConnection,
  outcomeChannel,
  PushProducer,
  waitForReady,
} from '@hpns/queue';
import { startSimulatorStack, startTestRedis, type SimulatorStack, type TestRedis } from '@hpns/testkit';
import {
  DeliveryLog,
  deviceFor,
  pushJob,
  spawnWorker,
  stopWorker,
  workerEnv,
  writeProxyConfig,
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
  let dir: string;
  const redis: Partial<Record<Region, TestRedis>> = {};
  const connection: Partial<Record<Region, Redis>> = {};
  const producer: Partial<Record<Region, PushProducer>> = {};
  let sims: SimulatorStack;
  let worker: WorkerProcess | undefined;
  const keys = [{ id: 'k1', key: randomBytes(32) }];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hpns-pin-'));
    for (const region of [US, DE]) {
      const server = await startTestRedis();
      redis[region] = server;
      const c = createProducerConnection({ url: server.url });
      await waitForReady(c, 10_000);
      connection[region] = c;
      producer[region] = new PushProducer({ region, connection: c, cipher: createPayloadCipher(keys) });
    }
    sims = await startSimulatorStack({ outputDir: dir });
  }, 60_000);

  afterAll(async () => {
    await stopWorker(worker);
    for (const region of [US, DE]) {
      await producer[region]?.close();
      connection[region]?.disconnect();
      await redis[region]?.stop();
    }
    await sims?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers the DE queue and never opens a connection to the US Redis', async () => {
    const us = connection[US] as Redis;
    const before = await connectionsReceived(us);
    const jobs = (region: Region, tag: string) =>
      Array.from({ length: 50 }, (_, i) => {
        const provider = i % 2 === 0 ? 'apns' : 'fcm';
        return pushJob(region, provider, deviceFor(provider, i, tag), outcomeChannel(region, 'pin-test'));
      });
    const usJobs = jobs(US, 'u');
    const deJobs = jobs(DE, 'd');
    await Promise.all([
      ...usJobs.map((j) => (producer[US] as PushProducer).enqueue(j)),
      ...deJobs.map((j) => (producer[DE] as PushProducer).enqueue(j)),
    ]);

    worker = await spawnWorker(
      workerEnv({
        region: DE,
        redisUrls: { [US]: (redis[US] as TestRedis).url, [DE]: (redis[DE] as TestRedis).url },
        sims,
        configFile: writeProxyConfig(dir, sims),
        keys,
        hashKey: randomBytes(32),
      }),
    );
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
      (['apns', 'fcm'] as const).map((p) => (producer[US] as PushProducer).queue(p).getWaitingCount()),
    );
    expect(waiting.reduce((a, b) => a + b, 0)).toBe(usJobs.length);
    // The DE Redis did see the worker, by its connection name.
    const clients = await (connection[DE] as Redis).client('LIST');
    expect(String(clients)).toContain('name=hpns-worker-de');
  }, 60_000);
});
