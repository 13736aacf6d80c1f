import { randomBytes } from 'node:crypto';
import { constants as h2 } from 'node:http2';
import { createFaultPlan, type FaultPlan, type FaultRate } from '../oauth/fault-plan';
import {
  isHttp2Request,
  listenSecureServer,
  readBody,
  writeResponse,
  type SecureHttpServer,
  type SimRequest,
  type SimResponse,
} from '../oauth/secure-server';
import { createLatencySampler, createRng, type LatencyProfile } from '../random';
import { ackIdOf, ReceiptLog, type ReceiptPage } from '../receipt-log';
import { createTestCa, type TestCa } from '../tls/test-ca';
import { authorize } from './fcm-auth';
import { captureRequest, uncaptured } from './fcm-capture';
import { fcmReplies, type FcmReply } from './fcm-errors';
import { createProjectQuota, type FcmQuotaOptions, type ProjectQuota } from './fcm-quota';
import { tokenReply, type FcmTokenRegistration, type UnknownTokenPolicy } from './fcm-tokens';
import {
  type CapturedFcmRequest,
  type FcmCounters,
  type FcmFault,
  type FcmSimulatorOptions,
} from './fcm-types';
import { validateSendRequest } from './fcm-validate';

/**
 * FCM HTTP v1 `messages:send` over TLS, HTTP/2 and HTTP/1.1 (reference/apns-fcm.md §2, spec §7.2): bearer tokens
 * from the OAuth simulator's store, Google's body validation and error bodies, a token registry, a per-project
 * quota, faults and seeded latency, counters and captured requests for assertions.
 */

const SEND_PATH = /^\/v1\/projects\/([^/]+)\/messages:send$/;
/**
 * A send path the URL parser would leave as it is (no query, fragment, escapes, dot segments or backslashes):
 * taken as the path without building a URL per request.
 */
const PLAIN_SEND_PATH = /^\/v1\/projects\/[A-Za-z0-9_-]+\/messages:send$/;
/** Random bytes for message ids, drawn in blocks: a `randomBytes` call per send showed in the simulator's profile. */
const MESSAGE_ID_BLOCK = 8 * 512;
/** §2.3: success and errors both carry this content type. */
const JSON_TYPE = { 'content-type': 'application/json; charset=UTF-8' };

const increment = (record: Record<string, number>, key: string): void => {
  record[key] = (record[key] ?? 0) + 1;
};

function emptyCounters(): Omit<FcmCounters, 'connections'> {
  return { requests: 0, byStatus: {}, byCode: {}, byProtocol: { h1: 0, h2: 0 }, faults: {}, delivered: 0 };
}

export class FcmSimulator {
  /** PEM of the CA that signed the server certificate: give it to clients as `ca`. */
  readonly caPem: string;
  readonly #ca: TestCa;
  readonly #options: FcmSimulatorOptions;
  readonly #now: () => number;
  readonly #tokens = new Map<string, FcmTokenRegistration>();
  readonly #quota: ProjectQuota;
  readonly #faults: FaultPlan<FcmFault>;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #captured: CapturedFcmRequest[] = [];
  readonly #receipts: ReceiptLog;
  #server: SecureHttpServer | undefined;
  #unknownTokens: UnknownTokenPolicy = 'accept';
  #sampleLatency: () => number = () => 0;
  #counters = emptyCounters();
  #sequence = 0;
  #idBytes = Buffer.alloc(0);
  #idOffset = 0;

  /** @internal use createFcmSimulator */
  constructor(options: FcmSimulatorOptions, ca: TestCa) {
    this.#options = options;
    this.#ca = ca;
    this.caPem = ca.caPem;
    this.#now = options.now ?? Date.now;
    this.#receipts = new ReceiptLog(options.receiptLimit);
    this.#quota = createProjectQuota(options.quota);
    this.#faults = createFaultPlan<FcmFault>(createRng((options.seed ?? 1) ^ 0xfa17));
    this.#applyOptions();
  }

  /** @internal */
  async listen(): Promise<void> {
    this.#server = await listenSecureServer(
      {
        keyPem: this.#ca.serverKeyPem,
        certPem: this.#ca.serverCertPem,
        host: this.#options.host ?? '127.0.0.1',
        port: this.#options.port ?? 0,
        maxConcurrentStreams: this.#options.maxConcurrentStreams ?? 100,
        keepAliveTimeoutMs: this.#options.keepAliveTimeoutMs ?? 65_000,
      },
      (req, res) => {
        readBody(req).then(
          (body) => this.#answer(req, res, body),
          () => undefined,
        );
      },
    );
  }

  /** `https://127.0.0.1:<port>`: the FCM base URL for clients. */
  get url(): string {
    if (this.#server === undefined) throw new Error('the FCM simulator is not listening');
    return this.#server.url;
  }

  registerToken(registration: FcmTokenRegistration): void {
    if (registration.token === '') throw new Error('token must not be empty');
    this.#tokens.set(registration.token, { state: 'valid', ...registration });
  }

  unregisterToken(token: string): boolean {
    return this.#tokens.delete(token);
  }

  setUnknownTokens(policy: UnknownTokenPolicy): void {
    this.#unknownTokens = policy;
  }

  /** Sets one project's quota, or the default of every project without its own; usage so far is kept. */
  setQuota(options: FcmQuotaOptions, projectId?: string): void {
    this.#quota.set(options, projectId);
  }

  /** Fails the next `count` send requests with `fault`. */
  injectFault(fault: FcmFault, count = 1): void {
    this.#faults.inject(fault, count);
  }

  /** Fails send requests at random with these probabilities (seeded). */
  setFaultRates(rates: readonly FaultRate<FcmFault>[]): void {
    this.#faults.setRates(rates);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  /** Replaces the latency profile; the generator restarts from the seed. */
  setLatency(profile: LatencyProfile): void {
    this.#sampleLatency = createLatencySampler(profile, createRng(this.#options.seed ?? 1));
  }

  counters(): FcmCounters {
    const c = this.#counters;
    return {
      ...c,
      byStatus: { ...c.byStatus },
      byCode: { ...c.byCode },
      byProtocol: { ...c.byProtocol },
      faults: { ...c.faults },
      connections: this.#server?.stats() ?? { total: 0, h1: 0, h2: 0, open: 0 },
    };
  }

  /** Captured requests, oldest first (at most `captureLimit`). */
  requests(): CapturedFcmRequest[] {
    return this.#captured.map((request) => ({ ...request, headers: { ...request.headers } }));
  }

  clearRequests(): void {
    this.#captured.length = 0;
  }

  /** The compact log of answered sends (token, ack_id, status) since `since`; see ReceiptLog. */
  receipts(since: number, limit?: number): ReceiptPage {
    return this.#receipts.since(since, limit);
  }

  /** Back to the state right after creation: options' tokens, quota and latency; no faults, counts or captures. */
  reset(): void {
    this.#faults.clear();
    this.#quota.clear();
    this.#counters = emptyCounters();
    this.#captured.length = 0;
    this.#receipts.clear();
    this.#sequence = 0;
    this.#server?.resetStats();
    this.#applyOptions();
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await this.#server?.close();
  }

  #applyOptions(): void {
    this.#tokens.clear();
    for (const token of this.#options.tokens ?? []) this.registerToken(token);
    this.#unknownTokens = this.#options.unknownTokens ?? 'accept';
    this.setLatency(this.#options.latency ?? { p50Ms: 0 });
  }

  #answer(req: SimRequest, res: SimResponse, body: Buffer): void {
    const nowMs = this.#now();
    const url = req.url ?? '/';
    const path = PLAIN_SEND_PATH.test(url) ? url : new URL(url, 'https://fcm.invalid').pathname;
    const project = SEND_PATH.exec(path)?.[1];
    const captured = this.#capture(req, path, project, body, nowMs);
    this.#counters.requests += 1;
    this.#counters.byProtocol[captured.protocol] += 1;
    if (project === undefined) return this.#reply(req, res, body, captured, fcmReplies.pathNotFound());
    if (req.method !== 'POST') return this.#reply(req, res, body, captured, fcmReplies.methodNotAllowed());

    const fault = this.#faults.take();
    if (fault !== undefined) {
      increment(this.#counters.faults, fault.kind);
      captured.fault = fault.kind;
      switch (fault.kind) {
        case 'stall':
          return;
        case 'goaway':
          return this.#goaway(req);
        case 'unavailable':
          return this.#reply(req, res, body, captured, fcmReplies.unavailable(fault.retryAfterSeconds));
        case 'internal':
          return this.#reply(req, res, body, captured, fcmReplies.internal());
        case 'overload':
          return this.#reply(
            req,
            res,
            body,
            captured,
            fcmReplies.quotaExceeded(project, fault.retryAfterSeconds),
          );
        case 'destroy':
          break; // processed in full below, then cut off mid-response
        case 'drop':
          break; // processed and answered like any other, but leaves no receipt (#reply)
      }
    }
    this.#reply(
      req,
      res,
      body,
      captured,
      this.#process(req, project, body, nowMs),
      fault?.kind === 'destroy',
    );
  }

  /** The answer to an authenticated, routed send request (the order Google's front end checks in). */
  #process(req: SimRequest, project: string, body: Buffer, nowMs: number): FcmReply {
    const auth = authorize(req.headers.authorization, project, this.#options.accessTokens, nowMs);
    if (!auth.ok) return auth.reply;
    const quota = this.#quota.consume(project, nowMs);
    if (!quota.ok) return fcmReplies.quotaExceeded(project, quota.retryAfterSeconds);
    const validation = validateSendRequest(body);
    if (!validation.ok) return validation.reply;
    const { target } = validation;
    if ('token' in target) {
      const { projectId, projectNumber } = auth.record;
      const projects = projectNumber === undefined ? [projectId] : [projectId, projectNumber];
      const rejected = tokenReply(
        this.#tokens.get(target.token),
        target.token,
        projects,
        this.#unknownTokens,
      );
      if (rejected !== undefined) return rejected;
    }
    // §2.3: dry runs answer a fixed id and deliver nothing.
    if (validation.validateOnly) return fcmReplies.success(`projects/${project}/messages/fake_message_id`);
    this.#counters.delivered += 1;
    // §2.3: ids look like 0:1500415314455276%31bd1c9631bd1c96 (microseconds, then 16 hex digits).
    const id = `0:${nowMs * 1000 + (this.#sequence % 1000)}%${this.#randomHex8()}`;
    return fcmReplies.success(`projects/${project}/messages/${id}`);
  }

  /** 16 hex digits of fresh randomness. */
  #randomHex8(): string {
    if (this.#idOffset + 8 > this.#idBytes.length) {
      this.#idBytes = randomBytes(MESSAGE_ID_BLOCK);
      this.#idOffset = 0;
    }
    const hex = this.#idBytes.toString('hex', this.#idOffset, this.#idOffset + 8);
    this.#idOffset += 8;
    return hex;
  }

  #capture(
    req: SimRequest,
    path: string,
    project: string | undefined,
    body: Buffer,
    nowMs: number,
  ): CapturedFcmRequest {
    const sequence = (this.#sequence += 1);
    const limit = this.#options.captureLimit ?? 1000;
    // Nothing is kept (benchmarks): only what the counters and the reply need, without copying headers or
    // parsing the body a second time.
    if (limit <= 0) return uncaptured(req, sequence, path, project, nowMs);
    const captured = captureRequest(req, { sequence, path, project, body, nowMs });
    this.#captured.push(captured);
    if (this.#captured.length > limit) this.#captured.splice(0, this.#captured.length - limit);
    return captured;
  }

  #reply(
    req: SimRequest,
    res: SimResponse,
    body: Buffer,
    captured: CapturedFcmRequest,
    reply: FcmReply,
    cutOff = false,
  ): void {
    increment(this.#counters.byStatus, String(reply.status));
    // A dropped push is answered like a delivered one and leaves no receipt: lost inside the provider.
    if (captured.fault !== 'drop') {
      const text = body.toString('utf8');
      this.#receipts.add(captured.registrationToken ?? tokenOf(text), ackIdOf(text), reply.status);
    }
    increment(this.#counters.byCode, reply.code);
    captured.status = reply.status;
    captured.code = reply.code;
    const delayMs = this.#sampleLatency();
    captured.latencyMs = delayMs;
    const write = (): void => {
      const headers = { ...JSON_TYPE, ...reply.headers };
      const text = JSON.stringify(reply.body);
      if (!cutOff) return writeResponse(res, reply.status, headers, text);
      this.#cutOff(req, res, reply.status, headers, text);
    };
    if (delayMs <= 0) return write();
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      write();
    }, delayMs);
    this.#timers.add(timer);
  }

  /**
   * §7.2 "socket destroy mid-response": the send was processed, the status line and half the body go out, then
   * the connection dies, so the client cannot know the outcome (a retry may deliver twice, §2.5).
   */
  #cutOff(
    req: SimRequest,
    res: SimResponse,
    status: number,
    headers: Record<string, string>,
    text: string,
  ): void {
    const bytes = Buffer.from(text, 'utf8');
    res.writeHead(status, { ...headers, 'content-length': String(bytes.length) });
    const destroy = (): void => this.#server?.destroyConnection(req);
    (res as { write(chunk: Buffer, callback: () => void): boolean }).write(
      bytes.subarray(0, Math.floor(bytes.length / 2)),
      destroy,
    );
  }

  /**
   * §7.2 GOAWAY: on h2, GOAWAY whose last stream id excludes this request (so the client knows it was not
   * processed and may resend it), then the session closes. HTTP/1.1 has no GOAWAY; the closest is closing the
   * connection before any response byte.
   */
  #goaway(req: SimRequest): void {
    if (!isHttp2Request(req)) return this.#server?.destroyConnection(req);
    const { stream } = req;
    const session = stream.session;
    if (session === undefined) return;
    // Node sends the last processed stream id instead when given 0, so the first stream of a session is not
    // excluded by the GOAWAY alone; the REFUSED_STREAM reset marks it unprocessed either way (RFC 9113 §8.7).
    session.goaway(h2.NGHTTP2_NO_ERROR, Math.max(0, (stream.id ?? 1) - 2), Buffer.from('{"reason":"fault"}'));
    stream.close(h2.NGHTTP2_REFUSED_STREAM);
    session.close();
  }
}

/** Starts an FCM simulator on TLS (h2 and HTTP/1.1); `close()` it when done. */
export async function createFcmSimulator(options: FcmSimulatorOptions): Promise<FcmSimulator> {
  const simulator = new FcmSimulator(options, options.ca ?? createTestCa());
  await simulator.listen();
  return simulator;
}

const MESSAGE_TOKEN = /"token":"([^"\\]{1,4096})"/;

/** `message.token` of a send body without parsing it (uncaptured sends keep no parsed copy). */
function tokenOf(body: string): string {
  return MESSAGE_TOKEN.exec(body)?.[1] ?? '';
}
