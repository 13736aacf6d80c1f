import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { encodePushResponse, type PushResponse } from '@hpns/protocol';
import {
  bearerMatches,
  sendMetrics,
  sendUnauthorized,
  type Logger,
  type Registry,
  type Secret,
} from '@hpns/runtime';
import { clientAddress, type ClientAddressOptions } from './client-address';
import { type ListenerMode } from './entitlement';
import { type IngressMetrics } from './ingress-metrics';
import { type PushApi } from './push-api';
import { matchApiRoute } from './routes';
import { type CallerThrottle } from './throttle';

export interface ListenerOptions {
  /** Host to bind. Default `0.0.0.0`. */
  host?: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** Who may push through this listener. */
  mode: ListenerMode;
  /** PEM certificate chain and key for HTTPS (TLS ≥ 1.2); plain HTTP when absent (TLS ends in front). */
  tls?: { certPem: string; keyPem: string };
}

export interface IngressServerOptions {
  api: PushApi;
  listeners: readonly ListenerOptions[];
  logger: Logger;
  metrics: IngressMetrics;
  /** Largest accepted body, in bytes; larger → 413. Default 65536 (a push is a few KiB at most). */
  bodyLimitBytes?: number;
  /** Time allowed to receive request headers, in ms (slow-client defence). Default 10000. */
  headersTimeoutMs?: number;
  /** Time allowed to receive a whole request, in ms. Default 30000. */
  requestTimeoutMs?: number;
  /**
   * Idle keep-alive time, in ms. Default 95000: longer than the Mattermost server's 90 s idle timeout, so that
   * the server, not HPNS, closes idle connections and never sends on one HPNS just closed (reference §8.1).
   */
  keepAliveTimeoutMs?: number;
  /** `GET /version` body fields. */
  version?: { version: string; hash: string };
  /** Where the caller's address comes from (rate limits of `tpns` listeners). Default: the socket peer. */
  clientAddress?: ClientAddressOptions;
  /** The push proxy's per-caller throttle (ThrottlePerSec), on every route of `open` listeners; none: off. */
  throttle?: CallerThrottle;
  /**
   * `EnableMetrics`: `GET /metrics` on the API listeners too, as the Go proxy serves it, with the admin token
   * when one is set (callers reach these listeners).
   */
  apiMetrics?: { registry: Registry; token: Secret<string> | undefined };
}

const TEXT_PLAIN = 'text/plain; charset=utf-8';

/** Go's net/http answers for the routes the proxy does not have (reference §1.2). */
function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': TEXT_PLAIN, 'x-content-type-options': 'nosniff' });
  res.end('404 page not found\n');
}

function methodNotAllowed(res: ServerResponse): void {
  res.writeHead(405, { 'content-length': 0 });
  res.end();
}

function answer(res: ServerResponse, response: PushResponse): void {
  const body = encodePushResponse(response);
  // The proxy sets no Content-Type; Go then sniffs text/plain. Say it explicitly.
  res.writeHead(200, { 'content-type': TEXT_PLAIN, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The non-API routes, on express (the hot path never goes through it: DESIGN.md "express 5"). */
function createMiscApp(options: IngressServerOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.get('/', (_req, res) => {
    res.type('text/html; charset=utf-8').send('<html><body>Mattermost Push Proxy</body></html>');
  });
  app.get('/version', (_req, res) => {
    const { version, hash } = options.version ?? { version: '0.0.0', hash: 'dev' };
    res.type('application/json').send(`${JSON.stringify({ hash, version })}\n`);
  });
  app.all(['/', '/version'], (_req, res) => methodNotAllowed(res));
  app.use((_req, res) => notFound(res));
  return app;
}

/**
 * The HTTP side of the ingress: one or more listeners (each with its entitlement mode), the send_push and ack
 * hot path on bare node:http (about 4× cheaper than express per request, measured), body limits and
 * slow-client timeouts, and a graceful drain on close.
 */
export class IngressServer {
  readonly #servers: { server: Server; mode: ListenerMode }[] = [];
  readonly #options: IngressServerOptions;
  readonly #misc: Express;
  /** The trusted client-address header, lower-cased as Node keys `req.headers`. */
  readonly #addressHeader: string | undefined;
  #inFlight = 0;

  /** @internal use createIngressServer */
  constructor(options: IngressServerOptions) {
    this.#options = options;
    this.#misc = createMiscApp(options);
    this.#addressHeader = options.clientAddress?.header?.toLowerCase();
  }

  /** The bound address of each listener, in order. */
  get addresses(): AddressInfo[] {
    return this.#servers.map(({ server }) => server.address() as AddressInfo);
  }

  /** Requests being answered now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** @internal */
  async listen(): Promise<void> {
    for (const listener of this.#options.listeners) {
      const handler = (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res, listener.mode);
      const server =
        listener.tls === undefined
          ? createHttpServer(handler)
          : createHttpsServer(
              { cert: listener.tls.certPem, key: listener.tls.keyPem, minVersion: 'TLSv1.2' },
              handler,
            );
      server.headersTimeout = this.#options.headersTimeoutMs ?? 10_000;
      server.requestTimeout = this.#options.requestTimeoutMs ?? 30_000;
      server.keepAliveTimeout = this.#options.keepAliveTimeoutMs ?? 95_000;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(listener.port, listener.host ?? '0.0.0.0', () => {
          server.off('error', reject);
          resolve();
        });
      });
      this.#servers.push({ server, mode: listener.mode });
    }
  }

  #handle(req: IncomingMessage, res: ServerResponse, mode: ListenerMode): void {
    // The Go proxy's throttle wraps every route, /metrics and 404s included (reference §1.2).
    if (
      mode === 'open' &&
      this.#options.throttle !== undefined &&
      !this.#admit(req, res, this.#options.throttle)
    )
      return;
    const route = matchApiRoute(req.url ?? '/');
    if (route === undefined) {
      const apiMetrics = this.#options.apiMetrics;
      if (apiMetrics !== undefined && (req.url ?? '/').split('?')[0] === '/metrics') {
        this.#serveMetrics(req, res, apiMetrics);
        return;
      }
      this.#misc(req, res);
      return;
    }
    if (req.method !== 'POST') {
      methodNotAllowed(res);
      return;
    }
    const started = performance.now();
    const limit = this.#options.bodyLimitBytes ?? 65_536;
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      this.#tooLarge(req, res);
      return;
    }
    this.#inFlight++;
    res.once('close', () => this.#inFlight--);
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > limit) {
        refused = true;
        this.#tooLarge(req, res);
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (refused) return;
      const body = Buffer.concat(chunks).toString('utf8');
      const work =
        route.endpoint === 'ack'
          ? Promise.resolve(this.#options.api.ack(body, { host: req.headers.host, route }))
          : this.#options.api.sendPush(body, {
              host: req.headers.host,
              route,
              mode,
              caller: mode === 'tpns' ? this.#caller(req) : '',
            });
      void work
        .then((response) => {
          if (!res.destroyed) answer(res, response);
          this.#options.metrics.duration.observe(
            { endpoint: route.endpoint },
            (performance.now() - started) / 1000,
          );
        })
        .catch((err: unknown) => {
          // PushApi never rejects by contract; if it or the write fails anyway, end this request, not the process.
          this.#options.logger.error({ event: 'api.request_failed', err }, 'request failed');
          res.destroy();
        });
    });
  }

  /** Counts the request against its caller's window; answers 429 and returns false when the window is full. */
  #admit(req: IncomingMessage, res: ServerResponse, throttle: CallerThrottle): boolean {
    const decision = throttle.take(throttle.keyOf(req.headers, req.socket.remoteAddress));
    res.setHeader('x-ratelimit-limit', decision.limit);
    res.setHeader('x-ratelimit-remaining', decision.remaining);
    res.setHeader('x-ratelimit-reset', decision.resetSec);
    if (decision.allowed) return true;
    this.#options.metrics.rateLimited('throttle');
    const body = 'limit exceeded\n';
    res.writeHead(429, {
      'content-type': TEXT_PLAIN,
      'content-length': body.length,
      'retry-after': String(decision.resetSec),
    });
    res.end(body);
    req.resume();
    return false;
  }

  #serveMetrics(
    req: IncomingMessage,
    res: ServerResponse,
    { registry, token }: NonNullable<IngressServerOptions['apiMetrics']>,
  ): void {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      methodNotAllowed(res);
      return;
    }
    if (token !== undefined && !bearerMatches(req.headers.authorization, token)) {
      sendUnauthorized(res, head);
      return;
    }
    sendMetrics(res, registry, head).catch((err: unknown) => {
      this.#options.logger.error({ event: 'api.metrics_failed', err }, 'metrics failed');
      res.destroy();
    });
  }

  /** The caller's address, only where it is counted (free-tier listeners). */
  #caller(req: IncomingMessage): string {
    const options = this.#options.clientAddress ?? {};
    const header = this.#addressHeader === undefined ? undefined : req.headers[this.#addressHeader];
    const { address, source } = clientAddress(req.socket.remoteAddress, header, options);
    this.#options.metrics.callerAddress(source);
    return address;
  }

  #tooLarge(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(413, { 'content-type': TEXT_PLAIN, connection: 'close' });
    res.end('request body too large\n');
    req.resume();
  }

  /**
   * Stops accepting, lets requests in flight finish (send_push may be waiting for an outcome) for up to
   * `deadlineMs`, then closes every connection.
   */
  async close(deadlineMs = 10_000): Promise<void> {
    const closing = this.#servers.map(
      ({ server }) =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const { server } of this.#servers) server.closeAllConnections();
        resolve();
      }, deadlineMs);
    });
    await Promise.race([Promise.all(closing), deadline]);
    clearTimeout(timer);
    for (const { server } of this.#servers) server.closeAllConnections();
  }
}

/** Starts the listeners and resolves once all of them listen. */
export async function createIngressServer(options: IngressServerOptions): Promise<IngressServer> {
  const server = new IngressServer(options);
  try {
    await server.listen();
  } catch (error) {
    await server.close(0);
    throw error;
  }
  return server;
}
