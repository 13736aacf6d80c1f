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
 *   APNS_BENCH_CONCURRENCY  sends kept outstanding in the closed-loop runs (default 256)
 *   APNS_BENCH_RATE         offered sends/s of the open-loop runs (default 5000; 0 = skip them)
 *   APNS_BENCH_LATENCY_MS   simulator latency as P50,P99 in ms, log-normal (default 20,60)
 *   APNS_BENCH_MIN_RPS      the provider's best round must reach it (default 5000; 0 = only print)
 *
 * Method: the simulator (token auth, ES256 checks, token-gated stream limit of 1 then 1000, capture off) runs
 * in a worker thread, i.e. on the other core; the clients run in the jest thread. Each round first measures the
 * baseline — a thin node:http2 client, no library, a fixed JWT, the same connections, round robin — then a fresh
 * ApnsProvider. Both build each push with `buildApnsRequest` from the same job, so the ratio is the cost of
 * the transport (node-apn + HPNS's pool, deadline and metrics) over bare node:http2. Each run warms up for 1 s
 * (connections open, cold stream limit raised) and then counts completed sends in the window.
 *
 * Closed loop (CONCURRENCY sends outstanding, a new one as each completes) gives the most each client can do on
 * this machine; the open-loop runs afterwards offer RATE sends/s whatever the answers, and show the latency and
 * the client thread's CPU share at the target rate, i.e. the headroom.
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
const CONCURRENCY = Number(process.env.APNS_BENCH_CONCURRENCY ?? 256);
const RATE = Number(process.env.APNS_BENCH_RATE ?? 5000);
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
  // reset() also clears the fault profile, the latency model with it: put it back.
  else if (message === 'reset') { sim.reset(); sim.setFaults(workerData.options.faults ?? {}); parentPort.postMessage({ reset: true }); }
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

type Send = (job: PushJob) => Promise<string>;

/**
 * Runs `send` for the warm-up and the window and measures the window. `rate` undefined: closed loop with
 * CONCURRENCY sends outstanding; a number: open loop, that many sends/s started in 5 ms ticks.
 */
async function drive(sim: SimulatorThread, send: Send, rate?: number): Promise<RunResult> {
  const jobs = Array.from({ length: 1000 }, () => messageJob(randomToken()));
  let next = 0;
  let measuring = false;
  let stopping = false;
  let completed = 0;
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const one = async (): Promise<void> => {
    const job = jobs[next++ % jobs.length] as PushJob;
    const startedAt = performance.now();
    const counted = measuring;
    const result = await send(job);
    if (!counted || !measuring) return;
    completed += 1;
    latencies.push(performance.now() - startedAt);
    if (result !== 'delivered') failures[result] = (failures[result] ?? 0) + 1;
  };
  const pending = new Set<Promise<void>>();
  const start = (): void => {
    const promise = one();
    pending.add(promise);
    void promise.finally(() => pending.delete(promise));
  };
  let ticker: NodeJS.Timeout | undefined;
  let loops: Promise<void>[] = [];
  if (rate === undefined) {
    loops = Array.from({ length: CONCURRENCY }, async () => {
      while (!stopping) await one();
    });
  } else {
    const tickMs = 5;
    let due = 0;
    const startedAt = performance.now();
    ticker = setInterval(() => {
      const shouldHave = ((performance.now() - startedAt) / 1000) * rate;
      for (; due < shouldHave; due += 1) start();
    }, tickMs);
  }
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
  clearInterval(ticker);
  await Promise.all([...loops, ...pending]);
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
  const send: Send = (job) =>
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

const row = (round: number | string, name: string, r: RunResult) =>
  `  ${String(round).padEnd(5)} ${name.padEnd(22)} ${String(r.sendsPerSecond).padStart(7)}  ` +
  `${r.p50Ms.toFixed(1).padStart(6)}  ${r.p99Ms.toFixed(1).padStart(6)}  ` +
  `${String(Math.round(r.clientElu * 100)).padStart(4)} %  ${String(Math.round(r.simElu * 100)).padStart(4)} %  ` +
  `${JSON.stringify(r.failures)}`;

describe('ApnsProvider throughput', () => {
  const runs = ROUNDS * 2 + (RATE > 0 ? 2 : 0);
  jest.setTimeout(runs * (SECONDS * 1000 + WARMUP_MS + 10_000) + 60_000);

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

    const runRaw = async (rate?: number): Promise<RunResult> => {
      await sim.reset();
      const client = await rawClient(port, ca.caPem, jwt);
      const result = await drive(sim, client.send, rate);
      await client.close();
      return result;
    };
    const refused: number[] = [];
    const sessions: number[] = [];
    /** Runs a fresh provider, reports its row and what the provider and the simulator counted. */
    const runProvider = async (label: number | string, name: string, rate?: number): Promise<RunResult> => {
      await sim.reset();
      const provider = new ApnsProvider({
        targets: [tokenTarget(key)],
        registry: new Registry(),
        endpoints: { [TARGET]: { address: '127.0.0.1', port, caPem: ca.caPem } },
        connectionsPerEndpoint: CONNECTIONS,
      });
      const send: Send = async (job) => {
        const outcome = await provider.send(job);
        return outcome.kind === 'delivered' ? 'delivered' : `${outcome.kind}:${outcome.reason}`;
      };
      const result = await drive(sim, send, rate);
      const stats = provider.stats();
      await provider.close();
      const counters = await sim.counters();
      refused.push(stats.refusedStreams);
      sessions.push(stats.sessions);
      report(row(label, name, result));
      report(
        `        provider: ${stats.sessions} sessions, ${stats.refusedStreams} REFUSED_STREAM, ` +
          `max ${stats.maxInFlight} in flight on a connection; simulator: ${counters.requests} requests = ` +
          `${counters.streams} streams, statuses ${JSON.stringify(counters.byStatus)}, ` +
          `${counters.connections} connections`,
      );
      return result;
    };

    report('');
    report(
      `ApnsProvider benchmark: Node ${process.version}, simulator latency p50 ${P50_MS} ms / p99 ${P99_MS} ms ` +
        `(worker thread), ${CONNECTIONS} connections, ${ROUNDS} × ${SECONDS} s closed loop with ` +
        `${CONCURRENCY} sends outstanding` +
        (RATE > 0 ? `, then ${SECONDS} s open loop at ${RATE}/s offered` : ''),
    );
    report('  round client                 sends/s  p50 ms  p99 ms  client    sim  failures');
    const raw: RunResult[] = [];
    const provided: RunResult[] = [];
    for (let round = 1; round <= ROUNDS; round += 1) {
      raw.push(await runRaw());
      report(row(round, 'raw node:http2', raw[raw.length - 1] as RunResult));
      provided.push(await runProvider(round, 'ApnsProvider'));
    }
    const best = (results: RunResult[]) => Math.max(...results.map((r) => r.sendsPerSecond));
    const median = (results: RunResult[]) =>
      results.map((r) => r.sendsPerSecond).sort((a, b) => a - b)[results.length >> 1] ?? 0;
    report(
      `  closed loop, median sends/s: provider ${median(provided)}, raw ${median(raw)}, ` +
        `ratio ${(median(provided) / median(raw)).toFixed(2)}; best: provider ${best(provided)}, raw ${best(raw)}`,
    );
    let open: RunResult | undefined;
    if (RATE > 0) {
      report(row('open', `raw @ ${RATE}/s`, await runRaw(RATE)));
      open = await runProvider('open', `ApnsProvider @ ${RATE}/s`, RATE);
    }
    report(
      '  (client / sim = event-loop busy share of the jest thread and the simulator thread in the window)',
    );
    report('');
    await sim.close();

    for (const result of [...provided, ...(open === undefined ? [] : [open])]) {
      expect(result.failures).toEqual({});
    }
    expect(refused.every((count) => count === 0)).toBe(true);
    expect(sessions.every((count) => count === CONNECTIONS)).toBe(true);
    if (MIN_RPS > 0) expect(best(provided)).toBeGreaterThanOrEqual(MIN_RPS);
  });
});
