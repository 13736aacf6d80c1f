import { type KeyObject } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  HpnsError,
  makePushNotification,
  PUSH_JOB_VERSION,
  type ProviderKind,
  type PushJob,
  type PushJobRouting,
  type Region,
  type Transport,
} from '@hpns/protocol';
import { contentPairs, DICTIONARY, fieldsFromPairs } from './content-encoding';
import { gcmOpen, gcmSeal } from './gcm';

/**
 * Format 4: an envelope, one BullMQ job carrying many pushes of one region and provider. Each push keeps its
 * own identity, attempts, time to live and outcome; they share one job, one seal and one compression, which
 * is what makes a queued push cheap (DESIGN.md "Envelopes, not one job per push").
 *
 * Job data, all of it JSON:
 * - `v` 4, `k` the key id;
 * - `h` `[region, provider, baseMs]`: what every push of the envelope shares;
 * - `s` the strings the pushes refer to by index (reply channels, target types, transports, push types), each
 *   once, so a push's routing in clear is a short array of numbers (PUSH_FIELDS);
 * - `p` one array per push (PUSH_FIELDS): routing, attempts made, first and last attempt times; readable
 *   without the key, so that a push whose content cannot be opened can still be answered and recorded;
 * - `c` base64 of IV (12 bytes) ‖ AES-256-GCM ciphertext ‖ tag (16 bytes) of the deflated JSON array of every
 *   push's content field pairs (the format 2 field numbers), in push order. The additional data is
 *   `[4, k, h, s, p]`: the clear part cannot be altered or moved to another ciphertext without the open failing.
 */
export const ENVELOPE_FORMAT = 4;

/**
 * Positions of a push's clear fields in `p`. Append only. Times are ms offsets: `accepted` from the envelope's
 * `baseMs`, `ttl` and the attempt times from the push's own acceptance (negative when the worker's clock is behind
 * the ingress's); `null` for "none", as for a reply channel or any string (`-1`).
 */
export const PUSH_FIELDS = [
  'requestId',
  'replyTo',
  'targetType',
  'transport',
  'appVersion',
  'pushType',
  'accepted',
  'ttl',
  'attempts',
  'firstAttempt',
  'lastAttempt',
] as const;

/** One push as an envelope carries it: the push itself and where its delivery stands. */
export interface EnvelopePush {
  job: PushJob;
  /** Attempts made so far (sends, not counting the times an open circuit held it back); 0 for a new push. */
  attempts: number;
  /** First and last attempt times, epoch ms; undefined before the first. */
  firstAttemptAtMs?: number;
  lastAttemptAtMs?: number;
}

/** The clear part of a push: everything but its content. */
export type EnvelopePushMeta = Omit<EnvelopePush, 'job'> & { routing: PushJobRouting };

export interface SealedEnvelope {
  readonly v: 4;
  readonly k: string;
  readonly h: readonly [Region, ProviderKind, number];
  readonly s: readonly string[];
  readonly p: readonly (readonly (string | number | null)[])[];
  readonly c: string;
}

/** The keys an envelope is sealed and opened with (from createPayloadCipher). */
export interface EnvelopeKeys {
  readonly currentKeyId: string;
  readonly currentKey: KeyObject;
  readonly byId: ReadonlyMap<string, KeyObject>;
  /** 12 fresh random bytes per call. */
  readonly iv: () => Buffer;
}

/** The most content one envelope may inflate to: an envelope's byte cap is far below (producer maxBytes). */
const MAX_CONTENT_BYTES = 64 << 20;

function additionalData(
  k: string,
  h: SealedEnvelope['h'],
  s: readonly string[],
  p: SealedEnvelope['p'],
): Buffer {
  return Buffer.from(JSON.stringify([ENVELOPE_FORMAT, k, h, s, p]));
}

/**
 * Seals pushes of one region and provider into one envelope.
 * @throws Error when the pushes are empty or of different regions or providers (a bug of the caller).
 */
export function sealEnvelope(keys: EnvelopeKeys, pushes: readonly EnvelopePush[]): SealedEnvelope {
  const first = pushes[0];
  if (first === undefined) throw new Error('an envelope holds at least one push');
  const { region, provider } = first.job.routing;
  let baseMs = first.job.routing.acceptedAtMs;
  for (const { job } of pushes) {
    if (job.routing.region !== region || job.routing.provider !== provider) {
      throw new Error('an envelope holds pushes of one region and provider');
    }
    if (job.routing.acceptedAtMs < baseMs) baseMs = job.routing.acceptedAtMs;
  }
  const strings: string[] = [];
  const index = new Map<string, number>();
  const ref = (value: string | undefined): number => {
    if (value === undefined) return -1;
    let at = index.get(value);
    if (at === undefined) {
      at = strings.push(value) - 1;
      index.set(value, at);
    }
    return at;
  };
  const offset = (atMs: number | undefined, fromMs: number) => (atMs === undefined ? null : atMs - fromMs);
  const p = pushes.map(({ job, attempts, firstAttemptAtMs, lastAttemptAtMs }) => {
    const r = job.routing;
    return [
      r.requestId,
      ref(r.replyTo),
      ref(r.targetType),
      ref(r.transport),
      r.appVersion,
      ref(r.pushType),
      r.acceptedAtMs - baseMs,
      r.expiresAtMs - r.acceptedAtMs,
      attempts,
      offset(firstAttemptAtMs, r.acceptedAtMs),
      offset(lastAttemptAtMs, r.acceptedAtMs),
    ];
  });
  const h = [region, provider, baseMs] as const;
  const json = Buffer.from(JSON.stringify(pushes.map(({ job }) => contentPairs(job.content))));
  const plain = deflateRawSync(json, { dictionary: DICTIONARY, memLevel: 8 });
  const c = gcmSeal(keys.currentKey, keys.iv(), additionalData(keys.currentKeyId, h, strings, p), plain);
  return {
    v: ENVELOPE_FORMAT,
    k: keys.currentKeyId,
    h,
    s: strings,
    p,
    c,
  };
}

function isEnvelopeShape(data: unknown): data is SealedEnvelope {
  if (typeof data !== 'object' || data === null) return false;
  const e = data as Partial<Record<keyof SealedEnvelope, unknown>>;
  return (
    e.v === ENVELOPE_FORMAT &&
    typeof e.k === 'string' &&
    Array.isArray(e.h) &&
    e.h.length === 3 &&
    typeof e.h[0] === 'string' &&
    typeof e.h[1] === 'string' &&
    typeof e.h[2] === 'number' &&
    Array.isArray(e.s) &&
    e.s.every((x) => typeof x === 'string') &&
    Array.isArray(e.p) &&
    e.p.length > 0 &&
    typeof e.c === 'string'
  );
}

/** True when job data is an envelope (format 4), opened or not. */
export function isEnvelope(data: unknown): boolean {
  return typeof data === 'object' && data !== null && (data as { v?: unknown }).v === ENVELOPE_FORMAT;
}

/**
 * The clear part of every push of an envelope, without the key and without authenticating it (for the answer
 * and the dead-letter record of an envelope that cannot be opened). Undefined when the data is not an
 * envelope or its clear part is garbled.
 */
export function envelopeMeta(data: unknown): EnvelopePushMeta[] | undefined {
  if (!isEnvelopeShape(data)) return undefined;
  const [region, provider, baseMs] = data.h;
  const str = (at: unknown): string | undefined =>
    typeof at === 'number' && at >= 0 ? data.s[at] : undefined;
  const metas: EnvelopePushMeta[] = [];
  for (const row of data.p) {
    if (!Array.isArray(row) || row.length < PUSH_FIELDS.length) return undefined;
    const [
      requestId,
      replyTo,
      targetType,
      transport,
      appVersion,
      pushType,
      accepted,
      ttl,
      attempts,
      first,
      last,
    ] = row as unknown[];
    if (
      typeof requestId !== 'string' ||
      typeof appVersion !== 'number' ||
      typeof accepted !== 'number' ||
      typeof ttl !== 'number' ||
      typeof attempts !== 'number' ||
      (first !== null && typeof first !== 'number') ||
      (last !== null && typeof last !== 'number')
    ) {
      return undefined;
    }
    const acceptedAtMs = baseMs + accepted;
    const reply = str(replyTo);
    const target = str(targetType);
    const type = str(pushType);
    const transportName = str(transport);
    if (target === undefined || type === undefined || transportName === undefined) return undefined;
    metas.push({
      routing: {
        requestId,
        ...(reply === undefined ? {} : { replyTo: reply }),
        region: region as Region,
        provider: provider as ProviderKind,
        targetType: target,
        transport: transportName as Transport,
        appVersion,
        pushType: type,
        acceptedAtMs,
        expiresAtMs: acceptedAtMs + ttl,
      },
      attempts,
      ...(typeof first === 'number' ? { firstAttemptAtMs: acceptedAtMs + first } : {}),
      ...(typeof last === 'number' ? { lastAttemptAtMs: acceptedAtMs + last } : {}),
    });
  }
  return metas;
}

/**
 * Opens an envelope.
 * @throws HpnsError HPNS_PAYLOAD_KEY_MISSING (unknown key id), HPNS_PAYLOAD_DECRYPT_FAILED (garbled,
 *   tampered, or content that does not match the pushes).
 */
export function openEnvelope(keys: EnvelopeKeys, data: unknown): EnvelopePush[] {
  const metas = envelopeMeta(data);
  if (metas === undefined || !isEnvelopeShape(data)) {
    throw new HpnsError('HPNS_PAYLOAD_DECRYPT_FAILED', 'envelope has no valid clear part');
  }
  const key = keys.byId.get(data.k);
  if (key === undefined) {
    throw new HpnsError(
      'HPNS_PAYLOAD_KEY_MISSING',
      `envelope sealed with payload key ${data.k}, which is not loaded`,
      {
        details: { keyId: data.k },
      },
    );
  }
  const plain = gcmOpen(key, data.c, additionalData(data.k, data.h, data.s, data.p));
  try {
    const contents = JSON.parse(
      inflateRawSync(plain, { dictionary: DICTIONARY, maxOutputLength: MAX_CONTENT_BYTES }).toString('utf8'),
    ) as unknown;
    if (!Array.isArray(contents) || contents.length !== metas.length) {
      throw new Error('content does not match the pushes');
    }
    return metas.map(({ routing, ...state }, i) => ({
      ...state,
      job: { v: PUSH_JOB_VERSION, routing, content: makePushNotification(fieldsFromPairs(contents[i])) },
    }));
  } catch (cause) {
    throw new HpnsError('HPNS_PAYLOAD_DECRYPT_FAILED', 'sealed content is not a valid encoding', { cause });
  }
}
