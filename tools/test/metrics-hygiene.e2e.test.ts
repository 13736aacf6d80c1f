import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRedis, type TestRedis } from '@hpns/testkit';
import { startLocalStack, type LocalStack, type StackReady } from '@hpns/loadtest';

/**
 * What /metrics gives away. The local stack (scripts/start.mjs) runs on two Redis servers with passwords and
 * with an admin token; traffic with failures goes through it (dead tokens, unknown platforms, bad requests,
 * pushes without a region prefix, which HPNS_DEFAULT_REGION sends to us). Then every process's /metrics must
 * hold none of: the secrets each process was started with (read back from /proc/<pid>/environ and the files its
 * *_FILE variables name), the device tokens, server ids, ack ids and message texts sent, or any URL with
 * credentials.
 */
const ADMIN_TOKEN = `hygiene-admin-${randomBytes(12).toString('hex')}`;
const SERVER_ID = `hygieneserver${randomBytes(6).toString('hex')}`;

let dir: string;
let stack: LocalStack | undefined;
let ready: StackReady;
const redis: TestRedis[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hpns-metrics-hygiene-'));
  writeFileSync(join(dir, 'admin-token'), `${ADMIN_TOKEN}\n`);
  const urls: Record<string, string> = {};
  for (const region of ['us', 'de']) {
    const password = `pw${randomBytes(10).toString('hex')}`;
    const server = await startTestRedis();
    redis.push(server);
    await setPassword(server.port, password);
    urls[`REDIS_URL_${region.toUpperCase()}`] = server.url.replace('redis://', `redis://:${password}@`);
  }
  stack = await startLocalStack({
    noBuild: true,
    env: { ...process.env, ...urls, HPNS_LOG_LEVEL: 'warn', HPNS_ADMIN_TOKEN_FILE: join(dir, 'admin-token') },
  });
  ready = stack.ready;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  for (const server of redis) await server.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** `CONFIG SET requirepass` over a plain socket (testkit's start-up check pings without a password). */
function setPassword(port: number, password: string): Promise<void> {
  return new Promise((resolveSet, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`CONFIG SET requirepass ${password}\r\n`));
    socket.once('data', (data) => {
      socket.destroy();
      if (data.toString().startsWith('+OK')) resolveSet();
      else reject(new Error(`CONFIG SET requirepass: ${data.toString().trim()}`));
    });
    socket.once('error', reject);
  });
}

/** Every value a process's environment holds that is a secret, and the contents of the secret files it names. */
function secretsOf(pid: number): string[] {
  const env = Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter((entry) => entry.startsWith('HPNS_'))
      .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
  );
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (name === 'HPNS_PAYLOAD_KEYS') secrets.push(...value.split(',').map((entry) => entry.split(':')[1]!));
    if (name === 'HPNS_TOKEN_HASH_KEY') secrets.push(value);
    if (name.startsWith('HPNS_REDIS_URL')) secrets.push(new URL(value).password, value);
    if (name === 'HPNS_ADMIN_TOKEN_FILE') secrets.push(readFileSync(value, 'utf8').trim());
  }
  return secrets.filter((s) => s.length >= 8);
}

test('no process exposes a secret, a device token, a server id, an ack id or message text on /metrics', async () => {
  const sent: string[] = [SERVER_ID];
  const push = async (path: string, fields: Record<string, unknown>) => {
    const res = await fetch(`${ready.ingress}${path}`, {
      method: 'POST',
      body: JSON.stringify({ server_id: SERVER_ID, type: 'message', version: 'v2', ...fields }),
    });
    return (await res.json()) as { status: string };
  };
  for (const [path, platform, token] of [
    ['/us/api/v1/send_push', 'apple_rn-v2', randomBytes(32).toString('hex')],
    ['/de/api/v1/send_push', 'android_rn-v2', `fcm${randomBytes(40).toString('hex')}`],
    ['/api/v1/send_push', 'apple_rn-v2', randomBytes(32).toString('hex')], // no prefix: HPNS_DEFAULT_REGION
    ['/de/api/v1/send_push', 'android_rn-v2', `deaddead${randomBytes(30).toString('hex')}`], // REMOVE
    ['/us/api/v1/send_push', 'nokia-v2', randomBytes(32).toString('hex')], // unknown platform: FAIL
  ] as const) {
    const ackId = `ack${randomBytes(10).toString('hex')}`;
    const message = `secret words ${randomBytes(8).toString('hex')}`;
    sent.push(token, ackId, message);
    await push(path, { platform, device_id: token, ack_id: ackId, message });
  }
  // A push with no region prefix is delivered in us (the local stack sets HPNS_DEFAULT_REGION=us).
  const unprefixed = randomBytes(32).toString('hex');
  sent.push(unprefixed);
  expect(
    await push('/api/v1/send_push', { platform: 'apple_rn-v2', device_id: unprefixed, ack_id: 'a1' }),
  ).toEqual({
    status: 'OK',
  });
  const apns = (await (await fetch(`${ready.simulators.controlUrl}/apns/requests`)).json()) as {
    token: string;
  }[];
  expect(apns.some((r) => r.token === unprefixed)).toBe(true);
  // Bad requests too: an undecodable body and an overlong server id.
  await fetch(`${ready.ingress}/us/api/v1/send_push`, { method: 'POST', body: `{"server_id":"${SERVER_ID}` });
  await push('/us/api/v1/send_push', {
    platform: 'apple_rn-v2',
    device_id: 'x',
    server_id: `${SERVER_ID}${'z'.repeat(300)}`,
  });

  const secrets = [...new Set(Object.values(ready.pids).flatMap((pid) => secretsOf(pid)))];
  expect(secrets.length).toBeGreaterThanOrEqual(6); // payload key, hash key, two Redis passwords, admin token…
  expect(secrets).toContain(ADMIN_TOKEN);
  const endpoints = [
    `${ready.ingressAdmin}/metrics`,
    ...Object.values(ready.workerAdmin).map((u) => `${u}/metrics`),
  ];
  for (const url of endpoints) {
    expect((await fetch(url)).status).toBe(401);
    const text = await (await fetch(url, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    expect(text).toContain('hpns_');
    for (const value of [...secrets, ...sent]) {
      expect(`${url}: ${text.includes(value) ? `exposes ${value.slice(0, 6)}…` : 'clean'}`).toBe(
        `${url}: clean`,
      );
    }
    expect(text).not.toMatch(/[a-z][a-z0-9+.-]*:\/\/[^\s"/]*:[^\s"/]*@/i); // user:password@ in a URL
  }
}, 90_000);
