import { type Region } from '@hpns/protocol';
import {
  createOutcomeListener,
  createWorkerConnection,
  outcomeChannel,
  type PushProducer,
} from '@hpns/queue';
import { type SimulatorStack } from '@hpns/testkit';
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
 * A provider outage of 20 minutes within a push's 1-hour time to live, with time compressed 600×: TTL 6 s,
 * outage 2 s, retry delays capped at 100 ms instead of 60 s. The release before envelopes gave up after 25
 * attempts (about 10 minutes of backoff, 1 s here) and answered FAIL; now retries go on until the TTL, so every
 * push is delivered once APNs is back. Real worker process, real APNs simulator over HTTP/2 and TLS.
 */
const US = 'us' as Region;
const PUSHES = 200;
const SCALE = 600;
const TTL_MS = 3_600_000 / SCALE;
const OUTAGE_MS = 1_200_000 / SCALE;

describe('a 20-minute APNs outage (compressed 600×)', () => {
  let fixture: WorkerFixture;
  let sims: SimulatorStack;
  let producer: PushProducer;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    fixture = await startWorkerFixture({ name: 'outage', regions: [US] });
    ({ sims } = fixture);
    producer = fixture.producer(US);
    worker = await spawnWorker({
      ...fixture.env(US, { concurrency: 50 }),
      HPNS_WORKER_RETRY_BASE_MS: String(Math.ceil(1000 / SCALE) * 10),
      HPNS_WORKER_RETRY_MAX_MS: String(Math.ceil(60_000 / SCALE)),
      HPNS_WORKER_CIRCUIT_OPEN_MS: String(Math.ceil(5000 / SCALE) * 5),
    });
  }, 60_000);

  afterAll(async () => {
    await stopWorker(worker);
    await fixture?.close();
  });

  it('delivers every push once APNs is back, within its TTL, however many attempts that takes', async () => {
    const replyTo = outcomeChannel(US, 'outage-test');
    const subscriber = createWorkerConnection({ url: fixture.redis(US).url });
    const listener = await createOutcomeListener(subscriber, replyTo);
    sims.apns.setFaults({ unavailableRate: 1 });
    const startedAt = Date.now();
    const devices: string[] = [];
    const answers: Promise<unknown>[] = [];
    for (let i = 0; i < PUSHES; i += 1) {
      const device = deviceFor('apns', i, 'o');
      devices.push(device);
      const job = pushJob(US, 'apns', device, replyTo);
      job.routing.expiresAtMs = job.routing.acceptedAtMs + TTL_MS;
      answers.push(listener.wait(job.routing.requestId, TTL_MS + 5000).promise);
      await producer.enqueue(job);
    }
    await new Promise((r) => setTimeout(r, OUTAGE_MS - (Date.now() - startedAt)));
    const refusedDuringOutage = sims.apns.requests().filter((r) => r.status === 503).length;
    sims.apns.setFaults({});
    const backAt = Date.now();
    const results = (await Promise.all(answers)) as ({ status: string } | undefined)[];
    const log = new DeliveryLog(sims);
    log.poll();
    const lastDelivery = Math.max(...devices.map((d) => log.firstAt.get(d) ?? Number.POSITIVE_INFINITY));
    const report = {
      pushes: PUSHES,
      ok: results.filter((r) => r?.status === 'OK').length,
      sendsRefusedDuringOutage: refusedDuringOutage,
      attemptsPerPushDuringOutage: +(refusedDuringOutage / PUSHES).toFixed(1),
      deliveredWithinMsOfRecovery: lastDelivery - backAt,
    };
    process.stdout.write(`outage test: ${JSON.stringify(report)}\n`);
    expect(results.every((r) => r?.status === 'OK')).toBe(true);
    expect(devices.filter((d) => !log.firstAt.has(d))).toEqual([]);
    // Every delivery within the pushes' TTL.
    expect(lastDelivery - startedAt).toBeLessThan(TTL_MS);
    await listener.close();
    subscriber.disconnect();
  }, 60_000);
});
