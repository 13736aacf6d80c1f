import { apnsMagicToken, type ApnsReason } from '@hpns/testkit';
import {
  BUNDLE_ID,
  messageJob,
  messageNotification,
  metricValue,
  pushJob,
  randomToken,
  startApnsTestBed,
  TARGET,
  type ApnsTestBed,
} from './apns-helpers';

describe('ApnsProvider outcomes', () => {
  let bed: ApnsTestBed;
  beforeAll(async () => {
    bed = await startApnsTestBed();
  });
  afterAll(async () => bed.close());
  beforeEach(() => bed.sim.reset());

  describe('invalid_token (REMOVE)', () => {
    it('answers invalid_token for 400 BadDeviceToken', async () => {
      expect(await bed.provider.send(messageJob(apnsMagicToken('bad')))).toEqual({
        kind: 'invalid_token',
        reason: 'BadDeviceToken',
        statusCode: 400,
      });
    });

    it('answers invalid_token with invalidSinceMs for 410 Unregistered with a timestamp (§7.4 scenario 1)', async () => {
      const token = randomToken();
      bed.sim.setToken(token, {
        bundleId: BUNDLE_ID,
        state: { kind: 'unregistered', timestampMs: 1_700_000_000_123 },
      });
      expect(await bed.provider.send(messageJob(token))).toEqual({
        kind: 'invalid_token',
        reason: 'Unregistered',
        statusCode: 410,
        invalidSinceMs: 1_700_000_000_123,
      });
    });

    it('answers invalid_token for 410 ExpiredToken', async () => {
      expect(await bed.provider.send(messageJob(apnsMagicToken('expired')))).toEqual({
        kind: 'invalid_token',
        reason: 'ExpiredToken',
        statusCode: 410,
      });
    });

    it('answers invalid_token for 400 DeviceTokenNotForTopic', async () => {
      const token = randomToken();
      bed.sim.setToken(token, { bundleId: 'com.example.other', state: { kind: 'active' } });
      expect(await bed.provider.send(messageJob(token))).toEqual({
        kind: 'invalid_token',
        reason: 'DeviceTokenNotForTopic',
        statusCode: 400,
      });
    });

    it('answers invalid_token for 400 MissingDeviceToken (an empty device id)', async () => {
      expect(await bed.provider.send(messageJob(''))).toEqual({
        kind: 'invalid_token',
        reason: 'MissingDeviceToken',
        statusCode: 400,
      });
      expect(bed.sim.requests()[0]?.headers[':path']).toBe('/3/device/');
    });

    it('answers invalid_token BadDeviceToken without sending for a device id that cannot be a token', async () => {
      expect(await bed.provider.send(messageJob('abc/../def ghi'))).toEqual({
        kind: 'invalid_token',
        reason: 'BadDeviceToken',
        statusCode: 400,
      });
      expect(bed.sim.counters().requests).toBe(0);
    });
  });

  describe('retryable', () => {
    it('answers 429 TooManyRequests retryable with Retry-After, other tokens unaffected (§7.4 scenario 2)', async () => {
      bed.sim.setFaults({ tooManyRequests: { maxPushes: 1, windowMs: 60_000 }, retryAfterSeconds: 7 });
      const busy = randomToken();
      expect(await bed.provider.send(messageJob(busy))).toMatchObject({ kind: 'delivered' });
      const [limited, ...others] = await Promise.all([
        bed.provider.send(messageJob(busy)),
        ...Array.from({ length: 5 }, () => bed.provider.send(messageJob(randomToken()))),
      ]);
      expect(limited).toEqual({
        kind: 'retryable',
        reason: 'TooManyRequests',
        statusCode: 429,
        retryAfterMs: 7000,
      });
      expect(others).toEqual(Array.from({ length: 5 }, () => ({ kind: 'delivered', statusCode: 200 })));
      // Sent once: node-apn's own immediate retries (reference §4.3.1) are off.
      expect(bed.sim.requests().filter((request) => request.token === busy)).toHaveLength(2);
    });

    it('answers 429 without Retry-After retryable with no retryAfterMs', async () => {
      expect(await bed.provider.send(messageJob(apnsMagicToken('tooManyRequests')))).toEqual({
        kind: 'retryable',
        reason: 'TooManyRequests',
        statusCode: 429,
      });
    });

    it('answers 500 InternalServerError retryable, once, and the next send succeeds', async () => {
      bed.sim.setFaults({ retryAfterSeconds: 3 });
      bed.sim.injectNext(1, 'InternalServerError');
      expect(await bed.provider.send(messageJob(randomToken()))).toEqual({
        kind: 'retryable',
        reason: 'InternalServerError',
        statusCode: 500,
        retryAfterMs: 3000,
      });
      expect(bed.sim.counters().requests).toBe(1);
      expect(await bed.provider.send(messageJob(randomToken()))).toMatchObject({ kind: 'delivered' });
    });

    it('answers 503 ServiceUnavailable retryable, once', async () => {
      expect(await bed.provider.send(messageJob(apnsMagicToken('serviceUnavailable')))).toEqual({
        kind: 'retryable',
        reason: 'ServiceUnavailable',
        statusCode: 503,
      });
      expect(bed.sim.counters().requests).toBe(1);
    });
  });

  describe('rejected (FAIL with the reason)', () => {
    it('answers rejected TopicDisallowed, keeping the reason', async () => {
      bed.sim.disallowTopic(BUNDLE_ID);
      expect(await bed.provider.send(messageJob(randomToken()))).toEqual({
        kind: 'rejected',
        reason: 'TopicDisallowed',
        statusCode: 400,
      });
    });

    it.each<[ApnsReason, number]>([
      ['BadTopic', 400],
      ['BadCertificate', 403],
      ['BadCertificateEnvironment', 403],
      ['InvalidProviderToken', 403],
      ['Forbidden', 403],
      ['PayloadTooLarge', 413],
      ['BadPayload', 400],
    ])('answers rejected for %s (%i)', async (reason, statusCode) => {
      bed.sim.injectNext(1, reason);
      expect(await bed.provider.send(messageJob(randomToken()))).toEqual({
        kind: 'rejected',
        reason,
        statusCode,
      });
    });

    it('refuses a body over 4096 bytes before sending: rejected PayloadTooLarge (§7.4 scenario 7)', async () => {
      const content = messageNotification(randomToken(), { message: 'x'.repeat(4000) });
      expect(await bed.provider.send(pushJob(content))).toEqual({
        kind: 'rejected',
        reason: 'PayloadTooLarge',
        statusCode: 413,
      });
      expect(bed.sim.counters().requests).toBe(0);
      expect(
        await metricValue(bed.registry, 'hpns_provider_outcomes_total', {
          target: TARGET,
          outcome: 'rejected',
          reason: 'PayloadTooLarge',
        }),
      ).toBeGreaterThanOrEqual(1);
    });

    it('allows a VoIP body up to 5120 bytes and refuses one over it', async () => {
      const voip = (bytes: number) =>
        pushJob(messageNotification(randomToken(), { transport: 'voip', sender_name: 'x'.repeat(bytes) }));
      // The VoIP payload around a sender name of n bytes is n + 254 bytes: 4600 → 4854 bytes, 4900 → 5154.
      expect(await bed.provider.send(voip(4600))).toEqual({ kind: 'delivered', statusCode: 200 });
      expect(bed.sim.requests()[0]?.bodyBytes).toBe(4854);
      expect(await bed.provider.send(voip(4900))).toEqual({
        kind: 'rejected',
        reason: 'PayloadTooLarge',
        statusCode: 413,
      });
      expect(bed.sim.counters().requests).toBe(1);
    });
  });
});
