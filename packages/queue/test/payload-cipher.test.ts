import { isHpnsError } from '@hpns/protocol';
import { createPayloadCipher } from '@hpns/queue';
import { KEY_A, KEY_B, makeJob } from './support';

describe('createPayloadCipher', () => {
  it('seals the content and opens it back exactly, leaving routing in clear', () => {
    const cipher = createPayloadCipher([KEY_A]);
    const job = makeJob({ message: 'héllo 😄 wörld' });
    const sealed = cipher.seal(job);
    expect(sealed.routing).toEqual(job.routing);
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
    const flipped = Buffer.from(sealed.c, 'base64');
    flipped[20] = (flipped[20] as number) ^ 1;
    const cases = [
      { ...sealed, c: flipped.toString('base64') },
      { ...sealed, routing: { ...sealed.routing, region: 'de' } },
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

  it('keeps a typical job compact', () => {
    const sealed = createPayloadCipher([KEY_A]).seal(makeJob({ message: 'x'.repeat(600) }));
    // 600 bytes of message + the non-empty fields, base64: well under the 1 KiB per queued push target.
    expect(JSON.stringify(sealed).length).toBeLessThan(1_600);
  });
});
