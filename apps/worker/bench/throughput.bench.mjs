// Worker throughput against the simulators (issue #5 target: ≥ 6,000 jobs/s at 20 ms median provider latency).
//
//   npm run build && node apps/worker/bench/throughput.bench.mjs [--jobs 60000] [--workers 1] [--concurrency 300]
//                                                               [--latency 20,40] [--rounds 2]
//
// Set-up, all on this machine: a redis-server of its own (AOF everysec, noeviction, as in production); the APNs,
// FCM and OAuth simulators in a worker thread (capture off) with the given latency; real worker processes
// (apps/worker/dist/main.js), configured through the environment exactly as in production.
//
// Each round:
//  1. baseline — the same providers the worker builds (createProviders from the same config), driven directly
//     from this process with the same number of sends in flight, no Redis, no queue: the delivery ceiling of
//     this machine at this latency;
//  2. queued — JOBS pushes (half APNs, half FCM) are enqueued through the real PushProducer, then the workers
//     start and drain them. The rate is counted at the simulators, between 10 % and 90 % of the jobs delivered
//     (start-up — connections, provider tokens — and the tail are left out), and also over the whole drain.
// Prints one line per measurement and a summary with the ratio queued / baseline.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { makePushNotification } from '@hpns/protocol';
import {
  createPayloadCipher,
  createProducerConnection,
  outcomeChannel,
  PushProducer,
  waitForReady,
} from '@hpns/queue';
import { createLogger, createMetricsRegistry, loadConfig, nodeConfigFiles } from '@hpns/runtime';

const here = dirname(fileURLToPath(import.meta.url));
const workerMain = resolve(here, '../dist/main.js');
const { createProviders } = await import(resolve(here, '../dist/providers.js'));

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '60000' },
    workers: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '300' },
    latency: { type: 'string', default: '20,40' },
    rounds: { type: 'string', default: '2' },
    'apns-share': { type: 'string', default: '0.5' },
    'baseline-only': { type: 'boolean', default: false },
  },
});
const JOBS = Number(values.jobs);
const WORKERS = Number(values.workers);
const CONCURRENCY = Number(values.concurrency);
const ROUNDS = Number(values.rounds);
const [P50, P99] = values.latency.split(',').map(Number);
const APNS_SHARE = Number(values['apns-share']);
const IN_FLIGHT = WORKERS * CONCURRENCY * 2; // each worker runs one consumer per provider queue

const freePort = () =>
  new Promise((resolvePort) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });

// --- the simulators, on their own thread -------------------------------------------------------------------
const SIMULATORS = `
const { parentPort, workerData } = require('node:worker_threads');
const { startSimulatorStack } = require(workerData.testkit);
let stack;
parentPort.on('message', async (m) => {
  if (m === 'counters') {
    parentPort.postMessage({ counters: { apns: stack.apns.counters().byStatus['200'] ?? 0, fcm: stack.fcm.counters().delivered } });
  } else if (m === 'eluStart') { globalThis.elu = require('node:perf_hooks').performance.eventLoopUtilization();
  } else if (m === 'eluStop') { parentPort.postMessage({ elu: require('node:perf_hooks').performance.eventLoopUtilization(globalThis.elu).utilization });
  } else if (m === 'close') { await stack.close(); parentPort.postMessage({ closed: true }); }
});
startSimulatorStack(workerData.options).then((s) => { stack = s; parentPort.postMessage({ info: s.info }); });
`;
const dir = mkdtempSync(join(tmpdir(), 'hpns-worker-bench-'));
const simThread = new Worker(SIMULATORS, {
  eval: true,
  workerData: {
    testkit: resolve(here, '../../../packages/testkit/dist/index.js'),
    options: { outputDir: dir, latency: { p50Ms: P50, p99Ms: P99 }, captureLimit: 0 },
  },
});
const ask = (message, key) =>
  new Promise((resolveAnswer) => {
    const onMessage = (m) => {
      if (m[key] === undefined) return;
      simThread.off('message', onMessage);
      resolveAnswer(m[key]);
    };
    simThread.on('message', onMessage);
    if (message !== undefined) simThread.postMessage(message);
  });
const sims = await ask(undefined, 'info');
const delivered = async () => {
  const c = await ask('counters', 'counters');
  return c.apns + c.fcm;
};

// --- Redis --------------------------------------------------------------------------------------------------
const redisPort = await freePort();
const redis = spawn(
  'redis-server',
  [
    ...['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dir, '--save', ''],
    ...['--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'],
  ],
  { stdio: 'ignore' },
);
const redisUrl = `redis://127.0.0.1:${redisPort}`;

// --- configuration, as a deployment gives it ----------------------------------------------------------------
const configFile = join(dir, 'mattermost-push-proxy.json');
writeFileSync(
  configFile,
  JSON.stringify({
    ApplePushSettings: [
      {
        Type: 'apple_rn',
        ApplePushTopic: 'com.mattermost.react.native',
        AppleAuthKeyFile: sims.apnsKeyFile,
        AppleAuthKeyID: sims.apnsKeyId,
        AppleTeamID: sims.apnsTeamId,
      },
    ],
    AndroidPushSettings: [{ Type: 'android_rn', ServiceFileLocation: sims.serviceAccountFile }],
  }),
);
const keys = [{ id: 'bench', key: randomBytes(32) }];
const env = {
  PATH: process.env.PATH,
  HPNS_CONFIG_FILE: configFile,
  HPNS_REGIONS: 'us',
  HPNS_REDIS_URL_US: redisUrl,
  HPNS_WORKER_REGION: 'us',
  HPNS_PAYLOAD_KEYS: `bench:${keys[0].key.toString('base64')}`,
  HPNS_TOKEN_HASH_KEY: randomBytes(32).toString('base64'),
  HPNS_APNS_URL: sims.apnsUrl,
  HPNS_FCM_URL: sims.fcmUrl,
  HPNS_OAUTH_TOKEN_URL: sims.oauthTokenUrl,
  HPNS_PROVIDER_CA_FILE: sims.caFile,
  HPNS_ADMIN_LISTEN_ADDRESS: '127.0.0.1:0',
  HPNS_WORKER_CONCURRENCY: String(CONCURRENCY),
  HPNS_LOG_LEVEL: 'info', // `worker.started` is an info line
};

const replyTo = outcomeChannel('us', 'bench');
let serial = 0;
function job(i) {
  const apns = (i * APNS_SHARE) % 1 < APNS_SHARE;
  const now = Date.now();
  serial += 1;
  return {
    v: 1,
    routing: {
      requestId: `b${serial.toString(36)}${randomBytes(6).toString('base64url')}`,
      replyTo,
      region: 'us',
      provider: apns ? 'apns' : 'fcm',
      targetType: apns ? 'apple_rn' : 'android_rn',
      transport: 'standard',
      appVersion: 2,
      pushType: 'message',
      acceptedAtMs: now,
      expiresAtMs: now + 3_600_000,
    },
    content: makePushNotification({
      platform: apns ? 'apple_rn-v2' : 'android_rn-v2',
      device_id: apns ? randomBytes(32).toString('hex') : `fcm-${randomBytes(60).toString('base64url')}`,
      server_id: 'bench-server',
      ack_id: randomBytes(13).toString('hex'),
      post_id: randomBytes(13).toString('hex'),
      channel_id: randomBytes(13).toString('hex'),
      message: 'alice: the release review moved to Thursday at 10:00, please bring the numbers',
      channel_name: 'Town Square',
      sender_name: 'alice',
      category: 'CAN_REPLY',
      type: 'message',
      version: 'v2',
      badge: 2,
    }),
  };
}

/** Baseline: the worker's own providers, sending directly, IN_FLIGHT at a time, for `seconds`. */
async function baseline(seconds) {
  const { config } = loadConfig(env, nodeConfigFiles);
  const logger = createLogger({ level: 'error', destination: { write: () => undefined } });
  const providers = createProviders(config, createMetricsRegistry(), logger);
  let sent = 0;
  let failed = 0;
  let counting = false;
  const warmupEnd = Date.now() + 1000;
  const end = warmupEnd + seconds * 1000;
  let i = 0;
  const loop = async () => {
    while (Date.now() < end) {
      const j = job(i++);
      const outcome = await providers[j.routing.provider].send(j);
      if (!counting && Date.now() >= warmupEnd) counting = true;
      if (!counting) continue;
      if (outcome.kind === 'delivered') sent += 1;
      else failed += 1;
    }
  };
  setTimeout(() => {
    simThread.postMessage('eluStart');
    mainElu = performance.eventLoopUtilization();
  }, 1000);
  let mainElu;
  await Promise.all(Array.from({ length: IN_FLIGHT }, loop));
  const busy = {
    main: performance.eventLoopUtilization(mainElu).utilization,
    sims: await ask('eluStop', 'elu'),
  };
  await Promise.all(Object.values(providers).map((p) => p.close()));
  return { rate: sent / seconds, failed, busy };
}

function startWorker() {
  // BENCH_WORKER_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`, profiles the workers.
  const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, workerMain], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolveStarted, reject) => {
    let out = '';
    const onData = (chunk) => {
      out += chunk.toString();
      if (out.includes('"worker.started"')) resolveStarted(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited (${code}):\n${out.slice(-2000)}`)));
  });
}

async function queued(connection, producer) {
  const before = await delivered();
  const enqueueStart = performance.now();
  for (let i = 0; i < JOBS; i += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, JOBS - i) }, (_, k) => producer.enqueue(job(i + k))),
    );
  }
  const enqueueMs = performance.now() - enqueueStart;
  const used = Number(/used_memory:(\d+)/.exec(await connection.info('memory'))[1]);
  const workers = await Promise.all(Array.from({ length: WORKERS }, startWorker));
  const start = performance.now();
  let t10;
  let t90;
  let n = 0;
  while (n < JOBS && performance.now() - start < 300_000) {
    await new Promise((r) => setTimeout(r, 25));
    n = (await delivered()) - before;
    const now = performance.now();
    if (t10 === undefined && n >= JOBS * 0.1) t10 = { at: now, n };
    if (t90 === undefined && n >= JOBS * 0.9) t90 = { at: now, n };
  }
  const totalMs = performance.now() - start;
  await Promise.all(
    workers.map(
      (w) =>
        new Promise((r) => {
          w.removeAllListeners('exit');
          w.once('exit', r);
          w.kill('SIGTERM');
        }),
    ),
  );
  return {
    enqueuePerSec: Math.round(JOBS / (enqueueMs / 1000)),
    usedMemoryMiB: Math.round(used / 1048576),
    steady: t10 && t90 ? Math.round(((t90.n - t10.n) / (t90.at - t10.at)) * 1000) : 0,
    overall: Math.round((n / totalMs) * 1000),
    delivered: n,
  };
}

const connection = createProducerConnection({ url: redisUrl });
connection.on('error', () => undefined); // refused until redis-server listens; waitForReady below waits
try {
  await waitForReady(connection, 10_000);
  const producer = new PushProducer({ region: 'us', connection, cipher: createPayloadCipher(keys) });
  console.log(
    `worker bench: ${JOBS} jobs per round, ${WORKERS} worker process(es) × concurrency ${CONCURRENCY} per queue ` +
      `(${IN_FLIGHT} in flight), simulator latency p50 ${P50} ms / p99 ${P99} ms`,
  );
  const rows = [];
  for (let round = 1; round <= ROUNDS; round += 1) {
    const base = await baseline(5);
    console.log(
      `round ${round} baseline (providers direct, no queue): ${Math.round(base.rate)} sends/s, ${base.failed} not delivered; busy: providers' thread ${Math.round(base.busy.main * 100)} %, simulators' thread ${Math.round(base.busy.sims * 100)} %`,
    );
    if (values['baseline-only']) continue;
    const q = await queued(connection, producer);
    console.log(
      `round ${round} queued: steady ${q.steady} jobs/s (10 %→90 %), overall ${q.overall} jobs/s, ` +
        `${q.delivered}/${JOBS} delivered; enqueue ${q.enqueuePerSec} jobs/s; Redis used_memory with the ` +
        `queue full ${q.usedMemoryMiB} MiB`,
    );
    rows.push({ base: base.rate, steady: q.steady });
    await connection.flushall();
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const steady = median(rows.map((r) => r.steady));
  const base = median(rows.map((r) => r.base));
  console.log(
    `summary: queued median ${steady} jobs/s, baseline median ${Math.round(base)} sends/s, ratio ${(steady / base).toFixed(2)}; ` +
      `target ≥ 6,000 jobs/s: ${steady >= 6000 ? 'met' : 'NOT met'}`,
  );
  await producer.close();
} finally {
  connection.disconnect();
  redis.kill('SIGTERM');
  await ask('close', 'closed');
  await simThread.terminate();
  rmSync(dir, { recursive: true, force: true });
}
