/**
 * What a simulator accepted, in arrival order, compact enough to keep for a whole load test: a sequence number,
 * the device token, the push's `ack_id` (read from the body without parsing it) and the HTTP status answered.
 * The load-test kit (apps/loadtest) reads it with `GET /apns/receipts?since=N` and `/fcm/receipts?since=N` to
 * reconcile what HPNS answered OK with what reached the provider: missing pushes, duplicates.
 *
 * A ring: the oldest receipts go first once `capacity` is reached. A reader that asks for `since` older than the
 * oldest kept receipt learns how many it lost from `first`, so a reconciliation never passes silently on a gap.
 */
export interface Receipt {
  seq: number;
  token: string;
  /** `ack_id` of the push body, '' when it has none. */
  ackId: string;
  status: number;
}

/**
 * One page of receipts: `first` is the oldest seq still kept, `next` the cursor to ask with next time (the seq of
 * the last item returned), `latest` the newest seq recorded.
 */
export interface ReceiptPage {
  first: number;
  next: number;
  latest: number;
  /** [seq, token, ackId, status], oldest first. */
  items: [number, string, string, number][];
}

const ACK_ID = /"ack_id":"([^"\\]{0,64})"/;

/** The `ack_id` string of a push body (APNs: top level; FCM: in `message.data`), '' when absent. */
export function ackIdOf(body: string): string {
  return ACK_ID.exec(body)?.[1] ?? '';
}

export class ReceiptLog {
  readonly #tokens: string[];
  readonly #acks: string[];
  readonly #statuses: Uint16Array;
  /** seq of the next receipt (the first one is 1). */
  #next = 1;
  /** Receipts below this seq were cleared. */
  #keptFrom = 1;

  constructor(readonly capacity = 250_000) {
    this.#tokens = new Array<string>(capacity);
    this.#acks = new Array<string>(capacity);
    this.#statuses = new Uint16Array(capacity);
  }

  /** Records one answered push; returns its seq. */
  add(token: string, ackId: string, status: number): number {
    if (this.capacity === 0) return 0;
    const seq = this.#next;
    const at = seq % this.capacity;
    this.#tokens[at] = token;
    this.#acks[at] = ackId;
    this.#statuses[at] = status;
    this.#next += 1;
    return seq;
  }

  /** Receipts with seq > `since`, at most `limit` of them. */
  since(since: number, limit = 10_000): ReceiptPage {
    const first = Math.max(this.#keptFrom, this.#next - this.capacity);
    const from = Math.max(since + 1, first);
    const to = Math.min(this.#next, from + Math.max(0, limit));
    const items: ReceiptPage['items'] = [];
    for (let seq = from; seq < to; seq += 1) {
      const at = seq % this.capacity;
      items.push([seq, this.#tokens[at]!, this.#acks[at]!, this.#statuses[at]!]);
    }
    return { first, next: Math.max(to - 1, since), latest: this.#next - 1, items };
  }

  /** Forgets every receipt; the sequence keeps counting, so a reader's cursor stays meaningful. */
  clear(): void {
    this.#tokens.fill('');
    this.#acks.fill('');
    this.#keptFrom = this.#next;
  }
}

/** Reads `since` and `limit` from a control request's query; throws a readable error on bad values. */
export function receiptQuery(query: URLSearchParams): { since: number; limit: number } {
  const number = (name: string, fallback: number): number => {
    const text = query.get(name);
    if (text === null) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number ≥ 0`);
    return value;
  };
  return { since: number('since', 0), limit: Math.min(number('limit', 10_000), 50_000) };
}
