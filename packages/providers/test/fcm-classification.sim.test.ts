import { type FcmTokenState } from '@hpns/testkit';
import { type FcmProvider } from '../src/fcm/fcm-provider';
import {
  fcmProvider,
  PROJECT_ID,
  pushJob,
  registrationToken,
  resetFcmWorld,
  startFcmWorld,
  type FcmWorld,
} from './fcm-helpers';

/**
 * FCM's answers, as the simulator gives them, to DeliveryOutcomes (reference/apns-fcm.md §2.4, §2.5, §7.4
 * scenarios 8–10). The queue owns retries: every case here is exactly one request.
 */

let world: FcmWorld;
let provider: FcmProvider;

beforeAll(async () => {
  world = await startFcmWorld();
});

beforeEach(() => {
  // A new provider per test: resetting the simulators forgets the access token a provider would have cached.
  resetFcmWorld(world);
  provider = fcmProvider(world);
});

afterEach(async () => {
  await provider.close();
});

afterAll(async () => {
  await world.close();
});

/** Sends one push to a token registered in `state` and returns the outcome. */
async function sendToTokenIn(state: FcmTokenState, projectId = PROJECT_ID) {
  const token = registrationToken();
  world.fcm.registerToken({ token, projectId, state });
  return provider.send(pushJob({ device_id: token }));
}

describe('FcmProvider dead tokens (invalid_token)', () => {
  it('answers invalid_token UNREGISTERED for 404 UNREGISTERED', async () => {
    await expect(sendToTokenIn('unregistered')).resolves.toEqual({
      kind: 'invalid_token',
      reason: 'UNREGISTERED',
      statusCode: 404,
    });
  });

  it('answers invalid_token UNREGISTERED for the iOS variant (404 UNREGISTERED with ApnsError 410)', async () => {
    await expect(sendToTokenIn('apns-unregistered')).resolves.toEqual({
      kind: 'invalid_token',
      reason: 'UNREGISTERED',
      statusCode: 404,
    });
  });

  it('answers invalid_token for 400 "APNs device token is disabled." with ApnsError 410 Unregistered', async () => {
    await expect(sendToTokenIn('apns-disabled')).resolves.toEqual({
      kind: 'invalid_token',
      reason: 'Unregistered',
      statusCode: 400,
    });
  });

  it('answers invalid_token SENDER_ID_MISMATCH for a token of another project (403)', async () => {
    await expect(sendToTokenIn('valid', 'someone-elses-project')).resolves.toEqual({
      kind: 'invalid_token',
      reason: 'SENDER_ID_MISMATCH',
      statusCode: 403,
    });
  });
});

describe('FcmProvider rejections (rejected)', () => {
  it('rejects INVALID_ARGUMENT for a token that is not a valid FCM registration token', async () => {
    await expect(sendToTokenIn('malformed')).resolves.toEqual({
      kind: 'rejected',
      reason: 'INVALID_ARGUMENT',
      statusCode: 400,
    });
  });

  it('rejects INVALID_ARGUMENT for a message over 4096 bytes', async () => {
    const outcome = await provider.send(pushJob({ message: 'x'.repeat(5000) }));
    expect(outcome).toEqual({ kind: 'rejected', reason: 'INVALID_ARGUMENT', statusCode: 400 });
    expect(world.fcm.requests()[0]?.status).toBe(400);
  });

  it('rejects THIRD_PARTY_AUTH_ERROR (401 with FcmError) without refreshing the access token', async () => {
    await expect(sendToTokenIn('apns-auth-error')).resolves.toEqual({
      kind: 'rejected',
      reason: 'THIRD_PARTY_AUTH_ERROR',
      statusCode: 401,
    });
    expect(world.fcm.counters().requests).toBe(1);
    expect(world.oauth.counters().mints).toBe(1);
  });

  it('rejects PERMISSION_DENIED when the service account may not send for the project (403)', async () => {
    const wrongProject = fcmProvider(world, {
      targets: [{ ...world.target, projectId: 'not-my-project' }],
    });
    try {
      await expect(wrongProject.send(pushJob())).resolves.toEqual({
        kind: 'rejected',
        reason: 'PERMISSION_DENIED',
        statusCode: 403,
      });
      expect(world.fcm.requests()[0]?.path).toBe('/v1/projects/not-my-project/messages:send');
    } finally {
      await wrongProject.close();
    }
  });
});

describe('FcmProvider provider failures (retryable)', () => {
  it('answers retryable QUOTA_EXCEEDED with Retry-After for a 429 that carries it', async () => {
    world.fcm.injectFault({ kind: 'overload', retryAfterSeconds: 30 });
    await expect(provider.send(pushJob())).resolves.toEqual({
      kind: 'retryable',
      reason: 'QUOTA_EXCEEDED',
      statusCode: 429,
      retryAfterMs: 30_000,
    });
  });

  it('answers retryable QUOTA_EXCEEDED after at least a minute for a 429 without Retry-After', async () => {
    world.fcm.injectFault({ kind: 'overload' });
    await expect(provider.send(pushJob())).resolves.toEqual({
      kind: 'retryable',
      reason: 'QUOTA_EXCEEDED',
      statusCode: 429,
      retryAfterMs: 60_000,
    });
  });

  it("answers retryable QUOTA_EXCEEDED with the window's Retry-After when the project quota is used up", async () => {
    world.fcm.setQuota({ limitPerMinute: 2 }, PROJECT_ID);
    await provider.send(pushJob());
    await provider.send(pushJob());
    const outcome = await provider.send(pushJob());
    expect(outcome).toMatchObject({ kind: 'retryable', reason: 'QUOTA_EXCEEDED', statusCode: 429 });
    expect(outcome.kind === 'retryable' && outcome.retryAfterMs).toBeGreaterThan(0);
    expect(outcome.kind === 'retryable' && outcome.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('answers retryable INTERNAL for a 500, with no Retry-After of its own', async () => {
    world.fcm.injectFault({ kind: 'internal' });
    await expect(provider.send(pushJob())).resolves.toEqual({
      kind: 'retryable',
      reason: 'INTERNAL',
      statusCode: 500,
    });
  });

  it('answers retryable UNAVAILABLE with Retry-After for a 503 that carries it', async () => {
    world.fcm.injectFault({ kind: 'unavailable', retryAfterSeconds: 7 });
    await expect(provider.send(pushJob())).resolves.toEqual({
      kind: 'retryable',
      reason: 'UNAVAILABLE',
      statusCode: 503,
      retryAfterMs: 7_000,
    });
  });

  it('answers retryable UNAVAILABLE for a 503 without Retry-After', async () => {
    world.fcm.injectFault({ kind: 'unavailable' });
    await expect(provider.send(pushJob())).resolves.toEqual({
      kind: 'retryable',
      reason: 'UNAVAILABLE',
      statusCode: 503,
    });
  });

  it('sends each failing push exactly once (no retry loop under the queue)', async () => {
    world.fcm.injectFault({ kind: 'unavailable' }, 3);
    world.fcm.injectFault({ kind: 'internal' }, 3);
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => provider.send(pushJob())));
    expect(outcomes.map((o) => o.kind)).toEqual(Array(6).fill('retryable'));
    expect(world.fcm.counters().requests).toBe(6);
  });
});
