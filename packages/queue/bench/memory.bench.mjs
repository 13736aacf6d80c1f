// Redis memory per queued push (target: ≤ 1 KiB for a typical 600-byte message, DESIGN.md "Targets").
//
//   npm run build && node packages/queue/bench/memory.bench.mjs [--jobs 20000]
//
// Enqueues N sealed pushes through the real PushProducer into a private redis-server (nothing consumes them)
// and reports the growth of `used_memory` per job, beside the size of the sealed job data itself.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makePushNotification } from '@hpns/protocol';
import { createPayloadCipher, createProducerConnection, PushProducer, waitForReady } from '@hpns/queue';

// Typical English message text (compresses like real chat, unlike a repeated character).
const TEXT = (
  'Hi team, the release review moved to Thursday at 10:00. Please bring the updated numbers for the ' +
  'push latency dashboard, the list of open incidents from last week and your notes on the migration plan. ' +
  'If you cannot make it, reply in this thread with your status so we can keep the meeting short. ' +
  'Also: the staging cluster will be down for maintenance tonight between 22:00 and 23:30, so do not ' +
  'schedule load tests then. Thanks, and see you there!'
).slice(0, 593);
const { values } = parseArgs({ options: { jobs: { type: 'string', default: '20000' } } });
const jobs = Number(values.jobs);

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const dir = mkdtempSync(join(tmpdir(), 'hpns-mem-'));
const redis = spawn(
  'redis-server',
  ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
  { stdio: 'ignore' },
);
const connection = createProducerConnection({ url: `redis://127.0.0.1:${port}` });
try {
  await waitForReady(connection, 10_000);
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await connection.info('memory'))[1]);
  const cipher = createPayloadCipher([{ id: 'k1', key: randomBytes(32) }]);
  const producer = new PushProducer({ region: 'us', connection, cipher });
  const job = (i) => ({
    v: 1,
    routing: {
      requestId: `r${randomBytes(12).toString('base64url')}`,
      replyTo: 'hpns:{outcomes-us}:ingress1',
      region: 'us',
      provider: i % 2 === 0 ? 'apns' : 'fcm',
      targetType: i % 2 === 0 ? 'apple_rn' : 'android_rn',
      transport: 'standard',
      appVersion: 2,
      pushType: 'message',
      acceptedAtMs: Date.now(),
      expiresAtMs: Date.now() + 3_600_000,
    },
    content: makePushNotification({
      ack_id: randomBytes(13).toString('hex'),
      platform: 'apple_rn-v2',
      server_id: randomBytes(13).toString('hex'),
      device_id: randomBytes(32).toString('hex'),
      post_id: randomBytes(13).toString('hex'),
      category: 'CAN_REPLY',
      message: `alice: ${TEXT}`,
      badge: 3,
      channel_id: randomBytes(13).toString('hex'),
      channel_name: 'Town Square',
      type: 'message',
      sender_id: randomBytes(13).toString('hex'),
      sender_name: 'alice',
      version: 'v2',
      is_crt_enabled: true,
      signature: `eyJhbGciOiJFUzI1NiJ9.${'x'.repeat(150)}`,
    }),
  });
  // Warm up (queue meta keys, script cache) so the measurement counts jobs only.
  await Promise.all(Array.from({ length: 100 }, (_, i) => producer.enqueue(job(i))));
  const before = await usedMemory();
  for (let i = 0; i < jobs; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, jobs - i) }, (_, k) => producer.enqueue(job(i + k))),
    );
  }
  const after = await usedMemory();
  const sealedBytes = JSON.stringify(cipher.seal(job(0))).length;
  console.log(
    JSON.stringify({
      jobs,
      messageBytes: 600,
      sealedJobDataBytes: sealedBytes,
      redisBytesPerJob: Math.round((after - before) / jobs),
      target: 1024,
    }),
  );
  await producer.close();
} finally {
  connection.disconnect();
  redis.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
