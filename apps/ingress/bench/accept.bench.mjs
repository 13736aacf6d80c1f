// Ingress accept-path benchmark (issue: ≥ 12,000 send_push/s with p99 ≤ 25 ms, and ≥ 50 % of a bare node:http
// JSON server measured in the same run). Everything runs on this machine: a private redis-server, the built
// ingress (apps/ingress/dist/main.js, HPNS_WAIT_MS=0 so it answers as soon as the push is queued), the bare
// baseline server, and autocannon as the load generator in this process.
//
//   npm run build && node apps/ingress/bench/accept.bench.mjs [--duration 10] [--connections 100]
//
// Prints both results and the ratio. Numbers vary with the machine's load: compare the ratio, not absolutes.
import { fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(`--${name}`);
  return index < 0 ? fallback : Number(args[index + 1]);
};
const duration = option('duration', 10);
const connections = option('connections', 100);

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

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

function body(i) {
  return JSON.stringify({
    ack_id: `ack${i}`,
    platform: 'apple_rn-v2',
    server_id: 'benchserver',
    device_id: randomBytes(32).toString('hex'),
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
}
const bodies = Array.from({ length: 1000 }, (_, i) => body(i));

async function load(url, label) {
  let i = 0;
  let wrong = 0;
  const result = await autocannon({
    url,
    method: 'POST',
    connections,
    duration,
    pipelining: 1,
    requests: [
      {
        setupRequest: (req) => ({ ...req, body: bodies[i++ % bodies.length] }),
        // Every answer must be OK: a FAIL is also HTTP 200, and must not count as throughput.
        onResponse: (_status, text) => {
          if (text !== '{"status":"OK"}\n') wrong++;
        },
      },
    ],
  });
  const summary = {
    label,
    requestsPerSec: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    wrongAnswers: wrong,
  };
  console.log(JSON.stringify(summary));
  return summary;
}

const dir = mkdtempSync(join(tmpdir(), 'hpns-bench-'));
// A target needs a readable key file; the benchmark never reaches APNs, so a fresh key will do.
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
const redisPort = await freePort();
const redis = spawn(
  'redis-server',
  ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
  {
    stdio: 'ignore',
  },
);
const children = [redis];
try {
  await new Promise((resolve) => setTimeout(resolve, 300));
  // Warm the machine identically for both: run the baseline first, then the ingress.
  const bare = fork(join(here, 'bare-server.mjs'), { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  children.push(bare);
  const barePort = await new Promise((resolve) => bare.once('message', (m) => resolve(m.port)));
  const baseline = await load(`http://127.0.0.1:${barePort}/api/v1/send_push`, 'bare node:http');
  bare.kill('SIGTERM');

  const apiPort = await freePort();
  const adminPort = await freePort();
  // BENCH_INGRESS_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`, profiles the ingress.
  const nodeArgs = (process.env.BENCH_INGRESS_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const ingress = spawn(process.execPath, [...nodeArgs, join(here, '..', 'dist', 'main.js')], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      HPNS_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
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
  const hpns = await load(`http://127.0.0.1:${apiPort}/api/v1/send_push`, 'hpns ingress (accept path)');
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
  rmSync(dir, { recursive: true, force: true });
}
