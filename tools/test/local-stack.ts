import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

/** What scripts/start.mjs prints once the local stack is up (`{"event":"stack.ready",…}`). */
export interface StackReady {
  ingress: string;
  ingressAdmin: string;
  workerAdmin: Record<string, string>;
  simulators: { controlUrl: string };
  redis: Record<string, string>;
  pids: Record<string, number>;
}

export interface LocalStack {
  ready: StackReady;
  child: ChildProcess;
  /** SIGTERM to start.mjs (it stops its children in order), and waits for it. */
  stop(): Promise<void>;
}

const root = resolve(__dirname, '../..');

/**
 * Starts the local stack of `npm start` on free ports (built beforehand by the jest global setup), with `env`
 * added to this process's environment, and resolves once it is ready.
 */
export function startLocalStack(stateDir: string, env: Record<string, string> = {}): Promise<LocalStack> {
  const child = spawn(
    process.execPath,
    [resolve(root, 'scripts/start.mjs'), '--port', '0', '--no-build', '--state-dir', stateDir],
    { cwd: root, env: { ...process.env, HPNS_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stderr!.resume();
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  return new Promise<LocalStack>((resolveReady, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split('\n').find((l) => l.startsWith('{"event":"stack.ready"'));
      if (line !== undefined) resolveReady({ ready: JSON.parse(line) as StackReady, child, stop });
      if (buffered.length > 100_000) buffered = buffered.slice(-20_000);
    });
    child.once('exit', (code) =>
      reject(new Error(`start.mjs exited (${code}) before ready:\n${buffered.slice(-3000)}`)),
    );
  });
}
