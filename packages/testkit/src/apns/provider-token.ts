import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { type ApnsReason } from './reasons';
import { type ApnsEnvironment } from './token-registry';

/** A provider-token signing key registered with the simulator (the public half of a `.p8`, §1.6). */
export interface ApnsSigningKey {
  /** 10-character key id, matched against the JWT header's `kid`. */
  keyId: string;
  /** 10-character team id; the JWT's `iss` must equal it. */
  teamId: string;
  /** The EC P-256 public key, as a KeyObject or SPKI PEM. */
  publicKey: KeyObject | string;
  /**
   * For environment-scoped keys: a token signed with it on the other environment → 403
   * `BadEnvironmentKeyIdInToken` (§1.6). Default: valid in both.
   */
  environment?: ApnsEnvironment;
}

/** A JWT that parsed as an APNs provider token; not yet verified. */
export interface DecodedProviderToken {
  keyId: string;
  teamId: string;
  /** `iat`, seconds since epoch. */
  issuedAtSec: number;
  signingInput: string;
  signature: Buffer;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Signs an APNs provider token as Apple specifies it (§1.6): header `{"alg":"ES256","kid"}`, claims
 * `{"iss","iat"}`, raw r‖s signature. For tests that drive the simulator with a plain HTTP/2 client.
 */
export function signApnsProviderToken(options: {
  /** The .p8 PEM. */
  privateKeyPem: string;
  keyId: string;
  teamId: string;
  /** `iat` in seconds since epoch. Default: now. */
  issuedAtSec?: number;
}): string {
  const iat = options.issuedAtSec ?? Math.floor(Date.now() / 1000);
  const input = `${base64url({ alg: 'ES256', kid: options.keyId })}.${base64url({ iss: options.teamId, iat })}`;
  const signature = sign('sha256', Buffer.from(input), {
    key: options.privateKeyPem,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
}

function decodeSegment(segment: string): unknown {
  if (!BASE64URL.test(segment)) throw new Error('not base64url');
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses `header.claims.signature` (RFC 7519 compact form) as Apple requires it (§1.6): header `alg` ES256 and
 * a `kid`; claims `iss` and a numeric `iat`; a 64-byte raw r‖s signature. Anything else → undefined.
 */
export function decodeProviderToken(jwt: string): DecodedProviderToken | undefined {
  const parts = jwt.split('.');
  if (parts.length !== 3) return undefined;
  const [headerPart, claimsPart, signaturePart] = parts as [string, string, string];
  try {
    const header = decodeSegment(headerPart);
    const claims = decodeSegment(claimsPart);
    if (!isRecord(header) || !isRecord(claims)) return undefined;
    // APNs supports only ES256 (§1.6); `typ: "JWT"`, which jsonwebtoken adds, is allowed.
    if (header.alg !== 'ES256' || typeof header.kid !== 'string') return undefined;
    if (typeof claims.iss !== 'string' || typeof claims.iat !== 'number' || !Number.isFinite(claims.iat)) {
      return undefined;
    }
    if (!BASE64URL.test(signaturePart)) return undefined;
    const signature = Buffer.from(signaturePart, 'base64url');
    if (signature.length !== 64) return undefined;
    return {
      keyId: header.kid,
      teamId: claims.iss,
      issuedAtSec: claims.iat,
      signingInput: `${headerPart}.${claimsPart}`,
      signature,
    };
  } catch {
    return undefined;
  }
}

/** Timing rules for provider tokens. */
export interface ProviderTokenRules {
  /** Oldest accepted `iat` age in ms (§1.6: "more than one hour old" → ExpiredProviderToken). */
  maxAgeMs: number;
  /** How far `iat` may lie in the future, in ms ([assumption] §7.1) → else InvalidProviderToken. */
  futureSkewMs: number;
  /** Minimum ms between token changes on one connection (§1.6: 20 min) → else TooManyProviderTokenUpdates. */
  minUpdateIntervalMs: number;
}

/** The simulator's registered signing keys, and the ES256 check (node:crypto, raw r‖s via ieee-p1363). */
export class ApnsKeyStore {
  readonly #keys = new Map<string, ApnsSigningKey & { publicKey: KeyObject }>();
  /** Signature verifications performed (cache misses); tests use it to see tokens are not re-verified. */
  verifications = 0;

  add(key: ApnsSigningKey): void {
    const publicKey = typeof key.publicKey === 'string' ? createPublicKey(key.publicKey) : key.publicKey;
    this.#keys.set(key.keyId, { ...key, publicKey });
  }

  delete(keyId: string): boolean {
    return this.#keys.delete(keyId);
  }

  list(): { keyId: string; teamId: string; environment?: ApnsEnvironment }[] {
    return [...this.#keys.values()].map(({ keyId, teamId, environment }) =>
      environment === undefined ? { keyId, teamId } : { keyId, teamId, environment },
    );
  }

  /** Verifies a decoded token's key, environment, signature and issuer (not its age). */
  check(token: DecodedProviderToken, environment: ApnsEnvironment): ApnsReason | undefined {
    const key = this.#keys.get(token.keyId);
    // pushy's mock answers an unknown kid with InvalidProviderToken (§6).
    if (key === undefined) return 'InvalidProviderToken';
    if (key.environment !== undefined && key.environment !== environment) return 'BadEnvironmentKeyIdInToken';
    this.verifications += 1;
    const valid = verify(
      'sha256',
      Buffer.from(token.signingInput),
      { key: key.publicKey, dsaEncoding: 'ieee-p1363' },
      token.signature,
    );
    if (!valid) return 'InvalidProviderToken';
    if (token.teamId !== key.teamId) return 'InvalidProviderToken';
    return undefined;
  }
}

/** Checks `iat` against the clock (§1.6). */
function checkAge(issuedAtSec: number, nowMs: number, rules: ProviderTokenRules): ApnsReason | undefined {
  const ageMs = nowMs - issuedAtSec * 1000;
  if (ageMs < -rules.futureSkewMs) return 'InvalidProviderToken';
  if (ageMs > rules.maxAgeMs) return 'ExpiredProviderToken';
  return undefined;
}

/**
 * One connection's provider-token state (§1.6): the team and key bound by the first accepted token, and the
 * current token with the time it was adopted. A repeated token is not verified again, so the cost of ES256 is
 * paid once per token per connection, as on a real APNs front end.
 */
export class ConnectionAuth {
  teamId: string | undefined;
  keyId: string | undefined;
  #jwt: string | undefined;
  #header: string | undefined;
  #issuedAtSec = 0;
  #adoptedAtMs = 0;
  /** Accepted token replacements on this connection (the first token is not a change). */
  changes = 0;

  get authenticated(): boolean {
    return this.#jwt !== undefined;
  }

  /**
   * Authorizes one push's `authorization` header; returns a reason to reject it with, or undefined.
   * Adopting a new token after the first counts in `changes`.
   */
  authorize(
    authorization: string | undefined,
    nowMs: number,
    environment: ApnsEnvironment,
    keys: ApnsKeyStore,
    rules: ProviderTokenRules,
  ): ApnsReason | undefined {
    // Fast path: the same header as the token this connection already adopted (nearly every push).
    if (authorization !== undefined && authorization === this.#header)
      return checkAge(this.#issuedAtSec, nowMs, rules);
    // pushy: no header, no `bearer` prefix or an empty token → MissingProviderToken (§6).
    if (authorization === undefined || !/^bearer /i.test(authorization)) return 'MissingProviderToken';
    const jwt = authorization.slice(7).trim();
    if (jwt === '') return 'MissingProviderToken';
    if (jwt === this.#jwt) return checkAge(this.#issuedAtSec, nowMs, rules);

    const token = decodeProviderToken(jwt);
    if (token === undefined) return 'InvalidProviderToken';
    const problem = keys.check(token, environment) ?? checkAge(token.issuedAtSec, nowMs, rules);
    if (problem !== undefined) return problem;
    // §1.6 "a connection maps to one team"; §1.5 lists Forbidden for "other team on connection".
    if (this.teamId !== undefined && token.teamId !== this.teamId) return 'Forbidden';
    if (this.keyId !== undefined && token.keyId !== this.keyId) return 'UnrelatedKeyIdInToken';
    if (this.#jwt !== undefined) {
      if (nowMs - this.#adoptedAtMs < rules.minUpdateIntervalMs) return 'TooManyProviderTokenUpdates';
      this.changes += 1;
    }
    this.teamId = token.teamId;
    this.keyId = token.keyId;
    this.#jwt = jwt;
    this.#header = authorization;
    this.#issuedAtSec = token.issuedAtSec;
    this.#adoptedAtMs = nowMs;
    return undefined;
  }
}
