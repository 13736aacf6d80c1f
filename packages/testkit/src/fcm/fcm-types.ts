import { type AccessTokenStore } from '../oauth/access-token-store';
import { type ConnectionStats } from '../oauth/secure-server';
import { type LatencyProfile } from '../random';
import { type TestCa } from '../tls/test-ca';
import { type FcmQuotaOptions } from './fcm-quota';
import { type FcmTokenRegistration, type UnknownTokenPolicy } from './fcm-tokens';

/** A failure of FCM itself, applied to a send request before authentication (reference/apns-fcm.md §7.2). */
export type FcmFault =
  /** 503 UNAVAILABLE, with `Retry-After` (seconds) when given. */
  | { kind: 'unavailable'; retryAfterSeconds?: number }
  /** 500 INTERNAL. */
  | { kind: 'internal' }
  /** "Overload" (§7.2): 429 RESOURCE_EXHAUSTED / QUOTA_EXCEEDED although the quota has room. */
  | { kind: 'overload'; retryAfterSeconds?: number }
  /** h2: GOAWAY excluding this stream, then the session closes. h1: the connection closes unanswered. */
  | { kind: 'goaway' }
  /** The request is processed, then the connection dies halfway through the response body. */
  | { kind: 'destroy' }
  /** Never answers. */
  | { kind: 'stall' }
  /** Processed and answered like any other send, but lost inside FCM: it leaves no receipt (GET /fcm/receipts). */
  | { kind: 'drop' };

export type FcmFaultKind = FcmFault['kind'];

export const FCM_FAULT_KINDS: readonly FcmFaultKind[] = [
  'unavailable',
  'internal',
  'overload',
  'goaway',
  'destroy',
  'stall',
  'drop',
];

export interface FcmSimulatorOptions {
  /** Access tokens accepted as bearer tokens: the OAuth simulator's `accessTokens`. Required. */
  accessTokens: AccessTokenStore;
  /** TLS identity. Default: a fresh test CA (its PEM is `caPem`). */
  ca?: TestCa;
  /** Listen address. Default `127.0.0.1`. */
  host?: string;
  /** Listen port. Default 0 (a free port). */
  port?: number;
  /** h2 SETTINGS_MAX_CONCURRENT_STREAMS. Default 100, what Google's front end advertises (§2.1). */
  maxConcurrentStreams?: number;
  /** HTTP/1.1 keep-alive idle timeout in ms; keep it above clients' own. Default 65,000. */
  keepAliveTimeoutMs?: number;
  /** Tokens known from the start (and again after `reset()`). Default none. */
  tokens?: readonly FcmTokenRegistration[];
  /** Answer for tokens never registered. Default `accept` (token-shaped ones are delivered). */
  unknownTokens?: UnknownTokenPolicy;
  /** Per-project quota. Default 600,000 messages per sliding minute, with Retry-After. */
  quota?: FcmQuotaOptions;
  /** Added response delay. Default none. */
  latency?: LatencyProfile;
  /** Seed of the latency and random-fault generators. Default 1. */
  seed?: number;
  /** Captured requests kept (oldest dropped first). Default 1,000. */
  captureLimit?: number;
  /** Receipts kept for reconciliation (token, ack_id, status per answered send; ReceiptLog). Default 250,000. */
  receiptLimit?: number;
  /** The simulator's clock, ms since the epoch (token expiry, quota window, message ids). Default `Date.now`. */
  now?: () => number;
}

export interface FcmCounters {
  /** Requests received (any path and method). */
  requests: number;
  /** Answers by HTTP status (stalled and GOAWAY'd requests have none). */
  byStatus: Record<string, number>;
  /** Answers by FcmError errorCode, else google.rpc status (`UNAUTHENTICATED`...), `OK` for 200. */
  byCode: Record<string, number>;
  /** Requests by protocol. */
  byProtocol: { h1: number; h2: number };
  /** Faults applied, by kind. */
  faults: Record<string, number>;
  /** Messages accepted for delivery (200 without validate_only). */
  delivered: number;
  connections: ConnectionStats;
}

/** One request as the simulator saw it. */
export interface CapturedFcmRequest {
  /** 1, 2, 3... since start or reset. */
  sequence: number;
  /** Arrival, ms since the epoch (the simulator's clock). */
  receivedAtMs: number;
  protocol: 'h1' | 'h2';
  method: string;
  path: string;
  /** `{p}` of `/v1/projects/{p}/messages:send`. */
  project?: string;
  /** Lower-case names; h2 pseudo-headers left out. */
  headers: Record<string, string>;
  /** The raw body. */
  body: string;
  /** The body parsed, when it is JSON. */
  json?: unknown;
  /** `message.token`, when present. */
  registrationToken?: string;
  /** The bearer token sent. */
  accessToken?: string;
  /** The answer's status; absent when the request stalled or met a GOAWAY. */
  status?: number;
  /** The answer's code as counted in `byCode`. */
  code?: string;
  /** The fault applied, if any. */
  fault?: FcmFaultKind;
  /** Added delay in ms (from the seeded latency profile). */
  latencyMs: number;
}
