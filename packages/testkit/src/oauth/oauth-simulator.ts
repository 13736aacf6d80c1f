import { createLatencySampler, createRng, type LatencyProfile } from '../random';
import { createTestCa, type TestCa } from '../tls/test-ca';
import { createAccessTokenStore, type AccessTokenStore } from './access-token-store';
import { createFaultPlan, type FaultPlan, type FaultRate } from './fault-plan';
import {
  checkAssertion,
  toRegisteredAccount,
  type RegisteredAccount,
  type ServiceAccountRegistration,
} from './oauth-assertion';
import {
  listenSecureServer,
  readBody,
  writeResponse,
  type ConnectionStats,
  type SecureHttpServer,
  type SimRequest,
  type SimResponse,
} from './secure-server';

/**
 * Google's OAuth 2.0 token endpoint for service accounts (reference/apns-fcm.md §3.1, spec §7.3): `POST /token`
 * with the jwt-bearer grant, RS256 assertions checked against registered accounts, `ya29.` tokens written to an
 * AccessTokenStore the FCM simulator reads.
 */

/** A failure of the token endpoint itself. */
export type OAuthFault =
  /** 503 `temporarily_unavailable`; Gaxios retries it (§3.2). */
  | { kind: 'unavailable' }
  /** 500 `internal_failure`. */
  | { kind: 'internal' }
  /** Never answers (until the client gives up or the simulator closes). */
  | { kind: 'stall' };

export interface OAuthSimulatorOptions {
  /** TLS identity. Default: a fresh test CA (its PEM is `caPem`). */
  ca?: TestCa;
  /** Listen address. Default `127.0.0.1`. */
  host?: string;
  /** Listen port. Default 0 (a free port). */
  port?: number;
  /** Where minted tokens go; pass the same store to the FCM simulator. Default: a new in-memory store. */
  accessTokens?: AccessTokenStore;
  /** Accounts known from the start (and again after `reset()`). Default none. */
  serviceAccounts?: readonly ServiceAccountRegistration[];
  /** `expires_in` of minted tokens, in seconds. Default 3599, as Google answers (§3.1). */
  expiresInSeconds?: number;
  /** Tolerated clock difference for `iat` / `exp`, in seconds. Default 300 ([assumption], Google's is undocumented). */
  clockSkewSeconds?: number;
  /** Added response delay. Default none. */
  latency?: LatencyProfile;
  /** Seed of the latency and random-fault generators. Default 1. */
  seed?: number;
  /** The simulator's clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** HTTP/1.1 keep-alive idle timeout in ms. Default 65,000. */
  keepAliveTimeoutMs?: number;
}

export interface OAuthCounters {
  /** Requests answered or stalled, any path. */
  requests: number;
  /** Responses by HTTP status. */
  byStatus: Record<string, number>;
  /** Error responses by their `error` field (`invalid_grant`, `internal_failure`, ...). */
  byError: Record<string, number>;
  /** Tokens minted. */
  mints: number;
  /** Tokens minted per service account (`client_email`). */
  mintsByAccount: Record<string, number>;
  /** Faults applied, by kind. */
  faults: Record<string, number>;
  connections: ConnectionStats;
}

const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-cache, no-store, max-age=0, must-revalidate',
  pragma: 'no-cache',
};

const increment = (record: Record<string, number>, key: string): void => {
  record[key] = (record[key] ?? 0) + 1;
};

export class OAuthSimulator {
  /** PEM of the CA that signed the server certificate: give it to clients as `ca`. */
  readonly caPem: string;
  /** The tokens this simulator minted; pass it to the FCM simulator. */
  readonly accessTokens: AccessTokenStore;
  readonly #ca: TestCa;
  readonly #options: OAuthSimulatorOptions;
  readonly #now: () => number;
  readonly #accounts = new Map<string, RegisteredAccount>();
  readonly #faults: FaultPlan<OAuthFault>;
  readonly #timers = new Set<NodeJS.Timeout>();
  #server: SecureHttpServer | undefined;
  #sampleLatency: () => number = () => 0;
  #expiresInSeconds = 3599;
  #counters = OAuthSimulator.#emptyCounters();

  /** @internal use createOAuthSimulator */
  constructor(options: OAuthSimulatorOptions, ca: TestCa) {
    this.#options = options;
    this.#ca = ca;
    this.caPem = ca.caPem;
    this.accessTokens = options.accessTokens ?? createAccessTokenStore();
    this.#now = options.now ?? Date.now;
    this.#faults = createFaultPlan<OAuthFault>(createRng((options.seed ?? 1) ^ 0x5eed));
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
        maxConcurrentStreams: 100,
        keepAliveTimeoutMs: this.#options.keepAliveTimeoutMs ?? 65_000,
      },
      (req, res) => this.#handle(req, res),
    );
  }

  /** `https://127.0.0.1:<port>`. */
  get url(): string {
    return this.#serverOrThrow().url;
  }

  /** The token endpoint: put it in the service-account JSON as `token_uri`. */
  get tokenUrl(): string {
    return `${this.url}/token`;
  }

  registerServiceAccount(registration: ServiceAccountRegistration): void {
    const account = toRegisteredAccount(registration);
    this.#accounts.set(account.clientEmail, account);
  }

  unregisterServiceAccount(clientEmail: string): boolean {
    return this.#accounts.delete(clientEmail);
  }

  /** Fails the next `count` token requests with `fault`. */
  injectFault(fault: OAuthFault, count = 1): void {
    this.#faults.inject(fault, count);
  }

  /** Fails token requests at random with these probabilities (seeded). */
  setFaultRates(rates: readonly FaultRate<OAuthFault>[]): void {
    this.#faults.setRates(rates);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  /** Replaces the latency profile; the generator restarts from the seed. */
  setLatency(profile: LatencyProfile): void {
    this.#sampleLatency = createLatencySampler(profile, createRng(this.#options.seed ?? 1));
  }

  /** `expires_in` of tokens minted from now on, in seconds (e.g. 30 to exercise eager refresh). */
  setExpiresIn(seconds: number): void {
    if (!Number.isInteger(seconds) || seconds < 1)
      throw new Error('expiresInSeconds must be a positive integer');
    this.#expiresInSeconds = seconds;
  }

  /** Revokes a minted token: FCM answers 401 for it from now on. */
  revoke(token: string): boolean {
    return this.accessTokens.revoke(token);
  }

  counters(): OAuthCounters {
    const c = this.#counters;
    return {
      requests: c.requests,
      byStatus: { ...c.byStatus },
      byError: { ...c.byError },
      mints: c.mints,
      mintsByAccount: { ...c.mintsByAccount },
      faults: { ...c.faults },
      connections: this.#server?.stats() ?? { total: 0, h1: 0, h2: 0, open: 0 },
    };
  }

  /** Back to the state right after creation: options' accounts only, no tokens, faults or counts. */
  reset(): void {
    this.#faults.clear();
    this.accessTokens.clear();
    this.#counters = OAuthSimulator.#emptyCounters();
    this.#server?.resetStats();
    this.#applyOptions();
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await this.#server?.close();
  }

  static #emptyCounters(): Omit<OAuthCounters, 'connections'> {
    return { requests: 0, byStatus: {}, byError: {}, mints: 0, mintsByAccount: {}, faults: {} };
  }

  #applyOptions(): void {
    this.#accounts.clear();
    for (const account of this.#options.serviceAccounts ?? []) this.registerServiceAccount(account);
    this.setExpiresIn(this.#options.expiresInSeconds ?? 3599);
    this.setLatency(this.#options.latency ?? { p50Ms: 0 });
  }

  #serverOrThrow(): SecureHttpServer {
    if (this.#server === undefined) throw new Error('the OAuth simulator is not listening');
    return this.#server;
  }

  #ownAudiences(): Set<string> {
    const port = this.#serverOrThrow().port;
    return new Set(
      this.#ca.hosts.map((host) => `https://${host.includes(':') ? `[${host}]` : host}:${port}/token`),
    );
  }

  #handle(req: SimRequest, res: SimResponse): void {
    readBody(req).then(
      (body) => this.#answer(req, res, body),
      () => undefined,
    );
  }

  #answer(req: SimRequest, res: SimResponse, body: Buffer): void {
    this.#counters.requests += 1;
    const path = new URL(req.url ?? '/', 'https://oauth.invalid').pathname;
    if (path !== '/token') {
      return this.#reply(res, 404, { error: 'not_found', error_description: `Unknown path ${path}` });
    }
    if (req.method !== 'POST') {
      return this.#reply(
        res,
        405,
        { error: 'invalid_request', error_description: 'Use POST' },
        { allow: 'POST' },
      );
    }
    const fault = this.#faults.take();
    if (fault !== undefined) {
      increment(this.#counters.faults, fault.kind);
      if (fault.kind === 'stall') return;
      // [assumption] bodies of the token endpoint's 5xx answers; clients only look at the status.
      return fault.kind === 'unavailable'
        ? this.#reply(res, 503, {
            error: 'temporarily_unavailable',
            error_description: 'The service is currently unavailable.',
          })
        : this.#reply(res, 500, { error: 'internal_failure', error_description: 'Backend Error' });
    }

    const nowMs = this.#now();
    const result = checkAssertion(new URLSearchParams(body.toString('utf8')), {
      accounts: this.#accounts,
      ownAudiences: this.#ownAudiences(),
      nowMs,
      clockSkewSeconds: this.#options.clockSkewSeconds ?? 300,
    });
    if (!result.ok) {
      return this.#reply(res, 400, { error: result.error, error_description: result.description });
    }
    const { account, scopes } = result;
    const expiresIn = this.#expiresInSeconds;
    const token = this.accessTokens.issue({
      clientEmail: account.clientEmail,
      projectId: account.projectId,
      ...(account.projectNumber !== undefined ? { projectNumber: account.projectNumber } : {}),
      scopes,
      issuedAtMs: nowMs,
      expiresAtMs: nowMs + expiresIn * 1000,
    });
    this.#counters.mints += 1;
    increment(this.#counters.mintsByAccount, account.clientEmail);
    // Key order as Google sends it (§3.1).
    this.#reply(res, 200, { access_token: token, expires_in: expiresIn, token_type: 'Bearer' });
  }

  #reply(res: SimResponse, status: number, body: object, headers: Record<string, string> = {}): void {
    increment(this.#counters.byStatus, String(status));
    const error = (body as { error?: unknown }).error;
    if (typeof error === 'string') increment(this.#counters.byError, error);
    const text = JSON.stringify(body);
    const delayMs = this.#sampleLatency();
    if (delayMs <= 0) return writeResponse(res, status, { ...JSON_HEADERS, ...headers }, text);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      writeResponse(res, status, { ...JSON_HEADERS, ...headers }, text);
    }, delayMs);
    this.#timers.add(timer);
  }
}

/** Starts an OAuth token simulator on TLS; `close()` it when done. */
export async function createOAuthSimulator(options: OAuthSimulatorOptions = {}): Promise<OAuthSimulator> {
  const simulator = new OAuthSimulator(options, options.ca ?? createTestCa());
  await simulator.listen();
  return simulator;
}
