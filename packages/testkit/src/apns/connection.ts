import { constants, type ServerHttp2Session } from 'node:http2';
import { type Socket } from 'node:net';
import { ConnectionAuth } from './provider-token';

/** One client connection: its HTTP/2 session, provider-token binding and stream limit. */
export class ApnsConnection {
  readonly auth = new ConnectionAuth();
  /** The highest stream id seen, the `lastStreamId` of a GOAWAY sent now. */
  lastStreamId = 0;
  /** A token-gated limit has been raised: a push passed provider-token checks (§1.6). */
  opened = false;
  #advertisedLimit: number;
  #goingAway = false;

  constructor(
    readonly id: number,
    readonly session: ServerHttp2Session,
    initialLimit: number,
  ) {
    this.#advertisedLimit = initialLimit;
  }

  get goingAway(): boolean {
    return this.#goingAway || this.session.closed || this.session.destroyed;
  }

  /** Advertises a new `SETTINGS_MAX_CONCURRENT_STREAMS`, when it differs from the current one. */
  setStreamLimit(limit: number): void {
    if (limit === this.#advertisedLimit || this.goingAway) return;
    try {
      this.session.settings({ maxConcurrentStreams: limit });
      this.#advertisedLimit = limit;
    } catch {
      // ERR_HTTP2_MAX_PENDING_SETTINGS_ACK: the client has not acknowledged earlier SETTINGS yet; the next
      // success or error will try again.
    }
  }

  /**
   * Sends GOAWAY with `{"reason": …}` as opaque data (§1.4: "the same JSON may appear as the GOAWAY opaque
   * data"), then closes gracefully: streams up to `lastStreamId` may still finish. Node's `close()` sends a
   * second, data-less GOAWAY with the same last stream id, which RFC 9113 §6.8 allows and clients ignore.
   * Returns false when the connection was already going away.
   */
  goAway(reason: string, lastStreamId = this.lastStreamId): boolean {
    if (this.goingAway) return false;
    this.#goingAway = true;
    this.session.goaway(constants.NGHTTP2_NO_ERROR, lastStreamId, Buffer.from(JSON.stringify({ reason })));
    this.session.close();
    return true;
  }

  /**
   * Drops the TCP connection with an RST, as a crashed front end or a middlebox would (§7.1 "hard TCP reset
   * mid-stream"): no GOAWAY, no TLS close_notify. The http2 session's socket is a TLSSocket over the accepted
   * TCP socket (its `_parent`), and only the latter can `resetAndDestroy()`; if Node's internals change, the
   * fallback destroys the session, which at least ends the connection without an answer.
   */
  resetTcp(): void {
    this.#goingAway = true;
    const tcp = (this.session.socket as unknown as { _parent?: Socket })._parent;
    if (tcp !== undefined && typeof tcp.resetAndDestroy === 'function' && !tcp.destroyed) {
      tcp.resetAndDestroy();
    } else {
      this.session.destroy();
    }
  }
}
