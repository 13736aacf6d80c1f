import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * `--stack`: the whole local stack of `npm start` (scripts/start.mjs of this checkout: two Redis servers, the
 * simulators, the ingress, a worker per region) on free ports and a temporary state directory, for one run.
 * The kit then targets its ingress, reconciles through its simulators and scrapes every process's /metrics.
 *
 * The stack runs in its own process group, so a Ctrl-C in the terminal reaches the kit alone: the kit stops
 * sending, collects the answers in flight and reconciles, then stops the stack itself.
 */
export interface LocalStack {
  target: string;
  control: string;
  metrics: string[];
  pids: Record<string, number>;
  /** Everything start.mjs reported when ready (admin URLs, Redis URLs, pids). */
  ready: StackReady;
  /**
   * Stops the stack: `signal` to start.mjs (SIGTERM by default; SIGINT is a Ctrl-C), which stops its children
   * in order; SIGKILL to all of them if it has not exited within 45 s. Resolves with start.mjs's exit code.
   */
  stop(signal?: 'SIGTERM' | 'SIGINT'): Promise<number | null>;
}

export interface StackOptions {
  /** The checkout's root (where scripts/start.mjs lives); default: the one this file is built in. */
  root?: string;
  /** Skip the build start.mjs runs first (the tests build once beforehand). */
  noBuild?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Gives up on start-up after this long (default 180 s: the first build of a checkout takes a while). */
  startTimeoutMs?: number;
  /** start.mjs's output lines while starting (build progress, errors). */
  onLine?: (line: string) => void;
}

export class StackError extends Error {}

/** What scripts/start.mjs prints once the stack is up (`{"event":"stack.ready",…}`). */
export interface StackReady {
  ingress: string;
  ingressAdmin: string;
  workerAdmin: Record<string, string>;
  simulators: { controlUrl: string };
  redis: Record<string, string>;
  pids: Record<string, number>;
}

export async function startLocalStack(options: StackOptions = {}): Promise<LocalStack> {
  const root = options.root ?? resolve(__dirname, '../../..');
  const script = join(root, 'scripts/start.mjs');
  if (!existsSync(script))
    throw new StackError(`--stack needs the HPNS checkout: ${script} is not there (use --target instead)`);
  const stateDir = mkdtempSync(join(tmpdir(), 'hpns-loadtest-stack-'));
  const child: ChildProcess = spawn(
    process.execPath,
    [script, '--port', '0', '--state-dir', stateDir, ...(options.noBuild === true ? ['--no-build'] : [])],
    {
      cwd: root,
      env: { HPNS_LOG_LEVEL: 'warn', ...(options.env ?? process.env) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  // Whatever ends the kit, the stack goes with it (a SIGKILL of the kit excepted).
  const onExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  process.on('exit', onExit);
  const tail: string[] = [];
  let ready: StackReady | undefined;
  try {
    ready = await new Promise<StackReady>((resolveReady, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new StackError(
              `the local stack was not ready within ${(options.startTimeoutMs ?? 180_000) / 1000} s`,
            ),
          ),
        options.startTimeoutMs ?? 180_000,
      );
      let buffered = '';
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          if (ready !== undefined) continue; // keep draining the pipes, or start.mjs blocks
          tail.push(line);
          if (tail.length > 30) tail.shift();
          if (line.startsWith('{"event":"stack.ready"')) {
            clearTimeout(timer);
            resolveReady(JSON.parse(line) as StackReady);
          } else {
            options.onLine?.(line);
          }
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new StackError(
            `the local stack exited (${signal ?? code}) before it was ready:\n${tail.join('\n')}`,
          ),
        );
      });
    });
  } catch (error) {
    onExit();
    process.off('exit', onExit);
    rmSync(stateDir, { recursive: true, force: true });
    throw error;
  }
  const stop = async (signal: 'SIGTERM' | 'SIGINT' = 'SIGTERM') => {
    process.off('exit', onExit);
    let killed = child.signalCode === 'SIGKILL';
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      const timer = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, 45_000);
      await exited;
      clearTimeout(timer);
    }
    // start.mjs stops its children on SIGTERM; if it had to be killed, they are stopped here, by their pids.
    if (killed)
      for (const pid of Object.values(ready!.pids)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    rmSync(stateDir, { recursive: true, force: true });
    return child.exitCode;
  };
  return {
    target: ready.ingress,
    control: ready.simulators.controlUrl,
    metrics: [
      `${ready.ingressAdmin}/metrics`,
      ...Object.values(ready.workerAdmin).map((u) => `${u}/metrics`),
    ],
    pids: ready.pids,
    ready,
    stop,
  };
}
