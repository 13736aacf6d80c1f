// Ingress accept-path benchmark (issue: ≥ 12,000 send_push/s with p99 ≤ 25 ms, and ≥ 50 % of a bare node:http
// JSON server measured in the same run). Everything runs on this machine: a private redis-server, the built
// ingress (apps/ingress/dist/main.js, HPNS_WAIT_MS=0 so it answers as soon as the push is queued), the bare
// baseline server, and the load-test kit's generator (apps/loadtest, runLoad) in this process.
//
//   npm run build && node apps/ingress/bench/accept.bench.mjs [--duration 10] [--connections 100] [--rate N]
//
// Prints both results and the ratio. Numbers vary with the machine's load: compare the ratio, not absolutes.
import { fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArrivalSchedule, parseTarget, runLoad, summarize } from '@hpns/loadtest';
import { makePushNotification } from '@hpns/protocol';
import {
  createPayloadCipher,
  createProducerConnection,
  IdempotencyStore,
  PushProducer,
  waitForReady,
} from '@hpns/queue';
import { CpuMeter, formatCpuReport, freePort, startTestRedis } from '@hpns/testkit';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(`--${name}`);
  return index < 0 ? fallback : Number(args[index + 1]);
};
const duration = option('duration', 10);
const connections = option('connections', 100);
// --rate N offers N requests/s in all instead of a closed loop: CPU per request at a realistic load.
const rate = option('rate', 0);

async function waitFor(url) {
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not come up`);
}

// Every request is a new push: a unique ack_id and device id, as a Mattermost server sends them. (Reusing a few
// bodies would measure the idempotency path, which answers a duplicate without queueing it.) The body is built
// from a fixed template around the two ids so that the load generator spends little on it.
const runTag = randomBytes(4).toString('hex');
const template = JSON.stringify({
  ack_id: '@ACK@',
  platform: 'apple_rn-v2',
  server_id: 'benchserver',
  device_id: '@DEVICE@',
  post_id: 'post1',
  category: 'CAN_REPLY',
  message: 'alice: ' + 'The quick brown fox jumps over the lazy dog. '.repeat(13),
  badge: 2,
  channel_id: 'chan1',
  channel_name: 'Town Square',
  type: 'message',
  sender_id: 'user1',
  sender_name: 'alice',
  version: 'v2',
  is_crt_enabled: false,
  is_id_loaded: false,
  signature: 'eyJhbGciOiJFUzI1NiJ9.' + 'x'.repeat(120),
});
const [head, afterAck] = template.split('@ACK@');
const [middle, tail] = afterAck.split('@DEVICE@');
const devicePad = '0'.repeat(64);
function body(i) {
  const n = i.toString(16);
  return `${head}${runTag}-${i}${middle}${devicePad.slice(n.length)}${n}${tail}`;
}
let sequence = 0;

async function load(url, label, pids) {
  const meter = new CpuMeter({ ...pids, 'load generator': 'self' });
  const push = () => {
    const i = sequence++;
    return {
      serial: i,
      kind: 'message',
      platform: 'apple_rn-v2',
      region: '',
      dead: false,
      ackId: `${runTag}-${i}`,
      path: '/api/v1/send_push',
      body: body(i),
    };
  };
  meter.start();
  // The kit's generator (apps/loadtest): closed model (N connections back to back), or --rate N offered as an
  // open model (latency from each request's scheduled time), one request in flight per connection.
  const run = await runLoad({
    target: parseTarget(url),
    model:
      rate > 0
        ? {
            kind: 'open',
            schedule: ArrivalSchedule.constant(rate, duration * 1000),
            maxConnections: connections,
          }
        : { kind: 'closed', connections, durationMs: duration * 1000 },
    next: push,
  });
  const recorder = run.recorder;
  const cpu = meter.stop(recorder.answered);
  const latency = summarize(recorder.corrected);
  // Every answer must be OK: a FAIL is also HTTP 200, and must not count as throughput.
  const wrong = recorder.answered - recorder.counts.ok;
  const summary = {
    label,
    requestsPerSec: Math.round((recorder.answered / run.elapsedMs) * 1000),
    p50Ms: Number(latency.p50.toFixed(2)),
    p99Ms: Number(latency.p99.toFixed(2)),
    p999Ms: Number(latency.p999.toFixed(2)),
    wrongAnswers: wrong,
    ...(wrong > 0 ? { texts: [...recorder.texts].slice(0, 5) } : {}),
  };
  console.log(JSON.stringify(summary));
  console.log(formatCpuReport(label, cpu, 'request'));
  return { ...summary, cpu };
}

/**
 * The floor under the accept path: what the queue alone costs per push, measured in this process with nothing
 * else running. Sealing (AES-256-GCM and the compact encoding) is timed on its own; the enqueue goes through the
 * real PushProducer (micro-batches of 200, BullMQ addBulk, the idempotency key) with a cipher that hands back one
 * job sealed beforehand, so it counts BullMQ's client and Redis only. With the bare server's and the load
 * generator's CPU per request, these give the most any ingress built on this queue could accept on this machine.
 */
async function queueFloor(redisUrl, redisPid) {
  const connection = createProducerConnection({ url: redisUrl });
  await waitForReady(connection, 10_000);
  const cipher = createPayloadCipher([{ id: 'k1', key: randomBytes(32) }]);
  const now = Date.now();
  const job = (i) => ({
    v: 1,
    routing: {
      requestId: `r${runTag}x${i}`,
      replyTo: 'hpns:{outcomes-us}:bench',
      region: 'us',
      provider: 'apns',
      targetType: 'apple_rn',
      transport: '',
      appVersion: 'v2',
      pushType: 'message',
      acceptedAtMs: now,
      expiresAtMs: now + 3_600_000,
    },
    content: makePushNotification(JSON.parse(body(i))),
  });
  const sample = job(0);
  const sealRounds = 20_000;
  for (let i = 0; i < 2000; i++) cipher.seal(sample); // warm up (JIT)
  const sealStart = process.cpuUsage();
  for (let i = 0; i < sealRounds; i++) cipher.seal(sample);
  const sealUsed = process.cpuUsage(sealStart);
  // process.cpuUsage() counts all threads: the GC helpers' share of sealing is included.
  const sealUs = (sealUsed.user + sealUsed.system) / sealRounds;
  // Envelopes: the producer seals each batch as it goes (its cost is part of the enqueue figure).
  const idempotency = new IdempotencyStore({ region: 'us', connection });
  const producer = new PushProducer({ region: 'us', connection, cipher, idempotency });
  const jobs = Array.from({ length: 40_000 }, (_, i) => job(i + 1));
  const meter = new CpuMeter({ 'bench (PushProducer, BullMQ client)': 'self', redis: redisPid });
  meter.start();
  for (let i = 0; i < jobs.length; i += 2000) {
    await Promise.all(
      jobs.slice(i, i + 2000).map((j, k) => producer.enqueue(j, `${runTag}${i + k}`.padEnd(22, '0'))),
    );
  }
  const cpu = meter.stop(jobs.length);
  await producer.close();
  await connection.flushall(); // the ingress run starts on an empty Redis
  connection.disconnect();
  console.log(`queue floor: seal ${sealUs.toFixed(1)} µs per push (this process, alone)`);
  console.log(formatCpuReport('queue floor: enqueue of a sealed push', cpu, 'push'));
  return { sealUs, enqueueUs: cpu.usPerOp };
}

const dir = mkdtempSync(join(tmpdir(), 'hpns-bench-'));
// The ingress reads no provider key (it never calls a provider); a fresh key is written anyway, so that builds
// from before that change (BENCH_INGRESS_MAIN) start too.
const p8 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
  type: 'pkcs8',
  format: 'pem',
});
writeFileSync(join(dir, 'key.p8'), p8);
writeFileSync(
  join(dir, 'push.json'),
  JSON.stringify({
    ApplePushSettings: [
      {
        Type: 'apple_rn',
        ApplePushTopic: 'com.mattermost.react.native',
        AppleAuthKeyFile: join(dir, 'key.p8'),
        AppleAuthKeyID: 'BENCHKEY01',
        AppleTeamID: 'BENCHTEAM1',
      },
    ],
  }),
);
// Redis as production runs it (AOF everysec, noeviction, infra/redis/redis.conf's listpack limit).
const redis = await startTestRedis({ appendOnly: true, args: ['--hash-max-listpack-value', '2048'] });
const children = [];
try {
  const floor = await queueFloor(redis.url, redis.pid);
  // Warm the machine identically for both: run the baseline first, then the ingress.
  const bare = fork(join(here, 'bare-server.mjs'), { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  children.push(bare);
  const barePort = await new Promise((resolve) => bare.once('message', (m) => resolve(m.port)));
  const baseline = await load(`http://127.0.0.1:${barePort}`, 'bare node:http', {
    server: bare.pid,
  });
  bare.kill('SIGTERM');

  const apiPort = await freePort();
  const adminPort = await freePort();
  // BENCH_INGRESS_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`, profiles the ingress.
  const nodeArgs = (process.env.BENCH_INGRESS_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // BENCH_INGRESS_MAIN runs another build of the ingress (an A/B comparison: a copy of dist/ from another commit).
  const ingressMain = process.env.BENCH_INGRESS_MAIN ?? join(here, '..', 'dist', 'main.js');
  const ingress = spawn(process.execPath, [...nodeArgs, ingressMain], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      HPNS_REDIS_URL: redis.url,
      HPNS_LISTEN_ADDRESS: `127.0.0.1:${apiPort}`,
      HPNS_ADMIN_LISTEN_ADDRESS: `127.0.0.1:${adminPort}`,
      HPNS_PAYLOAD_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      HPNS_CONFIG_FILE: join(dir, 'push.json'),
      HPNS_WAIT_MS: '0',
      HPNS_LOG_LEVEL: 'warn',
    },
  });
  children.push(ingress);
  await waitFor(`http://127.0.0.1:${adminPort}/readyz`);
  const hpns = await load(`http://127.0.0.1:${apiPort}`, 'hpns ingress (accept path)', {
    ingress: ingress.pid,
    redis: redis.pid,
  });
  // The most an ingress on this queue could accept here, if its own work (HTTP aside) cost nothing: the bare
  // server's CPU per request, the load generator's (as measured against the ingress), sealing and the enqueue.
  const cores = availableParallelism();
  const floorUs =
    baseline.cpu.per.server.usPerOp + hpns.cpu.per['load generator'].usPerOp + floor.sealUs + floor.enqueueUs;
  console.log(
    `ceiling on ${cores} cores for an ingress whose own work costs nothing: ${Math.round((cores * 1e6) / floorUs)} ` +
      `requests/s (bare server ${Math.round(baseline.cpu.per.server.usPerOp)} + load generator ` +
      `${Math.round(hpns.cpu.per['load generator'].usPerOp)} + seal ${Math.round(floor.sealUs)} + enqueue ` +
      `${Math.round(floor.enqueueUs)} µs per request); the ingress's own work beyond these measured ` +
      `${Math.round(hpns.cpu.per.ingress.usPerOp - baseline.cpu.per.server.usPerOp - floor.sealUs)} µs per request`,
  );
  console.log(
    JSON.stringify({
      ratioToBare: Number((hpns.requestsPerSec / baseline.requestsPerSec).toFixed(2)),
      target: { requestsPerSec: 12_000, p99Ms: 25, ratioToBare: 0.5 },
      duration,
      connections,
    }),
  );
} finally {
  for (const child of children) child.kill('SIGTERM');
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
