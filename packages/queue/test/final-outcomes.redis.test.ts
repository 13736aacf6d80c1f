import { type RedisConnection as Redis } from '@hpns/queue';
import { type Region } from '@hpns/protocol';
import { createProducerConnection, FinalOutcomes, finalOutcomeKey, IDEMPOTENCY_WINDOW_MS } from '@hpns/queue';
import { startTestRedis, type TestRedis } from '@hpns/testkit';

const US = 'us' as Region;

describe('FinalOutcomes', () => {
  let redis: TestRedis;
  let connection: Redis;
  const now = 1_000_000;
  let outcomes: FinalOutcomes;

  beforeAll(async () => {
    redis = await startTestRedis();
    connection = createProducerConnection({ url: redis.url });
    await new Promise((resolve) => connection.once('ready', resolve));
    outcomes = new FinalOutcomes({ region: US, connection, now: () => now });
  });
  afterAll(async () => {
    connection.disconnect();
    await redis.stop();
  });

  it('keeps a FAIL or REMOVE for what is left of the idempotency window, and no OK', async () => {
    await outcomes.remember('r1', now - 60_000, { status: 'FAIL', error: 'expired' });
    await outcomes.remember('r2', now, { status: 'REMOVE' });
    await outcomes.remember('r3', now, { status: 'OK' });
    expect(await outcomes.recall('r1')).toEqual({ status: 'FAIL', error: 'expired' });
    expect(await outcomes.recall('r2')).toEqual({ status: 'REMOVE' });
    expect(await outcomes.recall('r3')).toBeUndefined();
    const ttl = await connection.pttl(finalOutcomeKey(US, 'r1'));
    expect(ttl).toBeGreaterThan(IDEMPOTENCY_WINDOW_MS - 60_000 - 5_000);
    expect(ttl).toBeLessThanOrEqual(IDEMPOTENCY_WINDOW_MS - 60_000);
  });

  it('writes nothing once the window has closed (a copy sent now is queued as a new push)', async () => {
    await outcomes.remember('late', now - IDEMPOTENCY_WINDOW_MS - 1, { status: 'FAIL', error: 'x' });
    expect(await connection.exists(finalOutcomeKey(US, 'late'))).toBe(0);
  });

  it('reads a malformed record as unknown, not as an answer', async () => {
    await connection.set(finalOutcomeKey(US, 'bad1'), 'not json');
    await connection.set(finalOutcomeKey(US, 'bad2'), '{"status":"FAIL","error":7}');
    await connection.set(finalOutcomeKey(US, 'bad3'), '{"status":"MAYBE"}');
    for (const id of ['bad1', 'bad2', 'bad3']) expect(await outcomes.recall(id)).toBeUndefined();
  });
});
