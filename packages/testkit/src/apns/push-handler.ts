import { randomUUID } from 'node:crypto';
import {
  sensitiveHeaders,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { type ApnsConnection } from './connection';
import { bump, type ApnsCapturedRequest, type ApnsCounters, type CaptureRing } from './counters';
import { evaluatePush, type PushContext, type PushVerdict } from './evaluate-push';
import { type FaultState } from './faults';
import { type ResolvedApnsOptions } from './options';
import { type ApnsKeyStore } from './provider-token';
import { apnsStatusOf } from './reasons';
import { ackIdOf, type ReceiptLog } from '../receipt-log';
import { type ApnsTokenRegistry } from './token-registry';

/** The simulator's mutable state that push handling reads and updates. */
export interface SimulatorState extends PushContext {
  readonly options: ResolvedApnsOptions;
  readonly registry: ApnsTokenRegistry;
  readonly keys: ApnsKeyStore;
  readonly faults: FaultState;
  readonly disallowedTopics: Set<string>;
  readonly captures: CaptureRing;
  readonly receipts: ReceiptLog;
  /** Pending delayed answers, cancelled by `close()`. */
  readonly timers: Set<NodeJS.Timeout>;
  counters: ApnsCounters;
  seq: number;
  now(): number;
}

const PATH_PREFIX = '/3/device/';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Bodies are kept up to this size: enough to see the start of any rejected oversize payload. */
const MAX_KEPT_BODY_BYTES = 65_536;
const RETRY_AFTER_STATUSES = new Set([429, 500, 503]);
const NEVER_INDEXED = ['apns-id', 'apns-unique-id'];
const ignore = (): void => undefined;

/** Reads a push's body, then judges and answers it (or stalls, or resets the connection). */
export function receivePush(
  state: SimulatorState,
  connection: ApnsConnection,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[],
): void {
  state.counters.streams += 1;
  connection.lastStreamId = Math.max(connection.lastStreamId, stream.id ?? 0);
  // A client may cancel (RST_STREAM) at any time, e.g. on its request timeout; that is not our error.
  stream.on('error', ignore);
  const chunks: Buffer[] = [];
  let bytes = 0;
  stream.on('data', (chunk: Buffer) => {
    if (bytes < MAX_KEPT_BODY_BYTES) chunks.push(chunk);
    bytes += chunk.length;
  });
  stream.on('end', () => {
    const raw = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    const kept = raw.length > MAX_KEPT_BODY_BYTES ? raw.subarray(0, MAX_KEPT_BODY_BYTES) : raw;
    handlePush(state, connection, stream, headers, rawHeaders, kept.toString(), bytes);
  });
}

function handlePush(
  state: SimulatorState,
  connection: ApnsConnection,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[],
  body: string,
  bodyBytes: number,
): void {
  const { counters, faults } = state;
  const nowMs = state.now();
  counters.requests += 1;
  // Shutdown and injected faults come first: they model the front end, which answers before any validation.
  const shutdown = faults.profile.shutdown === true;
  let verdict: PushVerdict;
  let dropped = false;
  if (shutdown) {
    verdict = { kind: 'reject', reason: 'Shutdown' };
  } else {
    const fault = faults.decide();
    verdict =
      fault.kind === 'none' || fault.kind === 'drop'
        ? evaluatePush(state, connection, nowMs, headers, rawHeaders, body, bodyBytes)
        : fault;
    // A drop is a push APNs accepts and then loses: judged as usual, answered, and left out of the receipts.
    dropped = fault.kind === 'drop';
  }
  const path = headers[':path'] ?? '';
  state.seq += 1;
  const captured: ApnsCapturedRequest = {
    seq: state.seq,
    connectionId: connection.id,
    streamId: stream.id ?? 0,
    token: path.startsWith(PATH_PREFIX) ? path.slice(PATH_PREFIX.length) : '',
    headers,
    body,
    bodyBytes,
    outcome: 'answered',
    latencyMs: 0,
    atMs: nowMs,
  };
  state.captures.push(captured);

  if (verdict.kind === 'stall') {
    // Accepted and never answered: the client's request timeout is what is being tested (§7.1).
    captured.outcome = 'stalled';
    counters.stalls += 1;
    return;
  }
  if (verdict.kind === 'reset') {
    captured.outcome = 'reset';
    counters.resets += 1;
    connection.resetTcp();
    return;
  }

  const status = verdict.kind === 'accept' ? 200 : apnsStatusOf(verdict.reason);
  captured.status = status;
  if (!dropped) state.receipts.add(captured.token, ackIdOf(body), status);
  const sentId = headers['apns-id'];
  const responseHeaders: OutgoingHttpHeaders = {
    ':status': status,
    // §1.4: echo the request's apns-id, else a generated lower-case UUID.
    'apns-id': typeof sentId === 'string' && UUID.test(sentId) ? sentId : randomUUID(),
    // A fresh UUID per answer would only churn both HPACK tables (§1.2 HPACK guidance): never index it.
    [sensitiveHeaders]: NEVER_INDEXED,
  };
  // §1.4: apns-unique-id exists in the development (sandbox) environment only.
  if (state.options.environment === 'sandbox') responseHeaders['apns-unique-id'] = randomUUID();
  let payload: string | undefined;
  if (verdict.kind === 'reject') {
    captured.reason = verdict.reason;
    bump(counters.byReason, verdict.reason);
    responseHeaders['content-type'] = 'application/json';
    const retryAfter = faults.profile.retryAfterSeconds;
    if (retryAfter !== undefined && RETRY_AFTER_STATUSES.has(status)) {
      responseHeaders['retry-after'] = String(retryAfter);
    }
    // §1.4: `timestamp` (ms) only with 410 Unregistered.
    payload = JSON.stringify(
      verdict.timestampMs === undefined
        ? { reason: verdict.reason }
        : { reason: verdict.reason, timestamp: verdict.timestampMs },
    );
  }
  bump(counters.byStatus, String(status));
  adjustStreamLimit(state, connection, status);

  // §7.1 shutdown mode: 503 Shutdown, then GOAWAY {"reason":"Shutdown"} with this stream as the last one.
  // The GOAWAY waits until the answer has left: clients such as node-apn tear the session down on GOAWAY,
  // and an answer still in their read buffer would be lost.
  const afterSent = shutdown
    ? () =>
        stream.once('close', () => {
          if (connection.goAway('Shutdown', stream.id)) bump(counters.goaways, 'Shutdown');
        })
    : undefined;
  const delayMs = shutdown ? 0 : faults.sampleLatencyMs();
  captured.latencyMs = delayMs;
  if (delayMs <= 0) return answer(stream, responseHeaders, payload, afterSent);
  const timer = setTimeout(() => {
    state.timers.delete(timer);
    answer(stream, responseHeaders, payload, afterSent);
  }, delayMs);
  state.timers.add(timer);
}

const END_STREAM = { endStream: true };

function answer(
  stream: ServerHttp2Stream,
  headers: OutgoingHttpHeaders,
  payload: string | undefined,
  afterSent: (() => void) | undefined,
): void {
  // The client may have cancelled meanwhile (request timeout, connection gone).
  if (stream.destroyed || stream.closed) return;
  if (payload === undefined) {
    stream.respond(headers, END_STREAM);
  } else {
    stream.respond(headers);
    stream.end(payload);
  }
  afterSent?.();
}

function adjustStreamLimit(state: SimulatorState, connection: ApnsConnection, status: number): void {
  if (state.options.streamLimitMode !== 'error-drop' || !connection.opened) return;
  // rdar 27870881 (§1.8): 1 stream after a rejected push, back up after a success; 410 is not an error (§1.5).
  if (status === 200) connection.setStreamLimit(state.options.maxConcurrentStreams);
  else if (status !== 410) connection.setStreamLimit(1);
}
