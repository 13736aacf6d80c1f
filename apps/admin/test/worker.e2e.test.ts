import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type RedisConnection as Redis } from '@hpns/queue';
import { type PushResponse, type Region } from '@hpns/protocol';
import {
  createOutcomeListener,
  createPayloadCipher,
  createProducerConnection,
  createWorkerConnection,
  DeadLetters,
  outcomeChannel,
  PushProducer,
  waitForReady,
  type OutcomeListener,
} from '@hpns/queue';
import {
  spawnService,
  startSimulatorStack,
  startTestRedis,
  stopService,
  type ServiceProcess,
  type SimulatorStack,
  type TestRedis,
} from '@hpns/testkit';
import { apnsToken, applePush, KEY_ENV, KEYS, runProcess, WORKER_MAIN } from './support';

const US = 'us' as Region;
const TOPIC = 'com.mattermost.react.native';
/**
 * How long a paused region is watched for a delivery that must not happen. The worker takes a waiting envelope
 * within milliseconds when it runs, so this is many fetch cycles; a negative cannot be awaited as an event.
 */
const WATCH_MS = 1500;

/** Resolves once `check` holds, polling every 25 ms; rejects after `timeoutMs` with `what`. */
async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * The CLI as a process against a real worker process (apps/worker/dist/main.js) delivering to the APNs
 * simulator over HTTP/2 and TLS, with HPNS_DEAD_LETTER_HOLD_CONTENT on: pause stops delivery while the pushes
 * queue, resume restarts it without a worker restart, and a held dead letter is delivered after a redrive.
 */
describe('hpns against a running worker', () => {
  let dir: string;
  let redis: TestRedis;
  let sims: SimulatorStack;
  let producerConnection: Redis;
  let subscriber: Redis;
  let producer: PushProducer;
  let listener: OutcomeListener;
  let worker: ServiceProcess | undefined;
  let env: Record<string, string>;
  const cipher = createPayloadCipher(KEYS);
  const replyTo = outcomeChannel(US, 'admin-e2e');

  /** Deliveries (200) the APNs simulator saw for `token`. */
  const delivered = (token: string) =>
    sims.apns.requests().filter((r) => r.token === token && r.status === 200);
  const cli = async (...argv: string[]) => runProcess(argv, env);
  const cliJson = async (...argv: string[]) => {
    const run = await runProcess([...argv, '--json'], env);
    return { ...run, value: JSON.parse(run.out) as Record<string, unknown> };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hpns-admin-e2e-'));
    redis = await startTestRedis();
    sims = await startSimulatorStack({ outputDir: dir });
    env = {
      HPNS_REGIONS: 'us',
      HPNS_REDIS_URL_US: redis.url,
      HPNS_CONFIG_FILE: sims.writeProxyConfig(dir),
      ...KEY_ENV,
    };
    worker = await spawnService({
      main: WORKER_MAIN,
      event: 'worker.started',
      env: {
        PATH: process.env.PATH,
        ...env,
        ...sims.providerEnv(),
        HPNS_WORKER_REGION: 'us',
        HPNS_ADMIN_LISTEN_ADDRESS: '127.0.0.1:0',
        HPNS_DEAD_LETTER_HOLD_CONTENT: 'true',
      },
    });
    producerConnection = createProducerConnection({ url: redis.url });
    await waitForReady(producerConnection, 10_000);
    producer = new PushProducer({ region: US, connection: producerConnection, cipher });
    subscriber = createWorkerConnection({ url: redis.url });
    listener = await createOutcomeListener(subscriber, replyTo);
  }, 60_000);

  afterAll(async () => {
    await stopService(worker);
    await listener?.close();
    await producer?.close();
    producerConnection?.disconnect();
    subscriber?.disconnect();
    await sims?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds delivery while the region is paused (the pushes wait) and delivers them all after resume', async () => {
    expect(await cli('pause', 'us')).toMatchObject({ code: 0, err: '' });
    const tokens = Array.from({ length: 20 }, () => apnsToken());
    const answers: Promise<PushResponse | undefined>[] = [];
    for (const token of tokens) {
      const job = applePush(US, token, 600_000, replyTo);
      answers.push(listener.wait(job.routing.requestId, 30_000).promise);
      await producer.enqueue(job);
    }
    await new Promise((r) => setTimeout(r, WATCH_MS));
    expect(tokens.filter((t) => delivered(t).length > 0)).toEqual([]);
    const { value: paused } = await cliJson('queues');
    expect(paused['queues']).toEqual([
      expect.objectContaining({
        queue: 'push-us-apns',
        paused: true,
        active: 0,
        oldestWaitingMs: expect.any(Number),
      }),
      expect.objectContaining({ queue: 'push-us-fcm', paused: true }),
    ]);
    const [apns] = paused['queues'] as { waiting: number; oldestWaitingMs: number }[];
    expect(apns?.waiting).toBeGreaterThan(0);
    expect(apns?.oldestWaitingMs).toBeGreaterThanOrEqual(WATCH_MS - 100);

    // The same worker process, never restarted, takes the backlog once the queues are resumed.
    expect((await cli('resume', 'us')).code).toBe(0);
    expect(await Promise.all(answers)).toEqual(tokens.map(() => ({ status: 'OK' })));
    expect(tokens.filter((t) => delivered(t).length !== 1)).toEqual([]);
    expect(worker?.child.exitCode).toBeNull();
  }, 60_000);

  it('redrives a held dead letter with an open TTL to the worker once the cause is fixed, and skips the rest', async () => {
    // An APNs topic refused (a configuration problem at Apple's side): the push fails for good.
    sims.apns.disallowTopic(TOPIC);
    const token = apnsToken();
    const job = applePush(US, token, 600_000, replyTo);
    const answer = listener.wait(job.routing.requestId, 20_000).promise;
    await producer.enqueue(job);
    expect(await answer).toMatchObject({ status: 'FAIL' });
    const listed = await cliJson('dlq', 'list', '--reason', 'TopicDisallowed');
    expect(listed.value).toMatchObject({
      matched: 1,
      deadLetters: [{ requestId: job.routing.requestId, contentHeld: true, reason: 'TopicDisallowed' }],
    });
    expect(listed.out).not.toContain('launch');

    // Two records that cannot go again: one whose TTL ran out, one recorded without its content.
    const records = createProducerConnection({ url: redis.url });
    await waitForReady(records, 10_000);
    const expired = applePush(US, apnsToken(), 100);
    const notHeld = applePush(US, apnsToken());
    await new DeadLetters({ region: US, connection: records, holdContent: cipher }).record([
      { push: { job: expired, attempts: 1 }, reason: 'TopicDisallowed' },
    ]);
    await new DeadLetters({ region: US, connection: records }).record([
      { push: { job: notHeld, attempts: 1 }, reason: 'TopicDisallowed' },
    ]);
    records.disconnect();
    await until('the short TTL to pass', () => Date.now() > expired.routing.expiresAtMs);

    sims.apns.allowTopic(TOPIC);
    const redriven = await cliJson('dlq', 'redrive', '--reason', 'TopicDisallowed');
    expect(redriven.code).toBe(0);
    expect(redriven.value).toMatchObject({
      matched: 3,
      redriven: 1,
      skipped: { expired: 1, content_not_held: 1 },
    });
    await until('the redriven push at APNs', () => delivered(token).length > 0);

    // A second redrive finds only what cannot go: nothing is sent twice.
    const again = await cli('dlq', 'redrive', '--reason', 'TopicDisallowed');
    expect(again.code).toBe(1);
    expect(again.out).toContain('us: 2 matched, 0 redriven, 2 skipped');
    const { value: queues } = await cliJson('queues');
    expect(
      (queues['queues'] as { waiting: number; active: number }[]).every((q) => q.waiting + q.active === 0),
    ).toBe(true);
    expect(delivered(token)).toHaveLength(1);
  }, 60_000);

  it('exits 2 with a clear message on bad usage, as a process and through npm run hpns', async () => {
    const unknown = await cli('pause', 'nowhere');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('region "nowhere" is not one of HPNS_REGIONS (us)');
    const bare = await cli();
    expect(bare.code).toBe(2);
    expect(bare.err).toContain('usage: npm run hpns -- <command> [options]');

    const root = resolve(__dirname, '../../..');
    const viaNpm = await new Promise<{ code: number | null; out: string }>((resolveRun) => {
      const child = spawn('npm', ['run', '--silent', 'hpns', '--', 'queues', '--json'], {
        cwd: root,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.once('close', (code) => resolveRun({ code, out }));
    });
    expect(viaNpm.code).toBe(0);
    expect((JSON.parse(viaNpm.out) as { queues: unknown[] }).queues).toHaveLength(2);
  }, 60_000);
});
