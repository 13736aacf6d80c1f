import { constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { classifyWriteFailure, transportFailure, type ApnsSend, type SessionFacts } from './apns-send';
import {
  createNodeApnClient,
  type NodeApnClient,
  type NodeApnClientOptions,
  type SessionObserver,
  type WriteFailure,
} from './node-apn-client';

/** Connection-level counters of one provider, for tests, the benchmark and diagnostics. */
export interface ApnsTransportStats {
  /** HTTP/2 sessions opened (the first connect and every reconnect). */
  sessions: number;
  /** Streams the server refused (RST_STREAM REFUSED_STREAM): must stay 0 when the stream cap works. */
  refusedStreams: number;
  /** GOAWAY frames received. */
  goaways: number;
  /** Highest number of streams ever in flight on one connection. */
  maxInFlight: number;
}

export interface ApnsConnectionOptions {
  client: NodeApnClientOptions;
  /** Upper bound of streams in flight, whatever the server allows. */
  maxInFlight: number;
  /** A session without the server's SETTINGS after this long is destroyed, ms. */
  connectTimeoutMs: number;
  /** Called when a stream slot may have become free (the pool then dispatches queued sends). */
  onSlotFree: () => void;
  stats: ApnsTransportStats;
  /** Clock for Retry-After dates, epoch ms. */
  now: () => number;
}

/**
 * One APNs connection: a node-apn Client (one HTTP/2 session at a time) and a cap on streams in flight that
 * follows the server's SETTINGS_MAX_CONCURRENT_STREAMS (reference §1.8; node-apn has no cap, §4.3.3).
 *
 * Until a session has delivered its SETTINGS — a new connection, or a reconnect after GOAWAY or an error — only
 * one push is let through: it opens the session, and with token auth APNs raises the limit from 1 once that
 * push carried a valid JWT (§1.6). After that the cap is min(server limit, `maxInFlight`). A slot is held from
 * dispatch until the stream closes (not until the answer is classified), so cancelled and timed-out streams
 * count until the server has let go of them too.
 *
 * Streams of a session that went away no longer count against the next one: each session is an "epoch", and a
 * send frees a slot only in the epoch it was counted in.
 */
export class ApnsConnection implements SessionObserver {
  readonly #client: NodeApnClient;
  readonly #options: ApnsConnectionOptions;
  #session: ClientHttp2Session | undefined;
  /** Every session not yet closed, the current one and any still draining after a GOAWAY. */
  readonly #sessions = new Set<ClientHttp2Session>();
  #remoteLimit: number | undefined;
  #active = 0;
  #epoch = 0;
  /** The send whose `write` is running: node-apn opens its stream synchronously when a session exists. */
  #writing: ApnsSend | undefined;
  /** Sends whose `write` waits for a connect: they get streams in order. */
  readonly #unbound: ApnsSend[] = [];
  readonly #inFlight = new Set<ApnsSend>();
  readonly #sessionFacts = new WeakMap<ClientHttp2Session, SessionFacts>();
  #closed = false;

  constructor(options: ApnsConnectionOptions) {
    this.#options = options;
    this.#client = createNodeApnClient(options.client, this);
  }

  /** How many more sends may start now. */
  get freeSlots(): number {
    if (this.#closed) return 0;
    const session = this.#session;
    if (session === undefined || session.closed || session.destroyed || this.#remoteLimit === undefined) {
      return this.#active === 0 ? 1 : 0;
    }
    return Math.min(this.#remoteLimit, this.#options.maxInFlight) - this.#active;
  }

  /** Sends in flight on this connection (all sessions). */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Starts `send` on this connection. The caller checked `freeSlots`. */
  dispatch(send: ApnsSend): void {
    this.#active += 1;
    send.epoch = this.#epoch;
    this.#inFlight.add(send);
    if (this.#inFlight.size > this.#options.stats.maxInFlight)
      this.#options.stats.maxInFlight = this.#inFlight.size;
    const session = this.#session;
    const open = session !== undefined && !session.closed && !session.destroyed;
    this.#writing = send;
    const written = this.#client.write(send.built, send.device, 'device', 'post');
    if (this.#writing === send) {
      this.#writing = undefined;
      // With an open session node-apn opens the stream synchronously; it did not, so session.request threw and
      // the write is about to reject. Otherwise the write waits for a connect and gets its stream later.
      if (!open) this.#unbound.push(send);
    }
    written.then(
      () => this.#finish(send, undefined),
      (failure: WriteFailure) => this.#finish(send, failure),
    );
  }

  /** SessionObserver: node-apn opened a session. */
  onSession(session: ClientHttp2Session): void {
    this.#options.stats.sessions += 1;
    this.#newEpoch();
    this.#session = session;
    this.#sessions.add(session);
    this.#remoteLimit = undefined;
    const facts: SessionFacts = {};
    this.#sessionFacts.set(session, facts);
    // http2.connect has no connect timeout: a black-holed address or a stuck TLS handshake would hold the
    // connection's one probe slot (a stream of a session not yet connected does not even close when cancelled).
    const connectTimer = setTimeout(() => {
      facts.errorCode ??= 'ETIMEDOUT';
      session.destroy();
    }, this.#options.connectTimeoutMs);
    session.once('close', () => clearTimeout(connectTimer));
    session.on('remoteSettings', (settings) => {
      clearTimeout(connectTimer);
      if (session !== this.#session) return;
      // Absent from the SETTINGS frame means unlimited (RFC 9113 §6.5.2); `maxInFlight` still applies.
      this.#remoteLimit = settings.maxConcurrentStreams ?? Number.MAX_SAFE_INTEGER;
      this.#options.onSlotFree();
    });
    session.once('goaway', () => {
      facts.goaway = true;
      this.#options.stats.goaways += 1;
      this.#lose(session);
    });
    session.on('error', (error: NodeJS.ErrnoException) => {
      facts.errorCode ??= error.code;
      this.#lose(session);
    });
    session.once('close', () => {
      this.#sessions.delete(session);
      this.#lose(session);
    });
  }

  /** SessionObserver: node-apn is closing the session (after GOAWAY, an error, a 500, or shutdown). */
  onSessionClosing(session: ClientHttp2Session): void {
    this.#lose(session);
  }

  /** SessionObserver: node-apn opened a stream for the send being written, or the oldest one awaiting a connect. */
  onStream(session: ClientHttp2Session, stream: ClientHttp2Stream): void {
    let send = this.#writing;
    if (send !== undefined) this.#writing = undefined;
    else send = this.#unbound.shift();
    if (send === undefined) return;
    const bound = send;
    bound.stream = stream;
    bound.session = this.#sessionFacts.get(session);
    // `on`, not `once`: each fires once per stream, and `once` allocates a wrapper per push.
    stream.on('response', (headers) => {
      const retryAfter = headers['retry-after'];
      if (typeof retryAfter === 'string') bound.retryAfter = retryAfter;
    });
    stream.on('close', () => {
      if (stream.rstCode === constants.NGHTTP2_REFUSED_STREAM) this.#options.stats.refusedStreams += 1;
      this.#release(bound);
    });
    // Timed out or aborted while the connection was being opened.
    if (bound.settled) bound.cancelStream();
  }

  /** Cancels everything in flight (settled as `closed`) and closes the sessions, destroying them after `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    this.#closed = true;
    for (const send of [...this.#inFlight]) send.fail(transportFailure('closed'));
    // node-apn's shutdown() stops its PING timer synchronously; its own session close is not awaited: it calls
    // session.close() on a session destroyed by an error, whose callback never comes (8.1.0 closeAndDestroySession).
    void this.#client.shutdown();
    await Promise.all([...this.#sessions].map((session) => closeSession(session, timeoutMs)));
  }

  #finish(send: ApnsSend, failure: WriteFailure | undefined): void {
    // No stream was ever opened (connect failed, client destroyed): the slot is free now.
    if (send.stream === undefined) {
      const index = this.#unbound.indexOf(send);
      if (index >= 0) this.#unbound.splice(index, 1);
      this.#release(send);
    }
    if (send.settled) return;
    if (failure === undefined) send.settle({ kind: 'delivered', statusCode: 200 });
    else send.settle(classifyWriteFailure(failure, send, this.#options.now()));
  }

  #release(send: ApnsSend): void {
    if (send.released) return;
    send.released = true;
    this.#inFlight.delete(send);
    if (send.epoch === this.#epoch) this.#active -= 1;
    this.#options.onSlotFree();
  }

  /** The current session is gone (GOAWAY, error, close): node-apn opens a new one on the next write. */
  #lose(session: ClientHttp2Session): void {
    if (session !== this.#session) return;
    this.#session = undefined;
    this.#remoteLimit = undefined;
    this.#newEpoch();
    this.#options.onSlotFree();
  }

  /** Streams of the old session stop counting; sends still waiting for a connect count in the new epoch. */
  #newEpoch(): void {
    this.#epoch += 1;
    this.#active = this.#unbound.length;
    for (const send of this.#unbound) send.epoch = this.#epoch;
  }
}

/** Closes a session gracefully (GOAWAY, then the socket), or destroys it after `timeoutMs`. */
function closeSession(session: ClientHttp2Session, timeoutMs: number): Promise<void> {
  if (session.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => session.destroy(), timeoutMs);
    session.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    session.close();
  });
}
