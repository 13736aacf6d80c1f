import { performance } from 'node:perf_hooks';
import { buildFcmRequest, type DeliveryOutcome, type PushJob } from '@hpns/protocol';
import { type AndroidTargetConfig } from '@hpns/runtime';
import { type Registry } from 'prom-client';
import { Pool } from 'undici';
import { type ProviderMetrics } from '../provider-metrics';
import { type PushProvider } from '../push-provider';
import { isAccessTokenError, type AccessTokenSource } from './access-token-source';
import { classifyFcmAnswer, isAccessTokenRejected, parseFcmError, type FcmAnswer } from './fcm-classify';
import { createFcmMetrics } from './fcm-metrics';
import { postFcm } from './fcm-request';
import { GoogleAccessTokenSource, type GoogleAccessTokenSourceOptions } from './google-access-token-source';
import { parseRetryAfterMs } from '../retry-after';
import { SendDeadline } from './send-deadline';

/**
 * FCM HTTP v1 delivery (reference/apns-fcm.md §2) for a set of Android targets: one undici `Pool` per Firebase
 * project, one access-token source per service account, one request per send (the queue owns retries,
 * STYLE.md §7). The only request repeated inline is the replay after our own access token was refused (401
 * without FcmError): that is a token refresh, not a delivery retry (§2.5).
 */

/** FCM's origin (§2.1). */
export const FCM_BASE_URL = 'https://fcm.googleapis.com';

export interface FcmProviderOptions {
  /** The Android targets (config `android`): type, project and service account. Required, at least one. */
  targets: readonly AndroidTargetConfig[];
  /**
   * Time allowed for one send – waiting for a token, the request, and its replay after a 401 – in ms.
   * Config `retryTimeoutMs` (the proxy's `RetryTimeoutSec`). Default 8,000.
   */
  requestTimeoutMs?: number;
  /** FCM origin, no path. Default `FCM_BASE_URL`; the simulator's `url` in tests. */
  baseUrl?: string;
  /**
   * PEM of the CA trusted, instead of the system roots, for FCM and for each target's token URL (simulators).
   * Default none.
   */
  ca?: string;
  /**
   * HTTP/2 (ALPN h2, many sends multiplexed per connection) rather than HTTP/1.1 keep-alive (one send per
   * connection at a time). FCM's front end serves both (§2.1). Default false, by measurement
   * (bench/fcm-provider.bench.ts, 20 ms median latency, 256 sends in flight, 2 cores): HTTP/1.1 × 256
   * connections 7,162 sends/s best round (median 6,825) with the client at 85 % CPU and the simulator the
   * limit; HTTP/2 × 4 connections 5,247 (median 4,567) and × 16 5,062 (4,762), the client CPU-bound at 99 %
   * in node:http2. With HTTP/2 requests are marked idempotent (undici 7 multiplexes nothing else), so a server
   * that answered ALPN with http/1.1 would get pipelined POSTs: keep it for endpoints known to speak h2.
   */
  http2?: boolean;
  /**
   * Connections per project. Default 256 with HTTP/1.1: sends in flight ≈ sends/s × latency, e.g. 5,000/s ×
   * 50 ms; beyond it sends queue in the pool. Default 4 with HTTP/2, each carrying `streamsPerConnection`.
   */
  connections?: number;
  /**
   * HTTP/2 only: sends in flight per connection. Default 100, what Google's front end advertises
   * (firebase-admin caps at the same, §2.1); the server's SETTINGS lower it when smaller.
   */
  streamsPerConnection?: number;
  /**
   * `retryAfterMs` of a 429 without `Retry-After`, in ms. Default 60,000 (FCM ErrorCode QUOTA_EXCEEDED: "minimum
   * initial delay of 1 minute").
   */
  quotaRetryAfterMs?: number;
  /** Token-source settings for the default (google-auth-library) source; `ca` comes from above. */
  oauth?: Omit<GoogleAccessTokenSourceOptions, 'clientEmail' | 'privateKeyPem' | 'tokenUrl' | 'ca'>;
  /**
   * Builds the token source of a service account (called once per distinct client email and token URL).
   * Default: a `GoogleAccessTokenSource` on the target's credentials and `tokenUri`.
   */
  createTokenSource?: (target: AndroidTargetConfig) => AccessTokenSource;
  /** Registry for the provider metrics (fcm-metrics.ts). Default none: no metrics. */
  registry?: Registry;
}

interface Target {
  readonly type: string;
  /** `/v1/projects/{id}/messages:send` */
  readonly path: string;
  readonly pool: Pool;
  readonly tokens: AccessTokenSource;
}

const JSON_CONTENT_TYPE = 'application/json; charset=UTF-8';

export class FcmProvider implements PushProvider {
  readonly kind = 'fcm' as const;
  readonly targetTypes: readonly string[];
  readonly #targets = new Map<string, Target>();
  readonly #pools = new Map<string, Pool>();
  readonly #tokenSources = new Map<string, AccessTokenSource>();
  readonly #timeoutMs: number;
  readonly #http2: boolean;
  readonly #quotaRetryAfterMs: number | undefined;
  readonly #metrics: ProviderMetrics | undefined;

  constructor(options: FcmProviderOptions) {
    if (options.targets.length === 0) throw new Error('FcmProvider needs at least one Android target');
    this.#timeoutMs = options.requestTimeoutMs ?? 8_000;
    this.#http2 = options.http2 ?? false;
    this.#quotaRetryAfterMs = options.quotaRetryAfterMs;
    const baseUrl = new URL(options.baseUrl ?? FCM_BASE_URL).origin;
    for (const config of options.targets) {
      if (this.#targets.has(config.type)) throw new Error(`duplicate Android target type ${config.type}`);
      this.#targets.set(config.type, {
        type: config.type,
        path: `/v1/projects/${encodeURIComponent(config.projectId)}/messages:send`,
        pool: this.#poolFor(config.projectId, baseUrl, options),
        tokens: this.#tokenSourceFor(config, options),
      });
    }
    this.targetTypes = [...this.#targets.keys()];
    this.#metrics =
      options.registry === undefined
        ? undefined
        : createFcmMetrics({ registry: options.registry, targets: this.targetTypes });
  }

  async send(job: PushJob, signal?: AbortSignal): Promise<DeliveryOutcome> {
    const target = this.#targets.get(job.routing.targetType);
    // A job routed to a target this worker was not configured with is a bug upstream, not a delivery failure.
    if (target === undefined) throw new Error(`no FCM target of type ${job.routing.targetType}`);
    const startedAt = performance.now();
    const outcome = await this.#deliver(target, job, signal);
    this.#metrics?.record(target.type, outcome, (performance.now() - startedAt) / 1000);
    return outcome;
  }

  async close(): Promise<void> {
    // Pools first: close() lets in-flight sends finish (the worker has drained before it closes providers).
    await Promise.all([...this.#pools.values()].map((pool) => pool.close()));
    await Promise.all([...this.#tokenSources.values()].map((source) => source.close()));
  }

  async #deliver(target: Target, job: PushJob, signal: AbortSignal | undefined): Promise<DeliveryOutcome> {
    if (signal?.aborted === true) return { kind: 'retryable', reason: 'aborted', statusCode: 0 };
    const { body } = buildFcmRequest(job.content);
    const deadline = new SendDeadline(this.#timeoutMs, signal);
    try {
      // The cached token, when there is one, without a promise and a race per send.
      let token = target.tokens.cachedToken?.() ?? (await deadline.race(target.tokens.getToken()));
      let answer = await this.#post(target, token, body, deadline);
      if (answer !== 'delivered' && isAccessTokenRejected(answer)) {
        // §2.5: our token is expired or revoked. Drop it and replay once with a freshly minted one; concurrent
        // sends that hit the same 401 share that one mint (AccessTokenSource.invalidate).
        target.tokens.invalidate(token);
        token = await deadline.race(target.tokens.getToken());
        answer = await this.#post(target, token, body, deadline);
      }
      if (answer === 'delivered') return { kind: 'delivered', statusCode: 200 };
      return classifyFcmAnswer(
        answer,
        this.#quotaRetryAfterMs === undefined ? {} : { quotaRetryAfterMs: this.#quotaRetryAfterMs },
      );
    } catch (err) {
      return failureOutcome(err, deadline.cause);
    } finally {
      deadline.dispose();
    }
  }

  /** One POST; 'delivered' for a 2xx, else the answer read in full. Rejects on transport errors. */
  async #post(
    target: Target,
    token: string,
    body: string,
    deadline: SendDeadline,
  ): Promise<FcmAnswer | 'delivered'> {
    const response = await postFcm(
      target.pool,
      {
        path: target.path,
        headers: { authorization: `Bearer ${token}`, 'content-type': JSON_CONTENT_TYPE },
        body,
        // FCM has no idempotency key either way (§2.5), and undici does not replay requests by itself.
        idempotent: this.#http2,
      },
      deadline,
    );
    if (response.statusCode < 300) return 'delivered';
    const retryAfterMs = parseRetryAfterMs(response.retryAfter, Date.now());
    return {
      statusCode: response.statusCode,
      error: parseFcmError(response.body),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    };
  }

  #poolFor(projectId: string, baseUrl: string, options: FcmProviderOptions): Pool {
    let pool = this.#pools.get(projectId);
    if (pool !== undefined) return pool;
    const connect = {
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      timeout: Math.min(10_000, this.#timeoutMs),
    };
    // The send's deadline aborts requests; undici's own timeouts only back it up.
    const timeouts = { headersTimeout: this.#timeoutMs + 1_000, bodyTimeout: this.#timeoutMs + 1_000 };
    pool = this.#http2
      ? new Pool(baseUrl, {
          allowH2: true,
          connections: options.connections ?? 4,
          // undici 7 caps in-flight requests per connection at `pipelining`, on h2 too (§5.1).
          pipelining: options.streamsPerConnection ?? 100,
          maxConcurrentStreams: options.streamsPerConnection ?? 100,
          connect,
          ...timeouts,
        })
      : new Pool(baseUrl, {
          connections: options.connections ?? 256,
          // §5.3: never pipeline POSTs to Google: head-of-line blocking, and a reset leaves every pipelined
          // send's fate unknown.
          pipelining: 1,
          keepAliveTimeout: 60_000,
          keepAliveMaxTimeout: 600_000,
          connect,
          ...timeouts,
        });
    this.#pools.set(projectId, pool);
    return pool;
  }

  #tokenSourceFor(config: AndroidTargetConfig, options: FcmProviderOptions): AccessTokenSource {
    const key = `${config.clientEmail}\u0000${config.tokenUri}`;
    let source = this.#tokenSources.get(key);
    if (source !== undefined) return source;
    source =
      options.createTokenSource?.(config) ??
      new GoogleAccessTokenSource({
        ...options.oauth,
        clientEmail: config.clientEmail,
        privateKeyPem: config.privateKey.reveal(),
        tokenUrl: config.tokenUri,
        ...(options.ca !== undefined ? { ca: options.ca } : {}),
      });
    this.#tokenSources.set(key, source);
    return source;
  }
}

/**
 * A send that ended without an FCM answer: its deadline, a token failure, or a transport error (retryable,
 * statusCode 0: the message may or may not have been delivered, §2.5). Anything else is a bug and is thrown.
 */
function failureOutcome(err: unknown, deadlineCause: 'timeout' | 'aborted' | undefined): DeliveryOutcome {
  if (deadlineCause !== undefined) return { kind: 'retryable', reason: deadlineCause, statusCode: 0 };
  if (isAccessTokenError(err)) {
    return err.retryable
      ? { kind: 'retryable', reason: err.reason, statusCode: 0 }
      : { kind: 'rejected', reason: err.reason, statusCode: 0 };
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return { kind: 'retryable', reason: code, statusCode: 0 };
  throw err;
}
