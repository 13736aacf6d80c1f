import { createServer } from 'node:net';
import { type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { type FcmProvider } from '../src/fcm/fcm-provider';
import {
  eventually,
  fcmProvider,
  PROJECT_ID,
  pushJob,
  registrationToken,
  resetFcmWorld,
  startFcmWorld,
  type FcmWorld,
} from './fcm-helpers';

/**
 * Failures below FCM's answers: dropped connections, stalls, refused connections, the caller's abort
 * (reference/apns-fcm.md §2.5: no idempotency key, so an unknown fate is retryable and may deliver twice).
 */

let world: FcmWorld;

beforeAll(async () => {
  world = await startFcmWorld();
});

beforeEach(() => resetFcmWorld(world));

afterAll(async () => {
  await world.close();
});

const TIMEOUT_MS = 300;

describe.each([
  { name: 'HTTP/2', http2: true },
  { name: 'HTTP/1.1', http2: false },
])('FcmProvider transport failures over $name', ({ http2 }) => {
  let provider: FcmProvider;

  beforeEach(() => {
    provider = fcmProvider(world, { http2, requestTimeoutMs: TIMEOUT_MS });
  });

  afterEach(async () => {
    await provider.close();
  });

  it('answers retryable with the transport code when the connection closes before any answer', async () => {
    await provider.send(pushJob()); // token minted, connection open
    world.fcm.injectFault({ kind: 'goaway' });

    const outcome = await provider.send(pushJob());

    expect(outcome).toEqual({ kind: 'retryable', reason: 'UND_ERR_SOCKET', statusCode: 0 });
    expect(world.fcm.counters().faults).toEqual({ goaway: 1 });
    // The pool reconnects for the next send.
    await expect(provider.send(pushJob())).resolves.toEqual({ kind: 'delivered', statusCode: 200 });
  });

  it('answers delivered when the connection dies after a 200 status line (FCM has taken the message)', async () => {
    world.fcm.injectFault({ kind: 'destroy' });
    await expect(provider.send(pushJob())).resolves.toEqual({ kind: 'delivered', statusCode: 200 });
    expect(world.fcm.counters()).toMatchObject({ delivered: 1, faults: { destroy: 1 } });
  });

  it('answers retryable when the connection dies halfway through an error body', async () => {
    const token = registrationToken();
    world.fcm.registerToken({ token, projectId: PROJECT_ID, state: 'unregistered' });
    world.fcm.injectFault({ kind: 'destroy' });

    const outcome = await provider.send(pushJob({ device_id: token }));

    // Half a 404 body is no verdict on the token: retried, it will come back whole.
    expect(outcome).toEqual({ kind: 'retryable', reason: 'UND_ERR_SOCKET', statusCode: 0 });
  });

  it('answers retryable timeout when FCM never answers, after the request timeout', async () => {
    await provider.send(pushJob());
    world.fcm.injectFault({ kind: 'stall' });

    const startedAt = performance.now();
    const outcome = await provider.send(pushJob());
    const elapsedMs = performance.now() - startedAt;

    expect(outcome).toEqual({ kind: 'retryable', reason: 'timeout', statusCode: 0 });
    expect(elapsedMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(elapsedMs).toBeLessThan(TIMEOUT_MS + 2_000);
    await expect(provider.send(pushJob())).resolves.toMatchObject({ kind: 'delivered' });
  });

  it('answers retryable aborted, without sending, for an already aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(provider.send(pushJob(), controller.signal)).resolves.toEqual({
      kind: 'retryable',
      reason: 'aborted',
      statusCode: 0,
    });
    expect(world.fcm.counters().requests).toBe(0);
  });

  it('answers retryable aborted when the signal aborts an in-flight send', async () => {
    const longWait = fcmProvider(world, { http2, requestTimeoutMs: 30_000 });
    try {
      world.fcm.injectFault({ kind: 'stall' });
      const controller = new AbortController();
      const sending = longWait.send(pushJob(), controller.signal);
      await eventually(() => world.fcm.counters().requests === 1);

      controller.abort();

      await expect(sending).resolves.toEqual({ kind: 'retryable', reason: 'aborted', statusCode: 0 });
      await expect(longWait.send(pushJob())).resolves.toMatchObject({ kind: 'delivered' });
    } finally {
      await longWait.close();
    }
  });
});

describe('FcmProvider unreachable FCM', () => {
  it('answers retryable ECONNREFUSED when nothing listens at the FCM address', async () => {
    // A port that was free a moment ago: listen on 0, note it, close.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));

    const provider = fcmProvider(world, { baseUrl: `https://127.0.0.1:${port}` });
    try {
      await expect(provider.send(pushJob())).resolves.toEqual({
        kind: 'retryable',
        reason: 'ECONNREFUSED',
        statusCode: 0,
      });
    } finally {
      await provider.close();
    }
  });

  it('lets a send stalled at close() end at its deadline, then closes', async () => {
    const provider = fcmProvider(world, { requestTimeoutMs: 1_000 });
    await provider.send(pushJob());
    world.fcm.injectFault({ kind: 'stall' });
    const sending = provider.send(pushJob());
    await eventually(() => world.fcm.counters().requests === 2);

    await provider.close();

    await expect(sending).resolves.toEqual({ kind: 'retryable', reason: 'timeout', statusCode: 0 });
    await eventually(() => world.fcm.counters().connections.open === 0);
  });
});
