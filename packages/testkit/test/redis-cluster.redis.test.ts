import { startTestRedisCluster, type TestRedisCluster } from '@hpns/testkit';

/**
 * The local Redis Cluster of testkit: 3 masters and 3 replicas on free ports, all slots served; a SIGKILLed
 * master is replaced by its replica within seconds (cluster-node-timeout 1 s), and comes back as a replica.
 */
let cluster: TestRedisCluster;

beforeAll(async () => {
  cluster = await startTestRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
}, 60_000);
afterAll(() => cluster?.stop());

test('forms 3 masters with a replica each, serving all 16384 slots', async () => {
  const nodes = await cluster.nodes();
  const masters = nodes.filter((n) => n.role === 'master');
  expect(masters).toHaveLength(3);
  expect(nodes.filter((n) => n.role === 'replica')).toHaveLength(3);
  const slots = masters.reduce((sum, m) => sum + m.slots.reduce((s, [a, b]) => s + b - a + 1, 0), 0);
  expect(slots).toBe(16384);
  for (const replica of nodes.filter((n) => n.role === 'replica'))
    expect(masters.map((m) => m.id)).toContain(replica.masterId);
  // Hash tags pick the slot: keys of one tag share a master.
  expect(await cluster.slotOf('{push-us-apns}:wait')).toBe(await cluster.slotOf('{push-us-apns}:active'));
});

test('fails a killed master over to its replica, which the old master then follows', async () => {
  const slot = await cluster.slotOf('{push-us-apns}');
  const before = await cluster.masterOfSlot(slot);
  const replica = (await cluster.nodes()).find((n) => n.masterId === before.id)!;
  const killedAt = Date.now();
  await cluster.node(before.port).kill('SIGKILL');
  for (;;) {
    const now = await cluster.masterOfSlot(slot).catch(() => undefined);
    if (now !== undefined && now.port !== before.port) {
      expect(now.port).toBe(replica.port);
      break;
    }
    if (Date.now() - killedAt > 20_000) throw new Error('no failover within 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stderr.write(
    `redis cluster failover: slot ${slot} served again after ${Date.now() - killedAt} ms\n`,
  );
  await cluster.node(before.port).start();
  await cluster.waitHealthy();
  const back = (await cluster.nodes()).find((n) => n.port === before.port)!;
  expect(back.role).toBe('replica');
}, 60_000);
