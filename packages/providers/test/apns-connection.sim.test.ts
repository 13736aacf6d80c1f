import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Registry } from '@hpns/runtime';
import {
  apnsMagicToken,
  createApnsSimulator,
  generateApnsKey,
  type ApnsSimulatorOptions,
} from '@hpns/testkit';
import { type DeliveryOutcome } from '@hpns/protocol';
import { type ApnsProviderOptions } from '../src/apns/apns-options';
import { ApnsProvider } from '../src/apns/apns-provider';
import {
  messageJob,
  randomToken,
  startApnsTestBed,
  TARGET,
  testCa,
  tokenTarget,
  type ApnsTestBed,
} from './apns-helpers';

const sendMany = (bed: ApnsTestBed, count: number): Promise<DeliveryOutcome[]> =>
  Promise.all(Array.from({ length: count }, () => bed.provider.send(messageJob(randomToken()))));

const kinds = (outcomes: readonly DeliveryOutcome[]): Record<string, number> =>
  outcomes.reduce<Record<string, number>>((count, outcome) => {
    const key = outcome.kind === 'delivered' ? 'delivered' : `${outcome.kind}:${outcome.reason}`;
    count[key] = (count[key] ?? 0) + 1;
    return count;
  }, {});

describe('ApnsProvider connections', () => {
  let bed: ApnsTestBed;
  const start = async (sim: ApnsSimulatorOptions = {}, provider: Partial<ApnsProviderOptions> = {}) => {
    bed = await startApnsTestBed(sim, provider);
    return bed;
  };
  afterEach(async () => bed.close());

  it('sends a cold-start burst of 200 through a token-gated stream limit: no failure, no REFUSED_STREAM (§7.4 scenario 6)', async () => {
    await start(
      {
        streamLimitMode: 'token-gated',
        maxConcurrentStreams: 50,
        faults: { latency: { p50Ms: 5, p99Ms: 20 } },
      },
      { connectionsPerEndpoint: 3 },
    );
    const outcomes = await sendMany(bed, 200);
    expect(kinds(outcomes)).toEqual({ delivered: 200 });
    // Every push reached the simulator's handler: nghttp2 refused none of them.
    expect(bed.sim.counters()).toMatchObject({ requests: 200, streams: 200, byStatus: { '200': 200 } });
    expect(bed.provider.stats()).toMatchObject({ sessions: 3, refusedStreams: 0 });
    expect(bed.provider.stats().maxInFlight).toBeLessThanOrEqual(50);
  });

  it('keeps streams in flight under the server limit and the configured cap', async () => {
    await start(
      { streamLimitMode: 'fixed', maxConcurrentStreams: 8, faults: { latency: { p50Ms: 5 } } },
      { connectionsPerEndpoint: 1, maxInFlightPerConnection: 5 },
    );
    expect(kinds(await sendMany(bed, 60))).toEqual({ delivered: 60 });
    expect(bed.provider.stats()).toMatchObject({ maxInFlight: 5, refusedStreams: 0, queued: 0 });
  });

  it('reconnects after an idle-timeout GOAWAY', async () => {
    await start({ faults: { idleTimeoutMs: 50 } }, { connectionsPerEndpoint: 1 });
    expect(kinds(await sendMany(bed, 3))).toEqual({ delivered: 3 });
    await bed.sim.whenConnections(0);
    expect(kinds(await sendMany(bed, 3))).toEqual({ delivered: 3 });
    expect(bed.sim.counters()).toMatchObject({ connections: 2, goaways: { IdleTimeout: 1 } });
  });

  it('answers 503 Shutdown retryable, reconnects after the GOAWAY, and later sends succeed (§7.4 scenario 3)', async () => {
    await start({}, { connectionsPerEndpoint: 1 });
    expect(kinds(await sendMany(bed, 5))).toEqual({ delivered: 5 });
    bed.sim.setFaults({ shutdown: true });
    const during = await sendMany(bed, 20);
    // The first is answered 503 Shutdown. Streams above the GOAWAY's last stream id are closed by the client
    // with REFUSED_STREAM (RFC 9113 §6.8: not processed, safe to send again): all retryable, none lost for good.
    expect(during).toContainEqual({ kind: 'retryable', reason: 'Shutdown', statusCode: 503 });
    for (const outcome of during) {
      expect(outcome).toMatchObject({
        kind: 'retryable',
        reason: expect.stringMatching(/^(Shutdown|refused_stream|goaway)$/),
      });
    }
    bed.sim.setFaults({});
    expect(kinds(await sendMany(bed, 20))).toEqual({ delivered: 20 });
    expect(bed.sim.counters()).toMatchObject({ goaways: { Shutdown: 1 }, connections: 2 });
    expect(bed.provider.stats()).toMatchObject({ goaways: 1, sessions: 2 });
  });

  it('answers every stream in flight retryable when the TCP connection is reset, then reconnects (§7.4 scenario 4)', async () => {
    await start({ faults: { latency: { p50Ms: 2000 } } }, { connectionsPerEndpoint: 1 });
    bed.sim.updateFaults({ latency: { p50Ms: 0 } });
    expect(kinds(await sendMany(bed, 1))).toEqual({ delivered: 1 });
    bed.sim.updateFaults({ latency: { p50Ms: 2000 } });
    const inFlight = sendMany(bed, 10);
    const reset = bed.provider.send(messageJob(apnsMagicToken('reset')));
    // Unknown fate (they may have reached APNs): retryable, named after the socket error.
    expect(kinds([...(await inFlight), await reset])).toEqual({ 'retryable:ECONNRESET': 11 });
    bed.sim.updateFaults({ latency: { p50Ms: 0 } });
    expect(kinds(await sendMany(bed, 3))).toEqual({ delivered: 3 });
    expect(bed.sim.counters()).toMatchObject({ connections: 2, resets: 1 });
  });

  it('times out a stalled push, cancels its stream and frees its slot', async () => {
    await start({}, { connectionsPerEndpoint: 1, maxInFlightPerConnection: 1, requestTimeoutMs: 300 });
    bed.sim.injectNext(1, 'stall');
    const startedAt = Date.now();
    expect(await bed.provider.send(messageJob(randomToken()))).toEqual({
      kind: 'retryable',
      reason: 'timeout',
      statusCode: 0,
    });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(290);
    // With one slot, this goes through only if the stalled stream was cancelled and released.
    expect(await bed.provider.send(messageJob(randomToken()))).toEqual({
      kind: 'delivered',
      statusCode: 200,
    });
    expect(bed.sim.counters()).toMatchObject({ stalls: 1, connections: 1 });
  });

  it('times out a push that waited too long for a free stream', async () => {
    await start({}, { connectionsPerEndpoint: 1, maxInFlightPerConnection: 1, requestTimeoutMs: 300 });
    bed.sim.injectNext(1, 'stall');
    const [stalled, queued] = await Promise.all([
      bed.provider.send(messageJob(randomToken())),
      bed.provider.send(messageJob(randomToken())),
    ]);
    expect(stalled).toMatchObject({ kind: 'retryable', reason: 'timeout' });
    expect(queued).toMatchObject({ kind: 'retryable', reason: 'timeout' });
    expect(bed.sim.counters().requests).toBe(1);
  });

  it('answers retryable queue_full at once when maxQueuedPerEndpoint sends already wait', async () => {
    await start(
      {},
      {
        connectionsPerEndpoint: 1,
        maxInFlightPerConnection: 1,
        maxQueuedPerEndpoint: 2,
        requestTimeoutMs: 300,
      },
    );
    bed.sim.injectNext(1, 'stall');
    const waiting = [1, 2, 3].map(() => bed.provider.send(messageJob(randomToken())));
    expect(await bed.provider.send(messageJob(randomToken()))).toEqual({
      kind: 'retryable',
      reason: 'queue_full',
      statusCode: 0,
    });
    expect(kinds(await Promise.all(waiting))).toEqual({ 'retryable:timeout': 3 });
  });

  describe('abort signal', () => {
    it('answers retryable aborted at once for an aborted signal, sending nothing', async () => {
      await start();
      expect(await bed.provider.send(messageJob(randomToken()), AbortSignal.abort())).toEqual({
        kind: 'retryable',
        reason: 'aborted',
        statusCode: 0,
      });
      expect(bed.sim.counters().requests).toBe(0);
    });

    it('cancels a push held by the server on abort and frees its stream', async () => {
      await start({}, { connectionsPerEndpoint: 1, maxInFlightPerConnection: 1 });
      expect(await bed.provider.send(messageJob(randomToken()))).toMatchObject({ kind: 'delivered' });
      bed.sim.injectNext(1, 'stall');
      // The signal fires while the simulator holds the stream (it never answers a stalled push).
      const pending = bed.provider.send(messageJob(randomToken()), AbortSignal.timeout(100));
      // One slot: this goes through only once the aborted stream has been cancelled and released.
      const next = bed.provider.send(messageJob(randomToken()));
      expect(await pending).toEqual({ kind: 'retryable', reason: 'aborted', statusCode: 0 });
      expect(await next).toEqual({ kind: 'delivered', statusCode: 200 });
      expect(bed.sim.counters()).toMatchObject({ stalls: 1, requests: 3, connections: 1 });
    });

    it('cancels a push still waiting for its connection on abort', async () => {
      await start({}, { connectionsPerEndpoint: 1, maxInFlightPerConnection: 1 });
      const controller = new AbortController();
      const pending = bed.provider.send(messageJob(randomToken()), controller.signal);
      const next = bed.provider.send(messageJob(randomToken()));
      controller.abort();
      expect(await pending).toEqual({ kind: 'retryable', reason: 'aborted', statusCode: 0 });
      expect(await next).toEqual({ kind: 'delivered', statusCode: 200 });
    });

    it('drops a queued push on abort without sending it', async () => {
      await start({}, { connectionsPerEndpoint: 1, maxInFlightPerConnection: 1, requestTimeoutMs: 300 });
      bed.sim.injectNext(1, 'stall');
      const stalled = bed.provider.send(messageJob(randomToken()));
      const controller = new AbortController();
      const queued = bed.provider.send(messageJob(randomToken()), controller.signal);
      controller.abort();
      expect(await queued).toEqual({ kind: 'retryable', reason: 'aborted', statusCode: 0 });
      expect(await stalled).toMatchObject({ kind: 'retryable', reason: 'timeout' });
      expect(bed.sim.counters().requests).toBe(1);
    });
  });

  it('close() answers in-flight and queued pushes retryable closed, closes its connections, and is idempotent', async () => {
    await start({}, { connectionsPerEndpoint: 1, maxInFlightPerConnection: 1 });
    bed.sim.injectNext(1, 'stall');
    const stalled = bed.provider.send(messageJob(randomToken()));
    const queued = bed.provider.send(messageJob(randomToken()));
    const closing = bed.provider.close();
    expect(bed.provider.close()).toBe(closing);
    await closing;
    expect(await stalled).toEqual({ kind: 'retryable', reason: 'closed', statusCode: 0 });
    expect(await queued).toEqual({ kind: 'retryable', reason: 'closed', statusCode: 0 });
    expect(await bed.provider.send(messageJob(randomToken()))).toEqual({
      kind: 'retryable',
      reason: 'closed',
      statusCode: 0,
    });
    await bed.sim.whenConnections(0);
  });
});

describe('ApnsProvider transport failures', () => {
  const key = generateApnsKey();
  const provider = (port: number, options: Partial<ApnsProviderOptions> & { caPem?: string } = {}) => {
    const { caPem, ...rest } = options;
    return new ApnsProvider({
      targets: [tokenTarget(key)],
      registry: new Registry(),
      endpoints: { [TARGET]: { address: '127.0.0.1', port, ...(caPem === undefined ? {} : { caPem }) } },
      ...rest,
    });
  };

  it('answers retryable tls_error when the server certificate is not trusted', async () => {
    const sim = await createApnsSimulator({ tls: testCa() });
    const apns = provider(sim.port);
    try {
      expect(await apns.send(messageJob(randomToken()))).toEqual({
        kind: 'retryable',
        reason: 'tls_error',
        statusCode: 0,
      });
      expect(sim.counters().requests).toBe(0);
    } finally {
      await apns.close();
      await sim.close();
    }
  });

  it('drops a connection whose handshake does not complete within connectTimeoutMs, and connects afresh', async () => {
    // A TCP peer that accepts and never speaks TLS: http2.connect has no connect timeout of its own.
    const sockets = new Set<Socket>();
    let accepted = 0;
    const silent = createServer((socket) => {
      accepted += 1;
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const apns = provider(port, { connectionsPerEndpoint: 1, connectTimeoutMs: 100 });
    try {
      for (let attempt = 1; attempt <= 2; attempt += 1) {
        expect(await apns.send(messageJob(randomToken()))).toEqual({
          kind: 'retryable',
          reason: 'ETIMEDOUT',
          statusCode: 0,
        });
      }
      expect(accepted).toBe(2);
    } finally {
      await apns.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('answers retryable ECONNREFUSED when nothing listens', async () => {
    const sim = await createApnsSimulator({ tls: testCa() });
    const { port } = sim;
    await sim.close();
    const apns = provider(port, { caPem: testCa().caPem });
    try {
      expect(await apns.send(messageJob(randomToken()))).toEqual({
        kind: 'retryable',
        reason: 'ECONNREFUSED',
        statusCode: 0,
      });
    } finally {
      await apns.close();
    }
  });
});
