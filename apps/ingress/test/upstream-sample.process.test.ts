import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, startTestRedis, type TestRedis } from '@hpns/testkit';

/**
 * The push proxy's own sample config (fixtures/mattermost-push-proxy.upstream.json, byte for byte as shipped
 * upstream: Apple entries with an empty ApplePushCertPrivate, Android entries with only an AndroidApiKey). The
 * Go proxy starts with it and skips the entries without credentials; so must the ingress and a worker, with a
 * warning per skipped entry. The same ingress then shows the file's throttle (ThrottlePerSec, by
 * X-Forwarded-For) at work, EnableMetrics behind the admin token, and HPNS_DEFAULT_REGION.
 */
const SAMPLE = resolve(__dirname, 'fixtures/mattermost-push-proxy.upstream.json');
const INGRESS = resolve(__dirname, '../dist/main.js');
const WORKER = resolve(__dirname, '../../worker/dist/main.js');
const TOKEN = `admin-${randomBytes(16).toString('hex')}`;

let dir: string;
let redis: TestRedis;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hpns-upstream-sample-'));
  writeFileSync(join(dir, 'admin-token'), `${TOKEN}\n`);
  redis = await startTestRedis();
});

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function start(
  main: string,
  env: Record<string, string>,
): Promise<{ admin: string; output: string[] }> {
  const adminPort = await freePort();
  const output: string[] = [];
  const child = spawn(process.execPath, [main], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HPNS_CONFIG_FILE: SAMPLE,
      HPNS_REGIONS: 'us',
      HPNS_REDIS_URL_US: redis.url,
      HPNS_ADMIN_LISTEN_ADDRESS: `127.0.0.1:${adminPort}`,
      HPNS_ADMIN_TOKEN_FILE: join(dir, 'admin-token'),
      HPNS_PAYLOAD_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      HPNS_WAIT_MS: '0',
      ...env,
    },
  });
  children.push(child);
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const admin = `http://127.0.0.1:${adminPort}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ready = await fetch(`${admin}/readyz`).then(
      (res) => res.ok,
      () => false,
    );
    if (ready) return { admin, output };
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`${main} did not become ready:\n${output.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function warningsOf(output: string[]): string[] {
  return output
    .join('')
    .split('\n')
    .filter((line) => line.includes('"level":"warn"'))
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
}

describe('the upstream sample mattermost-push-proxy.json', () => {
  let api: string;
  let ingress: { admin: string; output: string[] };

  beforeAll(async () => {
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    ingress = await start(INGRESS, {
      HPNS_LISTEN_ADDRESS: `127.0.0.1:${port}`,
      // The file's 300/s, lowered so that one test can fill a window; the file still names the header.
      HPNS_THROTTLE_PER_SEC: '5',
      HPNS_ENABLE_METRICS: 'true',
    });
  }, 30_000);

  it('starts the ingress with each entry without credentials skipped, a warning each', () => {
    const skipped = warningsOf(ingress.output).filter((w) => w.includes('skipped'));
    expect(skipped).toHaveLength(4);
    for (const [index, type] of [
      ['ApplePushSettings[0]', 'apple'],
      ['ApplePushSettings[1]', 'apple_rn'],
      ['AndroidPushSettings[0]', 'android'],
      ['AndroidPushSettings[1]', 'android_rn'],
    ])
      expect(skipped.some((w) => w.includes(`${index} (Type "${type}")`))).toBe(true);
  });

  it('starts a worker with the same file', async () => {
    const worker = await start(WORKER, { HPNS_WORKER_REGION: 'us' });
    expect(warningsOf(worker.output).filter((w) => w.includes('skipped'))).toHaveLength(4);
  }, 30_000);

  it('answers a push for a skipped type FAIL, as the Go proxy does for a type it did not register', async () => {
    const res = await fetch(`${api}/api/v1/send_push`, {
      method: 'POST',
      headers: { 'x-forwarded-for': '198.51.100.1' },
      body: JSON.stringify({
        platform: 'apple_rn',
        server_id: 'server1',
        device_id: randomBytes(32).toString('hex'),
        type: 'message',
        message: 'hello',
      }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'FAIL' });
  });

  it('throttles each X-Forwarded-For caller to ThrottlePerSec per second, and no other caller', async () => {
    const send = (caller: string) =>
      fetch(`${api}/version`, { headers: { 'x-forwarded-for': caller } }).then(async (res) => ({
        status: res.status,
        body: await res.text(),
        limit: res.headers.get('x-ratelimit-limit'),
        retryAfter: res.headers.get('retry-after'),
      }));
    const burst = await Promise.all(Array.from({ length: 9 }, () => send('203.0.113.7')));
    const refused = burst.filter((r) => r.status === 429);
    expect(burst.filter((r) => r.status === 200)).toHaveLength(5);
    expect(refused).toHaveLength(4);
    expect(refused[0]).toMatchObject({ body: 'limit exceeded\n', limit: '5', retryAfter: '1' });
    // Another caller has a window of its own.
    expect((await send('203.0.113.8')).status).toBe(200);
    // A window lasts a second.
    await new Promise((r) => setTimeout(r, 1100));
    expect((await send('203.0.113.7')).status).toBe(200);
    const metrics = await fetch(`${ingress.admin}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(await metrics.text()).toMatch(
      /hpns_ingress_rate_limited_total\{scope="throttle",service="ingress"\} 4\b/,
    );
  });

  it('serves /metrics on the API listener with EnableMetrics, behind the admin token', async () => {
    const headers = { 'x-forwarded-for': '192.0.2.50' };
    const open = await fetch(`${api}/metrics`, { headers });
    expect(open.status).toBe(401);
    expect(await open.text()).not.toContain('hpns_');
    const res = await fetch(`${api}/metrics`, { headers: { ...headers, authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('hpns_ingress_requests_total');
    // The admin listener wants the token too; /healthz stays open.
    expect((await fetch(`${ingress.admin}/metrics`)).status).toBe(401);
    expect((await fetch(`${ingress.admin}/healthz`)).status).toBe(200);
  });
});
