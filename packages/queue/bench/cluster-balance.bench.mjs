// Balance and sizing on Redis Cluster (issue 16): per-node ops/s, CPU and memory at saturation, pushes per
// queue shard, and memory per queued push, against a single Redis as the baseline in the same run.
//
//   npm run build && node packages/queue/bench/cluster-balance.bench.mjs [--shards 6] [--duration 10] [--queued 30000]
//
// Two phases, on a local testkit cluster (3 masters, 3 replicas) and then on one redis-server:
//   queued      --queued pushes are enqueued (nothing consumes them) through two PushProducers (two ingresses)
//               with --shards shards; the growth of each master's used_memory gives memory per queued push, and
//               the envelopes' push counts give each shard's share.
//   saturation  the same producers keep 4,000 pushes outstanding while one PushConsumer per shard (the worker's
//               wiring, with a handler that sends nothing to a provider) takes them, for --duration seconds.
//               Each push also makes the per-push Redis commands of the real path: at the ingress the dead-token
//               lookup and the idempotency reservation (an ack id on every push), at the worker the ack record
//               and one SPUBLISH of the envelope's outcomes per ingress. (The rate-limit counters of the ingress,
//               one EVAL per push of a limited tenant, are not in this mix.) Each master's commands processed, CPU (used_cpu_user + used_cpu_sys) and memory are
//               read before and after; pushes taken are counted per shard.
// What is printed: per node ops/s, Redis CPU µs per push and the pushes/s one node could carry at one full core
// (the sizing figure: Redis runs commands on one thread), per-shard pushes and their spread around the mean
// (target ±20 %), and the same figures on a single Redis. This process is the client of every node and of both
// producers and consumers, so the pushes/s here is the client's limit on this machine, not the cluster's; the
// CPU per push of each node is what sizes a cluster.
import { parseArgs } from 'node:util';
import { makePushNotification } from '@hpns/protocol';
import {
  AckTracker,
  createOutcomeListener,
  createPayloadCipher,
  createSubscriberConnection,
  DeadTokenCache,
  duplicateConnection,
  IdempotencyStore,
  keyedHasher,
  outcomeChannel,
  publishOutcomes,
  createProducerConnection,
  createWorkerConnection,
  envelopeMeta,
  keySlot,
  PushConsumer,
  PushProducer,
  pushQueueShard,
  RegionQueues,
  waitForReady,
} from '@hpns/queue';
import { startTestRedis, startTestRedisCluster } from '@hpns/testkit';

const { values } = parseArgs({
  options: {
    shards: { type: 'string', default: '6' },
    duration: { type: 'string', default: '10' },
    queued: { type: 'string', default: '30000' },
  },
});
const SHARDS = Number(values.shards);
const DURATION_MS = Number(values.duration) * 1000;
const QUEUED = Number(values.queued);
const OUTSTANDING = 4000;
const REGION = 'us';
const cipher = createPayloadCipher([{ id: 'bench', key: Buffer.alloc(32, 3) }]);
const hasher = keyedHasher(Buffer.alloc(32, 4));

const TEXT =
  'Hi team, the release review moved to Thursday at 10:00. Please bring the updated numbers for the ' +
  'push latency dashboard and the list of open incidents from last week.';
let serial = 0;
const WORDS = TEXT.split(' ');
/** The text's words in a random order: different in every push, so envelopes compress like real chat. */
function message() {
  const words = [...WORDS];
  for (let i = words.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [words[i], words[j]] = [words[j], words[i]];
  }
  return words.join(' ');
}

function push(replyTo) {
  serial += 1;
  const id = `r${serial.toString(36)}${Math.random().toString(36).slice(2, 10)}`;
  const platform = serial % 2 === 0 ? 'apple_rn-v2' : 'android_rn-v2';
  return {
    v: 1,
    routing: {
      requestId: id,
      region: REGION,
      provider: serial % 2 === 0 ? 'apns' : 'fcm',
      targetType: serial % 2 === 0 ? 'apple_rn' : 'android_rn',
      transport: 'standard',
      appVersion: 2,
      pushType: 'message',
      acceptedAtMs: Date.now(),
      expiresAtMs: Date.now() + 3_600_000,
      ...(replyTo === undefined ? {} : { replyTo }),
    },
    content: makePushNotification({
      platform,
      server_id: `s${id.padEnd(25, 'x')}`,
      device_id: id.padEnd(64, 'a'),
      message: message(),
      channel_name: 'Town Square',
      sender_name: 'alice',
      badge: 3,
      type: 'message',
      version: 'v2',
    }),
  };
}

/** INFO fields of one node. */
async function info(connection) {
  const text = await connection.info('all');
  const field = (name) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN);
  return {
    commands: field('total_commands_processed'),
    cpu: field('used_cpu_user') + field('used_cpu_sys'),
    calls: Object.fromEntries(
      [...text.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)].map(([, name, calls]) => [name, Number(calls)]),
    ),
    // What the data holds: the replicas' and clients' output buffers (a burst of writes waiting to be sent)
    // are left out, as they drain by themselves.
    memory:
      field('used_memory') -
      field('mem_clients_slaves') -
      field('mem_clients_normal') -
      field('mem_replication_backlog'),
  };
}

async function nodeClients(target) {
  const ports = target.cluster
    ? (await target.cluster.nodes()).filter((n) => n.role === 'master').map((n) => n.port)
    : [target.port];
  return Promise.all(
    ports.map(async (port) => {
      const c = createProducerConnection({ url: `redis://127.0.0.1:${port}` });
      c.on('error', () => undefined);
      await waitForReady(c, 10_000);
      return { port, c };
    }),
  );
}

const fmt = (n, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '-';
const spread = (counts) => {
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  return Math.max(...counts.map((c) => Math.abs(c - mean) / mean)) * 100;
};

async function runCase(label, url, shards, target) {
  const nodes = await nodeClients(target);
  const opts = { url, ...(target.cluster ? { cluster: true } : {}) };
  const producerConnections = [createProducerConnection(opts), createProducerConnection(opts)];
  for (const c of producerConnections) c.on('error', () => undefined);
  await Promise.all(producerConnections.map((c) => waitForReady(c, 10_000)));
  // Each producer an ingress: its own lookups connection (idempotency, dead tokens) and outcome channel.
  const ingresses = await Promise.all(
    producerConnections.map(async (connection, i) => {
      const lookups = createProducerConnection(opts);
      lookups.on('error', () => undefined);
      await waitForReady(lookups, 10_000);
      const subscriber = createSubscriberConnection(opts);
      subscriber.on('error', () => undefined);
      const idempotency = new IdempotencyStore({ region: REGION, connection: lookups });
      return {
        lookups,
        subscriber,
        deadTokens: new DeadTokenCache({ region: REGION, connection: lookups, hasher }),
        producer: new PushProducer({ region: REGION, connection, cipher, shards, idempotency }),
        listener: await createOutcomeListener(
          subscriber,
          outcomeChannel(REGION, `bench-${label.length}-${i}`),
        ),
      };
    }),
  );
  const producers = ingresses.map((ingress) => ingress.producer);
  /** One push through an ingress: the dead-token lookup, the reservation of its ack id, the enqueue. */
  const send = async (ingress) => {
    const job = push(ingress.listener.channel);
    await ingress.deadTokens.deadReason(job.routing.targetType, job.content.device_id);
    return ingress.producer.enqueue(job, hasher.shortHash(job.routing.requestId, job.content.device_id));
  };

  // Phase 1: queued pushes, nothing consuming.
  const memBefore = await Promise.all(nodes.map(({ c }) => info(c)));
  const adds = [];
  for (let i = 0; i < QUEUED; i++) {
    adds.push(producers[i % 2].enqueue(push()));
    if (adds.length >= OUTSTANDING) await Promise.all(adds.splice(0));
  }
  await Promise.all(adds);
  const memAfter = await Promise.all(nodes.map(({ c }) => info(c)));
  const queues = new RegionQueues({ region: REGION, connection: producerConnections[0], shards });
  const queuedPerShard = [];
  for (const provider of ['apns', 'fcm']) {
    for (let shard = 0; shard < shards; shard++) {
      const jobs = await queues.queue(provider, shard).getJobs(['waiting'], 0, -1);
      queuedPerShard.push(jobs.reduce((sum, job) => sum + (envelopeMeta(job.data)?.length ?? 0), 0));
    }
  }
  for (const provider of ['apns', 'fcm'])
    for (let shard = 0; shard < shards; shard++)
      await queues.queue(provider, shard).obliterate({ force: true });
  await queues.close();
  const memoryGrowth = memAfter.map((m, i) => m.memory - memBefore[i].memory);

  // Phase 2: saturation, producers and consumers together.
  const worker = createWorkerConnection(opts);
  worker.on('error', () => undefined);
  const side = duplicateConnection(worker, { connectionName: 'bench-side', enableAutoPipelining: true });
  side.on('error', () => undefined);
  const acks = new AckTracker({ region: REGION, connection: side, hasher });
  const taken = new Map();
  const consumers = [];
  for (const provider of ['apns', 'fcm']) {
    for (let shard = 0; shard < shards; shard++) {
      const key = `${provider}/${shard}`;
      taken.set(key, 0);
      const consumer = new PushConsumer({
        region: REGION,
        provider,
        shard,
        connection: worker,
        cipher,
        concurrency: Math.ceil(100 / shards),
        handler: async (job) => {
          taken.set(key, taken.get(key) + job.pushes.length);
          // What a worker writes per delivered push and per envelope (effects.ts), without a provider.
          const byChannel = new Map();
          for (const { job: p } of job.pushes) {
            if (p.routing.replyTo === undefined) continue;
            let list = byChannel.get(p.routing.replyTo);
            if (list === undefined) byChannel.set(p.routing.replyTo, (list = []));
            list.push({ requestId: p.routing.requestId, response: { status: 'OK' } });
          }
          await Promise.all([
            ...job.pushes.map(({ job: p }) => acks.delivered(p.routing.requestId, p.routing.acceptedAtMs)),
            ...[...byChannel].map(([channel, messages]) => publishOutcomes(side, channel, messages)),
          ]);
          return { action: 'complete' };
        },
      });
      consumer.start();
      consumers.push(consumer);
    }
  }
  const before = await Promise.all(nodes.map(({ c }) => info(c)));
  const cpuBefore = process.cpuUsage();
  const startedAt = Date.now();
  let accepted = 0;
  let failed = 0;
  await new Promise((resolve) => {
    let outstanding = 0;
    const next = () => {
      while (outstanding < OUTSTANDING && Date.now() - startedAt < DURATION_MS) {
        outstanding += 1;
        send(ingresses[serial % 2])
          .then(
            () => (accepted += 1),
            () => (failed += 1),
          )
          .finally(() => {
            outstanding -= 1;
            if (Date.now() - startedAt < DURATION_MS) setImmediate(next);
            else if (outstanding === 0) resolve();
          });
      }
    };
    next();
  });
  // Let the consumers finish what was queued.
  const total = () => [...taken.values()].reduce((a, b) => a + b, 0);
  const drainBy = Date.now() + 30_000;
  while (total() < accepted && Date.now() < drainBy) await new Promise((r) => setTimeout(r, 50));
  const elapsedS = (Date.now() - startedAt) / 1000;
  const after = await Promise.all(nodes.map(({ c }) => info(c)));
  const cpu = process.cpuUsage(cpuBefore);
  const pushes = total();
  await Promise.all(consumers.map((c) => c.close(2000)));
  await Promise.all(producers.map((p) => p.close()));
  await Promise.all(ingresses.map((i) => i.listener.close()));
  const extra = ingresses.flatMap((i) => [i.lookups, i.subscriber]);
  for (const c of [...producerConnections, ...extra, worker, side, ...nodes.map((n) => n.c)]) c.disconnect();

  console.log(`\n== ${label}: ${shards} shard(s) per provider, ${nodes.length} master(s)`);
  console.log(
    `saturation: ${fmt(pushes)} pushes in ${fmt(elapsedS, 1)} s = ${fmt(pushes / elapsedS)} pushes/s (client-bound: ` +
      `this process ${fmt(((cpu.user + cpu.system) / 1e6 / elapsedS) * 100)} % of a core, ${fmt((cpu.user + cpu.system) / pushes, 1)} µs/push); refused ${failed}`,
  );
  let redisCpuTotal = 0;
  for (const [i, { port }] of nodes.entries()) {
    const ops = (after[i].commands - before[i].commands) / elapsedS;
    const cpuS = after[i].cpu - before[i].cpu;
    redisCpuTotal += cpuS;
    const perPush = (cpuS * 1e6) / pushes;
    console.log(
      `node :${port}  ${fmt(ops)} ops/s  CPU ${fmt((cpuS / elapsedS) * 100)} % of a core  ` +
        `${fmt(perPush, 1)} µs/push of the whole load  memory +${fmt(memoryGrowth[i] / 1024)} KiB for ${fmt(QUEUED)} queued pushes ` +
        `(${fmt(memoryGrowth[i] / QUEUED, 0)} B/push of the whole queue)`,
    );
  }
  for (const [i, { port }] of nodes.entries()) {
    const delta = Object.entries(after[i].calls)
      .map(([name, calls]) => [name, (calls - (before[i].calls[name] ?? 0)) / elapsedS])
      .filter(([, rate]) => rate >= 1)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8);
    console.log(`  :${port} commands/s: ${delta.map(([n, r]) => `${n} ${fmt(r)}`).join(', ')}`);
  }
  const opsPerNode = nodes.map((_, i) => (after[i].commands - before[i].commands) / elapsedS);
  const perShardTaken = [...taken.values()];
  const redisUsPerPush = (redisCpuTotal * 1e6) / pushes;
  console.log(
    `Redis CPU, all masters: ${fmt(redisUsPerPush, 1)} µs per push → at one full core per master, about ` +
      `${fmt((1e6 / redisUsPerPush) * nodes.length)} pushes/s of this mix for ${nodes.length} master(s), ` +
      `${fmt(1e6 / redisUsPerPush)} per master`,
  );
  console.log(
    `memory per queued push: ${fmt(memoryGrowth.reduce((a, b) => a + b, 0) / QUEUED)} B (all masters, ${fmt(QUEUED)} pushes)`,
  );
  if (nodes.length > 1) console.log(`ops/s per node: spread ${fmt(spread(opsPerNode), 1)} % around the mean`);
  if (shards > 1) {
    console.log(
      `pushes per shard queued: ${queuedPerShard.join(' ')} (spread ${fmt(spread(queuedPerShard), 1)} %); ` +
        `taken at saturation: ${perShardTaken.join(' ')} (spread ${fmt(spread(perShardTaken), 1)} %)`,
    );
  }
  return {
    pushesPerSec: pushes / elapsedS,
    redisUsPerPush,
    memoryPerPush: memoryGrowth.reduce((a, b) => a + b, 0) / QUEUED,
  };
}

const cluster = await startTestRedisCluster({ masters: 3, replicasPerMaster: 1 });
let clusterResult;
try {
  const masters = (await cluster.nodes()).filter((n) => n.role === 'master');
  const placement = [];
  for (let shard = 0; shard < SHARDS; shard++) {
    const master = await cluster.masterOfSlot(keySlot(pushQueueShard(REGION, 'apns', shard).prefix));
    placement.push(masters.findIndex((m) => m.port === master.port));
  }
  console.log(`apns shard → master: ${placement.join(' ')}`);
  clusterResult = await runCase('Redis Cluster', cluster.url, SHARDS, { cluster });
} finally {
  await cluster.stop();
}
// The baseline: one Redis with one replica, as a region runs without a cluster, so that both sides pay for
// replication.
const single = await startTestRedis({ args: ['--repl-diskless-sync-delay', '0'] });
const replica = await startTestRedis({ args: ['--replicaof', '127.0.0.1', String(single.port)] });
let singleResult;
try {
  const probe = createProducerConnection({ url: replica.url });
  probe.on('error', () => undefined);
  await waitForReady(probe, 10_000);
  const syncBy = Date.now() + 20_000;
  while (!(await probe.info('replication')).includes('master_link_status:up') && Date.now() < syncBy)
    await new Promise((r) => setTimeout(r, 100));
  probe.disconnect();
  singleResult = await runCase('single Redis with a replica (baseline)', single.url, 1, {
    port: single.port,
  });
} finally {
  await replica.stop();
  await single.stop();
}
console.log(
  `\ncluster / single: pushes/s ${fmt(clusterResult.pushesPerSec / singleResult.pushesPerSec, 2)}×, ` +
    `Redis CPU per push ${fmt(clusterResult.redisUsPerPush / singleResult.redisUsPerPush, 2)}×, ` +
    `memory per queued push ${fmt(clusterResult.memoryPerPush / singleResult.memoryPerPush, 2)}×`,
);
