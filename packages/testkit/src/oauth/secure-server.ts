import { type IncomingMessage, type ServerResponse } from 'node:http';
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import { type AddressInfo } from 'node:net';
import { type TLSSocket } from 'node:tls';

/**
 * The TLS front end shared by the Google peers (OAuth token endpoint, FCM): one `http2.createSecureServer` with
 * `allowHTTP1`, so HTTP/2 (ALPN `h2`) and HTTP/1.1 clients are both served, as Google's front end does
 * (reference/apns-fcm.md §2.1, §6). It tracks connections so `close()` ends them and the counters can tell
 * h1 from h2.
 */

/** A request as the handler sees it: the h2 compatibility request, or an HTTP/1.1 request. */
export type SimRequest = Http2ServerRequest | IncomingMessage;
/** The matching response. */
export type SimResponse = Http2ServerResponse | ServerResponse;

export interface SecureServerOptions {
  keyPem: string;
  certPem: string;
  host: string;
  port: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS advertised to h2 clients. */
  maxConcurrentStreams: number;
  /** HTTP/1.1 keep-alive idle timeout in ms. */
  keepAliveTimeoutMs: number;
}

/** Connection counts since start (or the last `resetStats()`). */
export interface ConnectionStats {
  /** TLS connections accepted. */
  total: number;
  /** Of those, negotiated h2. */
  h2: number;
  /** Of those, HTTP/1.1 (ALPN `http/1.1` or no ALPN). */
  h1: number;
  /** Connections open right now. */
  open: number;
}

/** True when the request arrived over HTTP/2. */
export function isHttp2Request(req: SimRequest): req is Http2ServerRequest {
  return req.httpVersionMajor === 2;
}

/** Reads the whole request body. */
export function readBody(req: SimRequest): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Writes a complete response with a content-length (so h1 connections stay reusable). */
export function writeResponse(
  res: SimResponse,
  status: number,
  headers: Record<string, string>,
  body: string,
): void {
  if (res.headersSent || res.destroyed) return;
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { ...headers, 'content-length': String(bytes.length) });
  res.end(bytes);
}

/** A listening TLS server for h1 + h2; owns its sockets. */
export class SecureHttpServer {
  readonly #server: Http2SecureServer;
  readonly #sockets = new Set<TLSSocket>();
  readonly #stats: ConnectionStats = { total: 0, h2: 0, h1: 0, open: 0 };

  /** @internal use listenSecureServer */
  constructor(server: Http2SecureServer) {
    this.#server = server;
    server.on('secureConnection', (socket: TLSSocket) => {
      this.#sockets.add(socket);
      this.#stats.total += 1;
      this.#stats.open += 1;
      if (socket.alpnProtocol === 'h2') this.#stats.h2 += 1;
      else this.#stats.h1 += 1;
      socket.once('close', () => {
        this.#sockets.delete(socket);
        this.#stats.open -= 1;
      });
    });
  }

  /** `https://host:port` of the listening server. */
  get url(): string {
    const address = this.#server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `https://${host}:${address.port}`;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  stats(): ConnectionStats {
    return { ...this.#stats };
  }

  resetStats(): void {
    Object.assign(this.#stats, { total: 0, h2: 0, h1: 0 });
  }

  /**
   * Destroys the TLS connection `req` arrived on, like a dropped TCP connection (on h2 that ends every stream
   * of the session). h2 requests only expose a guarded proxy of their socket, so the raw socket is found among
   * the tracked ones by its remote address and port.
   */
  destroyConnection(req: SimRequest): void {
    if (!isHttp2Request(req)) return void req.socket.destroy();
    const proxy = req.stream.session?.socket;
    if (proxy === undefined) return;
    for (const socket of this.#sockets) {
      if (socket.remotePort === proxy.remotePort && socket.remoteAddress === proxy.remoteAddress)
        socket.destroy();
    }
  }

  /** Stops listening and destroys every open connection (stalled requests included). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    });
  }
}

/** Starts a TLS server that hands every request, h1 or h2, to `handler`. */
export async function listenSecureServer(
  options: SecureServerOptions,
  handler: (req: SimRequest, res: SimResponse) => void,
): Promise<SecureHttpServer> {
  const server = createSecureServer({
    key: options.keyPem,
    cert: options.certPem,
    allowHTTP1: true,
    settings: { maxConcurrentStreams: options.maxConcurrentStreams },
  });
  // Node's HTTP/1.1 handling reads keepAliveTimeout from the server object; it must outlast the clients' own
  // idle timeout (undici's default is 4 s) so the server never closes a socket a client is about to reuse
  // (reference/apns-fcm.md §7.2).
  (server as unknown as { keepAliveTimeout: number }).keepAliveTimeout = options.keepAliveTimeoutMs;
  server.on('request', handler);
  const wrapped = new SecureHttpServer(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return wrapped;
}
