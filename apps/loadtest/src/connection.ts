import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { gunzipSync } from 'node:zlib';

/**
 * One keep-alive HTTP/1.1 connection with at most one request in flight, as the Mattermost server's Go client
 * uses its connections to the push proxy. Written on raw sockets: a load generator must cost far less per
 * request than the server it measures (the kit reports its own CPU per request), and Node's http client costs
 * several times more. It reads what an ingress may answer: Content-Length or chunked bodies, gzip (the Go client
 * sends `Accept-Encoding: gzip`), `Connection: close`.
 */
export interface Endpoint {
  host: string;
  port: number;
  tls: boolean;
  /** PEM of the CA to trust instead of the system's (a private CA, the simulators' test CA). */
  ca?: string | Buffer;
  /** SNI and certificate name; default `host`. */
  servername?: string;
  /** Skip certificate checks (a self-signed test endpoint); reported in the result. */
  insecure?: boolean;
}

export interface Answer {
  status: number;
  body: string;
}

export type Done = (error: Error | null, answer?: Answer) => void;

const CRLF2 = Buffer.from('\r\n\r\n');

export class Connection {
  readonly #socket: Socket;
  #buffer: Buffer | null = null;
  #pending: Done | null = null;
  #timer: NodeJS.Timeout | undefined;
  #dead = false;
  /** Requests answered on this connection. */
  served = 0;

  /** `onClose` runs once when the connection ends, whoever ended it. */
  constructor(
    endpoint: Endpoint,
    private readonly onClose?: () => void,
  ) {
    this.#socket = endpoint.tls
      ? connectTls({
          host: endpoint.host,
          port: endpoint.port,
          servername: isIp(endpoint.servername ?? endpoint.host)
            ? undefined
            : (endpoint.servername ?? endpoint.host),
          ...(endpoint.ca !== undefined ? { ca: endpoint.ca } : {}),
          rejectUnauthorized: endpoint.insecure !== true,
          ALPNProtocols: ['http/1.1'],
        })
      : connectTcp(endpoint.port, endpoint.host);
    this.#socket.setNoDelay(true);
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on('error', (error) => this.#end(error));
    this.#socket.on('close', () => this.#end(new Error('connection closed by the server')));
  }

  get dead(): boolean {
    return this.#dead;
  }

  get idle(): boolean {
    return !this.#dead && this.#pending === null;
  }

  /** Writes one whole request; `done` gets the answer, a transport error, or a timeout after `timeoutMs`. */
  request(data: string | Buffer, timeoutMs: number, done: Done): void {
    if (!this.idle) throw new Error('connection not idle');
    this.#pending = done;
    this.#timer = setTimeout(() => this.#end(new TimeoutError(timeoutMs)), timeoutMs);
    this.#socket.write(data);
  }

  close(): void {
    this.#end(new Error('connection closed by the client'));
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer === null ? chunk : Buffer.concat([this.#buffer, chunk]);
    const parsed = parseResponse(this.#buffer);
    if (parsed === undefined) return;
    if (parsed instanceof Error || this.#pending === null) {
      this.#end(parsed instanceof Error ? parsed : new Error('data from the server with no request out'));
      return;
    }
    if (parsed.rest > 0) {
      this.#end(new Error('more data than one answer (the server pipelined or sent garbage)'));
      return;
    }
    this.#buffer = null;
    const done = this.#pending;
    this.#pending = null;
    clearTimeout(this.#timer);
    this.served += 1;
    if (parsed.close) this.#end(null);
    done(null, { status: parsed.status, body: parsed.body });
  }

  #end(error: Error | null): void {
    if (this.#dead) return;
    this.#dead = true;
    clearTimeout(this.#timer);
    this.#socket.destroy();
    this.onClose?.();
    const pending = this.#pending;
    this.#pending = null;
    if (pending !== null) pending(error ?? new Error('connection closed'));
  }
}

export class TimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

const HEADERS = {
  connection: /\r\nconnection:[ \t]*([^\r\n]*)/i,
  'content-encoding': /\r\ncontent-encoding:[ \t]*([^\r\n]*)/i,
  'transfer-encoding': /\r\ntransfer-encoding:[ \t]*([^\r\n]*)/i,
  'content-length': /\r\ncontent-length:[ \t]*([^\r\n]*)/i,
};

interface Parsed {
  status: number;
  body: string;
  close: boolean;
  /** Bytes after the answer. */
  rest: number;
}

/** One HTTP/1.1 answer from the start of `buffer`: undefined while incomplete, an Error when it cannot be read. */
export function parseResponse(buffer: Buffer): Parsed | Error | undefined {
  const headEnd = buffer.indexOf(CRLF2);
  if (headEnd < 0) return buffer.length > 65_536 ? new Error('answer head longer than 64 KiB') : undefined;
  const head = buffer.toString('latin1', 0, headEnd);
  const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  if (statusMatch === null) return new Error(`not an HTTP/1.1 answer: ${JSON.stringify(head.slice(0, 40))}`);
  const status = Number(statusMatch[1]);
  const header = (name: keyof typeof HEADERS): string | undefined => HEADERS[name].exec(head)?.[1]?.trim();
  const close = /close/i.test(header('connection') ?? '') || head.startsWith('HTTP/1.0');
  const gzip = /gzip/i.test(header('content-encoding') ?? '');
  const start = headEnd + 4;
  let raw: Buffer;
  let end: number;
  if (/chunked/i.test(header('transfer-encoding') ?? '')) {
    const chunks: Buffer[] = [];
    let at = start;
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buffer.toString('latin1', at, lineEnd), 16);
      if (!Number.isInteger(size) || size < 0) return new Error('bad chunk size in a chunked answer');
      if (buffer.length < lineEnd + 2 + size + 2) return undefined;
      if (size === 0) {
        // No trailers expected from a push proxy: the final CRLF follows the 0 line.
        end = lineEnd + 4;
        break;
      }
      chunks.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    raw = Buffer.concat(chunks);
  } else {
    const lengthText = header('content-length');
    if (lengthText === undefined) {
      if (status === 204 || status === 304) {
        raw = Buffer.alloc(0);
        end = start;
      } else {
        return new Error('answer with neither Content-Length nor chunked encoding');
      }
    } else {
      const length = Number(lengthText);
      if (!Number.isInteger(length) || length < 0) return new Error(`bad Content-Length ${lengthText}`);
      if (buffer.length < start + length) return undefined;
      raw = buffer.subarray(start, start + length);
      end = start + length;
    }
  }
  let body: string;
  try {
    body = (gzip ? gunzipSync(raw) : raw).toString('utf8');
  } catch {
    return new Error('answer body is not valid gzip');
  }
  return { status, body, close, rest: buffer.length - end };
}
