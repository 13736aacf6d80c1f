import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { createTestCa, startTestRedis, type TestRedis } from '@hpns/testkit';
import { runTenantsCli, TENANTS_USAGE } from '../src/tenants-cli';

/** The tenant registry tool against two regions' Redis servers, as an SRE runs it. */
describe('npm run tenants', () => {
  const redis: Record<string, TestRedis> = {};
  const admin: Record<string, Redis> = {};
  let env: Record<string, string>;

  beforeAll(async () => {
    for (const region of ['us', 'de']) {
      redis[region] = await startTestRedis();
      admin[region] = new Redis(redis[region].url);
    }
    env = {
      HPNS_REGIONS: 'us,de',
      HPNS_REDIS_URL_US: redis['us']!.url,
      HPNS_REDIS_URL_DE: redis['de']!.url,
    };
  });
  afterAll(async () => {
    for (const region of ['us', 'de']) {
      admin[region]?.disconnect();
      await redis[region]?.stop();
    }
  });

  async function run(...argv: string[]): Promise<{ code: number; out: string[]; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runTenantsCli(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out, err: err.join('\n') };
  }

  it('adds a tenant in its home region only, with pointer copies where asked, and shows them', async () => {
    const added = await run('add', 'srv-de-1', '--tier', 'hpns', '--region', 'de', '--rate', '50');
    expect(added).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(added.out[0] as string)).toMatchObject({ home: 'de', pointers: [] });
    expect(await admin['de']!.hget('hpns:tenants', 'srv-de-1')).toBe(
      JSON.stringify({ tier: 'hpns', homeRegion: 'de', ratePerSec: 50 }),
    );
    expect(await admin['us']!.hget('hpns:tenants', 'srv-de-1')).toBeNull();

    expect(
      (await run('add', 'srv-de-2', '--tier', 'tpns', '--region', 'de', '--pointer-in', 'us')).code,
    ).toBe(0);
    const shown = await run('show', 'srv-de-2');
    expect(shown.code).toBe(0);
    expect(shown.out.map((l) => JSON.parse(l) as object)).toEqual([
      { region: 'us', role: 'pointer', serverId: 'srv-de-2', tier: 'tpns', homeRegion: 'de', ratePerSec: 0 },
      { region: 'de', role: 'home', serverId: 'srv-de-2', tier: 'tpns', homeRegion: 'de', ratePerSec: 0 },
    ]);
  });

  it('moves a tenant to another home, leaving no old home record or stale pointer behind', async () => {
    expect(
      (await run('add', 'srv-move', '--tier', 'tpns', '--region', 'de', '--pointer-in', 'us')).code,
    ).toBe(0);
    const moved = await run('add', 'srv-move', '--tier', 'hpns', '--region', 'us');
    expect(JSON.parse(moved.out[0] as string)).toMatchObject({ home: 'us', pointers: [], dropped: ['de'] });
    const shown = await run('show', 'srv-move');
    expect(shown.out.map((l) => JSON.parse(l) as object)).toEqual([
      { region: 'us', role: 'home', serverId: 'srv-move', tier: 'hpns', homeRegion: 'us', ratePerSec: 0 },
    ]);
    expect(await run('remove', 'srv-move')).toMatchObject({ code: 0 });
  });

  it('lists every record, flags malformed ones, and removes a tenant everywhere or in one region', async () => {
    await admin['us']!.hset('hpns:tenants', 'broken', '{"tier":"gold"}');
    const listed = await run('list');
    const rows = listed.out.map((l) => JSON.parse(l) as { serverId: string; region: string; role: string });
    expect(rows.map((r) => `${r.region} ${r.serverId} ${r.role}`).sort()).toEqual([
      'de srv-de-1 home',
      'de srv-de-2 home',
      'us broken invalid',
      'us srv-de-2 pointer',
    ]);
    expect((await run('list', '--region', 'de')).out).toHaveLength(2);

    expect(await run('remove', 'srv-de-2', '--region', 'us')).toMatchObject({ code: 0 });
    expect(await admin['de']!.hexists('hpns:tenants', 'srv-de-2')).toBe(1);
    expect(await run('remove', 'srv-de-2')).toMatchObject({ code: 0 });
    expect(await admin['de']!.hexists('hpns:tenants', 'srv-de-2')).toBe(0);
    expect(await run('remove', 'srv-de-2')).toMatchObject({
      code: 3,
      err: 'srv-de-2 had no record to remove',
    });
    expect(await run('show', 'nobody')).toMatchObject({ code: 3, err: 'nobody is not registered in us, de' });
  });

  it.each([
    [['add', 'x', '--tier', 'gold', '--region', 'de'], '--tier must be hpns or tpns'],
    [['add', 'x', '--tier', 'hpns', '--region', 'fr'], '--region "fr" is not one of HPNS_REGIONS (us, de)'],
    [['add', 'x', '--tier', 'hpns'], '--region is required'],
    [['add', 'x', '--tier', 'hpns', '--region', 'de', '--rate', '1.5'], '--rate must be a whole number'],
    [
      ['add', 'x', '--tier', 'hpns', '--region', 'de', '--pointer-in', 'de'],
      '--pointer-in names the home region',
    ],
    [['add', '--tier', 'hpns', '--region', 'de'], 'add takes exactly one server id'],
    [['add', 'x', '--tier', 'hpns', '--region', 'de', '--colour', 'red'], "Unknown option '--colour'"],
    [['show'], 'show takes one server id'],
    [['frobnicate'], 'unknown command "frobnicate"'],
  ])('refuses %j with exit code 2: %s', async (argv, message) => {
    const result = await run(...argv);
    expect(result.code).toBe(2);
    expect(result.err).toContain(message);
    expect(result.err).toContain('usage: npm run tenants');
  });

  it('says which region cannot be reached, and what is wrong with the configuration (exit code 1)', async () => {
    // The tool waits up to 5 s for each region's Redis before it gives up.
    await redis['de']!.kill('SIGKILL');
    try {
      const down = await run('show', 'srv-de-1');
      expect(down.code).toBe(1);
      expect(down.err).toMatch(/^the Redis of region de \(redis:\/\/127\.0\.0\.1:\d+\) cannot be reached$/);
    } finally {
      await redis['de']!.start();
    }
    const saved = env;
    try {
      env = { HPNS_REGIONS: 'us,de', HPNS_REDIS_URL_US: saved['HPNS_REDIS_URL_US'] as string };
      const bad = await run('list');
      expect(bad.code).toBe(1);
      expect(bad.err).toContain('HPNS_REDIS_URL_DE is required: every region has its own Redis');
      // Nothing configured: no silent fallback to a Redis on localhost.
      env = {};
      expect(await run('list')).toMatchObject({
        code: 1,
        err: 'no Redis is configured: set HPNS_REDIS_URL_<REGION> (or HPNS_REDIS_URL)',
      });
      // Configuration warnings are shown (a CA file that no rediss: URL uses).
      const caFile = join(mkdtempSync(join(tmpdir(), 'hpns-cli-ca-')), 'ca.pem');
      writeFileSync(caFile, createTestCa().caPem);
      env = { ...saved, HPNS_REDIS_CA_FILE: caFile };
      const warned = await run('list', '--region', 'us');
      expect(warned.err).toBe(
        'warning: HPNS_REDIS_CA_FILE is set but no Redis URL is rediss: (TLS); it is not used',
      );
      rmSync(dirname(caFile), { recursive: true, force: true });
    } finally {
      env = saved;
    }
  }, 20_000);

  it('runs as `npm run tenants` (the built file), with help on --help', async () => {
    const cli = resolve(__dirname, '../dist/tenants-cli.js');
    const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
    expect(`${help.status} ${help.stdout.trim()}`).toBe(`0 ${TENANTS_USAGE}`);
    await admin['de']!.hset('hpns:tenants', 'srv-cli', '{"tier":"hpns","homeRegion":"de","ratePerSec":0}');
    const listed = spawnSync(process.execPath, [cli, 'list', '--region', 'de'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ...env },
    });
    expect(`${listed.status} ${listed.stderr}`).toBe('0 ');
    expect(listed.stdout).toContain('"serverId":"srv-cli","tier":"hpns","homeRegion":"de"');
  });
});
