import { createPrivateKey } from 'node:crypto';
import { Registry, Secret, type AppleTargetConfig } from '@hpns/runtime';
import { generateApnsKey } from '@hpns/testkit';
import { loadCertificateCredentials } from '../src/apns/apns-credentials';
import { APNS_PRODUCTION_HOST, APNS_SANDBOX_HOST, resolveEndpoint } from '../src/apns/apns-options';
import { ApnsProvider } from '../src/apns/apns-provider';
import { testCa, tokenTarget } from './apns-helpers';

describe('resolveEndpoint', () => {
  const key = generateApnsKey();

  it("picks Apple's production or sandbox host on port 443 by useDevelopment", () => {
    expect(resolveEndpoint(tokenTarget(key))).toEqual({
      address: APNS_PRODUCTION_HOST,
      port: 443,
      ca: undefined,
    });
    expect(resolveEndpoint(tokenTarget(key, { useDevelopment: true }))).toEqual({
      address: APNS_SANDBOX_HOST,
      port: 443,
      ca: undefined,
    });
  });

  it('takes an override of address, port and CA', () => {
    expect(resolveEndpoint(tokenTarget(key), { address: '127.0.0.1', port: 8443, caPem: 'PEM' })).toEqual({
      address: '127.0.0.1',
      port: 8443,
      ca: ['PEM'],
    });
  });
});

describe('ApnsProvider connection pools', () => {
  const key = generateApnsKey();
  const other = generateApnsKey();

  it('shares one pool between targets with the same key and environment, and keeps environments apart', async () => {
    const provider = new ApnsProvider({
      targets: [
        tokenTarget(key, { type: 'apple_rn' }),
        tokenTarget(key, { type: 'apple_rnbeta', topic: 'com.mattermost.rn' }),
        tokenTarget(key, { type: 'apple_rn_dev', useDevelopment: true }),
        tokenTarget(other, { type: 'apple_other' }),
      ],
      registry: new Registry(),
      connectionsPerEndpoint: 3,
    });
    expect(provider.targetTypes).toEqual(['apple_rn', 'apple_rnbeta', 'apple_rn_dev', 'apple_other']);
    // Nothing connects before the first send.
    expect(provider.stats()).toMatchObject({ pools: 3, connections: 9, sessions: 0, tokenMints: 2 });
    await provider.close();
  });

  it('refuses a target type configured twice, and an auth key that does not load', () => {
    const registry = new Registry();
    expect(() => new ApnsProvider({ targets: [tokenTarget(key), tokenTarget(key)], registry })).toThrow(
      /twice/,
    );
    const broken: AppleTargetConfig = tokenTarget(key, {
      auth: { kind: 'token', keyFile: 'x', keyPem: new Secret('not a key'), keyId: 'K', teamId: 'T' },
    });
    expect(() => new ApnsProvider({ targets: [broken], registry })).toThrow(
      expect.objectContaining({ code: 'HPNS_CONFIG_INVALID' }),
    );
  });
});

describe('loadCertificateCredentials', () => {
  const ca = testCa();

  it('splits the PEM into certificate and key', () => {
    const loaded = loadCertificateCredentials('apple_rn', `${ca.serverKeyPem}\n${ca.serverCertPem}`, '');
    expect(loaded.cert).toBe(ca.serverCertPem.trim());
    expect(loaded.key).toBe(ca.serverKeyPem.trim());
    expect(loaded.passphrase).toBeUndefined();
  });

  it('opens an encrypted key with ApplePushCertPassword, and says so when the password is wrong', () => {
    const encrypted = createPrivateKey(ca.serverKeyPem).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'secret',
    }) as string;
    const pem = `${ca.serverCertPem}\n${encrypted}`;
    expect(loadCertificateCredentials('apple_rn', pem, 'secret').passphrase).toBe('secret');
    expect(() => loadCertificateCredentials('apple_rn', pem, 'wrong')).toThrow(
      expect.objectContaining({ code: 'HPNS_CONFIG_INVALID', message: expect.stringMatching(/password/i) }),
    );
  });

  it('refuses a key of another certificate, and a PEM without a key', () => {
    expect(() => loadCertificateCredentials('apple_rn', `${ca.caPem}\n${ca.serverKeyPem}`, '')).toThrow(
      /does not belong/,
    );
    expect(() => loadCertificateCredentials('apple_rn', ca.serverCertPem, '')).toThrow(
      /exactly one private key/,
    );
  });
});
