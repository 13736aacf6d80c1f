import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

/** A built HPNS app (its `dist/main.js`) running as a child process of a test. */
export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The JSON log line that announced it was up (`event` of spawnService), parsed. */
  readonly started: Record<string, unknown>;
  /** Every line it printed so far, stdout and stderr. */
  readonly output: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnServiceOptions {
  /** The script node runs, e.g. apps/worker/dist/main.js. */
  main: string;
  /** Its whole environment (nothing of the test's is passed on unless given here). */
  env: NodeJS.ProcessEnv;
  /** The log event that says it is up, e.g. `worker.started`. */
  event: string;
  /** How long it may take to start, in ms. Default 30000. */
  timeoutMs?: number;
}

/**
 * Starts a built app and resolves once it logged `event`; rejects (and kills it) when it exits first or takes
 * longer than `timeoutMs`, with what it printed.
 */
export function spawnService(options: SpawnServiceOptions): Promise<ServiceProcess> {
  const { main, env, event } = options;
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build`);
  const child = spawn(process.execPath, [main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.once('exit', (code, signal) => resolveExit({ code, signal })),
  );
  return new Promise((resolveStarted, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${main} did not start within ${timeoutMs} ms:\n${output.join('\n').slice(-3000)}`));
    }, timeoutMs);
    let buffered = '';
    let up = false;
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        output.push(line);
        if (up || !line.includes(`"${event}"`)) continue;
        up = true;
        clearTimeout(timer);
        resolveStarted({
          child,
          pid: child.pid as number,
          started: JSON.parse(line) as Record<string, unknown>,
          output,
          exited,
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      if (!up)
        reject(new Error(`${main} exited (${signal ?? code}) before it started:\n${output.join('\n')}`));
    });
  });
}

/** Ends a process this test started, by its handle: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopService(service: ServiceProcess | undefined, graceMs = 10_000): Promise<void> {
  if (service === undefined || service.child.exitCode !== null || service.child.signalCode !== null) return;
  service.child.kill('SIGTERM');
  const timer = setTimeout(() => service.child.kill('SIGKILL'), graceMs);
  await service.exited;
  clearTimeout(timer);
}
