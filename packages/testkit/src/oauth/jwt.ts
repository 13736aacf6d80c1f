import { verify, type KeyObject } from 'node:crypto';

/**
 * Just enough JWS compact parsing to check a service account's RS256 assertion (reference/apns-fcm.md §3.1).
 * Written out rather than taken from a JOSE library so the simulator states exactly what it accepts.
 */

export interface DecodedJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** `base64url(header).base64url(claims)`, the bytes the signature covers. */
  signingInput: string;
  signature: Buffer;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function decodeJsonSegment(segment: string): Record<string, unknown> | undefined {
  if (!BASE64URL.test(segment)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Splits and decodes a compact JWS; undefined when it is not three base64url parts with JSON objects. */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [headerPart, claimsPart, signaturePart] = parts as [string, string, string];
  const header = decodeJsonSegment(headerPart);
  const claims = decodeJsonSegment(claimsPart);
  if (header === undefined || claims === undefined || !BASE64URL.test(signaturePart)) return undefined;
  return {
    header,
    claims,
    signingInput: `${headerPart}.${claimsPart}`,
    signature: Buffer.from(signaturePart, 'base64url'),
  };
}

/** True when `jwt` is RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signed by the private half of `publicKey`. */
export function verifyRs256(jwt: DecodedJwt, publicKey: KeyObject): boolean {
  if (jwt.header.alg !== 'RS256' || publicKey.asymmetricKeyType !== 'rsa') return false;
  try {
    return verify('sha256', Buffer.from(jwt.signingInput, 'utf8'), publicKey, jwt.signature);
  } catch {
    return false;
  }
}
