// Redis memory per queued push (target: ≤ 1 KiB for a typical 600-byte message, DESIGN.md "Targets").
//
//   npm run build && node packages/queue/bench/memory.bench.mjs [--jobs 20000] [--redis-conf infra/redis/redis.conf]
//
// Enqueues N sealed pushes per case through the real PushProducer, with the idempotency key the ingress gives
// every push that has an ack_id (IdempotencyStore), into a private redis-server (nothing consumes them), and
// reports the growth of `used_memory` per push beside the send_push body it came from, twice: pushes that arrive
// in bursts (envelopes of the size seen at saturation: 250 pushes, the producer's cap is 256) and pushes that
// arrive one at a time (a low rate: each push its own envelope, every fixed cost of a job on one push). Every
// push has its own ids and its own message text (the words of a paragraph in a random order), so an envelope's
// compression gets no help from repeated text. Redis runs with the
// memory settings of infra/redis/redis.conf (the listpack limits), and, as the baseline in the same run, with
// Redis's defaults.
//
// Cases (every id random, as the Mattermost server makes them; the signature an ES256 JWT of realistic size):
//   body600      a send_push body of 600 bytes: a channel message from a server that does not sign pushes
//   message600   600 bytes of message text in a full, signed notification (well over 1 KB of send_push body)
//   chat80       an everyday chat line of 80 bytes, signed
//   nomessage    body600 without its message text: the floor, what any queued push costs (BullMQ's job, the
//                idempotency key, the routing, the sealed ids), whatever its text
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makePushNotification } from '@hpns/protocol';
import {
  createPayloadCipher,
  createProducerConnection,
  IdempotencyStore,
  PushProducer,
  waitForReady,
} from '@hpns/queue';
import { startTestRedis } from '@hpns/testkit';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '20000' },
    'redis-conf': { type: 'string', default: join(root, 'infra/redis/redis.conf') },
  },
});
const jobs = Number(values.jobs);

/** The memory-layout directives of the production redis.conf (`*-max-listpack-*`), as command-line args. */
const layoutArgs = readFileSync(values['redis-conf'], 'utf8')
  .split('\n')
  .map((line) => line.trim().split(/\s+/))
  .filter(([name]) => /^(hash|zset|set|list)-max-(listpack|ziplist|intset)/.test(name ?? ''))
  .flatMap(([name, value]) => [`--${name}`, value]);

// Typical English message text (compresses like real chat, unlike a repeated character).
const TEXT =
  'Hi team, the release review moved to Thursday at 10:00. Please bring the updated numbers for the ' +
  'push latency dashboard, the list of open incidents from last week and your notes on the migration plan. ' +
  'If you cannot make it, reply in this thread with your status so we can keep the meeting short. ' +
  'Also: the staging cluster will be down for maintenance tonight between 22:00 and 23:30, so do not ' +
  'schedule load tests then. Thanks, and see you there! The agenda is in the channel header as usual.';
const WORDS = TEXT.split(' ');
/** The paragraph's words in a random order: text like chat, different in every push. */
function text() {
  const words = [...WORDS];
  for (let i = words.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [words[i], words[j]] = [words[j], words[i]];
  }
  return words.join(' ');
}
const id = () => randomBytes(16).toString('base64url').replace(/[-_]/g, 'a').slice(0, 26).toLowerCase();
const b64url = (text) => Buffer.from(text).toString('base64url');
const jwt = (ackId, deviceId) =>
  `${b64url('{"alg":"ES256","typ":"JWT"}')}.${b64url(JSON.stringify({ ack_id: ackId, device_id: deviceId }))}.${randomBytes(64).toString('base64url')}`;

function sendPush(kind) {
  const ackId = id();
  const deviceId = randomBytes(32).toString('hex');
  const body = {
    ack_id: ackId,
    platform: 'apple_rn-v2',
    server_id: id(),
    device_id: deviceId,
    post_id: id(),
    category: 'CAN_REPLY',
    message: '',
    badge: 3,
    team_id: id(),
    channel_id: id(),
    channel_name: 'Town Square',
    type: 'message',
    sender_id: id(),
    sender_name: 'alice',
    version: 'v2',
    is_crt_enabled: true,
    signature: kind === 'body600' || kind === 'nomessage' ? '' : jwt(ackId, deviceId),
  };
  if (kind === 'nomessage') body.message = '';
  else if (kind === 'body600') {
    const rest = Buffer.byteLength(JSON.stringify(body));
    body.message = `alice: ${text()}`.slice(0, 600 - rest);
  } else body.message = `alice: ${text()}`.slice(0, kind === 'message600' ? 600 : 80);
  return body;
}

function job(kind) {
  const content = sendPush(kind);
  return {
    bodyBytes: Buffer.byteLength(JSON.stringify(content)),
    job: {
      v: 1,
      routing: {
        requestId: `r${randomBytes(12).toString('base64url')}`,
        replyTo: 'hpns:{outcomes-us}:ingress-7f3a9c2d',
        region: 'us',
        provider: 'apns',
        targetType: 'apple_rn',
        transport: 'standard',
        appVersion: 2,
        pushType: 'message',
        acceptedAtMs: Date.now(),
        expiresAtMs: Date.now() + 3_600_000,
      },
      content: makePushNotification(content),
    },
    dedupKey: randomBytes(17).toString('base64url').slice(0, 22), // the ingress: 22 characters of an HMAC
  };
}

async function measure(kind, extraArgs, burst) {
  const redis = await startTestRedis({ args: extraArgs });
  const connection = createProducerConnection({ url: redis.url });
  connection.on('error', () => undefined); // each command reports its own failure
  try {
    await waitForReady(connection, 10_000);
    const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await connection.info('memory'))[1]);
    const cipher = createPayloadCipher([{ id: 'k1', key: randomBytes(32) }]);
    const idempotency = new IdempotencyStore({ region: 'us', connection });
    const producer = new PushProducer({ region: 'us', connection, cipher, idempotency });
    const add = () => {
      const { job: j, dedupKey } = job(kind);
      return producer.enqueue(j, dedupKey);
    };
    // Warm up (queue meta keys, script cache) so the measurement counts jobs only.
    await Promise.all(Array.from({ length: 100 }, add));
    const before = await usedMemory();
    const count = burst ? jobs : Math.ceil(jobs / 4);
    if (burst)
      for (let i = 0; i < count; i += 250)
        await Promise.all(Array.from({ length: Math.min(250, count - i) }, add));
    else for (let i = 0; i < count; i += 1) await add();
    const after = await usedMemory();
    const sample = job(kind);
    await producer.close();
    return {
      bodyBytes: sample.bodyBytes,

      perJob: Math.round((after - before) / count),
    };
  } finally {
    connection.disconnect();
    await redis.stop();
  }
}

console.log(
  `memory per queued push: ${jobs} pushes per case in bursts, ${Math.ceil(jobs / 4)} one at a time, each with its idempotency record; layout args: ${layoutArgs.join(' ')}`,
);
for (const kind of ['nomessage', 'body600', 'message600', 'chat80']) {
  const burst = await measure(kind, layoutArgs, true);
  const lone = await measure(kind, layoutArgs, false);
  const defaults = await measure(kind, [], true);
  console.log(
    `${kind.padEnd(10)} send_push ${burst.bodyBytes} B; Redis per queued push, idempotency record included: ` +
      `${burst.perJob} B in envelopes of 250 (${defaults.perJob} B with Redis defaults), ${lone.perJob} B alone ` +
      `(a one-push envelope: ratio ${(burst.perJob / lone.perJob).toFixed(2)}); ≤ 512 B in envelopes: ${burst.perJob <= 512 ? 'met' : 'NOT met'}`,
  );
}
