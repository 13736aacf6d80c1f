import { randomBytes } from 'node:crypto';

/**
 * The access tokens the OAuth simulator mints, shared in-process with the FCM simulator, which accepts only
 * tokens found here (reference/apns-fcm.md §7.2, §7.3). Sharing the store, rather than signing opaque tokens,
 * lets a test revoke one token and watch the client recover.
 */

/** What a token was minted for. */
export interface AccessTokenGrant {
  /** The service account (`iss` of the assertion). */
  clientEmail: string;
  /** The service account's project id. */
  projectId: string;
  /** The project's number, which FCM URLs may use instead of the id. */
  projectNumber?: string;
  /** Scopes granted (the assertion's space-separated `scope`). */
  scopes: readonly string[];
  /** When it was minted, ms since the epoch (the minting simulator's clock). */
  issuedAtMs: number;
  /** When it stops being accepted, ms since the epoch. */
  expiresAtMs: number;
}

export interface AccessTokenRecord extends AccessTokenGrant {
  token: string;
}

export interface AccessTokenStore {
  /** Stores a new `ya29.<random>` token for `grant` and returns it. */
  issue(grant: AccessTokenGrant): string;
  /** The token's record; undefined when unknown or revoked. Expiry is the caller's check. */
  lookup(token: string): AccessTokenRecord | undefined;
  /** Forgets one token; true when it was known. */
  revoke(token: string): boolean;
  /** Forgets every token. */
  clear(): void;
}

/** An in-memory store. Expired tokens are dropped an hour after expiry, so long runs do not grow it. */
export function createAccessTokenStore(): AccessTokenStore {
  const tokens = new Map<string, AccessTokenRecord>();
  const prune = (nowMs: number): void => {
    for (const [token, record] of tokens) {
      if (record.expiresAtMs + 3_600_000 < nowMs) tokens.delete(token);
    }
  };
  return {
    issue(grant) {
      if (tokens.size >= 10_000) prune(grant.issuedAtMs);
      // Google's tokens start with "ya29."; the rest is opaque to clients.
      const token = `ya29.${randomBytes(48).toString('base64url')}`;
      tokens.set(token, { ...grant, scopes: [...grant.scopes], token });
      return token;
    },
    lookup: (token) => tokens.get(token),
    revoke: (token) => tokens.delete(token),
    clear: () => tokens.clear(),
  };
}
