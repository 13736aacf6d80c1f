import { ApnsConnection, type ApnsTransportStats } from './apns-connection';
import { transportFailure, type ApnsSend } from './apns-send';
import { type NodeApnClientOptions } from './node-apn-client';

export interface ApnsPoolOptions {
  client: NodeApnClientOptions;
  /** HTTP/2 connections to open (lazily, on first use). */
  connections: number;
  maxInFlightPerConnection: number;
  connectTimeoutMs: number;
  /** Sends waiting for a free stream beyond this are refused at once (`queue_full`). */
  maxQueued: number;
  stats: ApnsTransportStats;
  now: () => number;
}

/** Compact the queue array once this many dispatched entries sit at its head. */
const COMPACT_AT = 1024;

/**
 * The connections of one credential set to one endpoint, and the FIFO of sends waiting for a free stream. A send
 * goes to the next connection (round robin) with a free slot; when none has one — a cold start at 1 stream, a
 * burst above the servers' limits — it waits here, in order, until a stream closes or a SETTINGS frame raises a
 * limit, or until its deadline or signal settles it.
 */
export class ApnsPool {
  readonly #connections: ApnsConnection[];
  readonly #maxQueued: number;
  #queue: ApnsSend[] = [];
  #head = 0;
  #next = 0;
  #closed = false;
  #draining = false;

  constructor(options: ApnsPoolOptions) {
    this.#maxQueued = options.maxQueued;
    this.#connections = Array.from(
      { length: options.connections },
      () =>
        new ApnsConnection({
          client: options.client,
          maxInFlight: options.maxInFlightPerConnection,
          connectTimeoutMs: options.connectTimeoutMs,
          onSlotFree: () => this.#drain(),
          stats: options.stats,
          now: options.now,
        }),
    );
  }

  /** Sends waiting for a stream (some may already be settled and are skipped when reached). */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Sends in flight over all connections. */
  get inFlight(): number {
    return this.#connections.reduce((sum, connection) => sum + connection.inFlight, 0);
  }

  submit(send: ApnsSend): void {
    if (this.#closed) return send.settle(transportFailure('closed'));
    if (this.#head === this.#queue.length) {
      const connection = this.#pick();
      if (connection !== undefined) return connection.dispatch(send);
    }
    if (this.queued >= this.#maxQueued) return send.settle(transportFailure('queue_full'));
    this.#queue.push(send);
    // Entries ahead of it may have settled (deadline, signal) while slots are free: drain skips them.
    this.#drain();
  }

  /** Settles queued sends as `closed`, then cancels in-flight ones and closes every connection. */
  async close(timeoutMs: number): Promise<void> {
    this.#closed = true;
    for (let i = this.#head; i < this.#queue.length; i += 1)
      this.#queue[i]?.settle(transportFailure('closed'));
    this.#queue = [];
    this.#head = 0;
    await Promise.all(this.#connections.map((connection) => connection.close(timeoutMs)));
  }

  #pick(): ApnsConnection | undefined {
    const count = this.#connections.length;
    for (let i = 0; i < count; i += 1) {
      const index = (this.#next + i) % count;
      const connection = this.#connections[index] as ApnsConnection;
      if (connection.freeSlots > 0) {
        this.#next = (index + 1) % count;
        return connection;
      }
    }
    return undefined;
  }

  #drain(): void {
    // A dispatch can free a slot synchronously (a write that fails at once); the outer loop picks that up.
    if (this.#draining || this.#closed) return;
    this.#draining = true;
    try {
      while (this.#head < this.#queue.length) {
        const send = this.#queue[this.#head] as ApnsSend;
        if (send.settled) {
          this.#head += 1;
          continue;
        }
        const connection = this.#pick();
        if (connection === undefined) break;
        this.#head += 1;
        connection.dispatch(send);
      }
    } finally {
      this.#draining = false;
    }
    if (this.#head >= COMPACT_AT && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
