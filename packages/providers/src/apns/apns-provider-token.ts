import { createPrivateKey, sign, type KeyObject } from 'node:crypto';

/** Options of {@link ApnsProviderTokenSigner}. */
export interface ApnsProviderTokenOptions {
  /** The .p8 key (PKCS#8 PEM of an EC P-256 key). Required. */
  keyPem: string;
  /** 10-character key id, the JWT `kid`. Required. */
  keyId: string;
  /** 10-character team id, the JWT `iss`. Required. */
  teamId: string;
  /** Clock for `iat` and token ages, epoch ms. Default `Date.now`. */
  now?: () => number;
  /**
   * Age at which a token is replaced before its next use, in ms. Apple: refresh "no more than once every 20
   * minutes and no less than once every 60 minutes" (reference §1.6). Default 3,000,000 (50 min, as apns2, which
   * the Go proxy uses).
   */
  refreshAfterMs?: number;
  /**
   * A token younger than this is kept even when APNs answers ExpiredProviderToken, in ms: a new token more often
   * than every 20 minutes on a connection is TooManyProviderTokenUpdates (§1.6), and a clock far off would
   * otherwise churn tokens. Default 1,200,000 (20 min).
   */
  minReplaceIntervalMs?: number;
}

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * The APNs provider token (JWT, ES256) of one signing key, shared by every connection that uses the key
 * (reference §1.6: "one token can be shared across connections"; don't mint per request).
 *
 * It has the shape node-apn's `lib/client.js` expects of `config.token` (`current`, `generation`,
 * `isExpired()`, `regenerate(generation)`), so node-apn sends it and calls `regenerate` on a 403
 * ExpiredProviderToken; the generation check makes a burst of such answers re-mint once. Unlike node-apn's
 * own token (jsonwebtoken, one per connection, `Date.now`), it signs with node:crypto, takes an injected clock
 * and never replaces a token younger than `minReplaceIntervalMs`.
 */
export class ApnsProviderTokenSigner {
  /** Incremented on each new token; node-apn passes the generation it sent back to `regenerate`. */
  generation = 0;
  /** The current JWT. */
  current: string;
  /** Tokens minted so far, the first included. */
  mints = 0;
  readonly #key: KeyObject;
  readonly #header: string;
  readonly #teamId: string;
  readonly #now: () => number;
  readonly #refreshAfterMs: number;
  readonly #minReplaceIntervalMs: number;
  #mintedAtMs = 0;

  constructor(options: ApnsProviderTokenOptions) {
    // Parsing the PEM once; signing with a KeyObject skips it on every mint.
    this.#key = createPrivateKey(options.keyPem);
    if (this.#key.asymmetricKeyType !== 'ec') throw new Error('the APNs auth key must be an EC (P-256) key');
    this.#header = base64url({ alg: 'ES256', kid: options.keyId });
    this.#teamId = options.teamId;
    this.#now = options.now ?? Date.now;
    this.#refreshAfterMs = options.refreshAfterMs ?? 3_000_000;
    this.#minReplaceIntervalMs = options.minReplaceIntervalMs ?? 1_200_000;
    this.current = this.#mint();
  }

  /** Age of the current token, ms. */
  get ageMs(): number {
    return this.#now() - this.#mintedAtMs;
  }

  /**
   * node-apn asks this before every request (with its own 3300 s, ignored: `refreshAfterMs` decides) and calls
   * `regenerate(generation)` when true.
   */
  isExpired(_validSeconds?: number): boolean {
    return this.ageMs >= this.#refreshAfterMs;
  }

  /**
   * Replaces the token if `generation` is still the current one (several connections can report the same stale
   * token) and the token is at least `minReplaceIntervalMs` old.
   */
  regenerate(generation: number): void {
    if (generation !== this.generation || this.ageMs < this.#minReplaceIntervalMs) return;
    this.current = this.#mint();
  }

  #mint(): string {
    const nowMs = this.#now();
    // Apple (§1.6): header {alg: ES256, kid}, claims {iss, iat}, signature raw r‖s, base64url without padding.
    const input = `${this.#header}.${base64url({ iss: this.#teamId, iat: Math.floor(nowMs / 1000) })}`;
    const signature = sign('sha256', Buffer.from(input), { key: this.#key, dsaEncoding: 'ieee-p1363' });
    this.#mintedAtMs = nowMs;
    this.mints += 1;
    if (this.mints > 1) this.generation += 1;
    return `${input}.${signature.toString('base64url')}`;
  }
}
