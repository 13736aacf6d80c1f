import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { type Registry } from 'prom-client';
import { type Secret } from './config-types';
import { type Logger } from './logger';

/** One readiness check: resolves when the dependency is usable, rejects (or times out) when it is not. */
export interface ReadinessCheck {
  /** Short, stable name shown in /readyz (`redis-us`, `apns-apple_rn`). */
  readonly name: string;
  check(): Promise<void>;
}

export interface AdminServerOptions {
  /** The registry /metrics exposes. */
  registry: Registry;
  logger: Logger;
  /** Checks /readyz runs; all must pass. Default none. */
  readinessChecks?: readonly ReadinessCheck[];
  /** Host to bind. Default `127.0.0.1` (admin endpoints are not for the internet). */
  host?: string;
  /** Port to bind; 0 picks a free one. Default 0. */
  port?: number;
  /** How long one readiness check may take before it counts as failed, in ms. Default 2000. */
  checkTimeoutMs?: number;
  /**
   * The bearer token (HPNS_ADMIN_TOKEN_FILE). With it, /metrics needs `Authorization: Bearer <token>`, and
   * /readyz shows its checks only to a caller with the token (a probe without one gets the status alone).
   * /healthz stays open for liveness probes. Without it every route is open (loopback binds only: config.ts).
   */
  token?: Secret<string>;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Whether an Authorization header carries `Bearer <token>`. The comparison takes the same time whatever the
 * header holds (both sides hashed to 32 bytes first), so the token cannot be guessed a byte at a time.
 */
export function bearerMatches(header: string | undefined, token: Secret<string>): boolean {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
  return timingSafeEqual(digest(match?.[1] ?? ''), digest(token.reveal())) && match !== null;
}

/** Answers with the registry's metrics in the Prometheus text format (no body for HEAD). */
export async function sendMetrics(res: ServerResponse, registry: Registry, head: boolean): Promise<void> {
  const text = await registry.metrics();
  res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
  res.end(head ? undefined : text);
}

/** The answer to an admin request without the right token. */
export function sendUnauthorized(res: ServerResponse, head: boolean): void {
  const text = '{"error":"unauthorized: this route needs Authorization: Bearer <admin token>"}\n';
  res.writeHead(401, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'www-authenticate': 'Bearer realm="hpns-admin"',
    'cache-control': 'no-store',
  });
  res.end(head ? undefined : text);
}

interface CheckResult {
  name: string;
  ok: boolean;
  error?: string;
}

function withTimeout(check: ReadinessCheck, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => resolve({ name: check.name, ok: false, error: `timed out after ${timeoutMs} ms` }),
      timeoutMs,
    );
    check.check().then(
      () => {
        clearTimeout(timer);
        resolve({ name: check.name, ok: true });
      },
      (error: unknown) => {
        clearTimeout(timer);
        resolve({
          name: check.name,
          ok: false,
          error: error instanceof Error ? error.message : String(error),
        });
      },
    );
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(head ? undefined : text);
}

/**
 * The admin HTTP server of every HPNS process: `GET /metrics` (Prometheus text format from the process's own
 * registry), `GET /healthz` (liveness: the event loop answers) and `GET /readyz` (readiness: not shutting down
 * and every readiness check passes; 503 otherwise, with each check's result). With a token, /metrics needs it
 * and /readyz shows its checks only with it. Created by `createAdminServer`.
 */
export class AdminServer {
  readonly #server: Server;
  readonly #options: AdminServerOptions;
  #ready = true;
  #address: AddressInfo | undefined;

  /** @internal use createAdminServer */
  constructor(server: Server, options: AdminServerOptions) {
    this.#server = server;
    this.#options = options;
    server.on('listening', () => (this.#address = server.address() as AddressInfo));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(req, res).catch((error: unknown) => {
        options.logger.error({ event: 'admin.request_failed', err: error }, 'admin request failed');
        if (!res.headersSent) sendJson(res, 500, { status: 'error' }, false);
        else res.destroy();
      });
    });
  }

  /** The bound address (port resolved when 0 was asked for); kept after close() for logs. */
  get address(): AddressInfo {
    if (this.#address === undefined) throw new Error('admin server is not listening');
    return this.#address;
  }

  /** Base URL, e.g. `http://127.0.0.1:43121`. */
  get url(): string {
    const { address, family, port } = this.address;
    return `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
  }

  /** Marks the process not ready (first step of shutdown) or ready again. */
  setReady(ready: boolean): void {
    this.#ready = ready;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const head = req.method === 'HEAD';
    if (path !== '/metrics' && path !== '/healthz' && path !== '/readyz') {
      sendJson(res, 404, { error: 'not found' }, head);
      return;
    }
    if (req.method !== 'GET' && !head) {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0 });
      res.end();
      return;
    }
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' }, head);
      return;
    }
    const { token } = this.#options;
    const authorized = token === undefined || bearerMatches(req.headers.authorization, token);
    if (path === '/readyz') {
      const timeoutMs = this.#options.checkTimeoutMs ?? 2000;
      const checks = await Promise.all(
        (this.#options.readinessChecks ?? []).map((check) => withTimeout(check, timeoutMs)),
      );
      const ready = this.#ready && checks.every((check) => check.ok);
      const status = ready ? 'ready' : this.#ready ? 'not ready' : 'shutting down';
      // The checks name dependencies and their errors (addresses among them): for callers with the token.
      sendJson(res, ready ? 200 : 503, authorized ? { status, checks } : { status }, head);
      return;
    }
    if (!authorized) {
      sendUnauthorized(res, head);
      return;
    }
    await sendMetrics(res, this.#options.registry, head);
  }

  /** Stops accepting connections, ends idle keep-alive connections and waits for open requests to finish. */
  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.#server.listening) {
        resolve();
        return;
      }
      this.#server.close((error) => (error === undefined ? resolve() : reject(error)));
      this.#server.closeIdleConnections();
    });
  }
}

/** Starts the admin server and resolves once it listens. */
export async function createAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const server = createServer({ keepAliveTimeout: 5000, requestTimeout: 10_000 });
  const admin = new AdminServer(server, options);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return admin;
}
