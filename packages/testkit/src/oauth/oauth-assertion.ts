import { createPublicKey, type KeyObject } from 'node:crypto';
import { decodeJwt, verifyRs256 } from './jwt';

/**
 * The checks Google's token endpoint makes on a jwt-bearer grant, as a pure function of the form and the clock
 * (reference/apns-fcm.md §3.1, §7.3). Error texts: §3.1 where it gives them; others are marked.
 */

/** Google's token endpoint: the `aud` google-auth-library always signs (apns-fcm.md §3.2). */
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
export const JWT_BEARER_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** §3.1: `exp` at most one hour after `iat`. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 3600;

/** A service account the token endpoint knows. A `TestServiceAccount` fits as is. */
export interface ServiceAccountRegistration {
  /** `client_email`, matched against the assertion's `iss`. */
  clientEmail: string;
  /** `project_id`; FCM accepts its tokens for this project only. */
  projectId: string;
  /** Project number, accepted by FCM in place of the id. Default: none. */
  projectNumber?: string;
  /** The key's public half (KeyObject, or a PEM of the public or private key). */
  publicKey: KeyObject | string;
  /** `private_key_id`. When set, an assertion whose header names another `kid` is rejected; `kid` is optional. */
  privateKeyId?: string;
}

export interface RegisteredAccount {
  clientEmail: string;
  projectId: string;
  projectNumber?: string;
  publicKey: KeyObject;
  privateKeyId?: string;
}

export function toRegisteredAccount(registration: ServiceAccountRegistration): RegisteredAccount {
  const { publicKey } = registration;
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  if (key.asymmetricKeyType !== 'rsa') throw new Error('a service account key must be RSA');
  return {
    clientEmail: registration.clientEmail,
    projectId: registration.projectId,
    ...(registration.projectNumber !== undefined ? { projectNumber: registration.projectNumber } : {}),
    publicKey: key,
    ...(registration.privateKeyId !== undefined ? { privateKeyId: registration.privateKeyId } : {}),
  };
}

export type AssertionResult =
  | { ok: true; account: RegisteredAccount; scopes: string[] }
  | { ok: false; error: string; description: string };

export interface AssertionContext {
  accounts: ReadonlyMap<string, RegisteredAccount>;
  /** `aud` values accepted besides GOOGLE_TOKEN_URL (the simulator's own token URLs). */
  ownAudiences: ReadonlySet<string>;
  nowMs: number;
  clockSkewSeconds: number;
}

// §3.1, verbatim.
const SHORT_LIVED =
  'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. ' +
  'Check your iat and exp values in the JWT claim.';
const BAD_SIGNATURE = 'Invalid JWT Signature.';

const fail = (error: string, description: string): AssertionResult => ({ ok: false, error, description });

/** Checks one token request's form fields. */
export function checkAssertion(form: URLSearchParams, context: AssertionContext): AssertionResult {
  const grantType = form.get('grant_type') ?? '';
  if (grantType !== JWT_BEARER_GRANT_TYPE) {
    return fail('unsupported_grant_type', `Invalid grant_type: ${grantType}`);
  }
  const assertion = form.get('assertion');
  // [assumption] Google's wording for a missing parameter (the OAuth 2.0 invalid_request case).
  if (assertion === null || assertion === '') {
    return fail('invalid_request', 'Missing required parameter: assertion');
  }
  const jwt = decodeJwt(assertion);
  if (jwt === undefined || jwt.header.alg !== 'RS256') return fail('invalid_grant', BAD_SIGNATURE);

  const iss = jwt.claims.iss;
  const account = typeof iss === 'string' ? context.accounts.get(iss) : undefined;
  // [observed] the text Google returns for a deleted or unknown service account.
  if (account === undefined) return fail('invalid_grant', 'Invalid grant: account not found');
  // `kid` is optional: google-auth-library sends {"alg":"RS256"} only (§3.2).
  const kid = jwt.header.kid;
  if (kid !== undefined && account.privateKeyId !== undefined && kid !== account.privateKeyId) {
    return fail('invalid_grant', BAD_SIGNATURE);
  }
  if (!verifyRs256(jwt, account.publicKey)) return fail('invalid_grant', BAD_SIGNATURE);

  const aud = jwt.claims.aud;
  if (typeof aud !== 'string' || (aud !== GOOGLE_TOKEN_URL && !context.ownAudiences.has(aud))) {
    // [assumption] wording; only the error code is documented.
    return fail(
      'invalid_grant',
      `Invalid JWT: Failed audience check. The right audience is ${GOOGLE_TOKEN_URL}`,
    );
  }

  const { iat, exp } = jwt.claims;
  const nowSeconds = context.nowMs / 1000;
  const skew = context.clockSkewSeconds;
  if (
    typeof iat !== 'number' ||
    typeof exp !== 'number' ||
    exp <= iat ||
    exp - iat > MAX_ASSERTION_LIFETIME_SECONDS ||
    iat > nowSeconds + skew ||
    exp < nowSeconds - skew
  ) {
    return fail('invalid_grant', SHORT_LIVED);
  }

  const scope = jwt.claims.scope;
  const scopes = typeof scope === 'string' ? scope.split(/\s+/).filter((s) => s !== '') : [];
  if (scopes.length === 0) return fail('invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
  return { ok: true, account, scopes };
}
