import { type Fleet } from './fleet';

/**
 * Reconciliation against the simulators (`--control URL`): what HPNS answered OK against what reached the
 * providers. The simulators keep a receipt per answered push (token, ack_id, HTTP status: GET /apns/receipts and
 * /fcm/receipts, a ring with a sequence number); the kit reads them during the run from where it started, and
 * after it until nothing new arrives. Every push of the run has its own ack id carrying its serial, so:
 *  - missing: answered OK, no receipt with status 200 (lost after the OK, or still queued when waiting ended);
 *  - duplicates: more than one 200 receipt for the same push (delivered twice);
 *  - delivered without an OK: a 200 receipt for a push answered otherwise (a timeout, a FAIL after delivery);
 *  - test pushes have no ack id (as the server sends them): they are reconciled by count.
 * If the ring dropped receipts between two reads (a gap in the sequence), the result says so and is not a match.
 */
export interface ReconcileResult {
  answeredOk: number;
  delivered: number;
  missing: number;
  duplicates: number;
  deliveredWithoutOk: number;
  /** Test pushes (no ack id): answered OK vs 200 receipts without an ack id. */
  testAnsweredOk: number;
  testDelivered: number;
  /** Receipts of other traffic (other runs, other senders) seen and left alone. */
  foreign: number;
  /** Receipts lost to the ring between reads: the reconciliation is incomplete when > 0. */
  lostReceipts: number;
  /** Some missing serials, for a look in the logs. */
  missingSample: string[];
  waitedMs: number;
  matches: boolean;
}

interface Page {
  first: number;
  next: number;
  latest: number;
  items: [number, string, string, number][];
}

const PROVIDERS = ['apns', 'fcm'] as const;

export class Reconciler {
  readonly #base: string;
  readonly #fleet: Fleet;
  readonly #cursor: Record<(typeof PROVIDERS)[number], number> = { apns: 0, fcm: 0 };
  /** Per serial: answered OK (bit 7) and the number of 200 receipts (bits 0–6, saturating). */
  #state = new Uint8Array(1 << 16);
  #lost = 0;
  #foreign = 0;
  #testDelivered = 0;
  #testAnsweredOk = 0;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> = Promise.resolve();
  #lastNew = 0;
  #error: Error | undefined;

  constructor(controlUrl: string, fleet: Fleet) {
    this.#base = controlUrl.replace(/\/+$/, '');
    this.#fleet = fleet;
  }

  /** Reads where the receipts stand now (the run starts from there), then polls every `everyMs`. */
  async start(everyMs = 250): Promise<void> {
    for (const provider of PROVIDERS) {
      const page = await this.#get(provider, 0, 0);
      this.#cursor[provider] = page.latest;
    }
    this.#timer = setInterval(() => {
      this.#polling = this.#polling
        .then(() => this.#pollOnce())
        .catch((error: unknown) => {
          this.#error = error instanceof Error ? error : new Error(String(error));
        });
    }, everyMs);
  }

  /** Marks a push answered OK. */
  answeredOk(ackId: string): void {
    if (ackId === '') {
      this.#testAnsweredOk += 1;
      return;
    }
    const serial = this.#fleet.serialOf(ackId);
    if (serial === undefined) return;
    this.#grow(serial);
    this.#state[serial]! |= 0x80;
  }

  /**
   * Stops polling after reading until no new receipt came for `quietMs` (the queues drained), at most
   * `maxWaitMs`; then compares.
   */
  async finish(quietMs = 2000, maxWaitMs = 60_000): Promise<ReconcileResult> {
    clearInterval(this.#timer);
    await this.#polling;
    const start = performance.now();
    this.#lastNew = performance.now();
    for (;;) {
      await this.#pollOnce();
      const now = performance.now();
      if (now - this.#lastNew >= quietMs || now - start >= maxWaitMs) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    if (this.#error !== undefined)
      throw new Error(`reading receipts from ${this.#base}: ${this.#error.message}`);
    let answeredOk = 0;
    let delivered = 0;
    let missing = 0;
    let duplicates = 0;
    let deliveredWithoutOk = 0;
    const missingSample: string[] = [];
    for (let serial = 0; serial < this.#state.length; serial += 1) {
      const value = this.#state[serial]!;
      if (value === 0) continue;
      const ok = (value & 0x80) !== 0;
      const receipts = value & 0x7f;
      if (ok) answeredOk += 1;
      if (receipts > 0) delivered += 1;
      if (receipts > 1) duplicates += receipts - 1;
      if (ok && receipts === 0) {
        missing += 1;
        if (missingSample.length < 10) missingSample.push(`serial ${serial}`);
      }
      if (!ok && receipts > 0) deliveredWithoutOk += 1;
    }
    return {
      answeredOk,
      delivered,
      missing,
      duplicates,
      deliveredWithoutOk,
      testAnsweredOk: this.#testAnsweredOk,
      testDelivered: this.#testDelivered,
      foreign: this.#foreign,
      lostReceipts: this.#lost,
      missingSample,
      waitedMs: performance.now() - start,
      matches:
        missing === 0 && duplicates === 0 && this.#lost === 0 && this.#testDelivered >= this.#testAnsweredOk,
    };
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #pollOnce(): Promise<void> {
    for (const provider of PROVIDERS) {
      for (;;) {
        const page = await this.#get(provider, this.#cursor[provider], 10_000);
        if (page.first > this.#cursor[provider] + 1) this.#lost += page.first - this.#cursor[provider] - 1;
        for (const [, , ackId, status] of page.items) this.#receipt(ackId, status);
        if (page.items.length > 0) this.#lastNew = performance.now();
        // A simulator restarted (its sequence went back): start over from its beginning.
        this.#cursor[provider] = page.latest < this.#cursor[provider] ? 0 : page.next;
        if (page.items.length < 10_000) break;
      }
    }
  }

  #receipt(ackId: string, status: number): void {
    if (status !== 200) return;
    if (ackId === '') {
      this.#testDelivered += 1;
      return;
    }
    const serial = this.#fleet.serialOf(ackId);
    if (serial === undefined) {
      this.#foreign += 1;
      return;
    }
    this.#grow(serial);
    const value = this.#state[serial]!;
    if ((value & 0x7f) < 0x7f) this.#state[serial] = value + 1;
  }

  #grow(serial: number): void {
    if (serial < this.#state.length) return;
    let size = this.#state.length;
    while (size <= serial) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#state);
    this.#state = next;
  }

  async #get(provider: string, since: number, limit: number): Promise<Page> {
    const url = `${this.#base}/${provider}/receipts?since=${since}&limit=${limit}`;
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    if (response.status === 404)
      throw new Error(
        `GET ${url}: 404 — ${this.#base} is not the HPNS simulators' control API (or an older one without receipts)`,
      );
    if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
    return (await response.json()) as Page;
  }
}
