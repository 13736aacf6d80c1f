import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { HpnsError } from '@hpns/protocol';
import { type AppleTargetConfig } from '@hpns/runtime';

/** TLS client-certificate material for one APNs certificate target, as `tls.connect` takes it. */
export interface ApnsCertificateCredentials {
  /** The certificate chain, PEM (CERTIFICATE blocks only). */
  cert: string;
  /** The private key, PEM (possibly encrypted). */
  key: string;
  /** The key's password; undefined when the key is not encrypted. */
  passphrase: string | undefined;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

function configProblem(type: string, message: string, cause?: unknown): HpnsError {
  return new HpnsError('HPNS_CONFIG_INVALID', `APNs target ${type}: ${message}`, {
    cause,
    details: { target: type },
  });
}

/**
 * Splits the proxy's `ApplePushCertPrivate` PEM (certificate and private key in one file, reference
 * mattermost-wire.md §2.1) and checks that the key opens with the password and belongs to the certificate, so a
 * wrong file fails at start-up rather than on the first push. node:crypto replaces node-apn's node-forge
 * loader, which reads RSA keys only and insists on Apple's environment OIDs.
 */
export function loadCertificateCredentials(
  type: string,
  pem: string,
  password: string,
): ApnsCertificateCredentials {
  const blocks = [...pem.matchAll(PEM_BLOCK)];
  const certs = blocks.filter((block) => block[1] === 'CERTIFICATE').map((block) => block[0]);
  const keys = blocks.filter((block) => block[1]?.endsWith('PRIVATE KEY')).map((block) => block[0]);
  const key = keys[0];
  if (certs.length === 0 || key === undefined || keys.length > 1) {
    throw configProblem(type, 'the certificate PEM must hold a certificate and exactly one private key');
  }
  const passphrase = password === '' ? undefined : password;
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certs[0] as string);
  } catch (error) {
    throw configProblem(type, 'the certificate does not parse', error);
  }
  try {
    const privateKey = createPrivateKey(passphrase === undefined ? key : { key, passphrase });
    if (!certificate.checkPrivateKey(privateKey)) {
      throw configProblem(type, 'the private key does not belong to the certificate');
    }
  } catch (error) {
    if (error instanceof HpnsError) throw error;
    throw configProblem(type, 'the private key does not open (wrong ApplePushCertPassword?)', error);
  }
  return { cert: certs.join('\n'), key, passphrase };
}

/**
 * What makes two targets share connections: the same credentials (§1.6: one connection serves one team's
 * topics) against the same endpoint. Secrets enter only as a hash.
 */
export function credentialKey(target: AppleTargetConfig, endpoint: string): string {
  const { auth } = target;
  const secret =
    auth.kind === 'token' ? auth.keyPem.reveal() : auth.certPem.reveal() + auth.password.reveal();
  const digest = createHash('sha256').update(secret).digest('hex').slice(0, 16);
  const who = auth.kind === 'token' ? `token:${auth.teamId}:${auth.keyId}` : 'certificate';
  return `${who}:${digest}@${endpoint}`;
}
