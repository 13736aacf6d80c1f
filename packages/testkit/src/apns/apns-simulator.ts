import {
  createSecureServer,
  type Http2SecureServer,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { type AddressInfo, type Socket } from 'node:net';
import { type ControlRouter } from '../control-server';
import { ReceiptLog, type ReceiptPage } from '../receipt-log';
import { createTestCa, type TestCa } from '../tls/test-ca';
import { ApnsConnection } from './connection';
import { addApnsControlRoutes } from './control-routes';
import { bump, CaptureRing, emptyCounters, type ApnsCapturedRequest, type ApnsCounters } from './counters';
import { FaultState, type ApnsFaultProfile, type ApnsInjectedFault } from './faults';
import { resolveApnsOptions, type ApnsSimulatorOptions, type ResolvedApnsOptions } from './options';
import { ApnsKeyStore, type ApnsSigningKey } from './provider-token';
import { receivePush, type SimulatorState } from './push-handler';
import { ApnsTokenRegistry, type ApnsEnvironment, type ApnsTokenEntry } from './token-registry';

/**
 * A local APNs provider API (reference/apns-fcm.md §7.1): HTTP/2 over TLS on loopback, `POST /3/device/<token>`,
 * Apple's header, provider-token and payload rules, answers with Apple's statuses and reasons, and a fault and
 * latency model driven by a seed. Start it with {@link createApnsSimulator}; it owns its sockets until
 * `close()`.
 */
export class ApnsSimulator {
  readonly #server: Http2SecureServer;
  readonly #options: ResolvedApnsOptions;
  readonly #tls: TestCa;
  readonly #state: SimulatorState;
  readonly #connections = new Map<ServerHttp2Session, ApnsConnection>();
  /** Accepted TCP sockets, so that close() also drops those still in the TLS handshake. */
  readonly #sockets = new Set<Socket>();
  #nextConnectionId = 1;
  #connectionWaiters: { count: number; resolve: () => void }[] = [];
  #clockOffsetMs = 0;
  #closing: Promise<void> | undefined;

  /** @internal use {@link createApnsSimulator} */
  constructor(options: ResolvedApnsOptions, tls: TestCa) {
    this.#options = options;
    this.#tls = tls;
    this.#state = {
      options,
      registry: new ApnsTokenRegistry(),
      keys: new ApnsKeyStore(),
      faults: new FaultState(options.seed),
      disallowedTopics: new Set(),
      captures: new CaptureRing(options.captureLimit),
      receipts: new ReceiptLog(options.receiptLimit),
      timers: new Set(),
      counters: emptyCounters(),
      seq: 0,
      now: () => this.now(),
    };
    const gated = options.streamLimitMode !== 'fixed';
    this.#server = createSecureServer({
      key: tls.serverKeyPem,
      cert: tls.serverCertPem,
      // §1.1: HTTP/2 only, TLS 1.2 or later; ALPN offers h2 alone.
      allowHTTP1: false,
      minVersion: 'TLSv1.2',
      settings: { maxConcurrentStreams: gated ? 1 : options.maxConcurrentStreams },
    });
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    this.#server.on('session', (session) => this.#onSession(session));
    // A client that does not negotiate h2 is dropped at once; Node's default answers an HTTP/1 403 and holds
    // the socket for 10 s, which would also hold up close().
    this.#server.on('unknownProtocol', (socket) => socket.destroy());
    // Node passes the raw header list as a 4th argument; @types/node's overload for 'stream' omits it.
    this.#server.on(
      'stream',
      (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) =>
        this.#onStream(stream, headers, rawHeaders),
    );
  }

  /** @internal */
  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  /** The TCP port it listens on. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** `https://127.0.0.1:<port>` (or the host it was given). */
  get url(): string {
    const { address, family, port } = this.#server.address() as AddressInfo;
    return `https://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
  }

  /** PEM of the CA that signed its certificate: clients pass it as `ca`. */
  get caPem(): string {
    return this.#tls.caPem;
  }

  get environment(): ApnsEnvironment {
    return this.#options.environment;
  }

  /** The simulator clock, ms since epoch: the `now` option plus any `advanceClock` offset. */
  now(): number {
    return this.#options.now() + this.#clockOffsetMs;
  }

  /** Moves the simulator clock by `ms` (negative goes back), to age provider tokens without sleeping. */
  advanceClock(ms: number): void {
    this.#clockOffsetMs += ms;
  }

  /** The clock offset added by `advanceClock`, ms. */
  get clockOffsetMs(): number {
    return this.#clockOffsetMs;
  }

  registerKey(key: ApnsSigningKey): void {
    this.#state.keys.add(key);
  }

  removeKey(keyId: string): boolean {
    return this.#state.keys.delete(keyId);
  }

  listKeys(): ReturnType<ApnsKeyStore['list']> {
    return this.#state.keys.list();
  }

  /** Registers or replaces a device token (see {@link ApnsTokenEntry}). */
  setToken(token: string, entry: ApnsTokenEntry): void {
    this.#state.registry.set(token, entry);
  }

  getToken(token: string): ApnsTokenEntry | undefined {
    return this.#state.registry.get(token);
  }

  removeToken(token: string): boolean {
    return this.#state.registry.delete(token);
  }

  listTokens(): [string, ApnsTokenEntry][] {
    return this.#state.registry.entries();
  }

  /** Pushes to `topic` are answered 400 `TopicDisallowed` (§1.2) until `allowTopic`. */
  disallowTopic(topic: string): void {
    this.#state.disallowedTopics.add(topic);
  }

  allowTopic(topic: string): void {
    this.#state.disallowedTopics.delete(topic);
  }

  listDisallowedTopics(): string[] {
    return [...this.#state.disallowedTopics];
  }

  /** The current fault profile. */
  get faults(): Readonly<ApnsFaultProfile> {
    return this.#state.faults.profile;
  }

  /** Replaces the fault profile (throws on out-of-range values). */
  setFaults(profile: ApnsFaultProfile): void {
    this.#state.faults.set(profile, false);
    this.#applyIdleTimeout();
  }

  /** Changes only the given fields of the fault profile. */
  updateFaults(update: ApnsFaultProfile): void {
    this.#state.faults.set(update, true);
    this.#applyIdleTimeout();
  }

  /** The next `count` pushes get `fault` (a reason such as `InternalServerError`, or `stall`, or `reset`). */
  injectNext(count: number, fault: ApnsInjectedFault): void {
    this.#state.faults.injectNext(count, fault);
  }

  /** Pushes still to be hit by `injectNext` faults. */
  get queuedFaults(): number {
    return this.#state.faults.queued;
  }

  /** Sends GOAWAY `{"reason": reason}` on every open connection now and closes them; returns how many. */
  goAway(reason = 'Shutdown'): number {
    let sent = 0;
    for (const connection of this.#connections.values()) {
      if (connection.goAway(reason)) {
        bump(this.#state.counters.goaways, reason);
        sent += 1;
      }
    }
    return sent;
  }

  /**
   * Resolves once exactly `count` connections are open, e.g. 0 after a GOAWAY, to know that a client has let
   * go of the old connection, without polling or sleeping.
   */
  whenConnections(count: number): Promise<void> {
    if (this.#connections.size === count) return Promise.resolve();
    return new Promise((resolve) => this.#connectionWaiters.push({ count, resolve }));
  }

  #notifyConnectionWaiters(): void {
    const size = this.#connections.size;
    const ready = this.#connectionWaiters.filter((waiter) => waiter.count === size);
    this.#connectionWaiters = this.#connectionWaiters.filter((waiter) => waiter.count !== size);
    for (const waiter of ready) waiter.resolve();
  }

  /** A snapshot of the counters. */
  counters(): ApnsCounters {
    const c = this.#state.counters;
    return { ...c, byStatus: { ...c.byStatus }, byReason: { ...c.byReason }, goaways: { ...c.goaways } };
  }

  /** The compact log of answered pushes (token, ack_id, status) after seq `since`; see ReceiptLog. */
  receipts(since: number, limit?: number): ReceiptPage {
    return this.#state.receipts.since(since, limit);
  }

  /** The most recent pushes received, oldest first (bounded by `captureLimit`). */
  requests(): ApnsCapturedRequest[] {
    return this.#state.captures.list();
  }

  clearRequests(): void {
    this.#state.captures.clear();
  }

  /**
   * Back to a fresh state: no tokens, disallowed topics, faults or queued faults; counters, captures and
   * the clock offset zeroed; generators reseeded. Registered keys and open connections are kept (the
   * counters' `activeConnections` too).
   */
  reset(): void {
    this.#state.registry.clear();
    this.#state.disallowedTopics.clear();
    this.#state.faults.reset();
    this.#applyIdleTimeout();
    this.#state.captures.clear();
    this.#state.receipts.clear();
    this.#state.seq = 0;
    this.#clockOffsetMs = 0;
    this.#state.counters = { ...emptyCounters(), activeConnections: this.#connections.size };
  }

  /** Adds the `/apns/...` control routes, which mirror this API, to `router` and returns it. */
  router(router?: ControlRouter): ControlRouter {
    return addApnsControlRoutes(this, router);
  }

  /** Stops listening, drops every connection (stalled streams included) and cancels pending answers. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      for (const timer of this.#state.timers) clearTimeout(timer);
      this.#state.timers.clear();
      this.#server.close(() => resolve());
      for (const session of this.#connections.keys()) session.destroy();
      for (const socket of this.#sockets) socket.destroy();
    });
    return this.#closing;
  }

  #onSession(session: ServerHttp2Session): void {
    const gated = this.#options.streamLimitMode !== 'fixed';
    const connection = new ApnsConnection(
      this.#nextConnectionId++,
      session,
      gated ? 1 : this.#options.maxConcurrentStreams,
    );
    this.#connections.set(session, connection);
    this.#state.counters.connections += 1;
    this.#state.counters.activeConnections += 1;
    this.#notifyConnectionWaiters();
    session.on('ping', () => (this.#state.counters.pings += 1));
    // Client resets and aborted handshakes are part of the job; they must not crash the simulator.
    session.on('error', () => undefined);
    session.on('close', () => {
      if (this.#connections.delete(session)) this.#state.counters.activeConnections -= 1;
      this.#notifyConnectionWaiters();
    });
    // Http2Session#setTimeout fires after that long without any frame read or written (§1.8 idle GOAWAY).
    session.on('timeout', () => {
      if (connection.goAway('IdleTimeout')) bump(this.#state.counters.goaways, 'IdleTimeout');
    });
    this.#applyIdleTimeout(connection);
  }

  #applyIdleTimeout(only?: ApnsConnection): void {
    const idleMs = this.#state.faults.profile.idleTimeoutMs ?? 0;
    for (const connection of only === undefined ? this.#connections.values() : [only]) {
      if (!connection.goingAway) connection.session.setTimeout(idleMs);
    }
  }

  #onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: readonly string[]): void {
    const connection = this.#connections.get(stream.session as ServerHttp2Session);
    if (connection !== undefined) receivePush(this.#state, connection, stream, headers, rawHeaders);
  }
}

/** Starts an APNs simulator and resolves once it listens (default: 127.0.0.1, a free port, a fresh test CA). */
export async function createApnsSimulator(options: ApnsSimulatorOptions = {}): Promise<ApnsSimulator> {
  const resolved = resolveApnsOptions(options);
  const simulator = new ApnsSimulator(resolved, options.tls ?? createTestCa());
  for (const key of options.keys ?? []) simulator.registerKey(key);
  if (options.faults !== undefined) simulator.setFaults(options.faults);
  await simulator.listen(options.host ?? '127.0.0.1', options.port ?? 0);
  return simulator;
}
