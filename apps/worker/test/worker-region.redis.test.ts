import { createCipheriv, randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { type RedisConnection as Redis } from '@hpns/queue';
import {
  makePushNotification,
  type DeliveryOutcome,
  type PushJob,
  type PushResponse,
  type Region,
} from '@hpns/protocol';
import { type PushProvider } from '@hpns/providers';
import {
  AckTracker,
  createOutcomeListener,
  createPayloadCipher,
  createProducerConnection,
  createSubscriberConnection,
  createWorkerConnection,
  IdempotencyStore,
  keyedHasher,
  outcomeChannel,
  PushProducer,
  pushQueueName,
  queuePrefix,
  waitForReady,
  type OutcomeListener,
} from '@hpns/queue';
import { createLogger } from '@hpns/runtime';
import { REDIS_BACKEND_KINDS, startTestRedisBackend, type TestRedisBackend } from '@hpns/testkit';
import { resultLabel } from '../src/worker-metrics';
import { WorkerRegion } from '../src/worker-region';

const US = 'us' as Region;
const logger = createLogger({ destination: { write: () => undefined } });

/** A scripted provider: a fake of our own PushProvider interface, answering per device or from a default. */
class ScriptedProvider implements PushProvider {
  readonly kind = 'apns' as const;
  readonly targetTypes = ['apple_rn'];
  readonly sent: { job: PushJob; at: number }[] = [];
  /** Answers for a device, one per send, then the fallback. */
  readonly script = new Map<string, DeliveryOutcome[]>();
  fallback: DeliveryOutcome = { kind: 'delivered', statusCode: 200 };
  throwFor: string | undefined;

  async send(job: PushJob): Promise<DeliveryOutcome> {
    this.sent.push({ job, at: Date.now() });
    if (job.content.device_id === this.throwFor) throw new Error('bug in a provider');
    return this.script.get(job.content.device_id)?.shift() ?? this.fallback;
  }

  sentTo(device: string): number[] {
    return this.sent.filter((s) => s.job.content.device_id === device).map((s) => s.at);
  }

  async close(): Promise<void> {}
}

const KEY = { id: 'k1', key: randomBytes(32) };

/**
 * On a single Redis, and on a 3+3 test cluster with queue shards (TEST_CLUSTER_SHARDS): the producer spreads
 * envelopes over the shards, the region consumes every one, outcomes go by sharded pub/sub.
 */
describe.each(REDIS_BACKEND_KINDS)(
  'a worker region (WorkerRegion, the production wiring) on %s Redis',
  (kind) => {
    let redis: TestRedisBackend;
    let producerConnection: Redis;
    let side: Redis;
    let subscriber: Redis;
    let producer: PushProducer;
    let worker: WorkerRegion;
    let listener: OutcomeListener;
    let acks: AckTracker;
    const hasher = keyedHasher(randomBytes(32));
    const provider = new ScriptedProvider();
    const cipher = createPayloadCipher([KEY]);
    const channel = outcomeChannel(US, 'ingress-test');
    const circuit: { state: string; sent: number }[] = [];
    const results: string[] = [];
    let onOpen: () => void = () => undefined;

    function job(overrides: { expiresInMs?: number; replyTo?: string } = {}): PushJob {
      const now = Date.now();
      return {
        v: 1,
        routing: {
          requestId: `r${randomBytes(8).toString('hex')}`,
          replyTo: overrides.replyTo ?? channel,
          region: US,
          provider: 'apns',
          targetType: 'apple_rn',
          transport: 'standard',
          appVersion: 2,
          pushType: 'message',
          acceptedAtMs: now,
          expiresAtMs: now + (overrides.expiresInMs ?? 30_000),
        },
        content: makePushNotification({
          device_id: randomBytes(32).toString('hex'),
          server_id: 's',
          message: 'hi',
          type: 'message',
        }),
      };
    }

    async function push(j: PushJob, waitMs = 10_000): Promise<PushResponse | undefined> {
      const waiting = listener.wait(j.routing.requestId, waitMs);
      await producer.enqueue(j);
      return waiting.promise;
    }

    // Outcomes go by SPUBLISH (sharded channels, outcomeChannel), counted over every master.
    const publishes = () => redis.infoSum('commandstats', /cmdstat_spublish:calls=(\d+)/);

    beforeAll(async () => {
      redis = await startTestRedisBackend(kind);
      producerConnection = createProducerConnection({ url: redis.url });
      await waitForReady(producerConnection, 10_000);
      side = createWorkerConnection({ url: redis.url });
      subscriber = createSubscriberConnection({ url: redis.url });
      producer = new PushProducer({
        region: US,
        connection: producerConnection,
        cipher,
        shards: redis.shards,
        idempotency: new IdempotencyStore({ region: US, connection: producerConnection }),
      });
      listener = await createOutcomeListener(subscriber, channel);
      acks = new AckTracker({ region: US, connection: side, hasher });
      worker = await WorkerRegion.open({
        region: US,
        redisUrl: redis.url,
        shards: redis.shards,
        cipher,
        hasher,
        providers: { apns: provider },
        logger,
        concurrency: 10,
        policy: { backoff: { baseDelayMs: 50, maxDelayMs: 100 } },
        breaker: { minimumAttempts: 5, failureRatio: 0.8, openMs: 400, windowMs: 10_000 },
        onDecision: ({ decision }) => results.push(resultLabel(decision)),
        onCircuitChange: (_target, state) => {
          circuit.push({ state, sent: provider.sent.length });
          if (state === 'open') onOpen();
        },
      });
      worker.start();
    }, 60_000);
    beforeEach(() => {
      provider.sent.length = 0;
      provider.script.clear();
      provider.fallback = { kind: 'delivered', statusCode: 200 };
    });
    afterAll(async () => {
      await worker.close(2000);
      await producer.close();
      await listener.close();
      for (const c of [producerConnection, side, subscriber]) c.disconnect();
      await redis.stop();
    });

    it('answers OK for a delivered push, with the content the ingress sealed', async () => {
      const j = job();
      expect(await push(j)).toEqual({ status: 'OK' });
      expect(provider.sent.map((s) => s.job)).toEqual([j]);
    });

    it('sends an envelope’s pushes concurrently and answers them in one outcome message per ingress', async () => {
      const other = outcomeChannel(US, 'ingress-other');
      const otherConnection = createSubscriberConnection({ url: redis.url });
      const otherListener = await createOutcomeListener(otherConnection, other);
      try {
        const mine = Array.from({ length: 40 }, () => job());
        const theirs = Array.from({ length: 10 }, () => job({ replyTo: other }));
        const before = await publishes();
        const waits = [
          ...mine.map((j) => listener.wait(j.routing.requestId, 10_000).promise),
          ...theirs.map((j) => otherListener.wait(j.routing.requestId, 10_000).promise),
        ];
        const queued = await Promise.all([...mine, ...theirs].map((j) => producer.enqueue(j)));
        expect(new Set(queued.map((q) => !q.duplicate && q.envelopeId)).size).toBe(1);
        expect((await Promise.all(waits)).every((r) => r?.status === 'OK')).toBe(true);
        // One envelope, two ingresses: two SPUBLISHes for 50 pushes.
        expect((await publishes()) - before).toBe(2);
      } finally {
        // Closed even when an expectation fails: an open subscriber would keep jest from exiting.
        await otherListener.close();
        otherConnection.disconnect();
      }
    });

    it('records a delivered push with an ack id for the time-to-device join', async () => {
      const j = job();
      j.content.ack_id = 'ack-123';
      expect(await push(j)).toEqual({ status: 'OK' });
      expect(await acks.acked('ack-123')).toBe(j.routing.acceptedAtMs);
      expect(await acks.acked('ack-123')).toBeUndefined();
    });

    it('answers REMOVE for a dead token and records it in the dead-token cache', async () => {
      const j = job();
      provider.script.set(j.content.device_id, [
        { kind: 'invalid_token', reason: 'Unregistered', statusCode: 410, invalidSinceMs: 1 },
      ]);
      expect(await push(j)).toEqual({ status: 'REMOVE' });
      expect(await worker.deadTokens.deadReason('apple_rn', j.content.device_id)).toBe('Unregistered');
    });

    it('answers FAIL for a rejected push without retrying, remembers it and writes a dead-letter record', async () => {
      const j = job();
      provider.script.set(j.content.device_id, [{ kind: 'rejected', reason: 'BadTopic', statusCode: 400 }]);
      expect(await push(j)).toEqual({ status: 'FAIL', error: 'unknown send response error: BadTopic' });
      expect(provider.sent).toHaveLength(1);
      expect(await worker.finalOutcomes.recall(j.routing.requestId)).toEqual({
        status: 'FAIL',
        error: 'unknown send response error: BadTopic',
      });
      const [letter] = await worker.deadLetters.list(1);
      expect(letter).toMatchObject({
        requestId: j.routing.requestId,
        region: 'us',
        provider: 'apns',
        targetType: 'apple_rn',
        pushType: 'message',
        reason: 'BadTopic',
        attempts: 1,
        acceptedAtMs: j.routing.acceptedAtMs,
        expiresAtMs: j.routing.expiresAtMs,
        contentHeld: false,
      });
      expect(letter?.firstAttemptAtMs).toBe(letter?.lastAttemptAtMs);
      // Nothing of the content in the store.
      const stream = JSON.stringify(await side.xrange('hpns:dlq-us', '-', '+'));
      expect(stream).not.toContain(j.content.device_id);
      const delivered = job();
      expect(await push(delivered)).toEqual({ status: 'OK' });
      expect(await worker.finalOutcomes.recall(delivered.routing.requestId)).toBeUndefined();
    });

    it('moves a push to retry into a new delayed envelope: the others of its envelope are answered at once', async () => {
      const slow = job();
      provider.script.set(slow.content.device_id, [
        { kind: 'retryable', reason: 'TooManyRequests', statusCode: 429, retryAfterMs: 600 },
      ]);
      const fast = Array.from({ length: 9 }, () => job());
      const started = Date.now();
      const answered: number[] = [];
      const waits = [slow, ...fast].map((j) =>
        listener.wait(j.routing.requestId, 10_000).promise.then((r) => {
          answered.push(Date.now() - started);
          return r;
        }),
      );
      await Promise.all([slow, ...fast].map((j) => producer.enqueue(j)));
      expect((await Promise.all(waits)).every((r) => r?.status === 'OK')).toBe(true);
      const sends = provider.sentTo(slow.content.device_id);
      expect(sends).toHaveLength(2);
      expect((sends[1] as number) - (sends[0] as number)).toBeGreaterThanOrEqual(600);
      answered.sort((a, b) => a - b);
      // Nine answered long before the Retry-After of the tenth ran out.
      expect(answered[8]).toBeLessThan(500);
      expect(answered[9]).toBeGreaterThanOrEqual(600);
    });

    it('answers FAIL once, without retrying, when the provider throws (a bug)', async () => {
      const j = job();
      provider.throwFor = j.content.device_id;
      expect(await push(j)).toEqual({ status: 'FAIL', error: 'internal error' });
      provider.throwFor = undefined;
      expect(provider.sent).toHaveLength(1);
      expect((await worker.deadLetters.list(1))[0]).toMatchObject({ reason: 'internal_error' });
    });

    it('drops an expired push with FAIL "expired" without sending it, and records it', async () => {
      const j = job({ expiresInMs: -1 });
      expect(await push(j)).toEqual({ status: 'FAIL', error: 'expired' });
      expect(provider.sent).toHaveLength(0);
      expect((await worker.deadLetters.list(1))[0]).toMatchObject({
        requestId: j.routing.requestId,
        reason: 'expired',
        attempts: 0,
      });
    });

    it('gives up as expired when Retry-After reaches past the time to live', async () => {
      provider.fallback = {
        kind: 'retryable',
        reason: 'ServiceUnavailable',
        statusCode: 503,
        retryAfterMs: 60_000,
      };
      expect(await push(job())).toEqual({ status: 'FAIL', error: 'expired' });
      expect(provider.sent).toHaveLength(1);
    });

    it('delivers one-push jobs of formats 1, 2 and 3 (queued by an older ingress), answering in their shape', async () => {
      const name = pushQueueName(US, 'apns');
      const queue = new Queue(name, { connection: producerConnection, prefix: queuePrefix(name) });
      const jobs = [job(), job(), job()];
      // Format 1: the content as a JSON object, the routing in clear as an object (sealed by hand, as it was).
      const [j1, j2, j3] = jobs as [PushJob, PushJob, PushJob];
      const iv = randomBytes(12);
      const gcm = createCipheriv('aes-256-gcm', KEY.key, iv);
      gcm.setAAD(Buffer.from(JSON.stringify([1, KEY.id, j1.routing])));
      const body = Buffer.concat([gcm.update(JSON.stringify(j1.content)), gcm.final()]);
      const v1 = {
        v: 1,
        routing: j1.routing,
        k: KEY.id,
        c: Buffer.concat([iv, body, gcm.getAuthTag()]).toString('base64'),
      };
      const waits = jobs.map((j) => listener.wait(j.routing.requestId, 10_000).promise);
      await queue.add('message', v1, { jobId: j1.routing.requestId, attempts: 25 });
      await queue.add('message', createPayloadCipher([KEY], undefined, { format: 2 }).seal(j2), {
        jobId: j2.routing.requestId,
        attempts: 25,
      });
      await queue.add('message', cipher.seal(j3), { jobId: j3.routing.requestId, attempts: 25 });
      expect(await Promise.all(waits)).toEqual([{ status: 'OK' }, { status: 'OK' }, { status: 'OK' }]);
      expect(
        provider.sent
          .map((s) => s.job)
          .sort((a, b) => a.routing.requestId.localeCompare(b.routing.requestId)),
      ).toEqual([...jobs].sort((a, b) => a.routing.requestId.localeCompare(b.routing.requestId)));
      await queue.close();
    });

    it('takes an envelope sealed with a key it does not hold again later, and fails a garbled one with its pushes', async () => {
      const name = pushQueueName(US, 'apns');
      const queue = new Queue(name, { connection: producerConnection, prefix: queuePrefix(name) });
      const future = job();
      const garbled = job();
      const rotated = createPayloadCipher([{ id: 'k2', key: randomBytes(32) }]);
      const waitGarbled = listener.wait(garbled.routing.requestId, 10_000).promise;
      const waitFuture = listener.wait(future.routing.requestId, 700).promise;
      await queue.add('envelope', rotated.sealEnvelope([{ job: future, attempts: 0 }]), { jobId: 'efuture' });
      const sealed = cipher.sealEnvelope([{ job: garbled, attempts: 0 }]);
      await queue.add(
        'envelope',
        { ...sealed, c: Buffer.alloc(64, 1).toString('base64') },
        { jobId: 'egarbled' },
      );
      expect(await waitGarbled).toEqual({
        status: 'FAIL',
        error: 'push could not be read by the delivery worker',
      });
      // Not answered: it waits for a worker with the key (delayed, not failed).
      expect(await waitFuture).toBeUndefined();
      expect(await queue.getJobState('efuture')).toBe('delayed');
      expect(
        (await worker.deadLetters.list(5)).find((l) => l.requestId === garbled.routing.requestId),
      ).toMatchObject({
        reason: 'unreadable',
      });
      await queue.remove('efuture');
      await queue.close();
    });

    /** Once the breaker opens, the provider recovers: the probe then succeeds and closes the circuit. */
    function recoverAfterOpen(): Promise<void> {
      return new Promise((resolve) => {
        onOpen = () => {
          provider.fallback = { kind: 'delivered', statusCode: 200 };
          resolve();
        };
      });
    }

    it('opens the circuit on sustained failure, holds pushes back without sending, closes after a probe', async () => {
      provider.fallback = {
        kind: 'retryable',
        reason: 'ServiceUnavailable',
        statusCode: 503,
        retryAfterMs: 50,
      };
      results.length = 0;
      const jobs = Array.from({ length: 20 }, () => job());
      const answers = jobs.map((j) => listener.wait(j.routing.requestId, 15_000).promise);
      const recovered = recoverAfterOpen();
      await Promise.all(jobs.map((j) => producer.enqueue(j)));
      await recovered;
      expect((await Promise.all(answers)).every((r) => r?.status === 'OK')).toBe(true);
      const opened = circuit.find((c) => c.state === 'open');
      const probing = circuit.find((c) => c.state === 'half_open');
      expect(opened).toBeDefined();
      // Between opening and the probe, only sends already in flight (10 per target) reached the provider.
      expect((probing?.sent ?? 0) - (opened?.sent ?? 0)).toBeLessThanOrEqual(10);
      expect(circuit.map((c) => c.state).slice(-1)).toEqual(['closed']);
      // Held-back pushes are counted as decisions too (the `defer` result of the jobs metric).
      expect(results).toContain('defer');
    });
  },
);
