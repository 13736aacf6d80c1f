import { type IncomingHttpHeaders } from 'node:http2';
import { type ApnsConnection } from './connection';
import { type ApnsCounters } from './counters';
import { type FaultState } from './faults';
import { type ResolvedApnsOptions } from './options';
import { type ApnsKeyStore } from './provider-token';
import { type ApnsReason } from './reasons';
import { type ApnsTokenRegistry } from './token-registry';
import { validatePushHeaders } from './validate-request';

/** The simulator's answer to one push, before latency and transport. */
export type PushVerdict =
  | { kind: 'accept' }
  | { kind: 'reject'; reason: ApnsReason; timestampMs?: number }
  | { kind: 'stall' }
  | { kind: 'reset' };

/** Everything a push is judged against (the simulator's state; `counters` is read at each call). */
export interface PushContext {
  readonly options: ResolvedApnsOptions;
  readonly registry: ApnsTokenRegistry;
  readonly keys: ApnsKeyStore;
  readonly faults: FaultState;
  readonly disallowedTopics: ReadonlySet<string>;
  readonly counters: ApnsCounters;
}

const ACCEPT: PushVerdict = { kind: 'accept' };

/**
 * Judges one complete push (headers and body), in this order:
 * 1. headers, in pushy's order (validate-request.ts), and `TopicDisallowed`;
 * 2. the device token: magic prefixes, registry, unknown-token policy (pushy: 410 and
 *    `DeviceTokenNotForTopic` come before authentication, §6);
 * 3. the provider token (§1.6) — unless `auth` is `none`;
 * 4. the body: `PayloadEmpty`, `PayloadTooLarge` on body bytes (4096, 5120 for VoIP, §1.2), then not a JSON
 *    object → `BadPayload` ([assumption], see reasons.ts);
 * 5. the per-token `TooManyRequests` window (§7.1), counting accepted pushes only.
 */
export function evaluatePush(
  ctx: PushContext,
  connection: ApnsConnection,
  nowMs: number,
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[],
  body: string,
  bodyBytes: number,
): PushVerdict {
  const { options } = ctx;
  const push = validatePushHeaders(headers, rawHeaders, options);
  if (typeof push === 'string') return { kind: 'reject', reason: push };
  if (ctx.disallowedTopics.has(push.topic)) return { kind: 'reject', reason: 'TopicDisallowed' };

  const verdict = ctx.registry.verdict(push.token, push.bundleId, options.environment, nowMs, options);
  if (verdict.kind !== 'ok') return verdict;

  if (options.auth === 'token') {
    const before = ctx.keys.verifications;
    const changesBefore = connection.auth.changes;
    const problem = connection.auth.authorize(
      headers.authorization,
      nowMs,
      options.environment,
      ctx.keys,
      options.tokenRules,
    );
    ctx.counters.jwtVerifications += ctx.keys.verifications - before;
    ctx.counters.jwtChanges += connection.auth.changes - changesBefore;
    if (problem !== undefined) return { kind: 'reject', reason: problem };
  }
  // §1.6: "APNs allows only one stream until you post a request with a valid token."
  if (options.streamLimitMode !== 'fixed' && !connection.opened) {
    connection.opened = true;
    connection.setStreamLimit(options.maxConcurrentStreams);
  }

  if (bodyBytes === 0) return { kind: 'reject', reason: 'PayloadEmpty' };
  if (bodyBytes > push.maxPayloadBytes) return { kind: 'reject', reason: 'PayloadTooLarge' };
  if (!isJsonObject(body)) return { kind: 'reject', reason: 'BadPayload' };

  if (ctx.faults.overTokenLimit(push.token, nowMs)) return { kind: 'reject', reason: 'TooManyRequests' };
  return ACCEPT;
}

let lastJsonText = '';
let lastJsonVerdict = false;

function isJsonObject(text: string): boolean {
  // Load tests usually repeat one payload: remember the last verdict rather than parse it again.
  if (text === lastJsonText) return lastJsonVerdict;
  let verdict = false;
  // An APNs payload is a dictionary (Apple: "a JSON dictionary"), so anything else fails before parsing.
  if (text.trimStart().startsWith('{')) {
    try {
      const value: unknown = JSON.parse(text);
      verdict = typeof value === 'object' && value !== null && !Array.isArray(value);
    } catch {
      verdict = false;
    }
  }
  lastJsonText = text;
  lastJsonVerdict = verdict;
  return verdict;
}
