import { constants, type ClientHttp2Stream } from 'node:http2';
import { type DeliveryOutcome } from '@hpns/protocol';
import { parseRetryAfterMs } from '../retry-after';
import { APNS_TRANSPORT_REASONS, classifyApnsAnswer, type ApnsTransportReason } from './apns-reasons';
import { type BuiltNotification, type WriteFailure } from './node-apn-client';

/** What the connection learns about a session, for classifying a failure that came without an answer. */
export interface SessionFacts {
  /** The session got a GOAWAY. */
  goaway?: boolean;
  /** The session's socket or TLS error code (`ECONNRESET`, `DEPTH_ZERO_SELF_SIGNED_CERT`, …). */
  errorCode?: string;
}

/** A transport failure: no APNs answer, statusCode 0, always retryable. */
export function transportFailure(reason: ApnsTransportReason): DeliveryOutcome {
  return { kind: 'retryable', reason, statusCode: 0 };
}

/**
 * One push on its way through a connection pool: the request for node-apn, its deadline and abort signal, and
 * the stream it got. Whichever comes first settles it — the answer, the deadline, the signal, or close() —
 * and the rest are ignored. Settling early also cancels the stream (RST_STREAM CANCEL), so a stalled or
 * abandoned push stops holding one of the connection's stream slots.
 */
export class ApnsSend {
  readonly promise: Promise<DeliveryOutcome>;
  settled = false;
  /** The HTTP/2 stream, once node-apn has opened it. */
  stream: ClientHttp2Stream | undefined;
  /** The answer's `retry-after`, read off the stream (node-apn looks for `Retry-After`, which HTTP/2 never has). */
  retryAfter: string | undefined;
  /** Facts of the session the stream belongs to, filled in as its events arrive. */
  session: SessionFacts | undefined;
  /** Bookkeeping of the connection that carries it (see ApnsConnection). */
  epoch = 0;
  released = false;
  #resolve: (outcome: DeliveryOutcome) => void = () => undefined;
  readonly #timer: NodeJS.Timeout;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort: (() => void) | undefined;

  constructor(
    readonly built: BuiltNotification,
    readonly device: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ) {
    this.promise = new Promise((resolve) => (this.#resolve = resolve));
    // The deadline covers waiting for a free stream and the request itself: it is the bound of one provider call.
    this.#timer = setTimeout(() => this.fail(transportFailure('timeout')), timeoutMs);
    this.#signal = signal;
    if (signal !== undefined) {
      this.#onAbort = () => this.fail(transportFailure('aborted'));
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  /** Settles with `outcome` unless already settled. */
  settle(outcome: DeliveryOutcome): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.#timer);
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#resolve(outcome);
  }

  /** Settles with `outcome` and cancels the stream, if one is open. */
  fail(outcome: DeliveryOutcome): void {
    this.settle(outcome);
    this.cancelStream();
  }

  cancelStream(): void {
    const stream = this.stream;
    if (stream !== undefined && !stream.closed && !stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
  }
}

/** The errno codes among the transport reasons (one list: a code added there is recognised here). */
const NETWORK_CODES: ReadonlySet<string> = new Set(
  APNS_TRANSPORT_REASONS.filter((reason) => /^E[A-Z_]+$/.test(reason)),
);
const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|VERIFY|HANDSHAKE/;

/** The `code`s along an error's cause chain (node-apn wraps Node's errors in VError, whose `cause()` is a method). */
function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 6 && typeof current === 'object' && current !== null; depth += 1) {
    const { code, cause } = current as { code?: unknown; cause?: unknown };
    if (typeof code === 'string') codes.push(code);
    current = typeof cause === 'function' ? (cause as () => unknown).call(current) : cause;
  }
  return codes;
}

function transportReason(failure: WriteFailure, send: ApnsSend): ApnsTransportReason {
  if (send.stream?.rstCode === constants.NGHTTP2_REFUSED_STREAM) return 'refused_stream';
  const message = failure.error?.message ?? '';
  if (message.includes('apn write timeout')) return 'timeout';
  if (message.includes('client is destroyed')) return 'closed';
  // The root cause is deepest: ERR_HTTP2_STREAM_CANCEL "caused by" ECONNRESET or a certificate error.
  const codes = errorCodes(failure.error);
  if (send.session?.errorCode !== undefined) codes.push(send.session.errorCode);
  const network = codes.find((code) => NETWORK_CODES.has(code));
  if (network !== undefined) return network as ApnsTransportReason;
  if (codes.some((code) => TLS_CODE.test(code))) return 'tls_error';
  if (message.includes('NGHTTP2_REFUSED_STREAM')) return 'refused_stream';
  if (codes.includes('ERR_HTTP2_GOAWAY_SESSION') || send.session?.goaway === true) return 'goaway';
  return 'transport_error';
}

/**
 * The outcome of a rejected node-apn `write`. Its shapes (reference §4.2, lib/client.js `request`):
 * `{status, response: {reason, timestamp}}` for an APNs answer; `{status: 403, error: VError('ExpiredProviderToken')}`
 * and `{status: 500, error: VError('Error 500, …')}` for the two answers it special-cases; `{error}` for
 * everything without an answer.
 */
export function classifyWriteFailure(failure: WriteFailure, send: ApnsSend, nowMs: number): DeliveryOutcome {
  const status = typeof failure.status === 'number' ? failure.status : undefined;
  if (status === undefined) return transportFailure(transportReason(failure, send));
  let body = failure.response;
  if (body === undefined && status === 403) body = { reason: failure.error?.message };
  if (body === undefined && status === 500) body = { reason: 'InternalServerError' };
  return classifyApnsAnswer(status, body, parseRetryAfterMs(send.retryAfter, nowMs));
}
