import { type Region } from '@hpns/protocol';
import {
  createOutcomeListener,
  createPayloadCipher,
  createProducerConnection,
  createSubscriberConnection,
  createWorkerConnection,
  isCluster,
  outcomeChannel,
  publishOutcomes,
  PushProducer,
  RegionQueues,
  waitForReady,
  type RedisConnection,
} from '@hpns/queue';
import { createTestCa, startTestRedisCluster, type TestRedisCluster } from '@hpns/testkit';
import { KEY_A, makeJob } from './support';

/**
 * A Redis Cluster over TLS with a private CA (clients, bus and replication encrypted): the seed list in `rediss:`
 * form and HPNS_REDIS_CA_FILE's CA are all a region needs, as for one Redis. The nodes the cluster announces are
 * dialled over TLS and checked against the seed's host name.
 */
const US = 'us' as Region;
const ca = createTestCa();
let cluster: TestRedisCluster;
const opened: RedisConnection[] = [];
const track = <T extends RedisConnection>(connection: T): T => {
  opened.push(connection);
  return connection;
};

beforeAll(async () => {
  cluster = await startTestRedisCluster({
    tls: { certPem: ca.serverCertPem, keyPem: ca.serverKeyPem, caPem: ca.caPem },
  });
}, 60_000);
afterAll(async () => {
  for (const c of opened) c.disconnect();
  await cluster?.stop();
});

test('queues, takes nothing in clear and answers outcomes over TLS to every node', async () => {
  const cipher = createPayloadCipher([KEY_A]);
  const connection = track(createProducerConnection({ url: cluster.tlsUrl, ca: ca.caPem }));
  connection.on('error', () => undefined);
  await waitForReady(connection, 10_000);
  // Every master was reached over TLS, at its TLS port.
  if (!isCluster(connection)) throw new Error('a seed list must open a cluster client');
  const masters = connection.nodes('master');
  expect(masters.map((n) => n.options.port).sort()).toEqual(
    (await cluster.nodes())
      .filter((n) => n.role === 'master')
      .map((n) => cluster.tlsPorts[cluster.ports.indexOf(n.port)])
      .sort(),
  );
  expect(masters.every((n) => n.options.tls !== undefined)).toBe(true);
  const producer = new PushProducer({ region: US, connection, cipher, shards: 3 });
  for (let i = 0; i < 6; i++) await producer.enqueue(makeJob());
  await producer.close();
  const queues = new RegionQueues({ region: US, connection, providers: ['apns'], shards: 3 });
  expect((await queues.status()).map((s) => s.waiting)).toEqual([2, 2, 2]);
  for (const queue of queues.shardQueues('apns')) await queue.obliterate({ force: true });
  await queues.close();

  const subscriber = track(createSubscriberConnection({ url: cluster.tlsUrl, ca: ca.caPem }));
  subscriber.on('error', () => undefined);
  const listener = await createOutcomeListener(subscriber, outcomeChannel(US, 'tls-ingress'));
  const publisher = track(createWorkerConnection({ url: cluster.tlsUrl, ca: ca.caPem }));
  publisher.on('error', () => undefined);
  const wait = listener.wait('req-tls', 5000);
  await publishOutcomes(publisher, listener.channel, [{ requestId: 'req-tls', response: { status: 'OK' } }]);
  expect(await wait.promise).toEqual({ status: 'OK' });
  await listener.close();
}, 30_000);

test('is refused without the private CA (Node’s default roots do not know it)', async () => {
  const errors: string[] = [];
  const connection = track(
    createProducerConnection({ url: cluster.tlsUrl, connectTimeoutMs: 2000, disconnectTimeoutMs: 100 }),
  );
  // A cluster client reports "Failed to refresh slots cache"; each node's own error comes as `node error`.
  connection.on('error', () => undefined);
  connection.on('node error', (error: Error) => errors.push(error.message));
  const refused = await waitForReady(connection, 3000).catch((error: Error) => error);
  // The reason is in the error: the cluster client alone says only that its slots could not be read.
  expect(String(refused)).toMatch(
    /not reachable within 3000 ms \(seed localhost:\d+: .*(certificate|issuer)/i,
  );
  expect(errors.length).toBeGreaterThan(0);
});
