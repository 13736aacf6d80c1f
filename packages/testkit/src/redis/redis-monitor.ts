import { connect, type Socket } from 'node:net';

/**
 * The arguments of one MONITOR line, `+<time> [<db> <client>] "<arg>" "<arg>" …`, unescaped as far as tests
 * need (quotes, backslashes, CR, LF, tabs; `\xNN` bytes as their character).
 */
export function parseMonitorLine(line: string): string[] {
  const args: string[] = [];
  for (const match of line.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    args.push(
      (match[1] ?? '').replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, code: string) => {
        if (code.startsWith('x') && code.length === 3)
          return String.fromCharCode(parseInt(code.slice(1), 16));
        return ({ n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' } as Record<string, string>)[code] ?? code;
      }),
    );
  }
  return args;
}

/** One node's MONITOR stream, read off a plain socket. */
class MonitorFeed {
  readonly #socket: Socket;
  readonly #listeners = new Set<(args: string[]) => void>();
  #buffer = '';

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let end: number;
      while ((end = this.#buffer.indexOf('\r\n')) !== -1) {
        const line = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        // MONITOR's "+OK" comes first; every other line is a command the node ran.
        if (line === '+OK') continue;
        const args = parseMonitorLine(line);
        for (const listener of this.#listeners) listener(args);
      }
    });
  }

  static open(port: number): Promise<MonitorFeed> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('error', reject);
      socket.once('connect', () => {
        const feed = new MonitorFeed(socket);
        // Resolved at MONITOR's "+OK": from then on every command the node runs is streamed.
        const onOk = (chunk: string) => {
          if (!chunk.startsWith('+OK')) return;
          socket.off('data', onOk);
          resolve(feed);
        };
        socket.on('data', onOk);
        socket.write('MONITOR\r\n');
      });
    });
  }

  on(listener: (args: string[]) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** Runs ECHO on one node (the admin connection of TestRedisBackend). */
export type Echo = (port: number, text: string) => Promise<unknown>;

/**
 * What a set of nodes ran since the monitor started (MONITOR, on plain sockets: ioredis's monitor mode loses a
 * line that arrives in the same read as MONITOR's "+OK" and then fails with a command queue error).
 */
export class CommandMonitor {
  /** Each command as its name (lower case) and arguments. */
  readonly commands: string[][] = [];
  readonly #feeds: Map<number, MonitorFeed>;
  readonly #echo: Echo;
  readonly #markers = new Set<string>();
  #next = 0;

  /** @internal use TestRedisBackend.monitor */
  constructor(feeds: Map<number, MonitorFeed>, echo: Echo) {
    this.#feeds = feeds;
    this.#echo = echo;
    for (const feed of feeds.values()) {
      feed.on(([name = '', ...rest]) => {
        if (name.toLowerCase() === 'echo' && this.#markers.has(rest[0] ?? '')) return;
        this.commands.push([name.toLowerCase(), ...rest]);
      });
    }
  }

  static async open(ports: readonly number[], echo: Echo): Promise<CommandMonitor> {
    const feeds = await Promise.all(ports.map(async (port) => [port, await MonitorFeed.open(port)] as const));
    return new CommandMonitor(new Map(feeds), echo);
  }

  /**
   * Resolves once every command the nodes ran before this call has been recorded: MONITOR streams a command
   * after it runs, so its reply can reach the test before its line does. Each node echoes a marker, and its
   * feed is read up to it.
   */
  async settle(): Promise<void> {
    await Promise.all(
      [...this.#feeds].map(async ([port, feed]) => {
        const marker = `hpns-test-monitor-${this.#next++}`;
        this.#markers.add(marker);
        let off: () => void = () => undefined;
        const seen = new Promise<void>((resolve) => {
          off = feed.on((args) => {
            if (args[1] === marker) resolve();
          });
        });
        await this.#echo(port, marker);
        await seen;
        off();
      }),
    );
  }

  /** Ends the MONITOR connections. */
  stop(): void {
    for (const feed of this.#feeds.values()) feed.close();
  }
}
