import { constants, type ClientHttp2Session } from 'node:http2';
import { apnsMagicToken, type ApnsSimulatorOptions } from '@hpns/testkit';
import {
  ALERT,
  closeSession,
  connectTo,
  h2Request,
  nextGoaway,
  randomToken,
  startApnsFixture,
  type ApnsFixture,
} from './apns-helpers';

describe('APNs simulator faults (reference §7.1)', () => {
  let clockMs = Date.UTC(2026, 0, 1);
  let fx: ApnsFixture;
  let session: ClientHttp2Session;

  const start = async (options: ApnsSimulatorOptions = {}) => {
    fx = await startApnsFixture({ streamLimitMode: 'fixed', now: () => clockMs, ...options });
    session = await connectTo(fx.sim);
  };
  afterEach(async () => {
    await closeSession(session);
    await fx.sim.close();
  });

  const status = async (token = randomToken()) => {
    const reply = await h2Request(session, fx.headers(token), ALERT);
    return reply.status === 200 ? 200 : `${reply.status} ${reply.json?.reason}`;
  };

  it('answers 429 TooManyRequests to a token over its window while other tokens succeed', async () => {
    await start({ faults: { tooManyRequests: { maxPushes: 2, windowMs: 1000 } } });
    const busy = randomToken();
    expect([await status(busy), await status(busy), await status(busy)]).toEqual([
      200,
      200,
      '429 TooManyRequests',
    ]);
    expect(await status()).toBe(200);
    clockMs += 1001;
    expect(await status(busy)).toBe(200);
  });

  it('answers the queued reasons for the next K pushes, then recovers', async () => {
    await start();
    fx.sim.injectNext(2, 'InternalServerError');
    fx.sim.injectNext(1, 'ServiceUnavailable');
    const seen = [await status(), await status(), await status(), await status()];
    expect(seen).toEqual([
      '500 InternalServerError',
      '500 InternalServerError',
      '503 ServiceUnavailable',
      200,
    ]);
    expect(fx.sim.queuedFaults).toBe(0);
  });

  it('draws random 500 and 503 answers from the seed, the same sequence for the same seed', async () => {
    const run = async (seed: number) => {
      await start({ seed, faults: { internalErrorRate: 0.3, unavailableRate: 0.2 } });
      const seen: (number | string)[] = [];
      for (let i = 0; i < 40; i += 1) seen.push(await status());
      await closeSession(session);
      await fx.sim.close();
      return seen;
    };
    const first = await run(42);
    expect(await run(42)).toEqual(first);
    expect(await run(43)).not.toEqual(first);
    expect(first).toContain('500 InternalServerError');
    expect(first).toContain('503 ServiceUnavailable');
    expect(first).toContain(200);
    await start(); // for afterEach
  });

  it('answers 503 Shutdown, then sends GOAWAY {"reason":"Shutdown"} and closes the connection', async () => {
    await start({ faults: { shutdown: true } });
    const goaway = nextGoaway(session);
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    const reply = await h2Request(session, fx.headers(randomToken()), ALERT);
    expect({ status: reply.status, json: reply.json }).toEqual({ status: 503, json: { reason: 'Shutdown' } });
    expect(await goaway).toEqual({
      errorCode: constants.NGHTTP2_NO_ERROR,
      lastStreamId: 1,
      data: '{"reason":"Shutdown"}',
    });
    await closed;
    expect(fx.sim.counters().goaways).toEqual({ Shutdown: 1 });

    fx.sim.setFaults({});
    session = await connectTo(fx.sim);
    expect(await status()).toBe(200);
  });

  it('sends GOAWAY with the given reason on every open connection when asked', async () => {
    await start();
    const second = await connectTo(fx.sim);
    const goaways = Promise.all([nextGoaway(session), nextGoaway(second)]);
    expect(fx.sim.goAway('Shutdown')).toBe(2);
    expect((await goaways).map((g) => g.data)).toEqual(['{"reason":"Shutdown"}', '{"reason":"Shutdown"}']);
    await closeSession(second);
  });

  it('sends GOAWAY {"reason":"IdleTimeout"} after the configured idle time', async () => {
    await start();
    expect(await status()).toBe(200);
    // Set after the push, so that a slow test machine cannot time the connection out before it.
    const goaway = nextGoaway(session);
    fx.sim.updateFaults({ idleTimeoutMs: 150 });
    expect((await goaway).data).toBe('{"reason":"IdleTimeout"}');
    expect(fx.sim.counters().goaways).toEqual({ IdleTimeout: 1 });
  });

  it('resets the TCP connection mid-stream when a reset is injected or a reset token is used', async () => {
    await start();
    for (const inject of [true, false]) {
      if (inject) fx.sim.injectNext(1, 'reset');
      const token = inject ? randomToken() : apnsMagicToken('reset');
      const sessionError = new Promise<string>((resolve) =>
        session.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? '')),
      );
      await expect(h2Request(session, fx.headers(token), ALERT)).rejects.toThrow();
      expect(await sessionError).toBe('ECONNRESET');
      session = await connectTo(fx.sim);
    }
    expect(fx.sim.counters().resets).toBe(2);
    expect(fx.sim.requests().map((r) => r.outcome)).toEqual(['reset', 'reset']);
  });

  it('stalls a stream, never answering it, so the client times out while other streams are answered', async () => {
    await start();
    fx.sim.injectNext(1, 'stall');
    const stalled = new Promise<string>((resolve) => {
      const stream = session.request({ ':method': 'POST', ...fx.headers(randomToken()) });
      stream.on('response', () => resolve('answered'));
      stream.on('error', () => undefined);
      stream.setTimeout(200, () => {
        stream.close(constants.NGHTTP2_CANCEL);
        resolve('timed out');
      });
      stream.end(ALERT);
    });
    expect(await status()).toBe(200);
    expect(await stalled).toBe('timed out');
    expect(fx.sim.counters()).toMatchObject({ stalls: 1, requests: 2 });
  });

  it('delays answers by a seeded log-normal latency that repeats for the same seed', async () => {
    const latencies = async (seed: number) => {
      await start({ seed, faults: { latency: { p50Ms: 15, p99Ms: 60 } } });
      const elapsed = await Promise.all(
        Array.from({ length: 200 }, async () => {
          const sent = performance.now();
          await h2Request(session, fx.headers(randomToken()), ALERT);
          return performance.now() - sent;
        }),
      );
      const sampled = fx.sim.requests().map((r) => r.latencyMs);
      // Each answer waited at least its sampled delay (Node timers have 1 ms resolution).
      elapsed.forEach((ms, i) => expect(ms).toBeGreaterThanOrEqual(Math.floor(sampled[i] ?? 0) - 1));
      await closeSession(session);
      await fx.sim.close();
      return sampled;
    };
    const first = await latencies(7);
    expect(await latencies(7)).toEqual(first);
    expect(await latencies(8)).not.toEqual(first);
    // The seed fixes the draw, so these bounds are not a matter of luck: median ≈ p50, ~1 % above p99.
    const sorted = [...first].sort((a, b) => a - b);
    expect(sorted[100]).toBeGreaterThan(12);
    expect(sorted[100]).toBeLessThan(18);
    expect(sorted.filter((ms) => ms > 60).length).toBeLessThanOrEqual(6);
    await start(); // for afterEach
  });

  it('captures exactly what the client sent in a bounded ring', async () => {
    await start({ captureLimit: 3 });
    const tokens = Array.from({ length: 5 }, randomToken);
    for (const [i, token] of tokens.entries()) {
      await h2Request(session, fx.headers(token, { 'apns-collapse-id': `c${i}` }), `{"n":${i}}`);
    }
    const captured = fx.sim.requests();
    expect(captured).toHaveLength(3);
    expect(captured.map((r) => [r.seq, r.token, r.body, r.headers['apns-collapse-id']])).toEqual([
      [3, tokens[2], '{"n":2}', 'c2'],
      [4, tokens[3], '{"n":3}', 'c3'],
      [5, tokens[4], '{"n":4}', 'c4'],
    ]);
    expect(captured[0]).toMatchObject({
      connectionId: 1,
      streamId: 5,
      status: 200,
      outcome: 'answered',
      bodyBytes: 7,
    });
    expect(captured[0]?.headers.authorization).toMatch(/^bearer ey/);
    fx.sim.clearRequests();
    expect(fx.sim.requests()).toEqual([]);
  });

  it('counts requests by status and reason, connections, streams and pings', async () => {
    await start();
    await status();
    await status(apnsMagicToken('unregistered'));
    await new Promise<void>((resolve, reject) =>
      session.ping((error) => (error ? reject(error) : resolve())),
    );
    expect(fx.sim.counters()).toEqual({
      requests: 2,
      byStatus: { '200': 1, '410': 1 },
      byReason: { Unregistered: 1 },
      connections: 1,
      activeConnections: 1,
      streams: 2,
      stalls: 0,
      resets: 0,
      goaways: {},
      jwtVerifications: 1,
      jwtChanges: 0,
      pings: 1,
    });
  });
});
