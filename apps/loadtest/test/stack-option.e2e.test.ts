import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * `--stack`: the kit starts the local stack itself, targets it, reconciles through its simulators, scrapes
 * its /metrics and stops it after the run. Ctrl-C in a terminal reaches the whole foreground process group:
 * the test sends SIGINT to the kit's group, as a terminal would; the stack (in a group of its own) must stay
 * up until the kit has collected the answers in flight and reconciled, then be stopped by the kit.
 */
const root = resolve(__dirname, '../../..');
const cli = join(root, 'apps/loadtest/dist/cli.js');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hpns-loadtest-stack-option-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('--stack runs against its own local stack, survives a terminal Ctrl-C, reconciles and stops the stack', async () => {
  const out = join(dir, 'stack.json');
  const child = spawn(
    process.execPath,
    [cli, '--stack', '--no-build', '--rate', '40', '--duration', '60s', '--out', out, '--label', 'stack run'],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let stderr = '';
  let pids: number[] = [];
  let interrupted = false;
  child.stdout.resume();
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    const m = /local stack ready: .*\(pids ([^)]*)\)/.exec(stderr);
    if (m !== null && !interrupted) {
      interrupted = true;
      pids = m[1]!.split(' ').map((entry) => Number(entry.split('=')[1]));
      // A few seconds of load, then Ctrl-C to the kit's process group.
      setTimeout(() => process.kill(-child.pid!, 'SIGINT'), 4000);
    }
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  expect(interrupted).toBe(true);
  expect(code).toBe(0);
  expect(stderr).toMatch(/Ctrl-C: stopping/);
  expect(stderr).toMatch(/stopping the local stack/);
  expect(pids.length).toBeGreaterThanOrEqual(6); // 2 redis, simulators, ingress, 2 workers
  for (const pid of pids) expect(alive(pid)).toBe(false);

  const result = JSON.parse(readFileSync(out, 'utf8'));
  expect(result.aborted).toBe(true);
  expect(result.target).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  expect(result.answers.ok).toBeGreaterThan(60);
  // The stack was still up for the reconciliation: every OK accounted for by the simulators.
  expect(result.reconcile.matches).toBe(true);
  expect(result.reconcile.missing).toBe(0);
  // …and for the scrapes of its ingress and both workers.
  expect(result.server.length).toBe(3);
  expect(existsSync(join(dir, 'stack.html'))).toBe(true);
}, 240_000);

test('--stack refuses a --target, and --no-build alone', async () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((r) => {
      const c = spawn(process.execPath, [cli, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      c.once('exit', (code) => r({ code, stderr }));
    });
  const both = await run(['--stack', '--target', 'http://127.0.0.1:1']);
  expect(both.code).toBe(2);
  expect(both.stderr).toMatch(/--stack sets the target/);
  const alone = await run(['--target', 'http://127.0.0.1:1', '--no-build']);
  expect(alone.code).toBe(2);
  expect(alone.stderr).toMatch(/--no-build goes with --stack/);
});
