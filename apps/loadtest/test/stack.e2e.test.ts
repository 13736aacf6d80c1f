import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The kit against the whole local stack (scripts/start.mjs: Redis, simulators, ingress, workers), through its
 * command line: a simulator fault that loses accepted pushes shows as missing in the reconciliation (and the
 * exit code says so), and Ctrl-C ends a run early and still writes a valid result and report.
 */
const root = resolve(__dirname, '../../..');
const cli = join(root, 'apps/loadtest/dist/cli.js');
let dir: string;
let stack: ChildProcess;
let ready: {
  ingress: string;
  ingressAdmin: string;
  workerAdmin: Record<string, string>;
  simulators: { controlUrl: string };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hpns-loadtest-e2e-'));
  stack = spawn(
    process.execPath,
    [join(root, 'scripts/start.mjs'), '--port', '0', '--no-build', '--state-dir', join(dir, 'state')],
    {
      cwd: root,
      env: { ...process.env, HPNS_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  stack.stderr!.resume();
  ready = await new Promise((resolveReady, reject) => {
    let buffered = '';
    stack.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split('\n').find((l) => l.startsWith('{"event":"stack.ready"'));
      if (line !== undefined) resolveReady(JSON.parse(line));
    });
    stack.once('exit', (code) => reject(new Error(`start.mjs exited (${code}) before ready`)));
  });
}, 90_000);

afterAll(async () => {
  if (stack.exitCode === null) {
    const exited = new Promise((r) => stack.once('exit', r));
    stack.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

function runCli(args: string[], options: { interruptAfterMs?: number } = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolveRun) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer =
      options.interruptAfterMs === undefined
        ? undefined
        : setTimeout(() => child.kill('SIGINT'), options.interruptAfterMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

test('pushes lost inside APNs after an OK show as missing', async () => {
  const control = ready.simulators.controlUrl;
  const queued = await fetch(`${control}/apns/faults/next`, {
    method: 'POST',
    body: JSON.stringify({ count: 7, fault: 'drop' }),
  });
  expect(queued.status).toBe(200);
  const metrics = [
    `${ready.ingressAdmin}/metrics`,
    ...Object.values(ready.workerAdmin).map((u) => `${u}/metrics`),
  ].join(',');
  const out = join(dir, 'drop.json');
  const { code, stdout } = await runCli([
    '--target',
    ready.ingress,
    '--rate',
    '100',
    '--duration',
    '3s',
    '--control',
    control,
    '--metrics',
    metrics,
    '--dead-tokens',
    '0',
    '--kinds',
    'message=3,clear=1',
    '--platforms',
    'apple_rn-v2=1',
    '--out',
    out,
    '--quiet',
  ]);
  expect(stdout).toMatch(/reconcile: MISMATCH/);
  expect(code).toBe(1);
  const result = JSON.parse(readFileSync(out, 'utf8'));
  expect(result.answers.ok).toBe(300);
  expect(result.reconcile).toMatchObject({
    answeredOk: 300,
    missing: 7,
    duplicates: 0,
    lostReceipts: 0,
    matches: false,
  });
  // The workers' and the ingress's /metrics were read during the run.
  expect(result.server).toHaveLength(3);
  expect(
    result.server.some((s: { points: { deliveriesPerSecond?: number }[] }) =>
      s.points.some((p) => (p.deliveriesPerSecond ?? 0) > 0),
    ),
  ).toBe(true);
  expect(existsSync(join(dir, 'drop.html'))).toBe(true);
}, 60_000);

test('Ctrl-C ends the run early and still writes a valid result and report', async () => {
  const out = join(dir, 'interrupted.json');
  const { code, stderr } = await runCli(
    ['--target', ready.ingress, '--rate', '50', '--duration', '60s', '--out', out],
    {
      interruptAfterMs: 2500,
    },
  );
  expect(code).toBe(0);
  expect(stderr).toMatch(/Ctrl-C: stopping/);
  const result = JSON.parse(readFileSync(out, 'utf8'));
  expect(result.aborted).toBe(true);
  expect(result.elapsedMs).toBeLessThan(15_000);
  expect(result.answers.ok + result.answers.remove).toBeGreaterThan(50);
  expect(result.requests.notSent).toBeGreaterThan(2000);
  expect(readFileSync(join(dir, 'interrupted.html'), 'utf8')).toContain('ended early');
}, 60_000);

test('bad options exit 2 with a message naming the problem', async () => {
  const bad = await runCli(['--target', ready.ingress, '--kinds', 'mesage=1']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/profile field "kinds.mesage": unknown kind/);
  const slo = await runCli(['--target', ready.ingress, '--slo', 'p99<50']);
  expect(slo.code).toBe(2);
  expect(slo.stderr).toMatch(/needs a unit/);
});
