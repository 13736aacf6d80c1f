import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Region } from '@hpns/protocol';
import { createWorkerConnection, pushQueueShards } from '@hpns/queue';
import { freePort, REDIS_BACKEND_KINDS, startTestRedisBackend, type TestRedisBackend } from '@hpns/testkit';
import { writeProxyConfigWithoutKeys } from './proxy-config-fixture';

/**
 * The ingress process as deployed (apps/ingress/dist/main.js, built by the jest global setup), configured with
 * a mattermost-push-proxy.json whose key files are not there: the ingress never calls a provider, so it must
 * start, serve and queue without the APNs key or the FCM service account (the Helm chart does not mount them
 * into its pods). It runs on a single Redis and on a test cluster given as a seed list, with queue shards.
 */
const MAIN = resolve(__dirname, '../dist/main.js');

describe.each(REDIS_BACKEND_KINDS)('the ingress process without provider credentials (%s Redis)', (kind) => {
  let dir: string;
  let redis: TestRedisBackend;
  let child: ChildProcess | undefined;
  const output: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hpns-ingress-nocreds-'));
    redis = await startTestRedisBackend(kind);
  }, 60_000);

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts, answers send_push and queues the push, with none of the key files present', async () => {
    writeProxyConfigWithoutKeys(dir);
    const [apiPort, adminPort] = [await freePort(), await freePort()];
    child = spawn(process.execPath, [MAIN], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HPNS_CONFIG_FILE: join(dir, 'push.json'),
        HPNS_REDIS_URL: redis.url,
        ...(redis.shards > 1 ? { HPNS_QUEUE_SHARDS: String(redis.shards) } : {}),
        HPNS_LISTEN_ADDRESS: `127.0.0.1:${apiPort}`,
        HPNS_ADMIN_LISTEN_ADDRESS: `127.0.0.1:${adminPort}`,
        HPNS_PAYLOAD_KEYS: `k1:${randomBytes(32).toString('base64')}`,
        HPNS_WAIT_MS: '0',
      },
    });
    child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
    const deadline = Date.now() + 20_000;
    let ready = false;
    while (!ready && Date.now() < deadline && child.exitCode === null) {
      ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`).then(
        (res) => res.ok,
        () => false,
      );
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }
    if (!ready) throw new Error(`ingress did not become ready:\n${output.join('')}`);
    // The configured types are known (an unknown one would be refused), and the push is queued.
    for (const [platform, provider] of [
      ['apple_rn-v2', 'apns'],
      ['android_rn-v2', 'fcm'],
    ] as const) {
      const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/send_push`, {
        method: 'POST',
        body: JSON.stringify({
          platform,
          server_id: 'server1',
          device_id: randomBytes(32).toString('hex'),
          type: 'message',
          version: 'v2',
          message: 'hello',
          ack_id: `ack-${provider}`,
        }),
      });
      expect(await res.text()).toBe('{"status":"OK"}\n');
    }
    const admin = createWorkerConnection({ url: redis.url });
    try {
      for (const provider of ['apns', 'fcm'] as const) {
        // One envelope per provider, on one of its shards (a cluster client routes each LLEN to its node).
        const waiting = await Promise.all(
          pushQueueShards('us' as Region, provider, redis.shards).map(({ prefix, name }) =>
            admin.llen(`${prefix}:${name}:wait`),
          ),
        );
        expect(waiting.reduce((a, b) => a + b, 0)).toBe(1);
      }
    } finally {
      admin.disconnect();
    }
    // The summary it logged names the targets, and no key file was read.
    const log = output.join('');
    expect(log).toContain('"targets":["apple_rn:apns","android_rn:fcm"]');
    expect(log).not.toContain('cannot read');
  }, 60_000);
});
