import { isHpnsError } from '@hpns/protocol';
import { createPayloadCipher, envelopeMeta, PUSH_FIELDS, type SealedPushJob } from '@hpns/queue';
import { KEY_A, KEY_B, makeJob } from './support';

describe('envelopes (format 4)', () => {
  const cipher = createPayloadCipher([KEY_A, KEY_B], 'a');

  it('seals many pushes with their attempts and opens them back exactly', () => {
    const pushes = [
      { job: makeJob({ message: 'héllo 😄' }), attempts: 0 },
      {
        job: {
          ...makeJob({ message: 'two' }),
          routing: { ...makeJob().routing, replyTo: 'hpns:{outcomes-us}:x' },
        },
        attempts: 3,
        firstAttemptAtMs: 1_700_000_001_000,
        lastAttemptAtMs: 1_700_000_009_000,
      },
    ];
    const sealed = cipher.sealEnvelope(pushes);
    expect(sealed.v).toBe(4);
    expect(cipher.openEnvelope(JSON.parse(JSON.stringify(sealed)))).toEqual(pushes);
    // The clear part alone gives every push's routing and attempts, without the key.
    expect(envelopeMeta(sealed)).toEqual(
      pushes.map(({ job, ...state }) => ({ routing: job.routing, ...state })),
    );
  });

  it('keeps attempt times from a worker whose clock is behind the ingress’s (negative offsets)', () => {
    const job = makeJob();
    const early = job.routing.acceptedAtMs - 250;
    const sealed = cipher.sealEnvelope([
      { job, attempts: 1, firstAttemptAtMs: early, lastAttemptAtMs: early },
    ]);
    expect(envelopeMeta(sealed)?.[0]).toMatchObject({ firstAttemptAtMs: early, lastAttemptAtMs: early });
  });

  it('keeps no content in clear, and each string of the routing once', () => {
    const pushes = Array.from({ length: 50 }, () => ({
      job: makeJob({ message: 'top secret plan' }),
      attempts: 0,
    }));
    const stored = JSON.stringify(cipher.sealEnvelope(pushes));
    for (const secret of ['top secret', 'Town Square', 'alice', 'a'.repeat(64), 'server1234567890'])
      expect(stored).not.toContain(secret);
    expect(stored.split('apple_rn').length - 1).toBe(1);
    expect(PUSH_FIELDS).toHaveLength(11);
  });

  it('compresses across pushes: 100 pushes cost far less than 100 one-push jobs', () => {
    const jobs = Array.from({ length: 100 }, (_, i) =>
      makeJob({ message: `message number ${i} about the launch` }),
    );
    const envelope = JSON.stringify(cipher.sealEnvelope(jobs.map((job) => ({ job, attempts: 0 })))).length;
    const single = jobs.reduce((sum, job) => sum + JSON.stringify(cipher.seal(job)).length, 0);
    expect(envelope).toBeLessThan(single / 2);
  });

  it('refuses pushes of mixed providers or regions, and an empty envelope', () => {
    expect(() => cipher.sealEnvelope([])).toThrow();
    expect(() =>
      cipher.sealEnvelope([
        { job: makeJob(), attempts: 0 },
        { job: makeJob({ provider: 'fcm' }), attempts: 0 },
      ]),
    ).toThrow(/one region and provider/);
    expect(() =>
      cipher.sealEnvelope([
        { job: makeJob(), attempts: 0 },
        { job: makeJob({ region: 'de' }), attempts: 0 },
      ]),
    ).toThrow(/one region and provider/);
  });

  it('detects tampering with the clear part, the ciphertext or the key id', () => {
    const sealed = cipher.sealEnvelope([
      { job: makeJob(), attempts: 0 },
      { job: makeJob(), attempts: 0 },
    ]);
    const flipped = Buffer.from(sealed.c, 'base64');
    flipped[20] = (flipped[20] as number) ^ 1;
    const cases: unknown[] = [
      { ...sealed, c: flipped.toString('base64') },
      { ...sealed, h: ['de', sealed.h[1], sealed.h[2]] },
      { ...sealed, p: sealed.p.slice(0, 1) },
      { ...sealed, p: sealed.p.map((row) => row.map((x, i) => (i === 8 ? 5 : x))) },
      { ...sealed, s: [...sealed.s].reverse() },
      { ...sealed, k: 'b' },
      { ...sealed, c: 'AAAA' },
      { ...sealed, p: [] },
      { ...sealed, p: [['short']] },
    ];
    for (const bad of cases) {
      let error: unknown;
      try {
        cipher.openEnvelope(bad);
      } catch (e) {
        error = e;
      }
      expect(isHpnsError(error, 'HPNS_PAYLOAD_DECRYPT_FAILED')).toBe(true);
    }
  });

  it('names a key it does not hold as missing (a rotation rolled out to the ingress first)', () => {
    const sealed = createPayloadCipher([{ id: 'new', key: Buffer.alloc(32, 7) }]).sealEnvelope([
      { job: makeJob(), attempts: 0 },
    ]);
    let error: unknown;
    try {
      cipher.openEnvelope(sealed);
    } catch (e) {
      error = e;
    }
    expect(isHpnsError(error, 'HPNS_PAYLOAD_KEY_MISSING')).toBe(true);
  });

  it('is a newer format to the one-push reader of the release before envelopes, which retries it', () => {
    // The previous release opens jobs with open() only; for a format above its newest it throws
    // HPNS_PAYLOAD_FORMAT_UNKNOWN, which its consumer retries (every 5 s) instead of failing the pushes.
    const sealed = cipher.sealEnvelope([{ job: makeJob(), attempts: 0 }]);
    let error: unknown;
    try {
      cipher.open(sealed as unknown as SealedPushJob);
    } catch (e) {
      error = e;
    }
    expect(isHpnsError(error, 'HPNS_PAYLOAD_FORMAT_UNKNOWN')).toBe(true);
  });
});
