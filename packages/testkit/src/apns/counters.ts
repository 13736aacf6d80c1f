import { type IncomingHttpHeaders } from 'node:http2';

/** What happened to a captured push. */
export type ApnsRequestOutcome = 'answered' | 'stalled' | 'reset';

/** One push as the simulator received it, so a test can assert exactly what a client sent. */
export interface ApnsCapturedRequest {
  /** 1-based arrival order across all connections (reset by `reset()`). */
  seq: number;
  /** Which connection it came on (1-based, in accept order). */
  connectionId: number;
  /** The HTTP/2 stream id. */
  streamId: number;
  /** The device token from `:path` (empty when the path had none). */
  token: string;
  /** All request headers, pseudo-headers included, names lower-case. */
  headers: IncomingHttpHeaders;
  /** The body as UTF-8 text (only the first 64 KiB are kept). */
  body: string;
  /** Body length in bytes, as received. */
  bodyBytes: number;
  outcome: ApnsRequestOutcome;
  /** The answer's `:status` (absent for stalls and resets). */
  status?: number;
  /** The error reason answered (absent for 200, stalls and resets). */
  reason?: string;
  /** The response delay drawn from the latency model, ms. */
  latencyMs: number;
  /** The simulator clock when the push arrived, ms since epoch. */
  atMs: number;
}

/** Counters for tests and dashboards (reference §7 "Prometheus-style counters"). */
export interface ApnsCounters {
  /** Pushes that reached the request handler (stalled and reset ones included). */
  requests: number;
  /** Answers by `:status` ("200", "410", …). */
  byStatus: Record<string, number>;
  /** Error answers by reason. */
  byReason: Record<string, number>;
  /** Connections accepted so far. */
  connections: number;
  /** Connections open now. */
  activeConnections: number;
  /** Streams opened by clients. */
  streams: number;
  /** Streams deliberately never answered. */
  stalls: number;
  /** Connections reset by the reset fault. */
  resets: number;
  /** GOAWAY frames the simulator sent, by reason (Shutdown, IdleTimeout, …). */
  goaways: Record<string, number>;
  /** ES256 signature verifications performed (a token reused on its connection is not verified again). */
  jwtVerifications: number;
  /** Times a connection adopted a different provider token after its first one. */
  jwtChanges: number;
  /** PING frames received. */
  pings: number;
}

export function emptyCounters(): ApnsCounters {
  return {
    requests: 0,
    byStatus: {},
    byReason: {},
    connections: 0,
    activeConnections: 0,
    streams: 0,
    stalls: 0,
    resets: 0,
    goaways: {},
    jwtVerifications: 0,
    jwtChanges: 0,
    pings: 0,
  };
}

/** Adds one to `record[key]`. */
export function bump(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

/** A bounded ring of the most recent captured pushes (oldest dropped first). */
export class CaptureRing {
  readonly #items: (ApnsCapturedRequest | undefined)[];
  #next = 0;
  #size = 0;

  constructor(readonly capacity: number) {
    this.#items = new Array<ApnsCapturedRequest | undefined>(capacity);
  }

  push(item: ApnsCapturedRequest): void {
    if (this.capacity === 0) return;
    this.#items[this.#next] = item;
    this.#next = (this.#next + 1) % this.capacity;
    this.#size = Math.min(this.#size + 1, this.capacity);
  }

  /** The captured pushes, oldest first. */
  list(): ApnsCapturedRequest[] {
    const start = (this.#next - this.#size + this.capacity) % Math.max(this.capacity, 1);
    const out: ApnsCapturedRequest[] = [];
    for (let i = 0; i < this.#size; i += 1) {
      const item = this.#items[(start + i) % this.capacity];
      if (item !== undefined) out.push(item);
    }
    return out;
  }

  clear(): void {
    this.#items.fill(undefined);
    this.#next = 0;
    this.#size = 0;
  }
}
