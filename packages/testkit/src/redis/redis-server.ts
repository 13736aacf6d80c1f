import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../bench-kit';

export interface TestRedisOptions {
  /** `appendonly yes` with `appendfsync everysec`, as production runs (DESIGN.md). Default false. */
  appendOnly?: boolean;
  /** Extra `redis-server` arguments, e.g. `['--maxmemory-policy', 'noeviction']`. */
  args?: readonly string[];
  /** How long to wait for the server to accept connections, in ms. Default 10000. */
  startTimeoutMs?: number;
}

function waitForPing(port: number, deadline: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      socket.on('connect', () => socket.write('PING\r\n'));
      const retry = () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`redis-server on port ${port} did not start in time`));
        else setTimeout(attempt, 20);
      };
      socket.on('data', (data) => {
        answer += data.toString();
        if (answer.includes('+PONG')) {
          socket.destroy();
          resolve();
        } else if (answer.includes('\r\n')) {
          // `-LOADING`: up, but still reading its AOF or RDB; ask again.
          retry();
        }
      });
      socket.on('error', retry);
    };
    attempt();
  });
}

/** The `process_id` the server on `port` reports (INFO server), over a raw socket; undefined if it cannot say. */
function serverPid(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const done = (pid: number | undefined) => {
      socket.destroy();
      resolve(pid);
    };
    const timer = setTimeout(() => done(undefined), 2000);
    socket.on('connect', () => socket.write('INFO server\r\n'));
    socket.on('data', (data) => {
      answer += data.toString();
      const match = /process_id:(\d+)\r\n/.exec(answer);
      if (match !== null) {
        clearTimeout(timer);
        done(Number(match[1]));
      }
    });
    socket.on('error', () => {
      clearTimeout(timer);
      done(undefined);
    });
  });
}

/**
 * A `redis-server` of the test's own, on a free loopback port, with its data directory in a temp dir. Tests
 * can kill it (`kill('SIGKILL')`) and start it again on the same port and data (`restart()`), which is how
 * crash and durability tests are written. `stop()` ends it and removes its directory.
 */
export class TestRedis {
  readonly port: number;
  readonly dir: string;
  readonly #options: TestRedisOptions;
  #process: ChildProcess | undefined;

  /** @internal use startTestRedis */
  constructor(port: number, dir: string, options: TestRedisOptions) {
    this.port = port;
    this.dir = dir;
    this.#options = options;
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The pid of the running server, or undefined when it is not running. */
  get pid(): number | undefined {
    const child = this.#process;
    return child !== undefined && child.exitCode === null && child.signalCode === null
      ? child.pid
      : undefined;
  }

  /** Starts the server (again) on the same port and directory. */
  async start(): Promise<void> {
    if (this.pid !== undefined) return;
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      this.#options.appendOnly ? 'yes' : 'no',
      '--appendfsync',
      'everysec',
      '--maxmemory-policy',
      'noeviction',
      '--logfile',
      join(this.dir, 'redis.log'),
      ...(this.#options.args ?? []),
    ];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.#process = child;
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (error) => reject(new Error(`cannot run redis-server: ${error.message}`)));
      child.once('exit', (code) =>
        reject(new Error(`redis-server exited with code ${code}; see ${this.dir}/redis.log`)),
      );
    });
    failed.catch(() => undefined);
    await Promise.race([
      waitForPing(this.port, Date.now() + (this.#options.startTimeoutMs ?? 10_000)),
      failed,
    ]);
    // The PONG must be this server's: had another process taken the port, ours exits and a stranger answers.
    const answering = await serverPid(this.port);
    if (answering !== child.pid) {
      await this.kill('SIGKILL');
      throw new Error(
        `port ${this.port} is held by another server (pid ${answering ?? 'unknown'}), not the redis-server started`,
      );
    }
  }

  /** Sends a signal to the server and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#process;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  /** Kills the server (SIGKILL by default: a crash) and starts it again on the same data. */
  async restart(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.kill(signal);
    await this.start();
  }

  /** Stops the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts a redis-server for one test file. Throws a clear error when redis-server is not installed. */
export async function startTestRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'hpns-redis-'));
  for (let attempt = 0; ; attempt++) {
    const redis = new TestRedis(await freePort(), dir, options);
    try {
      await redis.start();
      return redis;
    } catch (error) {
      // Another process may have taken the port between freePort() and redis-server's bind: try another.
      await redis.kill('SIGKILL');
      if (attempt >= 3) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
}
