import { gaxios, JWT } from 'google-auth-library';
import { Agent, fetch as undiciFetch } from 'undici';
import { AccessTokenError, type AccessTokenSource } from './access-token-source';

/**
 * An `AccessTokenSource` on google-auth-library@10's `JWT` client: the service account's RS256 assertion is
 * exchanged for an access token at the token endpoint (reference/apns-fcm.md §3.1). Caching, sharing an
 * in-flight refresh and the refresh after a 401 are done here rather than left to the library, because the
 * library's own rules do not fit a gateway (§3.2): it re-mints on every call when a token lives less than
 * 5 minutes, and after a revocation it replays its cached token. The library is used for what it is good at:
 * signing the assertion and parsing the answer.
 */

/** Google's token endpoint, hard-coded in google-auth-library (gtoken `GOOGLE_TOKEN_URL`, §3.2). */
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
/** §2.1: the scope FCM HTTP v1 needs. */
export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

export interface GoogleAccessTokenSourceOptions {
  /** The service account's `client_email` (the assertion's `iss`). Required. */
  clientEmail: string;
  /** The service account's RSA private key, PKCS#8 PEM. Required. */
  privateKeyPem: string;
  /** `private_key_id`, sent as the assertion's `kid`. Default none (Google does not require it). */
  privateKeyId?: string;
  /**
   * Where the token request goes: the key file's `token_uri`. Default `GOOGLE_TOKEN_URL`. The library always
   * posts to Google's URL, so a different one is reached by rewriting the request in its transporter.
   */
  tokenUrl?: string;
  /** PEM of the CA trusted for the token endpoint instead of the system roots (simulators). Default none. */
  ca?: string;
  /** Timeout of one token request, in ms. Default 10,000. */
  requestTimeoutMs?: number;
  /**
   * Gaxios retries of a failed token request (5xx, 429, no response). Default 0: the queue owns retries
   * (STYLE.md §7), and a failed refresh only makes the waiting sends retryable.
   */
  retries?: number;
  /**
   * How long before expiry a token is refreshed, in ms; capped at half the token's lifetime so short-lived
   * tokens are still reused. Default 300,000 (the library's own eager-refresh threshold). Inside this window
   * callers keep getting the current token while one refresh runs in the background.
   */
  refreshMarginMs?: number;
  /**
   * After a failed refresh, callers without a usable token get the same error for this long, in ms, instead of
   * a new token request each: an outage of the endpoint is not hammered by every retried send. Default 1,000.
   */
  failureCooldownMs?: number;
  /** The clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

interface CachedToken {
  token: string;
  expiresAtMs: number;
  refreshAtMs: number;
}

export class GoogleAccessTokenSource implements AccessTokenSource {
  readonly #jwt: JWT;
  readonly #dispatcher: Agent;
  readonly #now: () => number;
  readonly #refreshMarginMs: number;
  readonly #failureCooldownMs: number;
  #cached: CachedToken | undefined;
  #inFlight: Promise<string> | undefined;
  #failure: { error: AccessTokenError; untilMs: number } | undefined;
  #closed = false;

  constructor(options: GoogleAccessTokenSourceOptions) {
    this.#now = options.now ?? Date.now;
    this.#refreshMarginMs = options.refreshMarginMs ?? 300_000;
    this.#failureCooldownMs = options.failureCooldownMs ?? 1_000;
    this.#dispatcher = new Agent({
      connect: options.ca === undefined ? {} : { ca: options.ca },
      // One request per hour per service account: nothing to gain from keeping the socket open.
      keepAliveTimeout: 1_000,
    });
    const retries = options.retries ?? 0;
    const transporter = new gaxios.Gaxios({
      timeout: options.requestTimeoutMs ?? 10_000,
      retryConfig: { retry: retries, noResponseRetries: retries },
      // Gaxios's default fetch is node-fetch, loaded by a dynamic import() that jest's CommonJS runtime refuses;
      // undici's fetch also lets the token endpoint's CA be set per client (simulators).
      fetchImplementation: ((input: URL, init: object) =>
        undiciFetch(input, { ...init, dispatcher: this.#dispatcher })) as unknown as typeof fetch,
    });
    const tokenUrl = options.tokenUrl ?? GOOGLE_TOKEN_URL;
    if (tokenUrl !== GOOGLE_TOKEN_URL) {
      // The assertion's `aud` stays Google's URL (signed inside the library); only where it is posted changes.
      transporter.interceptors.request.add({
        resolved: async (config) => {
          if (String(config.url) === GOOGLE_TOKEN_URL) config.url = new URL(tokenUrl);
          return config;
        },
      });
    }
    this.#jwt = new JWT({
      email: options.clientEmail,
      key: options.privateKeyPem,
      ...(options.privateKeyId !== undefined ? { keyId: options.privateKeyId } : {}),
      scopes: [FCM_SCOPE],
      transporter,
    });
  }

  cachedToken(): string | undefined {
    const nowMs = this.#now();
    const cached = this.#cached;
    if (cached === undefined || nowMs >= cached.expiresAtMs) return undefined;
    // Stale-while-revalidate: inside the refresh margin the current token is still good to use.
    if (nowMs >= cached.refreshAtMs && this.#inFlight === undefined && !this.#coolingDown(nowMs)) {
      this.#refresh().catch(() => undefined); // a failure is kept in #failure; the token is still valid
    }
    return cached.token;
  }

  getToken(): Promise<string> {
    const cached = this.cachedToken();
    if (cached !== undefined) return Promise.resolve(cached);
    if (this.#inFlight !== undefined) return this.#inFlight;
    const nowMs = this.#now();
    if (this.#closed) {
      return Promise.reject(
        new AccessTokenError('OAUTH_CLOSED', 'the access-token source is closed', {
          statusCode: 0,
          retryable: true,
        }),
      );
    }
    const failure = this.#failure;
    if (failure !== undefined && nowMs < failure.untilMs) return Promise.reject(failure.error);
    return this.#refresh();
  }

  invalidate(token: string): void {
    if (this.#cached?.token === token) this.#cached = undefined;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#cached = undefined;
    // destroy, not close: a token request stalled at the endpoint must not hold up shutdown; it fails with
    // OAUTH_CLOSED instead.
    await this.#dispatcher.destroy();
  }

  #coolingDown(nowMs: number): boolean {
    return this.#failure !== undefined && nowMs < this.#failure.untilMs;
  }

  #refresh(): Promise<string> {
    const inFlight = this.#mint().finally(() => {
      if (this.#inFlight === inFlight) this.#inFlight = undefined;
    });
    this.#inFlight = inFlight;
    return inFlight;
  }

  async #mint(): Promise<string> {
    const startedAtMs = this.#now();
    // Marking the library's credentials expired makes getAccessToken() request a new token, exactly once:
    // without it the library would hand back its own cached (possibly revoked) token.
    this.#jwt.credentials = { refresh_token: 'jwt-placeholder', expiry_date: 1 };
    try {
      const { token } = await this.#jwt.getAccessToken();
      if (typeof token !== 'string' || token === '') throw new Error('the token endpoint returned no token');
      if (this.#closed) throw new Error('closed while the token request was in flight');
      // expiry_date is the library's `now + expires_in * 1000`, measured when the answer arrived.
      const expiresAtMs = this.#jwt.credentials.expiry_date ?? startedAtMs + 3_600_000;
      const marginMs = Math.min(this.#refreshMarginMs, (expiresAtMs - startedAtMs) / 2);
      this.#cached = { token, expiresAtMs, refreshAtMs: expiresAtMs - marginMs };
      this.#failure = undefined;
      return token;
    } catch (err) {
      const error = this.#closed
        ? new AccessTokenError('OAUTH_CLOSED', 'the access-token source is closed', {
            statusCode: 0,
            retryable: true,
          })
        : toAccessTokenError(err);
      this.#failure = { error, untilMs: this.#now() + this.#failureCooldownMs };
      throw error;
    }
  }
}

/**
 * The token endpoint's failure as an `AccessTokenError` (reference/apns-fcm.md §3.1: errors are HTTP 400 with
 * `{error, error_description}`; 5xx are transient). The library's error is not kept as `cause`: its request
 * config holds the signed assertion, which must not reach a log.
 */
function toAccessTokenError(err: unknown): AccessTokenError {
  const e = err as { status?: unknown; code?: unknown; response?: { data?: unknown }; message?: unknown };
  const statusCode = typeof e.status === 'number' ? e.status : 0;
  const data = e.response?.data as { error?: unknown; error_description?: unknown } | undefined;
  const oauthError = typeof data?.error === 'string' ? data.error : undefined;
  const detail =
    oauthError !== undefined
      ? `${oauthError}: ${String(data?.error_description ?? '')}`
      : typeof e.code === 'string'
        ? e.code
        : String(e.message ?? err);
  const message = `token request failed (${statusCode === 0 ? 'no response' : `HTTP ${statusCode}`}): ${detail}`;
  // §3.1: 5xx are transient; 408/429 are the endpoint asking to come back later; no answer at all is a
  // network failure. All of these are worth another try later.
  if (statusCode === 0 || statusCode >= 500 || statusCode === 408 || statusCode === 429) {
    return new AccessTokenError('OAUTH_UNAVAILABLE', message, { statusCode, retryable: true });
  }
  // §3.1: invalid_grant is the key or account refused, or iat/exp outside the accepted window (clock skew).
  // Retrying the same assertion will not help; it needs an operator.
  if (oauthError === 'invalid_grant') {
    return new AccessTokenError('OAUTH_INVALID_GRANT', message, { statusCode, retryable: false });
  }
  return new AccessTokenError('OAUTH_REJECTED', message, { statusCode, retryable: false });
}
