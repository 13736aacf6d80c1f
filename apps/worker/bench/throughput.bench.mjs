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
//
// CPU accounting (Linux /proc): for each measurement, the CPU time (user + system) spent over the measured
// window by each component, divided by the jobs (sends) counted in it — the worker process(es) (and their main
// threads alone: the event loop, the rest being V8's GC helpers) and redis-server from /proc/<pid>/stat, this
// process split into the simulators' thread (its own /proc/thread-self/stat, read on that thread), this
// process's main thread (/proc/self/task/<pid>) and its other threads (GC helpers, libuv pool: the rest of
// /proc/self/stat). The total CPU-µs per job gives the ceiling of this machine for that workload:
// os.availableParallelism() × 1e6 / total µs per job, printed as "implied ceiling". The same for the enqueue
// phase gives Redis's cost of adding a job. The whole machine's busy time from /proc/stat, the part of it
// outside this bench, and the load average at start and end show runs disturbed by something else on the
// machine: compare quiet runs only. Also printed: TLS connections the simulators accepted (reconnects would be
// per-job cost) and Redis's INFO commandstats per job for the drain.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
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
import { machineCpu, parseStatCpu, processCpu, startTestRedis } from '@hpns/testkit';

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

// --- the simulators, on their own thread -------------------------------------------------------------------
const SIMULATORS = `
const { parentPort, workerData } = require('node:worker_threads');
const { startSimulatorStack } = require(workerData.testkit);
let stack;
parentPort.on('message', async (m) => {
  if (m === 'counters') {
    const apns = stack.apns.counters();
    const fcm = stack.fcm.counters();
    parentPort.postMessage({ counters: { apns: apns.byStatus['200'] ?? 0, fcm: fcm.delivered, apnsConnections: apns.connections, fcmConnections: fcm.connections.total } });
  } else if (m === 'eluStart') { globalThis.elu = require('node:perf_hooks').performance.eventLoopUtilization();
  } else if (m === 'eluStop') { parentPort.postMessage({ elu: require('node:perf_hooks').performance.eventLoopUtilization(globalThis.elu).utilization });
  } else if (m === 'cpu') { parentPort.postMessage({ cpu: require('node:fs').readFileSync('/proc/thread-self/stat', 'utf8') });
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
const deliveredApns = async () => (await ask('counters', 'counters')).apns;
/** TLS connections the simulators accepted so far: reconnects would show up as per-job handshake cost. */
const connectionsOpened = async () => {
  const c = await ask('counters', 'counters');
  return { apns: c.apnsConnections, fcm: c.fcmConnections };
};
const connectionsLine = (label, before, after) =>
  `${label} connections opened: APNs ${after.apns - before.apns}, FCM ${after.fcm - before.fcm}`;

// --- CPU accounting ----------------------------------------------------------------------------------------
const CPUS = availableParallelism();
const plus = (a, b) => ({ total: a.total + b.total, sys: a.sys + b.sys });
const minus = (a, b) => ({ total: a.total - b.total, sys: a.sys - b.sys });
/** CPU µs so far of every component: the workers (pids), redis, and this process split by thread. */
async function cpuSnapshot(workerPids = []) {
  const sims = parseStatCpu(await ask('cpu', 'cpu'));
  const self = processCpu('self');
  const main = processCpu('self', process.pid);
  // The whole machine (first line of /proc/stat, in µs): all busy time, and the time stolen by the
  // hypervisor — CPU this machine's processes wanted but did not get.
  const machine = machineCpu();
  return {
    machineBusy: machine.busy,
    machineSteal: machine.steal,
    worker: workerPids.map((pid) => processCpu(pid)).reduce(plus, { total: 0, sys: 0 }),
    // The workers' main threads alone (the event loops; the rest is V8's GC helpers and libuv's pool).
    workerMain: workerPids.map((pid) => processCpu(pid, pid)).reduce(plus, { total: 0, sys: 0 }),
    redis: processCpu(redis.pid),
    sims,
    benchMain: main,
    benchOther: minus(minus(self, main), sims),
  };
}
const COMPONENTS = [
  ['worker', 'worker'],
  ['redis', 'redis'],
  ['sims', "simulators' thread"],
  ['benchMain', 'bench main thread'],
  ['benchOther', 'bench other threads'],
];
/** CPU-µs per job of each component between two snapshots, and the ceiling they imply on this machine. */
function cpuPerJob(before, after, jobs, wallMs) {
  const per = {};
  let total = 0;
  for (const [key] of COMPONENTS) {
    const used = minus(after[key], before[key]);
    per[key] = {
      total: used.total / jobs,
      sysShare: used.total > 0 ? Math.max(0, used.sys / used.total) : 0,
    };
    total += per[key].total;
  }
  const busyCores = (total * jobs) / (wallMs * 1000);
  const machine = {
    busyCores: (after.machineBusy - before.machineBusy) / (wallMs * 1000),
    stealCores: (after.machineSteal - before.machineSteal) / (wallMs * 1000),
  };
  const workerMain =
    after.workerMain === undefined ? undefined : minus(after.workerMain, before.workerMain).total;
  return {
    per,
    total,
    ceiling: (CPUS * 1e6) / total,
    busyCores,
    machine,
    workerMain:
      workerMain === undefined || !(workerMain > 0)
        ? undefined
        : { perJob: workerMain / jobs, cores: workerMain / (wallMs * 1000) / WORKERS },
  };
}
const cpuLine = (label, cpu, include = COMPONENTS.map(([key]) => key)) =>
  `${label} CPU-µs per job: ` +
  COMPONENTS.filter(([key]) => include.includes(key))
    .map(
      ([key, name]) =>
        `${name} ${Math.round(cpu.per[key].total)} (${Math.round(cpu.per[key].sysShare * 100)} % sys` +
        (key === 'worker' && cpu.workerMain !== undefined
          ? `; main thread ${Math.round(cpu.workerMain.perJob)}, busy ${Math.round(cpu.workerMain.cores * 100)} % of a core)`
          : ')'),
    )
    .join(', ') +
  `; total ${Math.round(cpu.total)} µs/job (${cpu.busyCores.toFixed(2)} of ${CPUS} cores busy) → implied ceiling ` +
  `${Math.round(cpu.ceiling)} jobs/s on ${CPUS} cores; whole machine ${cpu.machine.busyCores.toFixed(2)} cores busy ` +
  `(${Math.max(0, cpu.machine.busyCores - cpu.busyCores).toFixed(2)} outside this bench: a noisy run when high), ` +
  `${cpu.machine.stealCores.toFixed(2)} stolen by the hypervisor`;
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

// --- Redis --------------------------------------------------------------------------------------------------
// AOF everysec and noeviction, as in production.
const redis = await startTestRedis({ appendOnly: true });
const redisUrl = redis.url;

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
  const connectionsBefore = await connectionsOpened();
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
  let cpuStart;
  let windowStart;
  setTimeout(() => {
    simThread.postMessage('eluStart');
    mainElu = performance.eventLoopUtilization();
    windowStart = performance.now();
    cpuStart = cpuSnapshot();
  }, 1000);
  let mainElu;
  await Promise.all(Array.from({ length: IN_FLIGHT }, loop));
  const cpuEnd = await cpuSnapshot();
  const wallMs = performance.now() - windowStart;
  const busy = {
    main: performance.eventLoopUtilization(mainElu).utilization,
    sims: await ask('eluStop', 'elu'),
  };
  await Promise.all(Object.values(providers).map((p) => p.close()));
  return {
    connections: [connectionsBefore, await connectionsOpened()],
    rate: sent / seconds,
    failed,
    busy,
    cpu: cpuPerJob(await cpuStart, cpuEnd, sent + failed, wallMs),
  };
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
  const connectionsBefore = await connectionsOpened();
  const enqueueCpuStart = await cpuSnapshot();
  const enqueueStart = performance.now();
  for (let i = 0; i < JOBS; i += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, JOBS - i) }, (_, k) => producer.enqueue(job(i + k))),
    );
  }
  const enqueueMs = performance.now() - enqueueStart;
  // The ingress side of a push: Redis adding it, and this process building and sealing it (PushProducer).
  const enqueueCpu = cpuPerJob(enqueueCpuStart, await cpuSnapshot(), JOBS, enqueueMs);
  const used = Number(/used_memory:(\d+)/.exec(await connection.info('memory'))[1]);
  await connection.config('RESETSTAT');
  const workers = await Promise.all(Array.from({ length: WORKERS }, startWorker));
  const pids = workers.map((w) => w.pid);
  const cpuStart = await cpuSnapshot(pids);
  const start = performance.now();
  let t10;
  let t90;
  let n = 0;
  while (n < JOBS && performance.now() - start < 300_000) {
    await new Promise((r) => setTimeout(r, 25));
    n = (await delivered()) - before;
    const now = performance.now();
    if (t10 === undefined && n >= JOBS * 0.1)
      t10 = { at: now, n, apns: await deliveredApns(), cpu: await cpuSnapshot(pids) };
    if (t90 === undefined && n >= JOBS * 0.9)
      t90 = { at: now, n, apns: await deliveredApns(), cpu: await cpuSnapshot(pids) };
  }
  const totalMs = performance.now() - start;
  const cpuEnd = await cpuSnapshot(pids);
  // Redis's own account of the drain (calls and µs per command, from INFO commandstats), per job delivered.
  const redisCommands = [
    ...(await connection.info('commandstats')).matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g),
  ]
    .map(([, name, calls, usec]) => ({ name, calls: Number(calls) / n, usec: Number(usec) / n }))
    .filter((c) => c.name !== 'info')
    .sort((a, b) => b.usec - a.usec);
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
    enqueueCpu,
    usedMemoryMiB: Math.round(used / 1048576),
    steady: t10 && t90 ? Math.round(((t90.n - t10.n) / (t90.at - t10.at)) * 1000) : 0,
    // APNs and FCM pushes cost differently (the FCM simulator's HTTP/1.1 most): the mix in the window matters.
    steadyApnsShare: t10 && t90 ? (t90.apns - t10.apns) / (t90.n - t10.n) : undefined,
    overall: Math.round((n / totalMs) * 1000),
    delivered: n,
    cpuSteady: t10 && t90 ? cpuPerJob(t10.cpu, t90.cpu, t90.n - t10.n, t90.at - t10.at) : undefined,
    cpuDrain: cpuPerJob(cpuStart, cpuEnd, n, totalMs),
    redisCommands,
    connections: [connectionsBefore, await connectionsOpened()],
  };
}

const connection = createProducerConnection({ url: redisUrl });
connection.on('error', () => undefined); // refused until redis-server listens; waitForReady below waits
try {
  await waitForReady(connection, 10_000);
  const producer = new PushProducer({ region: 'us', connection, cipher: createPayloadCipher(keys) });
  console.log(`load average at start: ${load()} (1, 5, 15 min; ${CPUS} CPUs)`);
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
    console.log(
      cpuLine(`round ${round} baseline`, base.cpu, ['redis', 'sims', 'benchMain', 'benchOther']).replace(
        'bench main thread',
        'bench main thread (providers)',
      ),
    );
    console.log(connectionsLine(`round ${round} baseline`, ...base.connections));
    if (values['baseline-only']) {
      rows.push({ base: base.rate });
      continue;
    }
    const q = await queued(connection, producer);
    console.log(
      `round ${round} queued: steady ${q.steady} jobs/s (10 %→90 %, ` +
        `${Math.round((q.steadyApnsShare ?? NaN) * 100)} % APNs), overall ${q.overall} jobs/s, ` +
        `${q.delivered}/${JOBS} delivered; enqueue ${q.enqueuePerSec} jobs/s; Redis used_memory with the ` +
        `queue full ${q.usedMemoryMiB} MiB`,
    );
    console.log(
      `round ${round} enqueue (before the workers start) CPU-µs per job: redis ` +
        `${Math.round(q.enqueueCpu.per.redis.total)}, bench main thread (job generation + PushProducer) ` +
        `${Math.round(q.enqueueCpu.per.benchMain.total)}: Redis's share of a push is this plus its share below`,
    );
    if (q.cpuSteady !== undefined)
      console.log(cpuLine(`round ${round} queued steady (10 %→90 %)`, q.cpuSteady));
    console.log(cpuLine(`round ${round} queued whole drain`, q.cpuDrain));
    console.log(connectionsLine(`round ${round} queued`, ...q.connections));
    console.log(
      `round ${round} queued Redis commands per job (whole drain; calls, µs inside Redis, wall clock; evalsha ` +
        `includes the commands its scripts run, listed again on their own): ` +
        q.redisCommands
          .slice(0, 8)
          .map((c) => `${c.name} ${c.calls.toFixed(2)} × ${c.usec.toFixed(1)} µs`)
          .join(', '),
    );
    rows.push({ base: base.rate, steady: q.steady });
    await connection.flushall();
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const steady = median(rows.map((r) => r.steady));
  const base = median(rows.map((r) => r.base));
  if (values['baseline-only']) console.log(`summary: baseline median ${Math.round(base)} sends/s`);
  else
    console.log(
      `summary: queued median ${steady} jobs/s, baseline median ${Math.round(base)} sends/s, ratio ${(steady / base).toFixed(2)}; ` +
        `target ≥ 6,000 jobs/s: ${steady >= 6000 ? 'met' : 'NOT met'}`,
    );
  console.log(`load average at end: ${load()}`);
  await producer.close();
} finally {
  connection.disconnect();
  await redis.stop();
  await ask('close', 'closed');
  await simThread.terminate();
  rmSync(dir, { recursive: true, force: true });
}
