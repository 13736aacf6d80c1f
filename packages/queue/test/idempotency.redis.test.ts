import { type RedisConnection as Redis } from '@hpns/queue';
import { isHpnsError, type Region } from '@hpns/protocol';
import {
  createPayloadCipher,
  createProducerConnection,
  IdempotencyStore,
  idempotencyKey,
  PushProducer,
} from '@hpns/queue';
import { startTestRedis, type TestRedis } from '@hpns/testkit';
import { KEY_A, makeJob } from './support';

const US = 'us' as Region;
const WINDOW = 600_000;

describe('IdempotencyStore', () => {
  let redis: TestRedis;
  let connection: Redis;
  let clock = 1_700_000_000_000;
  const now = () => clock;

  beforeAll(async () => {
    redis = await startTestRedis();
    connection = createProducerConnection({ url: redis.url });
    await new Promise((resolve) => connection.once('ready', resolve));
  });
  afterAll(async () => {
    connection.disconnect();
    await redis.stop();
  });

  it('keeps a second copy out for at least one window and at most two, answering the first request id', async () => {
    const store = new IdempotencyStore({ region: US, connection, now });
    const key = 'AbCdEfGhIjKlMnOpQrStUv';
    expect(await store.reserve(key, 'rfirst')).toEqual({ duplicate: false });
    expect(await store.reserve(key, 'rsecond')).toEqual({ duplicate: true, firstRequestId: 'rfirst' });
    // Anywhere within the next window, still held (the slot before is looked at too).
    clock += WINDOW - 1;
    expect(await store.reserve(key, 'rthird')).toEqual({ duplicate: true, firstRequestId: 'rfirst' });
    // Two windows on, gone: the key is free again.
    clock += 2 * WINDOW;
    expect(await store.reserve(key, 'rfourth')).toEqual({ duplicate: false });
  });

  it('stores 16 characters of the key per push in a hash per slot and shard, with an expiry', async () => {
    const store = new IdempotencyStore({ region: US, connection, now });
    await store.reserve('Zkey0123456789abcdefgh', 'rreq1');
    const slot = Math.floor(clock / WINDOW);
    const hash = idempotencyKey(US, 'Z', slot);
    expect(hash).toBe(`hpns:{idem-us-Z}:${slot}`);
    expect(await connection.hgetall(hash)).toEqual({ Zkey0123456789ab: 'rreq1' });
    const ttl = await connection.pttl(hash);
    expect(ttl).toBeGreaterThan(2 * WINDOW);
    expect(ttl).toBeLessThanOrEqual(2 * WINDOW + 60_000);
  });

  it('gives a reservation back, but only its own', async () => {
    const store = new IdempotencyStore({ region: US, connection, now });
    await store.reserve('Qrelease0123456789abcd', 'rmine');
    await store.release('Qrelease0123456789abcd', 'rother');
    expect((await store.reserve('Qrelease0123456789abcd', 'rx')).duplicate).toBe(true);
    await store.release('Qrelease0123456789abcd', 'rmine');
    expect((await store.reserve('Qrelease0123456789abcd', 'ry')).duplicate).toBe(false);
  });

  it('keeps the second copy of a push out of the queue through the producer', async () => {
    const store = new IdempotencyStore({ region: US, connection });
    const producer = new PushProducer({
      region: US,
      connection,
      cipher: createPayloadCipher([KEY_A]),
      idempotency: store,
    });
    const first = makeJob();
    const second = makeJob();
    expect(await producer.enqueue(first, 'Pdedup0123456789abcdef')).toMatchObject({ duplicate: false });
    expect(await producer.enqueue(second, 'Pdedup0123456789abcdef')).toEqual({
      duplicate: true,
      firstRequestId: first.routing.requestId,
    });
    await producer.close();
  });

  it('refuses with a retryable error while Redis is down', async () => {
    const store = new IdempotencyStore({ region: US, connection });
    await redis.kill('SIGKILL');
    try {
      const error = await store.reserve('Kdown0123456789abcdefg', 'r1').catch((e: unknown) => e);
      expect(isHpnsError(error, 'HPNS_REDIS_UNAVAILABLE')).toBe(true);
    } finally {
      await redis.start();
    }
    await new Promise((resolve) => connection.once('ready', resolve));
  });
});
