import { type DeliveryOutcome } from '@hpns/protocol';
import { messageJob, randomToken, startApnsTestBed, type ApnsTestBed } from './apns-helpers';

const MINUTE = 60_000;

/**
 * Provider tokens against the simulator's clock (reference §1.6, §7.4 scenario 5). The provider and the simulator
 * each get an injected clock, so an hour passes without sleeping; `skewMs` puts the simulator (APNs) ahead of us.
 */
describe('ApnsProvider provider tokens', () => {
  let bed: ApnsTestBed;
  let clock: number;
  const start = async (skewMs: number, connectionsPerEndpoint = 2) => {
    clock = Date.now();
    bed = await startApnsTestBed({ now: () => clock + skewMs }, { now: () => clock, connectionsPerEndpoint });
  };
  afterEach(async () => bed.close());

  const sendMany = (count: number): Promise<DeliveryOutcome[]> =>
    Promise.all(Array.from({ length: count }, () => bed.provider.send(messageJob(randomToken()))));

  it('answers ExpiredProviderToken retryable, re-mints once for all connections, and the retry succeeds', async () => {
    // APNs's clock runs 15 min ahead: our 46-minute-old token is 61 minutes old there.
    await start(15 * MINUTE);
    expect(await sendMany(10)).toEqual(
      Array.from({ length: 10 }, () => ({ kind: 'delivered', statusCode: 200 })),
    );
    clock += 46 * MINUTE;
    const expired = await sendMany(10);
    expect(expired).toEqual(
      Array.from({ length: 10 }, () => ({
        kind: 'retryable',
        reason: 'ExpiredProviderToken',
        statusCode: 403,
      })),
    );
    expect(bed.provider.stats().tokenMints).toBe(2);
    // What the queue's retry does: the same pushes again, now with the new token.
    expect(await sendMany(10)).toEqual(
      Array.from({ length: 10 }, () => ({ kind: 'delivered', statusCode: 200 })),
    );
    const counters = bed.sim.counters();
    expect(counters.byReason).toEqual({ ExpiredProviderToken: 10 });
    // Each of the two connections adopted the new token once.
    expect(counters.jwtChanges).toBe(2);
  });

  it('does not replace a token younger than 20 minutes, whatever APNs says (no TooManyProviderTokenUpdates)', async () => {
    // A clock 65 min off: every token looks expired to APNs; churning tokens would only add 429s.
    await start(65 * MINUTE, 1);
    expect(await bed.provider.send(messageJob(randomToken()))).toMatchObject({
      reason: 'ExpiredProviderToken',
    });
    clock += 5 * MINUTE;
    expect(await bed.provider.send(messageJob(randomToken()))).toMatchObject({
      reason: 'ExpiredProviderToken',
    });
    expect(bed.provider.stats().tokenMints).toBe(1);
    expect(bed.sim.counters().byReason).toEqual({ ExpiredProviderToken: 2 });
  });

  it('refreshes its token before it expires during a six-hour soak: never Expired, never TooManyProviderTokenUpdates', async () => {
    await start(0);
    for (let minute = 0; minute <= 6 * 60; minute += 5) {
      clock = clock + 5 * MINUTE;
      const outcomes = await sendMany(4);
      expect(outcomes.every((outcome) => outcome.kind === 'delivered')).toBe(true);
    }
    const counters = bed.sim.counters();
    expect(counters.byReason).toEqual({});
    // 6 h 5 min at one token per 50 min: the first and 7 refreshes, each adopted once by each connection.
    expect(bed.provider.stats().tokenMints).toBe(8);
    expect(counters.jwtChanges).toBe(14);
  });
});
