import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RedisConnection as Redis } from '@hpns/queue';
import { type Region } from '@hpns/protocol';
import {
  addEnvelope,
  createPayloadCipher,
  createProducerConnection,
  DeadLetters,
  deadLetterContentKey,
  DeadTokenCache,
  keyedHasher,
  RegionQueues,
  waitForReady,
} from '@hpns/queue';
import { freePort, startTestRedis, type TestRedis } from '@hpns/testkit';
import { HPNS_USAGE } from '../src/cli';
import { apnsToken, applePush, HASH_KEY, KEY_ENV, KEYS, runInProcess } from './support';

const US = 'us' as Region;
const DE = 'de' as Region;

/** Every command against two regions' real Redis servers, run in process as `runHpnsCli`. */
describe('hpns (in process, two regions)', () => {
  const redis: Partial<Record<Region, TestRedis>> = {};
  const connection: Partial<Record<Region, Redis>> = {};
  const queues: Partial<Record<Region, RegionQueues>> = {};
  const cipher = createPayloadCipher(KEYS);
  let dir: string;
  let env: Record<string, string>;

  const conn = (region: Region) => connection[region] as Redis;
  const q = (region: Region) => queues[region] as RegionQueues;
  const run = (...argv: string[]) => runInProcess(argv, env);
  const json = async (...argv: string[]) => {
    const result = await run(...argv, '--json');
    return {
      ...result,
      value: result.out === '' ? undefined : (JSON.parse(result.out) as Record<string, unknown>),
    };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hpns-admin-cli-'));
    const configFile = join(dir, 'mattermost-push-proxy.json');
    // The CLI reads the target types only (no credentials), as the ingress does.
    writeFileSync(
      configFile,
      JSON.stringify({
        ApplePushSettings: [
          { Type: 'apple_rn', ApplePushTopic: 'com.example', AppleAuthKeyFile: join(dir, 'none.p8') },
        ],
        AndroidPushSettings: [{ Type: 'android_rn', ServiceFileLocation: join(dir, 'none.json') }],
      }),
    );
    for (const region of [US, DE]) {
      const server = await startTestRedis();
      redis[region] = server;
      const c = createProducerConnection({ url: server.url });
      await waitForReady(c, 10_000);
      connection[region] = c;
      queues[region] = new RegionQueues({ region, connection: c });
    }
    env = {
      HPNS_REGIONS: 'us,de',
      HPNS_REDIS_URL_US: (redis[US] as TestRedis).url,
      HPNS_REDIS_URL_DE: (redis[DE] as TestRedis).url,
      HPNS_CONFIG_FILE: configFile,
      ...KEY_ENV,
    };
  });
  afterEach(async () => {
    for (const region of [US, DE]) await conn(region).flushall();
  });
  afterAll(async () => {
    for (const region of [US, DE]) {
      await queues[region]?.close();
      connection[region]?.disconnect();
      await redis[region]?.stop();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** Records dead letters in `region` through the workers' own class; `held` ones keep their sealed content. */
  async function deadLetter(
    region: Region,
    options: {
      reason?: string;
      held?: boolean;
      ttlMs?: number;
      provider?: 'apns' | 'fcm';
      failedAgoMs?: number;
    } = {},
  ) {
    const job = applePush(region, apnsToken(), options.ttlMs ?? 600_000);
    if (options.provider === 'fcm') {
      job.routing.provider = 'fcm';
      job.routing.targetType = 'android_rn';
    }
    const letters = new DeadLetters({
      region,
      connection: conn(region),
      ...(options.held === false ? {} : { holdContent: cipher }),
      now: () => Date.now() - (options.failedAgoMs ?? 0),
    });
    await letters.record([{ push: { job, attempts: 2 }, reason: options.reason ?? 'BadTopic' }]);
    return job;
  }

  describe('queues', () => {
    it('shows every queue of every region as a table, and as JSON', async () => {
      await addEnvelope(q(US).queue('apns'), cipher, [{ job: applePush(US, apnsToken()), attempts: 0 }]);
      await addEnvelope(
        q(US).queue('apns'),
        cipher,
        [{ job: applePush(US, apnsToken()), attempts: 0 }],
        60_000,
      );
      await q(DE).pause(['fcm']);

      const table = await run('queues');
      expect(table).toMatchObject({ code: 0, err: '' });
      const lines = table.out.split('\n');
      expect(lines[0]).toMatch(/^REGION +QUEUE +WAITING +ACTIVE +DELAYED +FAILED +OLDEST WAITING +PAUSED$/);
      expect(lines[1]).toMatch(/^us +push-us-apns +1 +0 +1 +0 +\d+m?s +no$/);
      expect(lines[2]).toMatch(/^us +push-us-fcm +0 +0 +0 +0 +- +no$/);
      expect(lines[4]).toMatch(/^de +push-de-fcm +0 +0 +0 +0 +- +yes$/);

      const { code, value } = await json('queues', '--region', 'de');
      expect(code).toBe(0);
      expect(value).toEqual({
        queues: [
          {
            region: 'de',
            provider: 'apns',
            queue: 'push-de-apns',
            shard: 0,
            leftover: false,
            waiting: 0,
            active: 0,
            delayed: 0,
            failed: 0,
            oldestWaitingMs: null,
            paused: false,
          },
          expect.objectContaining({ queue: 'push-de-fcm', paused: true }),
        ],
      });
      await q(DE).resume();
    });
  });

  describe('pause and resume', () => {
    it('pauses every queue of one region only, says when one already was, and resumes', async () => {
      const paused = await run('pause', 'us');
      expect(paused.code).toBe(0);
      expect(paused.out).toContain('push-us-apns: paused');
      expect((await q(US).status()).map((s) => s.paused)).toEqual([true, true]);
      expect((await q(DE).status()).map((s) => s.paused)).toEqual([false, false]);

      const again = await json('pause', 'us', '--provider', 'fcm');
      expect(again.value).toEqual({
        region: 'us',
        action: 'pause',
        queues: [{ queue: 'push-us-fcm', provider: 'fcm', paused: true, changed: false }],
      });

      expect((await run('resume', 'us', '--provider', 'apns')).code).toBe(0);
      expect((await q(US).status()).map((s) => s.paused)).toEqual([false, true]);
      const resumed = await run('resume', 'us');
      expect(resumed.out).toContain('push-us-apns: already running');
      expect(resumed.out).toContain('push-us-fcm: running');
      expect((await q(US).status()).map((s) => s.paused)).toEqual([false, false]);
    });

    it('refuses an unknown region, a missing one and an unknown provider with exit code 2', async () => {
      const unknown = await run('pause', 'mars');
      expect(unknown.code).toBe(2);
      expect(unknown.err).toContain('region "mars" is not one of HPNS_REGIONS (us, de)');
      expect((await run('resume')).err).toContain('resume takes one region');
      expect((await run('pause', 'us', '--provider', 'webpush')).err).toContain(
        '--provider must be one of apns, fcm, got "webpush"',
      );
      expect((await q(US).status()).some((s) => s.paused)).toBe(false);
    });
  });

  describe('dlq list and show', () => {
    it('lists records newest first with filters, metadata only', async () => {
      const old = await deadLetter(US, { reason: 'BadTopic', failedAgoMs: 3_600_000 });
      const fcm = await deadLetter(US, { reason: 'INVALID_ARGUMENT', provider: 'fcm', failedAgoMs: 60_000 });
      const fresh = await deadLetter(DE, { reason: 'BadTopic', held: false });

      const table = await run('dlq', 'list');
      expect(table.code).toBe(0);
      const lines = table.out.split('\n');
      expect(lines[0]).toMatch(
        /^ID +REGION +PROVIDER +TARGET +TYPE +REASON +ATTEMPTS +FAILED +EXPIRES +HELD +REQUEST$/,
      );
      expect(lines[1]).toContain(fresh.routing.requestId);
      expect(lines[1]).toMatch(/ de +apns +apple_rn +message +BadTopic +2 +\d+ms ago +in 9m\d\ds +no /);
      expect(lines[3]).toContain(old.routing.requestId);
      expect(lines[4]).toBe('3 of 3 matching dead letters');
      // Never content: not the message, not the device token.
      expect(table.out).not.toContain('launch');
      expect(table.out).not.toContain(old.content.device_id);

      const ids = async (...filters: string[]) =>
        ((await json('dlq', 'list', ...filters)).value?.['deadLetters'] as { requestId: string }[]).map(
          (e) => e.requestId,
        );
      expect(await ids('--reason', 'BadTopic')).toEqual([fresh.routing.requestId, old.routing.requestId]);
      expect(await ids('--provider', 'fcm')).toEqual([fcm.routing.requestId]);
      expect(await ids('--target', 'apple_rn', '--region', 'us')).toEqual([old.routing.requestId]);
      expect(await ids('--older-than', '30m')).toEqual([old.routing.requestId]);
      expect(await ids('--newer-than', '2m')).toEqual([fresh.routing.requestId, fcm.routing.requestId]);
      expect(await ids('--reason', 'Unregistered')).toEqual([]);
      const limited = await json('dlq', 'list', '--limit', '1');
      expect(limited.value).toMatchObject({
        matched: 3,
        deadLetters: [{ requestId: fresh.routing.requestId }],
      });
      expect(JSON.stringify(limited.value)).not.toContain('launch');
    });

    it('shows one record by id or by request id, and whether its content is still held', async () => {
      const job = await deadLetter(DE, { reason: 'PayloadTooLarge' });
      const [entry] = (await json('dlq', 'list')).value?.['deadLetters'] as { id: string }[];
      const shown = await run('dlq', 'show', (entry as { id: string }).id);
      expect(shown.code).toBe(0);
      expect(shown.out).toMatch(/reason +PayloadTooLarge/);
      expect(shown.out).toMatch(/content +held, sealed, until it expires: redrivable/);
      expect(shown.out).not.toContain('launch');

      const byRequest = await json('dlq', 'show', job.routing.requestId);
      expect(byRequest.value).toEqual({
        deadLetters: [
          expect.objectContaining({ id: entry?.id, region: 'de', contentHeld: true, contentHeldNow: true }),
        ],
      });

      const missing = await run('dlq', 'show', '1-1');
      expect(missing.code).toBe(1);
      expect(missing.err).toBe('no dead letter 1-1 in us, de');
      const malformed = await run('dlq', 'show', 'not an id!');
      expect(malformed.code).toBe(2);
      expect(malformed.err).toContain('is neither a dead-letter id');
    });
  });

  describe('dlq purge', () => {
    it('removes the matching records and their held content, after a dry run that removes nothing', async () => {
      const topic = await deadLetter(US, { reason: 'BadTopic' });
      const kept = await deadLetter(US, { reason: 'expired' });

      const dry = await json('dlq', 'purge', '--reason', 'BadTopic', '--dry-run');
      expect(dry).toMatchObject({ code: 0, value: { dryRun: true, matched: 1 } });
      expect(await conn(US).xlen('hpns:dlq-us')).toBe(2);

      const purged = await run('dlq', 'purge', '--reason', 'BadTopic', '--region', 'us');
      expect(purged).toMatchObject({ code: 0, out: 'us: 1 removed, with their held content' });
      expect(await conn(US).exists(deadLetterContentKey(US, topic.routing.requestId))).toBe(0);
      expect(await conn(US).exists(deadLetterContentKey(US, kept.routing.requestId))).toBe(1);
      expect(await conn(US).xlen('hpns:dlq-us')).toBe(1);

      const nothing = await run('dlq', 'purge', '--reason', 'BadTopic');
      expect(nothing.code).toBe(1);
      expect(nothing.err).toBe('no dead letter matched');
    });

    it('wants --all before it removes every record', async () => {
      await deadLetter(US);
      const refused = await run('dlq', 'purge');
      expect(refused.code).toBe(2);
      expect(refused.err).toContain('dlq purge with no filter removes every record: say so with --all');
      expect(await conn(US).xlen('hpns:dlq-us')).toBe(1);
      expect((await run('dlq', 'purge', '--all')).code).toBe(0);
      expect(await conn(US).xlen('hpns:dlq-us')).toBe(0);
    });
  });

  describe('dlq redrive', () => {
    it('queues held pushes with an open TTL, skips the others with their reasons, and never twice', async () => {
      const open = await deadLetter(US, { reason: 'BadTopic' });
      const notHeld = await deadLetter(US, { reason: 'BadTopic', held: false });
      // Still recorded, its TTL over since: a late push is worse than none.
      const expired = await deadLetter(US, { reason: 'BadTopic', ttlMs: 150 });
      await new Promise((resolve) => setTimeout(resolve, 200));

      const dry = await json('dlq', 'redrive', '--dry-run');
      expect(dry.value).toMatchObject({ dryRun: true, matched: 3, redriven: 1 });
      expect(await q(US).queue('apns').getWaitingCount()).toBe(0);

      const result = await json('dlq', 'redrive', '--reason', 'BadTopic');
      expect(result.code).toBe(0);
      expect(result.value).toEqual({
        dryRun: false,
        matched: 3,
        redriven: 1,
        skipped: { content_not_held: 1, expired: 1 },
        regions: [
          {
            region: 'us',
            matched: 3,
            redriven: [{ id: expect.any(String), requestId: open.routing.requestId }],
            skipped: expect.arrayContaining([
              { id: expect.any(String), requestId: notHeld.routing.requestId, reason: 'content_not_held' },
              { id: expect.any(String), requestId: expired.routing.requestId, reason: 'expired' },
            ]),
          },
          { region: 'de', matched: 0, redriven: [], skipped: [] },
        ],
      });
      const [job] = await q(US).queue('apns').getJobs(['waiting']);
      expect(cipher.openEnvelope(job?.data).map((p) => [p.job.routing.requestId, p.attempts])).toEqual([
        [open.routing.requestId, 0],
      ]);

      // The redriven record is gone; what is left cannot be redriven: exit code 1, nothing queued twice.
      const again = await run('dlq', 'redrive');
      expect(again.code).toBe(1);
      expect(again.out).toContain('us: 2 matched, 0 redriven, 2 skipped (1 expired, 1 content_not_held)');
      expect(again.out).toContain(`skipped`);
      expect(again.err).toBe('nothing could be redriven');
      expect(await q(US).queue('apns').getWaitingCount()).toBe(1);
      expect((await run('dlq', 'redrive', '--reason', 'BadTopic', '--newer-than', '1ms')).err).toBe(
        'no dead letter matched',
      );
    });

    it('needs the payload keys', async () => {
      await deadLetter(US);
      const { HPNS_PAYLOAD_KEYS: _keys, ...withoutKeys } = env;
      const result = await runInProcess(['dlq', 'redrive'], withoutKeys);
      expect(result.code).toBe(2);
      expect(result.err).toContain('HPNS_PAYLOAD_KEYS is required');
    });
  });

  describe('dead-tokens forget', () => {
    const hasher = keyedHasher(HASH_KEY);
    const cache = (region: Region) => new DeadTokenCache({ region, connection: conn(region), hasher });

    it('removes a token from every region’s cache under every configured target type', async () => {
      const token = apnsToken();
      await cache(US).markDead('apple_rn', token, 'Unregistered');
      await cache(DE).markDead('apple_rn', token, 'Unregistered');
      await cache(DE).markDead('android_rn', 'other-token', 'UNREGISTERED');

      const forgotten = await run('dead-tokens', 'forget', token);
      expect(forgotten.code).toBe(0);
      expect(forgotten.out).toBe(
        `us: forgot ${token.slice(0, 8)}… (apple_rn)\nde: forgot ${token.slice(0, 8)}… (apple_rn)`,
      );
      expect(forgotten.out).not.toContain(token);
      expect(await cache(US).deadReason('apple_rn', token)).toBeUndefined();
      expect(await cache(DE).deadReason('apple_rn', token)).toBeUndefined();
      expect(await cache(DE).deadReason('android_rn', 'other-token')).toBe('UNREGISTERED');

      const gone = await run('dead-tokens', 'forget', token);
      expect(gone.code).toBe(1);
      expect(gone.err).toContain('is not in the dead-token cache of us, de');
    });

    it('keeps to --region and --target', async () => {
      const token = apnsToken();
      await cache(US).markDead('apple_rn', token, 'Unregistered');
      await cache(DE).markDead('apple_rn', token, 'Unregistered');
      const result = await json('dead-tokens', 'forget', token, '--region', 'de', '--target', 'apple_rn');
      expect(result.value).toEqual({
        token: `${token.slice(0, 8)}…`,
        regions: ['de'],
        targetTypes: ['apple_rn'],
        forgotten: [{ region: 'de', targetType: 'apple_rn' }],
      });
      expect(await cache(US).deadReason('apple_rn', token)).toBe('Unregistered');
    });

    it('needs the target types: from HPNS_CONFIG_FILE or --target', async () => {
      const { HPNS_CONFIG_FILE: _file, ...withoutTargets } = env;
      const result = await runInProcess(['dead-tokens', 'forget', apnsToken()], withoutTargets);
      expect(result.code).toBe(2);
      expect(result.err).toContain('no target types are configured');
    });
  });

  describe('bad usage and settings', () => {
    it('answers exit code 2 with a clear message', async () => {
      const cases: [string[], string][] = [
        [['launch'], 'unknown command "launch"'],
        [['queues', '--colour'], "Unknown option '--colour'"],
        [['dlq'], 'dlq needs a subcommand: list, show, redrive or purge'],
        [['dlq', 'replay'], 'unknown dlq subcommand "replay"'],
        [['dlq', 'list', '--older-than', 'ten minutes'], '--older-than must be a whole number with a unit'],
        [['dlq', 'list', '--limit', '0'], '--limit must be a whole number from 1 to 1000000'],
        [['dlq', 'list', '--region', 'mars'], '--region "mars" is not one of HPNS_REGIONS (us, de)'],
        [['dead-tokens', 'forget'], 'dead-tokens forget takes one device token'],
        [['dead-tokens', 'remember', 'x'], 'unknown dead-tokens subcommand "remember"'],
      ];
      for (const [argv, message] of cases) {
        const result = await run(...argv);
        expect({ argv, code: result.code }).toEqual({ argv, code: 2 });
        expect(result.err).toContain(message);
      }
      const none = await run();
      expect(none).toEqual({ code: 2, out: '', err: HPNS_USAGE });
      const help = await run('dlq', '--help');
      expect(help).toEqual({ code: 0, out: HPNS_USAGE, err: '' });
    });

    it('refuses to guess a Redis, and reports bad settings with exit code 2', async () => {
      const noRedis = await runInProcess(['queues'], {});
      expect(noRedis).toMatchObject({ code: 2, err: expect.stringContaining('no Redis is configured') });
      const twoRegionsOneUrl = await runInProcess(['queues'], {
        HPNS_REGIONS: 'us,de',
        HPNS_REDIS_URL: 'redis://127.0.0.1:1',
      });
      expect(twoRegionsOneUrl.code).toBe(2);
      expect(twoRegionsOneUrl.err).toContain('HPNS_REDIS_URL is for single-region setups');
    });

    it('fails with exit code 1, naming the region, when its Redis cannot be reached', async () => {
      const port = await freePort();
      const result = await runInProcess(
        ['queues'],
        { HPNS_REDIS_URL: `redis://:secret@127.0.0.1:${port}` },
        { connectTimeoutMs: 300 },
      );
      expect(result.code).toBe(1);
      expect(result.err).toBe(
        `the Redis of region us (redis://:***@127.0.0.1:${port}) cannot be reached within 300 ms`,
      );
    });
  });
});
