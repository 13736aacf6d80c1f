import { verify } from 'node:crypto';
import { generateApnsKey } from '@hpns/testkit';
import { ApnsProviderTokenSigner } from '../src/apns/apns-provider-token';

const MINUTE = 60_000;

function decode(jwt: string) {
  const [header, claims, signature] = jwt.split('.') as [string, string, string];
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()) as unknown,
    claims: JSON.parse(Buffer.from(claims, 'base64url').toString()) as unknown,
    signingInput: `${header}.${claims}`,
    signature: Buffer.from(signature, 'base64url'),
  };
}

describe('ApnsProviderTokenSigner', () => {
  const key = generateApnsKey();
  let clock = Date.parse('2025-01-01T00:00:00Z');
  const signer = () =>
    new ApnsProviderTokenSigner({
      keyPem: key.privateKeyPem,
      keyId: key.keyId,
      teamId: key.teamId,
      now: () => clock,
    });

  it('signs an ES256 JWT as Apple specifies: {alg, kid}, {iss, iat}, raw r‖s signature', () => {
    const jwt = decode(signer().current);
    expect(jwt.header).toEqual({ alg: 'ES256', kid: key.keyId });
    expect(jwt.claims).toEqual({ iss: key.teamId, iat: clock / 1000 });
    expect(jwt.signature).toHaveLength(64);
    const input = Buffer.from(jwt.signingInput);
    expect(verify('sha256', input, { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, jwt.signature)).toBe(
      true,
    );
  });

  it('reports itself expired at 50 minutes by default, whatever node-apn asks', () => {
    const tokens = signer();
    clock += 49 * MINUTE;
    expect(tokens.isExpired(3300)).toBe(false);
    clock += MINUTE;
    expect(tokens.isExpired(3300)).toBe(true);
  });

  it('re-mints once per generation, and never a token younger than 20 minutes', () => {
    const tokens = signer();
    const first = tokens.current;
    clock += 10 * MINUTE;
    tokens.regenerate(0);
    expect([tokens.current, tokens.generation, tokens.mints]).toEqual([first, 0, 1]);
    clock += 10 * MINUTE;
    tokens.regenerate(0);
    const second = tokens.current;
    expect(second).not.toBe(first);
    expect([tokens.generation, tokens.mints]).toEqual([1, 2]);
    // A second report about the old generation (another connection) changes nothing.
    clock += 30 * MINUTE;
    tokens.regenerate(0);
    expect([tokens.current, tokens.mints]).toEqual([second, 2]);
  });

  it('refuses a key that is not an EC key', () => {
    const ed25519 =
      '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n';
    expect(() => new ApnsProviderTokenSigner({ keyPem: ed25519, keyId: 'K', teamId: 'T' })).toThrow(/EC/);
  });
});
