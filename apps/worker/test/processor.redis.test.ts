import { randomBytes } from 'node:crypto';
import { type Redis } from 'ioredis';
import {
  makePushNotification,
  type DeliveryOutcome,
  type PushJob,
  type PushResponse,
  type Region,
} from '@hpns/protocol';
import { type PushProvider } from '@hpns/providers';
import {
  createOutcomeListener,
  AckTracker,
  createPayloadCipher,
  createProducerConnection,
  createWorkerConnection,
  DeadTokenCache,
  outcomeChannel,
  publishOutcome,
  PushConsumer,
  PushProducer,
  type OutcomeListener,
  FinalOutcomes,
  keyedHasher,
} from '@hpns/queue';
import { createLogger } from '@hpns/runtime';
import { startTestRedis, type TestRedis } from '@hpns/testkit';
import { createPushProcessor } from '../src/processor';

const US = 'us' as Region;
const logger = createLogger({ destination: { write: () => undefined } });

/** A scripted provider: a fake of our own PushProvider interface, answering from a queue of outcomes. */
class ScriptedProvider implements PushProvider {
  readonly kind = 'apns' as const;
  readonly targetTypes = ['apple_rn'];
  readonly sent: { job: PushJob; at: number }[] = [];
  script: DeliveryOutcome[] = [];
  fallback: DeliveryOutcome = { kind: 'delivered', statusCode: 200 };

  throwFor: string | undefined;

  async send(job: PushJob): Promise<DeliveryOutcome> {
    this.sent.push({ job, at: Date.now() });
    if (job.content.device_id === this.throwFor) throw new Error('bug in a provider');
    return this.script.shift() ?? this.fallback;
  }

  async close(): Promise<void> {}
}

describe('the worker pipeline (producer → Redis → consumer → processor → outcome)', () => {
  let redis: TestRedis;
  let producerConnection: Redis;
  let workerConnection: Redis;
  let publisher: Redis;
  let subscriber: Redis;
  let producer: PushProducer;
  let consumer: PushConsumer;
  let listener: OutcomeListener;
  let deadTokens: DeadTokenCache;
  let acks: AckTracker;
  let finalOutcomes: FinalOutcomes;
  const provider = new ScriptedProvider();
  const cipher = createPayloadCipher([{ id: 'k1', key: randomBytes(32) }]);
  const channel = outcomeChannel(US, 'ingress-test');
  const circuit: { state: string; sent: number }[] = [];
  const decisions: string[] = [];
  let onOpen: () => void = () => undefined;

  function job(overrides: { expiresInMs?: number } = {}): PushJob {
    const now = Date.now();
    return {
      v: 1,
      routing: {
        requestId: `r${randomBytes(8).toString('hex')}`,
        replyTo: channel,
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

  beforeAll(async () => {
    redis = await startTestRedis();
    producerConnection = createProducerConnection({ url: redis.url });
    await new Promise((resolve) => producerConnection.once('ready', resolve));
    workerConnection = createWorkerConnection({ url: redis.url });
    publisher = createWorkerConnection({ url: redis.url });
    subscriber = createWorkerConnection({ url: redis.url });
    producer = new PushProducer({ region: US, connection: producerConnection, cipher, attempts: 4 });
    listener = await createOutcomeListener(subscriber, channel);
    deadTokens = new DeadTokenCache({
      region: US,
      connection: publisher,
      hasher: keyedHasher(randomBytes(32)),
    });
    acks = new AckTracker({ region: US, connection: publisher, hasher: keyedHasher(randomBytes(32)) });
    finalOutcomes = new FinalOutcomes({ region: US, connection: publisher });
    const processor = createPushProcessor({
      providers: { apns: provider },
      deadTokens,
      acks,
      finalOutcomes,
      publish: (to, message) => publishOutcome(publisher, to, message),
      logger,
      breaker: { minimumAttempts: 5, failureRatio: 0.8, openMs: 400, windowMs: 10_000 },
      onDecision: (_job, decision) => decisions.push(decision.result.action),
      onCircuitChange: (_target, state) => {
        circuit.push({ state, sent: provider.sent.length });
        if (state === 'open') onOpen();
      },
    });
    consumer = new PushConsumer({
      region: US,
      provider: 'apns',
      connection: workerConnection,
      cipher,
      processor,
      concurrency: 10,
    });
    consumer.start();
  });
  beforeEach(() => {
    provider.sent.length = 0;
    provider.script = [];
    provider.fallback = { kind: 'delivered', statusCode: 200 };
  });
  afterAll(async () => {
    await consumer.close(2000);
    await producer.close();
    await listener.close();
    for (const c of [producerConnection, workerConnection, publisher, subscriber]) c.disconnect();
    await redis.stop();
  });

  it('answers OK for a delivered push, with the content the ingress sealed', async () => {
    const j = job();
    expect(await push(j)).toEqual({ status: 'OK' });
    expect(provider.sent.map((s) => s.job)).toEqual([j]);
  });

  it('records a delivered push with an ack id for the time-to-device join', async () => {
    const j = job();
    j.content.ack_id = 'ack-123';
    expect(await push(j)).toEqual({ status: 'OK' });
    expect(await acks.acked('ack-123')).toBe(j.routing.acceptedAtMs);
    expect(await acks.acked('ack-123')).toBeUndefined();
  });

  it('answers REMOVE for a dead token and records it in the dead-token cache', async () => {
    provider.script = [{ kind: 'invalid_token', reason: 'Unregistered', statusCode: 410, invalidSinceMs: 1 }];
    const j = job();
    expect(await push(j)).toEqual({ status: 'REMOVE' });
    expect(await deadTokens.deadReason('apple_rn', j.content.device_id)).toBe('Unregistered');
  });

  it('answers FAIL with the reason for a rejected push, without retrying', async () => {
    provider.script = [{ kind: 'rejected', reason: 'BadTopic', statusCode: 400 }];
    const j = job();
    expect(await push(j)).toEqual({ status: 'FAIL', error: 'unknown send response error: BadTopic' });
    expect(provider.sent).toHaveLength(1);
    // Remembered for a second copy of the push (the ingress's idempotency answer); an OK is not written.
    expect(await finalOutcomes.recall(j.routing.requestId)).toEqual({
      status: 'FAIL',
      error: 'unknown send response error: BadTopic',
    });
    const delivered = job();
    expect(await push(delivered)).toEqual({ status: 'OK' });
    expect(await finalOutcomes.recall(delivered.routing.requestId)).toBeUndefined();
  });

  it('retries a retryable failure no sooner than its Retry-After, then answers OK', async () => {
    provider.script = [{ kind: 'retryable', reason: 'TooManyRequests', statusCode: 429, retryAfterMs: 500 }];
    expect(await push(job())).toEqual({ status: 'OK' });
    expect(provider.sent).toHaveLength(2);
    const gap = (provider.sent[1]?.at as number) - (provider.sent[0]?.at as number);
    expect(gap).toBeGreaterThanOrEqual(500);
  });

  it('answers FAIL once, without retrying, when the provider throws (a bug)', async () => {
    const j = job();
    provider.throwFor = j.content.device_id;
    expect(await push(j)).toEqual({ status: 'FAIL', error: 'internal error' });
    provider.throwFor = undefined;
    expect(provider.sent).toHaveLength(1);
  });

  it('drops an expired push with FAIL "expired" without sending it', async () => {
    expect(await push(job({ expiresInMs: -1 }))).toEqual({ status: 'FAIL', error: 'expired' });
    expect(provider.sent).toHaveLength(0);
  });

  it('gives up as expired when Retry-After reaches past the time to live', async () => {
    provider.script = [
      { kind: 'retryable', reason: 'ServiceUnavailable', statusCode: 503, retryAfterMs: 60_000 },
    ];
    expect(await push(job())).toEqual({ status: 'FAIL', error: 'expired' });
    expect(provider.sent).toHaveLength(1);
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

  it('opens the circuit on sustained failure, stops sending, and closes after a successful probe', async () => {
    provider.fallback = {
      kind: 'retryable',
      reason: 'ServiceUnavailable',
      statusCode: 503,
      retryAfterMs: 50,
    };
    const jobs = Array.from({ length: 20 }, () => job());
    const answers = jobs.map((j) => listener.wait(j.routing.requestId, 15_000).promise);
    const recovered = recoverAfterOpen();
    await Promise.all(jobs.map((j) => producer.enqueue(j)));
    await recovered;
    const results = await Promise.all(answers);
    expect(results.every((r) => r?.status === 'OK')).toBe(true);
    const opened = circuit.find((c) => c.state === 'open');
    const probing = circuit.find((c) => c.state === 'half_open');
    expect(opened).toBeDefined();
    // Between opening and the probe, only attempts already in flight (concurrency 10) reached the provider.
    expect((probing?.sent ?? 0) - (opened?.sent ?? 0)).toBeLessThanOrEqual(10);
    expect(circuit.map((c) => c.state).slice(-1)).toEqual(['closed']);
    // 20 pushes × up to 4 attempts would be 80 sends without the breaker.
    expect(provider.sent.length).toBeLessThan(60);
    // Held-back attempts are counted as decisions too (the `defer` result of the jobs metric).
    expect(decisions).toContain('defer');
  });
});
