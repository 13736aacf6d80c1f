/**
 * ApnsProvider throughput against the APNs simulator (issue 4 acceptance: ≥ 5,000 sends/s for one APNs target at
 * 20 ms median provider latency, with no REFUSED_STREAM). Run from the repository root:
 *
 *   npx jest -c packages/providers/jest.config.js --testMatch '<rootDir>/bench/apns-*.bench.ts' --runInBand
 *
 * It is not part of `npm test` (the preset's testMatch is test/**\/*.test.ts). Knobs, all optional:
 *   APNS_BENCH_SECONDS      measured window per round, s (default 5)
 *   APNS_BENCH_ROUNDS       rounds, each a raw-client run then a provider run (default 3)
 *   APNS_BENCH_CONNECTIONS  HTTP/2 connections, for both clients (default 4, the provider's default)
 *   APNS_BENCH_CONCURRENCY  sends kept outstanding, closed loop (default 512)
 *   APNS_BENCH_LATENCY_MS   simulator latency as P50,P99 in ms, log-normal (default 20,60)
 *   APNS_BENCH_MIN_RPS      the provider's best round must reach it (default 5000; 0 = only print)
 *
 * Method: the simulator (token auth, ES256 checks, token-gated stream limit of 1 then 1000, capture off) runs
 * in a worker thread, i.e. on the other core; the clients run in the jest thread. Each round first measures the
 * baseline — a thin node:http2 client, no library, a fixed JWT, the same connections, round robin — then a fresh
 * ApnsProvider. Both build each push with `buildApnsRequest` from the same job, so the ratio is the cost of
 * the transport (node-apn + HPNS's pool, deadline and metrics) over bare node:http2. Each run warms up for 1 s
 * (connections open, cold stream limit raised) and then counts completed sends in the window.
 */
import { connect, type ClientHttp2Session } from 'node:http2';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { buildApnsRequest, type PushJob } from '@hpns/protocol';
import { Registry } from '@hpns/runtime';
import { generateApnsKey, signApnsProviderToken } from '@hpns/testkit';
import { ApnsProvider } from '../src/apns/apns-provider';
import { BUNDLE_ID, messageJob, randomToken, TARGET, testCa, tokenTarget } from '../test/apns-helpers';

const SECONDS = Number(process.env.APNS_BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.APNS_BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.APNS_BENCH_CONNECTIONS ?? 4);
const CONCURRENCY = Number(process.env.APNS_BENCH_CONCURRENCY ?? 512);
const [P50_MS, P99_MS] = (process.env.APNS_BENCH_LATENCY_MS ?? '20,60').split(',').map(Number) as [
  number,
  number,
];
const MIN_RPS = Number(process.env.APNS_BENCH_MIN_RPS ?? 5000);
const WARMUP_MS = 1000;

/** The simulator worker: loads the testkit's TypeScript sources through @swc/core, as jest does. */
const SIMULATOR_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const Module = require('node:module');
const fs = require('node:fs');
const { transformSync } = require(workerData.swcPath);
Module._extensions['.ts'] = (module, filename) => {
  const options = { filename, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } };
  module._compile(transformSync(fs.readFileSync(filename, 'utf8'), options).code, filename);
};
const { createApnsSimulator } = require(workerData.testkitPath);
let sim, elu;
parentPort.on('message', async (message) => {
  if (message === 'counters') parentPort.postMessage({ counters: sim.counters() });
  else if (message === 'reset') { sim.reset(); parentPort.postMessage({ reset: true }); }
  else if (message === 'eluStart') elu = performance.eventLoopUtilization();
  else if (message === 'eluStop') parentPort.postMessage({ elu: performance.eventLoopUtilization(elu).utilization });
  else if (message === 'close') { await sim.close(); parentPort.postMessage({ closed: true }); }
});
createApnsSimulator(workerData.options).then((created) => {
  sim = created;
  parentPort.postMessage({ port: sim.port });
});
`;

interface SimCounters {
  requests: number;
  streams: number;
  byStatus: Record<string, number>;
  connections: number;
  jwtChanges: number;
}

class SimulatorThread {
  readonly #worker: Worker;
  #waiting: ((message: Record<string, unknown>) => void)[] = [];

  constructor(options: Record<string, unknown>) {
    this.#worker = new Worker(SIMULATOR_WORKER, {
      eval: true,
      execArgv: ['--conditions=hpns-source'],
      workerData: {
        options,
        swcPath: require.resolve('@swc/core'),
        testkitPath: require.resolve('@hpns/testkit'),
      },
    });
    this.#worker.on('message', (message: Record<string, unknown>) => this.#waiting.shift()?.(message));
  }

  #ask(message: string): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#worker.postMessage(message);
    });
  }

  async port(): Promise<number> {
    return new Promise((resolve) => this.#waiting.push((message) => resolve(message.port as number)));
  }

  async counters(): Promise<SimCounters> {
    return (await this.#ask('counters')).counters as SimCounters;
  }

  reset = () => this.#ask('reset');
  eluStart = () => this.#worker.postMessage('eluStart');
  eluStop = async () => (await this.#ask('eluStop')).elu as number;

  async close(): Promise<void> {
    await this.#ask('close');
    await this.#worker.terminate();
  }
}

interface RunResult {
  sendsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  failures: Record<string, number>;
  clientElu: number;
  simElu: number;
}

/** Keeps CONCURRENCY sends outstanding; after the warm-up, counts those completing in the window. */
async function drive(sim: SimulatorThread, send: (job: PushJob) => Promise<string>): Promise<RunResult> {
  const tokens = Array.from({ length: 1000 }, randomToken);
  const jobs = tokens.map((token) => messageJob(token));
  let next = 0;
  let measuring = false;
  let stopping = false;
  let completed = 0;
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const loop = async (): Promise<void> => {
    while (!stopping) {
      const job = jobs[next++ % jobs.length] as PushJob;
      const startedAt = performance.now();
      const result = await send(job);
      if (!measuring) continue;
      completed += 1;
      latencies.push(performance.now() - startedAt);
      if (result !== 'delivered') failures[result] = (failures[result] ?? 0) + 1;
    }
  };
  const loops = Array.from({ length: CONCURRENCY }, loop);
  await delay(WARMUP_MS);
  measuring = true;
  sim.eluStart();
  const elu: EventLoopUtilization = performance.eventLoopUtilization();
  const startedAt = performance.now();
  await delay(SECONDS * 1000);
  measuring = false;
  const elapsedMs = performance.now() - startedAt;
  const clientElu = performance.eventLoopUtilization(elu).utilization;
  const simElu = await sim.eluStop();
  stopping = true;
  await Promise.all(loops);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    sendsPerSecond: Math.round((completed / elapsedMs) * 1000),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    failures,
    clientElu,
    simElu,
  };
}

/** The baseline: CONNECTIONS bare HTTP/2 sessions, a fixed JWT, round robin; a REFUSED_STREAM counts as failure. */
async function rawClient(port: number, caPem: string, jwt: string) {
  const sessions: ClientHttp2Session[] = [];
  for (let i = 0; i < CONNECTIONS; i += 1) {
    const session = connect(`https://127.0.0.1:${port}`, { ca: caPem, peerMaxConcurrentStreams: 1 });
    session.on('error', () => undefined);
    sessions.push(session);
  }
  let turn = 0;
  const send = (job: PushJob): Promise<string> =>
    new Promise((resolve) => {
      const request = buildApnsRequest(job.content, {
        topic: BUNDLE_ID,
        transport: 'standard',
        appVersion: 2,
      });
      const session = sessions[turn++ % sessions.length] as ClientHttp2Session;
      const stream = session.request({
        ':method': 'POST',
        ':path': request.path,
        authorization: `bearer ${jwt}`,
        ...request.headers,
      });
      let status = 0;
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', () => undefined);
      stream.on('error', () => undefined);
      stream.on('close', () =>
        resolve(status === 200 ? 'delivered' : status === 0 ? `rst ${stream.rstCode}` : `${status}`),
      );
      stream.end(request.body);
    });
  // One push per session opens the token-gated stream limit, as the provider's first push does.
  await Promise.all(sessions.map(() => send(messageJob(randomToken()))));
  return {
    send,
    close: () => Promise.all(sessions.map((s) => new Promise<void>((resolve) => s.close(resolve)))),
  };
}

function report(line: string): void {
  // Straight to stdout: console is linted out, and jest would decorate console output.
  process.stdout.write(`${line}\n`);
}

const row = (round: number, name: string, r: RunResult) =>
  `  ${String(round).padEnd(5)} ${name.padEnd(22)} ${String(r.sendsPerSecond).padStart(7)}  ` +
  `${r.p50Ms.toFixed(1).padStart(6)}  ${r.p99Ms.toFixed(1).padStart(6)}  ` +
  `${String(Math.round(r.clientElu * 100)).padStart(4)} %  ${String(Math.round(r.simElu * 100)).padStart(4)} %  ` +
  `${JSON.stringify(r.failures)}`;

describe('ApnsProvider throughput', () => {
  jest.setTimeout(ROUNDS * 2 * (SECONDS * 1000 + WARMUP_MS + 10_000) + 60_000);

  it(`sends at least ${MIN_RPS} pushes/s to one APNs target at ${P50_MS} ms median latency`, async () => {
    const ca = testCa();
    const key = generateApnsKey();
    const sim = new SimulatorThread({
      tls: ca,
      keys: [
        {
          keyId: key.keyId,
          teamId: key.teamId,
          publicKey: key.publicKey.export({ type: 'spki', format: 'pem' }),
        },
      ],
      faults: { latency: { p50Ms: P50_MS, p99Ms: P99_MS } },
      captureLimit: 0,
    });
    const port = await sim.port();
    const jwt = signApnsProviderToken({
      privateKeyPem: key.privateKeyPem,
      keyId: key.keyId,
      teamId: key.teamId,
    });

    report('');
    report(
      `ApnsProvider benchmark: Node ${process.version}, simulator latency p50 ${P50_MS} ms / p99 ${P99_MS} ms ` +
        `(worker thread), ${CONNECTIONS} connections, ${CONCURRENCY} sends outstanding, ${ROUNDS} × ${SECONDS} s`,
    );
    report('  round client                 sends/s  p50 ms  p99 ms  client    sim  failures');
    const raw: RunResult[] = [];
    const provided: RunResult[] = [];
    const refused: number[] = [];
    const sessions: number[] = [];
    for (let round = 1; round <= ROUNDS; round += 1) {
      await sim.reset();
      const client = await rawClient(port, ca.caPem, jwt);
      raw.push(await drive(sim, client.send));
      await client.close();
      report(row(round, 'raw node:http2', raw[raw.length - 1] as RunResult));

      await sim.reset();
      const provider = new ApnsProvider({
        targets: [tokenTarget(key)],
        registry: new Registry(),
        endpoints: { [TARGET]: { address: '127.0.0.1', port, caPem: ca.caPem } },
        connectionsPerEndpoint: CONNECTIONS,
      });
      provided.push(
        await drive(sim, async (job) => {
          const outcome = await provider.send(job);
          return outcome.kind === 'delivered' ? 'delivered' : `${outcome.kind}:${outcome.reason}`;
        }),
      );
      const stats = provider.stats();
      refused.push(stats.refusedStreams);
      sessions.push(stats.sessions);
      await provider.close();
      const counters = await sim.counters();
      report(row(round, 'ApnsProvider', provided[provided.length - 1] as RunResult));
      report(
        `        provider: ${stats.sessions} sessions, ${stats.refusedStreams} REFUSED_STREAM, max ${stats.maxInFlight} ` +
          `in flight on a connection; simulator: ${counters.requests} requests = ${counters.streams} streams, ` +
          `statuses ${JSON.stringify(counters.byStatus)}, ${counters.connections} connections`,
      );
    }
    await sim.close();

    const best = (results: RunResult[]) => Math.max(...results.map((r) => r.sendsPerSecond));
    const median = (results: RunResult[]) =>
      results.map((r) => r.sendsPerSecond).sort((a, b) => a - b)[results.length >> 1] ?? 0;
    report(
      `  median sends/s: provider ${median(provided)}, raw ${median(raw)}, ratio ${(median(provided) / median(raw)).toFixed(2)}` +
        `; best: provider ${best(provided)}, raw ${best(raw)}`,
    );
    report(
      '  (client / sim = event-loop busy share of the jest thread and the simulator thread in the window)',
    );
    report('');

    for (const result of provided) expect(result.failures).toEqual({});
    expect(refused.every((count) => count === 0)).toBe(true);
    expect(sessions.every((count) => count === CONNECTIONS)).toBe(true);
    if (MIN_RPS > 0) expect(best(provided)).toBeGreaterThanOrEqual(MIN_RPS);
  });
});
