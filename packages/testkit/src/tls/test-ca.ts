import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

/** A certificate authority made for one test run, and a server certificate it signed. Test use only. */
export interface TestCa {
  /** PEM of the CA certificate: give it to clients as `ca`. */
  readonly caPem: string;
  /** PEM of the server's private key (PKCS#8). */
  readonly serverKeyPem: string;
  /** PEM of the server certificate, valid for `hosts`. */
  readonly serverCertPem: string;
  /** Host names and IP addresses in the server certificate's subjectAltName. */
  readonly hosts: readonly string[];
}

export interface TestCaOptions {
  /** Extra host names or IPs for the server certificate. Always included: localhost, 127.0.0.1, ::1. */
  hosts?: readonly string[];
  /** Validity in days from one hour ago. Default 30. */
  validDays?: number;
}

const DEFAULT_HOSTS = ['localhost', '127.0.0.1', '::1'];

function rsaKeyPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

function serial(): string {
  // Positive, 16 bytes: the top bit cleared so DER does not read it as negative.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString('hex');
}

/**
 * Creates a fresh CA and a server certificate for the simulators (STYLE.md §16: keys are generated at test time,
 * nothing is committed). node:crypto makes the keys (RSA 2048); node-forge only assembles and signs the
 * certificates, which node:crypto cannot do.
 */
export function createTestCa(options: TestCaOptions = {}): TestCa {
  const hosts = [...new Set([...DEFAULT_HOSTS, ...(options.hosts ?? [])])];
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date(notBefore.getTime() + (options.validDays ?? 30) * 86_400_000);

  const caKeys = rsaKeyPair();
  const caKey = forge.pki.privateKeyFromPem(caKeys.privatePem);
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = forge.pki.publicKeyFromPem(caKeys.publicPem);
  caCert.serialNumber = serial();
  caCert.validity.notBefore = notBefore;
  caCert.validity.notAfter = notAfter;
  const caName = [
    { name: 'commonName', value: 'HPNS simulators test-only CA' },
    { name: 'organizationName', value: 'HPNS test-only' },
  ];
  caCert.setSubject(caName);
  caCert.setIssuer(caName);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(caKey, forge.md.sha256.create());

  const serverKeys = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(serverKeys.publicPem);
  cert.serialNumber = serial();
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: 'commonName', value: hosts[0] as string }]);
  cert.setIssuer(caName);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    {
      name: 'subjectAltName',
      altNames: hosts.map((host) => (isIP(host) === 0 ? { type: 2, value: host } : { type: 7, ip: host })),
    },
  ]);
  cert.sign(caKey, forge.md.sha256.create());

  return {
    caPem: forge.pki.certificateToPem(caCert),
    serverKeyPem: serverKeys.privatePem,
    serverCertPem: forge.pki.certificateToPem(cert),
    hosts,
  };
}
