import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import {
  HpnsError,
  makePushNotification,
  PUSH_JOB_VERSION,
  PUSH_NOTIFICATION_SCHEMA,
  type PushJob,
  type PushJobRouting,
  type PushNotification,
} from '@hpns/protocol';
import { RandomPool } from './random-pool';

/** One AES-256-GCM key and its id (config `HPNS_PAYLOAD_KEYS`). */
export interface PayloadKey {
  readonly id: string;
  /** 32 bytes. */
  readonly key: Buffer;
}

/**
 * The job data BullMQ stores: routing in clear (what the queue, metrics and failed-job records need), the
 * notification sealed with AES-256-GCM. The routing is the GCM additional data, so it cannot be altered or
 * moved to another ciphertext without the open failing.
 */
export interface SealedPushJob {
  readonly v: typeof PUSH_JOB_VERSION;
  readonly routing: PushJobRouting;
  /** Key id. */
  readonly k: string;
  /** base64 of IV (12 bytes) ‖ ciphertext ‖ tag (16 bytes). */
  readonly c: string;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const FIELD_NAMES = Object.keys(PUSH_NOTIFICATION_SCHEMA.fields) as (keyof PushNotification)[];

/** Only fields that differ from their zero value are encoded: a typical push has half its fields empty. */
function compactContent(notification: PushNotification): string {
  const compact: Record<string, unknown> = {};
  for (const field of FIELD_NAMES) {
    const value = notification[field];
    if (value !== '' && value !== 0 && value !== false) compact[field] = value;
  }
  return JSON.stringify(compact);
}

function additionalData(routing: PushJobRouting, keyId: string): Buffer {
  return Buffer.from(JSON.stringify([PUSH_JOB_VERSION, keyId, routing]));
}

/**
 * Seals and opens push jobs. New jobs use the current key; any loaded key opens (key rotation: add the new
 * key, make it current, keep the old one until the queues have drained of jobs sealed with it).
 */
export interface PayloadCipher {
  readonly currentKeyId: string;
  seal(job: PushJob): SealedPushJob;
  /** @throws HpnsError HPNS_PAYLOAD_KEY_MISSING (unknown key id), HPNS_PAYLOAD_DECRYPT_FAILED (tampered, garbled). */
  open(sealed: SealedPushJob): PushJob;
}

/** @throws HpnsError HPNS_PAYLOAD_KEY_MISSING when no key is given or the current key is not among them. */
export function createPayloadCipher(keys: readonly PayloadKey[], currentKeyId?: string): PayloadCipher {
  for (const { id, key } of keys) {
    if (key.length !== 32)
      throw new HpnsError('HPNS_PAYLOAD_KEY_MISSING', `payload key ${id} is not 32 bytes`);
  }
  // KeyObjects skip re-importing the raw key on every cipher.
  const byId = new Map<string, KeyObject>(keys.map((key) => [key.id, createSecretKey(key.key)]));
  const random = new RandomPool();
  const current = currentKeyId ?? keys[keys.length - 1]?.id;
  const currentKey = current === undefined ? undefined : byId.get(current);
  if (current === undefined || currentKey === undefined) {
    throw new HpnsError(
      'HPNS_PAYLOAD_KEY_MISSING',
      'no payload encryption key is configured (HPNS_PAYLOAD_KEYS)',
    );
  }
  return {
    currentKeyId: current,
    seal(job) {
      const iv = random.take(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv);
      cipher.setAAD(additionalData(job.routing, current));
      const body = Buffer.concat([cipher.update(compactContent(job.content), 'utf8'), cipher.final()]);
      return {
        v: PUSH_JOB_VERSION,
        routing: job.routing,
        k: current,
        c: Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64'),
      };
    },
    open(sealed) {
      const key = byId.get(sealed.k);
      if (key === undefined) {
        throw new HpnsError(
          'HPNS_PAYLOAD_KEY_MISSING',
          `job sealed with payload key ${sealed.k}, which is not loaded`,
          {
            details: { keyId: sealed.k },
          },
        );
      }
      if (sealed.v !== PUSH_JOB_VERSION) {
        throw new HpnsError('HPNS_PAYLOAD_DECRYPT_FAILED', `unknown job format version ${String(sealed.v)}`);
      }
      const bytes = Buffer.from(sealed.c, 'base64');
      if (bytes.length < IV_BYTES + TAG_BYTES) {
        throw new HpnsError('HPNS_PAYLOAD_DECRYPT_FAILED', 'sealed content is too short');
      }
      let text: string;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
        decipher.setAAD(additionalData(sealed.routing, sealed.k));
        decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
        text = Buffer.concat([
          decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)),
          decipher.final(),
        ]).toString('utf8');
      } catch (cause) {
        // No detail: a failed GCM check says nothing about which byte was wrong, and must not leak content.
        throw new HpnsError('HPNS_PAYLOAD_DECRYPT_FAILED', 'sealed content failed authentication', { cause });
      }
      let fields: Partial<PushNotification>;
      try {
        fields = JSON.parse(text) as Partial<PushNotification>;
      } catch (cause) {
        throw new HpnsError('HPNS_PAYLOAD_DECRYPT_FAILED', 'sealed content is not valid JSON', { cause });
      }
      return { v: PUSH_JOB_VERSION, routing: sealed.routing, content: makePushNotification(fields) };
    },
  };
}
