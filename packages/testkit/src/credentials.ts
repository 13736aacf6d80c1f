import { createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';

/** An APNs provider-token signing key as Apple issues it (.p8, ES256), made at test time. */
export interface TestApnsKey {
  /** 10-character key id (`kid`). */
  readonly keyId: string;
  /** 10-character team id (`iss`). */
  readonly teamId: string;
  /** The .p8 contents (PKCS#8 PEM of a P-256 key). */
  readonly privateKeyPem: string;
  /** For the simulator, which verifies tokens with it. */
  readonly publicKey: KeyObject;
}

/** A Google service-account key file as the Cloud console issues it, made at test time. */
export interface TestServiceAccount {
  readonly projectId: string;
  readonly clientEmail: string;
  /** `private_key_id`, sent as the JWT `kid`. */
  readonly privateKeyId: string;
  readonly privateKeyPem: string;
  /** For the OAuth simulator, which verifies assertions with it. */
  readonly publicKey: KeyObject;
  /** The JSON file contents (`type: service_account`, `token_uri` as given). */
  readonly json: string;
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A random id of Apple's shape: 10 upper-case letters and digits. */
export function randomAppleId(): string {
  return [...randomBytes(10)].map((byte) => ID_ALPHABET[byte % ID_ALPHABET.length]).join('');
}

export function generateApnsKey(options: { keyId?: string; teamId?: string } = {}): TestApnsKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    keyId: options.keyId ?? randomAppleId(),
    teamId: options.teamId ?? randomAppleId(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKey,
  };
}

export function generateServiceAccount(options: {
  projectId?: string;
  tokenUri: string;
}): TestServiceAccount {
  const projectId = options.projectId ?? `hpns-test-${randomBytes(3).toString('hex')}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const privateKeyId = randomBytes(20).toString('hex');
  const clientEmail = `firebase-adminsdk-test@${projectId}.iam.gserviceaccount.com`;
  const json = JSON.stringify(
    {
      type: 'service_account',
      project_id: projectId,
      private_key_id: privateKeyId,
      private_key: privateKeyPem,
      client_email: clientEmail,
      client_id: String(BigInt(`0x${randomBytes(8).toString('hex')}`)),
      token_uri: options.tokenUri,
    },
    null,
    2,
  );
  return {
    projectId,
    clientEmail,
    privateKeyId,
    privateKeyPem,
    publicKey: createPublicKey(privateKey),
    json,
  };
}
