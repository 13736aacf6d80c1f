import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';

/** What a control route answers: a status and a JSON body. */
export interface ControlReply {
  status: number;
  body?: unknown;
}

/** A control route handler; `body` is the parsed JSON request body (undefined when empty). */
export type ControlHandler = (request: {
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
}) => ControlReply | Promise<ControlReply>;

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: ControlHandler;
}

/** A small HTTP/JSON router for the simulators' control APIs (`/apns/...`, `/fcm/...`, `/oauth/...`). */
export class ControlRouter {
  readonly #routes: Route[] = [];

  /** Adds a route; `path` may hold `:name` segments, e.g. `/apns/tokens/:token`. */
  add(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, handler: ControlHandler): this {
    const names: string[] = [];
    const source = path
      .split('/')
      .map((segment) => {
        if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        names.push(segment.slice(1));
        return '([^/]+)';
      })
      .join('/');
    this.#routes.push({ method, pattern: new RegExp(`^${source}$`), names, handler });
    return this;
  }

  /** Routes one request; unknown path → 404, known path with another method → 405. */
  async dispatch(method: string, url: string, rawBody: string): Promise<ControlReply> {
    const parsed = new URL(url, 'http://control');
    let pathMatched = false;
    for (const route of this.#routes) {
      const match = route.pattern.exec(parsed.pathname);
      if (match === null) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      let body: unknown;
      if (rawBody.trim() !== '') {
        try {
          body = JSON.parse(rawBody);
        } catch {
          return { status: 400, body: { error: 'request body is not valid JSON' } };
        }
      }
      const params = Object.fromEntries(
        route.names.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? '')]),
      );
      try {
        return await route.handler({ params, query: parsed.searchParams, body });
      } catch (error) {
        return { status: 400, body: { error: error instanceof Error ? error.message : String(error) } };
      }
    }
    return pathMatched
      ? { status: 405, body: { error: `method ${method} not allowed` } }
      : { status: 404, body: { error: `no control route ${parsed.pathname}` } };
  }
}

/** The control API's HTTP server (plain HTTP on loopback: it is a test tool, not a production endpoint). */
export class ControlServer {
  readonly #server: Server;
  #address: AddressInfo | undefined;

  /** @internal use createControlServer */
  constructor(server: Server) {
    this.#server = server;
  }

  get url(): string {
    const address = this.#address ?? (this.#server.address() as AddressInfo);
    this.#address = address;
    return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

/** Starts a control server for `router` on `host:port` (default 127.0.0.1, a free port). */
export async function createControlServer(
  router: ControlRouter,
  options: { host?: string; port?: number } = {},
): Promise<ControlServer> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void router
        .dispatch(req.method ?? 'GET', req.url ?? '/', Buffer.concat(chunks).toString('utf8'))
        .then((reply) => {
          const text = reply.body === undefined ? '' : `${JSON.stringify(reply.body)}\n`;
          res.writeHead(reply.status, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(text),
          });
          res.end(text);
        });
    });
  });
  const control = new ControlServer(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return control;
}
