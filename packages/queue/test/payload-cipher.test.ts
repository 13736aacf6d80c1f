import { createCipheriv, randomBytes } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { isHpnsError, PUSH_NOTIFICATION_SCHEMA, type PushJob } from '@hpns/protocol';
import {
  createPayloadCipher,
  ROUTING_FIELDS,
  SEALED_FIELDS,
  sealedRouting,
  type SealedPushJob,
} from '@hpns/queue';
import { KEY_A, KEY_B, makeJob } from './support';

/** Seals arbitrary plaintext the way format `v` does (AAD = [v, key id, routing]), to test what open() accepts. */
function sealRaw(v: 1 | 2, routing: PushJob['routing'], plain: Buffer): SealedPushJob {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', KEY_A.key, iv);
  cipher.setAAD(Buffer.from(JSON.stringify([v, KEY_A.id, routing])));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return { v, routing, k: KEY_A.id, c: Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64') };
}

describe('createPayloadCipher', () => {
  it('seals the content and opens it back exactly, leaving routing in clear', () => {
    const cipher = createPayloadCipher([KEY_A]);
    const job = makeJob({ message: 'héllo 😄 wörld' });
    const sealed = cipher.seal(job);
    expect(sealed.v).toBe(3);
    expect(sealedRouting(sealed)).toEqual(job.routing);
    expect(sealed.k).toBe('a');
    const stored = JSON.stringify(sealed);
    for (const secret of ['héllo', 'Town Square', 'alice', 'a'.repeat(64)])
      expect(stored).not.toContain(secret);
    expect(cipher.open(JSON.parse(stored))).toEqual(job);
  });

  it('uses a fresh IV for every seal', () => {
    const cipher = createPayloadCipher([KEY_A]);
    const job = makeJob();
    expect(cipher.seal(job).c).not.toBe(cipher.seal(job).c);
  });

  it('opens jobs sealed with an older key after rotation, and seals with the current one', () => {
    const old = createPayloadCipher([KEY_A]);
    const rotated = createPayloadCipher([KEY_A, KEY_B], 'b');
    const job = makeJob();
    expect(rotated.open(old.seal(job))).toEqual(job);
    expect(rotated.seal(job).k).toBe('b');
    expect(rotated.currentKeyId).toBe('b');
  });

  it('refuses a job whose key is not loaded', () => {
    const sealed = createPayloadCipher([KEY_B]).seal(makeJob());
    let error: unknown;
    try {
      createPayloadCipher([KEY_A]).open(sealed);
    } catch (e) {
      error = e;
    }
    expect(isHpnsError(error, 'HPNS_PAYLOAD_KEY_MISSING')).toBe(true);
  });

  it('detects tampering with the ciphertext, the routing or the key id', () => {
    const cipher = createPayloadCipher([KEY_A, { id: 'z', key: KEY_A.key }], 'a');
    const sealed = cipher.seal(makeJob());
    if (sealed.v !== 3) throw new Error('expected format 3');
    const flipped = Buffer.from(sealed.c, 'base64');
    flipped[20] = (flipped[20] as number) ^ 1;
    const region = ROUTING_FIELDS.indexOf('region');
    const cases = [
      { ...sealed, c: flipped.toString('base64') },
      { ...sealed, r: sealed.r.map((value, i) => (i === region ? 'de' : value)) },
      { ...sealed, r: [...sealed.r, 'extra'] },
      { ...sealed, r: sealed.r.slice(0, 5) },
      { ...sealed, r: { region: 'us' } },
      { ...sealed, k: 'z' },
      { ...sealed, c: 'AAAA' },
    ];
    for (const bad of cases) {
      expect(() => cipher.open(bad as typeof sealed)).toThrow(
        expect.objectContaining({ code: 'HPNS_PAYLOAD_DECRYPT_FAILED' }) as unknown as Error,
      );
    }
  });

  it('refuses to start without a usable key', () => {
    expect(() => createPayloadCipher([])).toThrow(/no payload encryption key/);
    expect(() => createPayloadCipher([KEY_A], 'b')).toThrow(/no payload encryption key/);
    expect(() => createPayloadCipher([{ id: 'x', key: Buffer.alloc(16) }])).toThrow(/not 32 bytes/);
  });

  it('keeps a typical job compact: field numbers, and deflate for long content', () => {
    const cipher = createPayloadCipher([KEY_A]);
    const text =
      'Hi team, the release review moved to Thursday at 10:00. Please bring the updated numbers for the push ' +
      'latency dashboard and your notes on the migration plan. If you cannot make it, reply in this thread. ';
    const long = makeJob({ message: text.repeat(3).slice(0, 600) });
    const plainJsonBytes = Buffer.byteLength(JSON.stringify(long.content));
    const sealed = cipher.seal(long);
    // Ciphertext bytes (base64 decoded, less IV and tag) well under the content's own JSON.
    expect(Buffer.from(sealed.c, 'base64').length - 28).toBeLessThan(plainJsonBytes * 0.5);
    expect(cipher.open(sealed)).toEqual(long);
    const short = makeJob({ message: 'ok' });
    expect(cipher.open(cipher.seal(short))).toEqual(short);
  });

  it('numbers every notification field, in an order that never changes', () => {
    expect([...SEALED_FIELDS].sort()).toEqual(Object.keys(PUSH_NOTIFICATION_SCHEMA.fields).sort());
    // Format 2 on disk: appending is fine, reordering is not (queued jobs would be misread).
    expect(SEALED_FIELDS.slice(0, 8)).toEqual([
      'ack_id',
      'platform',
      'server_id',
      'device_id',
      'post_id',
      'category',
      'sound',
      'message',
    ]);
  });

  it('writes the routing as a positional array in an order that never changes, and reads any format', () => {
    // Every field of PushJobRouting has a position (makeJob sets all but the optional replyTo).
    const { routing } = makeJob();
    expect([...ROUTING_FIELDS].sort()).toEqual([...Object.keys(routing), 'replyTo'].sort());
    // Format 3 on disk: appending is fine, reordering is not (queued jobs would be misread).
    expect(ROUTING_FIELDS).toEqual([
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
    ]);
    const cipher = createPayloadCipher([KEY_A]);
    const withReply = makeJob();
    withReply.routing.replyTo = 'hpns:{outcomes-us}:ingress-1';
    const sealed = cipher.seal(withReply);
    expect(sealed).toMatchObject({
      r: [
        withReply.routing.requestId,
        'hpns:{outcomes-us}:ingress-1',
        'us',
        'apns',
        'apple_rn',
        'standard',
        2,
        'message',
        1_700_000_000_000,
        1_700_000_030_000,
      ],
    });
    expect(cipher.open(JSON.parse(JSON.stringify(sealed)) as SealedPushJob)).toEqual(withReply);
    // No replyTo: null in the array, absent once opened.
    const noReply = cipher.seal(makeJob());
    expect(cipher.open(noReply).routing).not.toHaveProperty('replyTo');
    // The routing of formats 1 and 2 (an object) and 3 (an array) reads the same; junk reads as undefined.
    const v2 = sealRaw(2, withReply.routing, Buffer.from([0, ...Buffer.from('[7,"x"]')]));
    expect(sealedRouting(v2)).toEqual(withReply.routing);
    expect(sealedRouting(sealed)).toEqual(withReply.routing);
    for (const junk of [undefined, null, 'x', {}, { v: 3, r: 'x' }, { v: 3, r: [1, 2] }])
      expect(sealedRouting(junk)).toBeUndefined();
    // About 120 bytes less of job data than the same job in format 2.
    const v2Bytes = JSON.stringify({ v: 2, routing: withReply.routing, k: sealed.k, c: sealed.c }).length;
    expect(v2Bytes - JSON.stringify(sealed).length).toBeGreaterThan(100);
  });

  it('seals in format 2 when asked (a rolling upgrade), and tells a newer format from garbage', () => {
    const job = makeJob({ message: 'for the workers of the previous release' });
    const v2 = createPayloadCipher([KEY_A], undefined, { format: 2 }).seal(job);
    expect(v2).toMatchObject({ v: 2, routing: job.routing, k: 'a' });
    expect(createPayloadCipher([KEY_A]).open(v2)).toEqual(job);
    const sealed = createPayloadCipher([KEY_A]).seal(job);
    const open = (v: unknown) => () => createPayloadCipher([KEY_A]).open({ ...sealed, v } as never);
    expect(open(4)).toThrow(
      expect.objectContaining({ code: 'HPNS_PAYLOAD_FORMAT_UNKNOWN' }) as unknown as Error,
    );
    for (const v of [0, -1, 2.5, '3', null])
      expect(open(v)).toThrow(
        expect.objectContaining({ code: 'HPNS_PAYLOAD_DECRYPT_FAILED' }) as unknown as Error,
      );
  });

  it('opens a job sealed in format 2 (queued before an upgrade)', () => {
    const job = makeJob({ message: 'sealed by the previous release' });
    const pairs: unknown[] = [];
    for (const [index, field] of SEALED_FIELDS.entries()) {
      const value = job.content[field];
      if (value !== '' && value !== 0 && value !== false) pairs.push(index, value);
    }
    const v2 = sealRaw(2, job.routing, Buffer.from([0, ...Buffer.from(JSON.stringify(pairs))]));
    expect(createPayloadCipher([KEY_A]).open(v2)).toEqual(job);
  });

  it('opens a job sealed in format 1 (queued before an upgrade)', () => {
    const job = makeJob({ message: 'sealed by the previous release' });
    const v1 = sealRaw(1, job.routing, Buffer.from(JSON.stringify(job.content)));
    expect(createPayloadCipher([KEY_A]).open(v1)).toEqual(job);
  });

  it('refuses a well-authenticated job whose content encoding is broken', () => {
    const { routing } = makeJob();
    const cipher = createPayloadCipher([KEY_A]);
    const bad = [
      Buffer.from([7, ...Buffer.from('[]')]), // unknown encoding flag
      Buffer.from([0, ...Buffer.from('[99,"x"]')]), // unknown field number
      Buffer.from([0, ...Buffer.from('[1]')]), // odd pair list
      Buffer.from([0, ...Buffer.from('{"message":"x"}')]), // not pairs
      Buffer.from([1, 1, 2, 3]), // not deflate
      Buffer.concat([Buffer.of(1), deflateRawSync(Buffer.from('not json'))]),
    ];
    for (const plain of bad) {
      expect(() => cipher.open(sealRaw(2, routing, plain))).toThrow(
        expect.objectContaining({ code: 'HPNS_PAYLOAD_DECRYPT_FAILED' }) as unknown as Error,
      );
    }
    // And the same envelope with a good encoding opens.
    expect(
      cipher.open(sealRaw(2, routing, Buffer.from([0, ...Buffer.from('[7,"x"]')]))).content.message,
    ).toBe('x');
  });
});
