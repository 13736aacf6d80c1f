// `npm start`: the whole two-region stack on this machine, in the foreground.
//
//   two redis-servers (us, de) on free ports with data in .hpns-local/, unless REDIS_URL_US / REDIS_URL_DE are set;
//   the APNs, FCM and OAuth simulators (apps/simulators) with generated test-only credentials;
//   one ingress on port 8086 serving both regions (/us/… and /de/… path prefixes, us by default);
//   one worker per region.
//
// Options: --port N (ingress port, default 8086; 0 = a free port), --no-build, --state-dir DIR.
// Prints the URLs and a curl for a test push to each region once everything is ready. Ctrl-C stops it all.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '8086' },
    'no-build': { type: 'boolean', default: false },
    'state-dir': { type: 'string' },
  },
});
const REGIONS = ['us', 'de'];
const children = [];
let stopping = false;

function fail(message) {
  console.error(`npm start: ${message}`);
  process.exit(1);
}

function onPath(command) {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** Starts a child with its output prefixed; resolves with the child once `ready(line)` is true for a line. */
function run(name, command, commandArgs, options = {}) {
  const child = spawn(command, commandArgs, {
    cwd: root,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push({ name, child });
  let ready = options.ready === undefined;
  const readyPromise = new Promise((resolveReady, reject) => {
    if (ready) resolveReady(child);
    const onLine = (line) => {
      if (line.trim() === '') return;
      process.stdout.write(`[${name}] ${line}\n`);
      if (!ready && options.ready(line)) {
        ready = true;
        resolveReady({ child, line });
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = '';
      stream.on('data', (chunk) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        lines.forEach(onLine);
      });
    }
    child.once('exit', (code, signal) => {
      if (!stopping) {
        console.error(`[${name}] exited (${signal ?? code}); stopping the stack`);
        void stop(1);
      }
      if (!ready) reject(new Error(`${name} exited before it was ready`));
    });
  });
  return readyPromise;
}

async function waitForHttp(url, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become ready`);
}

async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  // Reverse start order: ingress and workers first, then simulators, then Redis.
  for (const { name, child } of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
    process.stdout.write(`[${name}] stopped\n`);
  }
  process.exit(code);
}

process.on('SIGINT', () => void stop(0));
// Whatever ends this script, no child outlives it.
process.on('exit', () => {
  for (const { child } of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
process.on('SIGTERM', () => void stop(0));

async function main() {
  if (!onPath('redis-server')) {
    fail(
      'redis-server is not installed. Install Redis 7 (Debian/Ubuntu: `sudo apt-get install redis-server`, macOS: `brew install redis`), or set REDIS_URL_US and REDIS_URL_DE.',
    );
  }
  if (!args['no-build']) {
    console.log('[start] building (tsc, through turbo)…');
    try {
      execFileSync('npx', ['turbo', 'run', 'build', '--output-logs=errors-only'], {
        cwd: root,
        stdio: 'inherit',
      });
    } catch {
      fail('the build failed (see above)');
    }
  }
  for (const app of ['ingress', 'worker', 'simulators']) {
    if (!existsSync(join(root, 'apps', app, 'dist', 'main.js')))
      fail(`apps/${app}/dist/main.js is missing after the build`);
  }
  const state = resolve(args['state-dir'] ?? join(root, '.hpns-local'));
  rmSync(state, { recursive: true, force: true });
  mkdirSync(state, { recursive: true });

  const redisUrls = {};
  for (const region of REGIONS) {
    const given = process.env[`REDIS_URL_${region.toUpperCase()}`];
    if (given) {
      redisUrls[region] = given;
      continue;
    }
    const port = await freePort();
    const dir = join(state, `redis-${region}`);
    mkdirSync(dir);
    // Production settings (DESIGN.md, infra/redis/redis.conf): noeviction, AOF every second, compact job hashes.
    await run(
      `redis-${region}`,
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'everysec',
        '--save',
        '',
        '--maxmemory-policy',
        'noeviction',
        // Job hashes stay compact listpacks (infra/redis/redis.conf).
        '--hash-max-listpack-value',
        '2048',
      ],
      {
        ready: (line) => line.includes('Ready to accept connections'),
      },
    );
    redisUrls[region] = `redis://127.0.0.1:${port}`;
  }

  const { line } = await run(
    'simulators',
    process.execPath,
    [
      join(root, 'apps/simulators/dist/main.js'),
      '--out',
      join(state, 'credentials'),
      '--latency-ms',
      '20,60',
    ],
    {
      ready: (l) => l.includes('"simulators.ready"'),
    },
  );
  const sims = JSON.parse(line);

  const configFile = join(state, 'mattermost-push-proxy.json');
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        ApplePushSettings: ['apple_rn', 'apple_rnbeta'].map((type) => ({
          Type: type,
          ApplePushUseDevelopment: false,
          ApplePushTopic: type === 'apple_rn' ? 'com.mattermost.react.native' : 'com.mattermost.rnbeta',
          AppleAuthKeyFile: sims.apnsKeyFile,
          AppleAuthKeyID: sims.apnsKeyId,
          AppleTeamID: sims.apnsTeamId,
        })),
        AndroidPushSettings: [
          { Type: 'android_rn', ServiceFileLocation: sims.serviceAccountFile },
          { Type: 'android_rnbeta', ServiceFileLocation: sims.serviceAccountFile },
        ],
      },
      null,
      2,
    ),
  );
  const port = args.port === '0' ? await freePort() : Number(args.port);
  const common = {
    ...process.env,
    HPNS_CONFIG_FILE: configFile,
    HPNS_REGIONS: REGIONS.join(','),
    // A Mattermost server pointed at http://localhost:8086 (no region prefix) pushes to us.
    HPNS_DEFAULT_REGION: process.env.HPNS_DEFAULT_REGION ?? 'us',
    ...Object.fromEntries(REGIONS.map((r) => [`HPNS_REDIS_URL_${r.toUpperCase()}`, redisUrls[r]])),
    // A development key shared by every process of this stack (never a production key).
    HPNS_PAYLOAD_KEYS: `dev:${randomBytes(32).toString('base64')}`,
    HPNS_TOKEN_HASH_KEY: randomBytes(32).toString('base64'),
    HPNS_APNS_URL: sims.apnsUrl,
    HPNS_FCM_URL: sims.fcmUrl,
    HPNS_OAUTH_TOKEN_URL: sims.oauthTokenUrl,
    HPNS_PROVIDER_CA_FILE: sims.caFile,
    HPNS_LOG_LEVEL: process.env.HPNS_LOG_LEVEL ?? 'info',
  };
  const workerAdmin = {};
  for (const region of REGIONS) {
    workerAdmin[region] = await freePort();
    await run(`worker-${region}`, process.execPath, [join(root, 'apps/worker/dist/main.js')], {
      env: {
        ...common,
        HPNS_WORKER_REGION: region,
        HPNS_ADMIN_LISTEN_ADDRESS: `127.0.0.1:${workerAdmin[region]}`,
      },
    });
    await waitForHttp(`http://127.0.0.1:${workerAdmin[region]}/readyz`);
  }
  const ingressAdmin = await freePort();
  await run('ingress', process.execPath, [join(root, 'apps/ingress/dist/main.js')], {
    env: {
      ...common,
      HPNS_LISTEN_ADDRESS: `127.0.0.1:${port}`,
      HPNS_ADMIN_LISTEN_ADDRESS: `127.0.0.1:${ingressAdmin}`,
      HPNS_KNOWN_REGIONS: REGIONS.join(','),
    },
  });
  await waitForHttp(`http://127.0.0.1:${ingressAdmin}/readyz`);

  const body = (platform) =>
    JSON.stringify({
      platform,
      server_id: 'local-server',
      device_id: randomBytes(32).toString('hex'),
      type: 'message',
      version: 'v2',
      message: 'hello :wave:',
      channel_name: 'Town Square',
      ack_id: 'local-ack-1',
      is_crt_enabled: false,
      is_id_loaded: false,
      signature: '',
    });
  const ready = {
    event: 'stack.ready',
    ingress: `http://127.0.0.1:${port}`,
    ingressAdmin: `http://127.0.0.1:${ingressAdmin}`,
    workerAdmin: Object.fromEntries(REGIONS.map((r) => [r, `http://127.0.0.1:${workerAdmin[r]}`])),
    redis: redisUrls,
    simulators: sims,
    pids: Object.fromEntries(children.map(({ name, child }) => [name, child.pid])),
  };
  console.log(JSON.stringify(ready));
  console.log('\nHPNS is running. Try a push to each region:\n');
  console.log(`  curl -s -X POST http://127.0.0.1:${port}/us/api/v1/send_push -d '${body('apple_rn-v2')}'`);
  console.log(`  curl -s -X POST http://127.0.0.1:${port}/de/api/v1/send_push -d '${body('android_rn-v2')}'`);
  console.log(
    `  (no prefix, as a Mattermost server set to http://localhost:${port} sends: us, HPNS_DEFAULT_REGION)`,
  );
  console.log(
    `\nWhat the simulators received: curl -s ${sims.controlUrl}/apns/requests  |  ${sims.controlUrl}/fcm/requests`,
  );
  console.log('Ctrl-C stops everything.\n');
}

main().catch((error) => {
  console.error(`npm start: ${error.message}`);
  void stop(1);
});
