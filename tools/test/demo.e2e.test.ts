import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * `npm run demo` end to end: the demo starts its own stack (random ports, temporary state), sends a small burst of
 * every notification kind to both regions, prints its summary as JSON and stops the stack. The summary must show
 * every kind sent to each region and received by the simulators, the REMOVE and FAIL cases answered as
 * expected, and no process of the stack may be left behind.
 */
const root = resolve(__dirname, '../..');

const REGIONS = ['us', 'de'];
const PLATFORMS = ['apple_rn-v2', 'android_rn-v2', 'apple_rn', 'android_rn'];
const KINDS = [
  'message',
  'crt_reply',
  'id_loaded',
  'calls',
  'clear',
  'update_badge',
  'session',
  'session_wipe',
  'test',
  'voip',
];
const APPLE_ONLY = new Set(['voip']);

interface Row {
  region: string;
  platform: string;
  kind: string;
  sent: number;
  answers: { OK: number; REMOVE: number; FAIL: number; ERROR: number };
  latencyMs: { p50: number | null; p99: number | null };
  delivered: number;
}
interface Case {
  region: string;
  platform: string;
  name: string;
  expect: 'REMOVE' | 'FAIL';
  got: string;
  error?: string;
  providerAnswer?: string;
  reachedProvider?: boolean;
  pass: boolean;
}
interface Simulator {
  delivered: number;
  rejected: number;
  byKind: Record<string, { delivered: number; rejected: number }>;
}
interface Summary {
  ok: boolean;
  problems: string[];
  run: { count: number; answers: Record<string, number> };
  rows: Row[];
  cases: Case[];
  simulators: { apns: Simulator; fcm: Simulator };
  reconciliation: {
    ok: boolean;
    answeredOk: number;
    delivered: number;
    missing: number;
    duplicated: number;
    unexpected: number;
    kindMismatches: number;
  };
  stack: {
    started: boolean;
    cleanly: boolean;
    leftBehind: { name: string; pid: number }[];
    pids: Record<string, number>;
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The stack runs from the build output; build (through start.mjs) only when some of it is missing. */
function built(): boolean {
  const apps = ['ingress', 'worker', 'simulators'].map((app) => join(root, 'apps', app, 'dist', 'main.js'));
  const packages = readdirSync(join(root, 'packages'))
    .filter((name) => existsSync(join(root, 'packages', name, 'package.json')))
    .map((name) => join(root, 'packages', name, 'dist', 'index.js'));
  return [...apps, ...packages].every((file) => existsSync(file));
}

const needsBuild = !built();
const timeoutMs = needsBuild ? 240_000 : 60_000;

describe('npm run demo', () => {
  /** Pids of the stack the demo started (from its `demo.stack` line), so that a failing run leaves nothing behind. */
  let stackPids: number[] = [];
  let summary: Summary;

  afterAll(() => {
    for (const pid of stackPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  it(
    'sends every kind to both regions, reconciles with the simulators and stops its stack',
    async () => {
      // The whole test suite shares the two cores with this stack: a longer wait bound keeps a slow outcome
      // (a REMOVE, say) from being answered OK at the default 3 s, which the demo would rightly flag.
      const env: NodeJS.ProcessEnv = { ...process.env, HPNS_LOG_LEVEL: 'warn', HPNS_WAIT_MS: '15000' };
      delete env.HPNS_DEMO_INGRESS;
      delete env.HPNS_DEMO_CONTROL;
      const child = spawn(
        process.execPath,
        [join(root, 'scripts/demo.mjs'), '--count', '80', '--json', ...(needsBuild ? [] : ['--no-build'])],
        { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const line = stderr.split('\n').find((l) => l.startsWith('{"event":"demo.stack"'));
        if (line !== undefined && stackPids.length === 0)
          stackPids = Object.values((JSON.parse(line) as { pids: Record<string, number> }).pids);
      });
      // Should the demo hang, Ctrl-C it (it stops its stack), then kill it; afterAll kills what is left.
      const guard = setTimeout(() => {
        child.kill('SIGINT');
        setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
      }, timeoutMs - 25_000);
      const code = await new Promise<number | null>((resolveExit) =>
        child.once('exit', (exitCode) => resolveExit(exitCode)),
      );
      clearTimeout(guard);

      // On failure, show the demo's own list of problems (in its JSON summary) beside its stderr.
      const problems = (() => {
        try {
          return (JSON.parse(stdout) as Summary).problems.join('\n');
        } catch {
          return stdout.slice(-2000);
        }
      })();
      expect(`exit ${code}\n${problems}\n${stderr.slice(-3000)}`).toBe(
        `exit 0\n${problems}\n${stderr.slice(-3000)}`,
      );
      summary = JSON.parse(stdout) as Summary;
      expect(summary.problems).toEqual([]);
      expect(summary.ok).toBe(true);

      // Every kind went to each region on every platform it exists on, and was answered OK and delivered.
      for (const region of REGIONS) {
        for (const platform of PLATFORMS) {
          for (const kind of KINDS) {
            if (APPLE_ONLY.has(kind) && !platform.startsWith('apple')) continue;
            const row = summary.rows.find(
              (r) => r.region === region && r.platform === platform && r.kind === kind,
            );
            const seen = row ? `sent ${row.sent}, OK ${row.answers.OK}, delivered ${row.delivered}` : 'none';
            expect(`${region} ${platform} ${kind}: ${seen}`).toMatch(
              new RegExp(
                `^${region} ${platform} ${kind}: sent [1-9]\\d*, OK [1-9]\\d*, delivered [1-9]\\d*$`,
              ),
            );
            expect(row?.answers.FAIL).toBe(0);
            expect(row?.answers.ERROR).toBe(0);
            expect(row?.delivered).toBe(row?.answers.OK);
            expect(row?.latencyMs.p50).toEqual(expect.any(Number));
          }
        }
      }
      expect(summary.run.count).toBeGreaterThanOrEqual(80);

      // The simulators received every kind (read back from the payloads); VoIP only at APNs.
      for (const kind of KINDS) {
        const apns = summary.simulators.apns.byKind[kind]?.delivered ?? 0;
        const fcm = summary.simulators.fcm.byKind[kind]?.delivered ?? 0;
        expect(`APNs ${kind}: ${apns > 0}`).toBe(`APNs ${kind}: true`);
        expect(`FCM ${kind}: ${fcm > 0}`).toBe(`FCM ${kind}: ${!APPLE_ONLY.has(kind)}`);
      }
      const rec = summary.reconciliation;
      expect(rec).toMatchObject({ ok: true, missing: 0, duplicated: 0, unexpected: 0, kindMismatches: 0 });
      expect(rec.delivered).toBe(summary.run.answers.OK);
      expect(summary.simulators.apns.delivered + summary.simulators.fcm.delivered).toBe(rec.delivered);

      // REMOVE: tokens marked dead at the simulators, on both providers in each region; the first send is refused
      // by the provider, the second comes from the dead-token cache.
      for (const region of REGIONS) {
        const removes = summary.cases.filter((c) => c.region === region && c.expect === 'REMOVE');
        expect(removes.map((c) => c.got)).toEqual(removes.map(() => 'REMOVE'));
        const first = removes.filter((c) => c.reachedProvider === undefined);
        expect(first.length).toBeGreaterThanOrEqual(2);
        for (const c of first)
          expect(c.providerAnswer).toMatch(/^(410 Unregistered|400 BadDeviceToken|404 UNREGISTERED)$/);
        expect(first.some((c) => c.platform.startsWith('apple'))).toBe(true);
        expect(first.some((c) => c.platform.startsWith('android'))).toBe(true);
        const repeats = removes.filter((c) => c.reachedProvider !== undefined);
        expect(repeats.length).toBe(first.length);
        expect(repeats.every((c) => c.reachedProvider === false)).toBe(true);

        // FAIL: malformed requests, each with the proxy's error text.
        const fails = summary.cases.filter((c) => c.region === region && c.expect === 'FAIL');
        expect(fails.length).toBeGreaterThanOrEqual(5);
        for (const c of fails) {
          expect(`${c.name}: ${c.got}`).toBe(`${c.name}: FAIL`);
          expect(c.error).toMatch(/^(Failed|Did not send)/);
        }
      }
      expect(summary.cases.every((c) => c.pass)).toBe(true);

      // The demo stopped its own stack, and nothing of it is left.
      expect(summary.stack).toMatchObject({ started: true, cleanly: true, leftBehind: [] });
      // (No redis-* entries when REDIS_URL_US / REDIS_URL_DE point the stack at existing servers.)
      expect(Object.keys(summary.stack.pids)).toEqual(
        expect.arrayContaining(['ingress', 'simulators', 'worker-de', 'worker-us']),
      );
      for (const [name, pid] of Object.entries(summary.stack.pids))
        expect(`${name} alive: ${alive(pid)}`).toBe(`${name} alive: false`);
    },
    timeoutMs,
  );
});
