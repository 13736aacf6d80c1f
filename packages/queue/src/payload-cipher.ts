import { createSecretKey, type KeyObject } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  HpnsError,
  makePushNotification,
  PUSH_JOB_VERSION,
  type PushJob,
  type PushJobRouting,
  type PushNotification,
} from '@hpns/protocol';
import {
  openEnvelope,
  sealEnvelope,
  type EnvelopeKeys,
  type EnvelopePush,
  type SealedEnvelope,
} from './envelope';
import { contentPairs, DICTIONARY, fieldsFromPairs } from './content-encoding';
import { gcmOpen, gcmSeal, IV_BYTES } from './gcm';
import { RandomPool } from './random-pool';

/** One AES-256-GCM key and its id (config `HPNS_PAYLOAD_KEYS`). */
export interface PayloadKey {
  readonly id: string;
  /** 32 bytes. */
  readonly key: Buffer;
}

/**
 * Sealed-job formats. Version 1 sealed the content as a JSON object; version 2 seals a compact encoding: field
 * numbers instead of names, deflated when that pays (a 600-byte message shrinks by about a third), which is most
 * of what a queued push costs in Redis. Version 3 (written now) keeps version 2's content and writes the routing
 * as a positional array instead of an object with names (about 120 bytes less per queued push). All three are
 * opened, so jobs queued before an upgrade are still delivered.
 */
export const SEALED_JOB_VERSIONS = [1, 2, 3] as const;
/** The format new jobs are sealed in unless the caller asks for an older one (see createPayloadCipher). */
export const DEFAULT_SEALED_JOB_VERSION = 3;
/** The newest format this release reads: a higher one comes from a newer release. */
const NEWEST_READABLE_VERSION = Math.max(...SEALED_JOB_VERSIONS);

/**
 * Version 3 routing positions: a field's position is its index here. Append only, as for SEALED_FIELDS (a test
 * checks this list covers PushJobRouting).
 */
export const ROUTING_FIELDS = [
  'requestId',
  'replyTo',
  'region',
  'provider',
  'targetType',
  'transport',
  'appVersion',
  'pushType',
  'acceptedAtMs',
  'expiresAtMs',
] as const satisfies readonly (keyof PushJobRouting)[];

/** The routing of a version 3 job: ROUTING_FIELDS' values in order, `null` for an absent `replyTo`. */
export type PackedRouting = readonly unknown[];

interface SealedParts {
  /** Key id. */
  readonly k: string;
  /** base64 of IV (12 bytes) ‖ ciphertext ‖ tag (16 bytes). */
  readonly c: string;
}

/**
 * The job data BullMQ stores: routing in clear (what the queue, metrics and failed-job records need), the
 * notification sealed with AES-256-GCM. The routing is the GCM additional data, so it cannot be altered or
 * moved to another ciphertext without the open failing. Read the routing of any version with sealedRouting().
 */
export type SealedPushJob =
  | (SealedParts & { readonly v: 1 | 2; readonly routing: PushJobRouting })
  | (SealedParts & { readonly v: 3; readonly r: PackedRouting });

function packRouting(routing: PushJobRouting): PackedRouting {
  return ROUTING_FIELDS.map((field) => routing[field] ?? null);
}

/** @throws Error when `packed` is not a version 3 routing array. */
function unpackRouting(packed: unknown): PushJobRouting {
  if (!Array.isArray(packed) || packed.length < ROUTING_FIELDS.length) {
    throw new Error('routing is not an array of the version 3 fields');
  }
  const routing: Record<string, unknown> = {};
  ROUTING_FIELDS.forEach((field, index) => {
    const value: unknown = packed[index];
    if (value !== null) routing[field] = value;
  });
  return routing as unknown as PushJobRouting;
}

/**
 * The routing of a job's data in any format, in clear and not authenticated (for an unreadable job's FAIL and
 * for failed-job metadata); undefined when there is none to read.
 */
export function sealedRouting(data: unknown): PushJobRouting | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const job = data as { v?: unknown; routing?: unknown; r?: unknown };
  if (job.v === 3) {
    try {
      return unpackRouting(job.r);
    } catch {
      return undefined;
    }
  }
  return typeof job.routing === 'object' && job.routing !== null
    ? (job.routing as PushJobRouting)
    : undefined;
}

/** First plaintext byte of a version 2 job: how the rest is encoded. */
const PLAIN = 0;
const DEFLATED = 1;
/** Below this many bytes deflate rarely pays for its own header and CPU. */
const DEFLATE_FROM_BYTES = 200;
function encodeContent(notification: PushNotification): Buffer {
  const json = Buffer.from(JSON.stringify(contentPairs(notification)));
  if (json.length >= DEFLATE_FROM_BYTES) {
    // A 1 KiB window and small state: content is at most a few KiB, and the per-call set-up stays cheap.
    const deflated = deflateRawSync(json, { dictionary: DICTIONARY, windowBits: 10, memLevel: 4 });
    if (deflated.length < json.length) return Buffer.concat([Buffer.of(DEFLATED), deflated]);
  }
  return Buffer.concat([Buffer.of(PLAIN), json]);
}

/** @throws HpnsError HPNS_PAYLOAD_DECRYPT_FAILED when the opened bytes are not a valid encoding. */
function decodeContent(version: number, plain: Buffer): Partial<PushNotification> {
  try {
    if (version === 1) return JSON.parse(plain.toString('utf8')) as Partial<PushNotification>;
    const body = plain.subarray(1);
    // The bound only guards against a bug: the content is authenticated, so it was sealed by an HPNS process.
    const json =
      plain[0] === DEFLATED
        ? inflateRawSync(body, { dictionary: DICTIONARY, maxOutputLength: 1 << 20 })
        : body;
    if (plain[0] !== DEFLATED && plain[0] !== PLAIN) throw new Error(`unknown content encoding ${plain[0]}`);
    return fieldsFromPairs(JSON.parse(json.toString('utf8')) as unknown);
  } catch (cause) {
    throw new HpnsError('HPNS_PAYLOAD_DECRYPT_FAILED', 'sealed content is not a valid encoding', { cause });
  }
}

/** The GCM additional data: the version, the key id and the routing exactly as stored. */
function additionalData(version: number, routing: PushJobRouting | PackedRouting, keyId: string): Buffer {
  return Buffer.from(JSON.stringify([version, keyId, routing]));
}

/**
 * Seals and opens push jobs. New jobs use the current key; any loaded key opens (key rotation: add the new
 * key, make it current, keep the old one until the queues have drained of jobs sealed with it).
 */
export interface PayloadCipher {
  readonly currentKeyId: string;
  seal(job: PushJob): SealedPushJob;
  /**
   * @throws HpnsError HPNS_PAYLOAD_KEY_MISSING (unknown key id), HPNS_PAYLOAD_FORMAT_UNKNOWN (a newer format),
   *   HPNS_PAYLOAD_DECRYPT_FAILED (tampered, garbled).
   */
  open(sealed: SealedPushJob): PushJob;
  /** Seals pushes of one region and provider as one envelope (format 4, envelope.ts). */
  sealEnvelope(pushes: readonly EnvelopePush[]): SealedEnvelope;
  /**
   * Opens an envelope.
   * @throws HpnsError HPNS_PAYLOAD_KEY_MISSING, HPNS_PAYLOAD_DECRYPT_FAILED.
   */
  openEnvelope(data: unknown): EnvelopePush[];
}

export interface PayloadCipherOptions {
  /**
   * The format new jobs are sealed in: 3 (default) or 2. Seal in 2 while workers of a release that cannot open
   * format 3 may still take jobs (a rolling upgrade from before format 3: `HPNS_SEALED_JOB_FORMAT=2` until every
   * worker runs this release). Every format is opened either way.
   */
  format?: 2 | 3;
}

/** @throws HpnsError HPNS_PAYLOAD_KEY_MISSING when no key is given or the current key is not among them. */
export function createPayloadCipher(
  keys: readonly PayloadKey[],
  currentKeyId?: string,
  options: PayloadCipherOptions = {},
): PayloadCipher {
  const format = options.format ?? DEFAULT_SEALED_JOB_VERSION;
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
  const envelopeKeys: EnvelopeKeys = {
    currentKeyId: current,
    currentKey,
    byId,
    iv: () => random.take(IV_BYTES),
  };
  return {
    currentKeyId: current,
    sealEnvelope: (pushes) => sealEnvelope(envelopeKeys, pushes),
    openEnvelope: (data) => openEnvelope(envelopeKeys, data),
    seal(job) {
      const iv = random.take(IV_BYTES);
      // Format 3 stores the routing as a positional array; format 2 as the object itself. Same content encoding.
      const routing = format === 3 ? packRouting(job.routing) : job.routing;
      const c = gcmSeal(currentKey, iv, additionalData(format, routing, current), encodeContent(job.content));
      return format === 3
        ? { v: 3, r: routing as PackedRouting, k: current, c }
        : { v: 2, routing: job.routing, k: current, c };
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
      if (!(SEALED_JOB_VERSIONS as readonly unknown[]).includes(sealed.v)) {
        // A whole number above ours: a newer release sealed it (a rolling upgrade); retried until this worker
        // is replaced by one that reads it. Anything else is garbage.
        const newer = Number.isInteger(sealed.v) && (sealed.v as number) > NEWEST_READABLE_VERSION;
        throw new HpnsError(
          newer ? 'HPNS_PAYLOAD_FORMAT_UNKNOWN' : 'HPNS_PAYLOAD_DECRYPT_FAILED',
          `unknown job format version ${String(sealed.v)}`,
        );
      }
      let routing: PushJobRouting;
      try {
        routing = sealed.v === 3 ? unpackRouting(sealed.r) : sealed.routing;
      } catch (cause) {
        throw new HpnsError('HPNS_PAYLOAD_DECRYPT_FAILED', 'sealed job has no valid routing', { cause });
      }
      const aad = additionalData(sealed.v, sealed.v === 3 ? sealed.r : sealed.routing, sealed.k);
      const plain = gcmOpen(key, sealed.c, aad);
      const fields = decodeContent(sealed.v, plain);
      return { v: PUSH_JOB_VERSION, routing, content: makePushNotification(fields) };
    },
  };
}
