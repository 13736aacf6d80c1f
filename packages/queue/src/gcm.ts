import { createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';
import { HpnsError } from '@hpns/protocol';

/** AES-256-GCM as every sealed format stores it: base64 of IV (12 bytes) ‖ ciphertext ‖ tag (16 bytes). */
export const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Seals `plain` under `key` with additional data `aad`; `iv` must be 12 fresh random bytes. */
export function gcmSeal(key: KeyObject, iv: Buffer, aad: Buffer, plain: Buffer): string {
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
}

/**
 * Opens what gcmSeal made.
 * @throws HpnsError HPNS_PAYLOAD_DECRYPT_FAILED when it is too short or fails authentication (no detail: a failed
 *   GCM check says nothing about which byte was wrong, and must not leak content).
 */
export function gcmOpen(key: KeyObject, sealed: string, aad: Buffer): Buffer {
  const bytes = Buffer.from(sealed, 'base64');
  if (bytes.length < IV_BYTES + TAG_BYTES) {
    throw new HpnsError('HPNS_PAYLOAD_DECRYPT_FAILED', 'sealed content is too short');
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(aad);
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch (cause) {
    throw new HpnsError('HPNS_PAYLOAD_DECRYPT_FAILED', 'sealed content failed authentication', { cause });
  }
}
