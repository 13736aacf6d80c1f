import { decide, isFinal, type PushState } from '../src/decide';

const state: PushState = { provider: 'apns', attempts: 1, expiresAtMs: 3_601_000, nowMs: 1_000, jitter: 0.5 };

describe('decide: the one owner of a push’s fate', () => {
  it('sends a due push, and expires one whose TTL is over', () => {
    expect(decide({ kind: 'due' }, state)).toEqual({ fate: 'send' });
    expect(decide({ kind: 'due' }, { ...state, nowMs: state.expiresAtMs })).toEqual({
      fate: 'expired',
      response: { status: 'FAIL', error: 'expired' },
    });
  });

  it('answers OK for a delivered push and REMOVE, with the reason, for a dead token', () => {
    expect(decide({ kind: 'sent', outcome: { kind: 'delivered', statusCode: 200 } }, state)).toEqual({
      fate: 'delivered',
      response: { status: 'OK' },
    });
    expect(
      decide(
        { kind: 'sent', outcome: { kind: 'invalid_token', reason: 'Unregistered', statusCode: 410 } },
        state,
      ),
    ).toEqual({ fate: 'invalid_token', reason: 'Unregistered', response: { status: 'REMOVE' } });
  });

  it('fails a rejected push for good with the proxy-compatible FAIL text', () => {
    expect(
      decide({ kind: 'sent', outcome: { kind: 'rejected', reason: 'BadTopic', statusCode: 400 } }, state),
    ).toEqual({
      fate: 'failed',
      reason: 'BadTopic',
      response: { status: 'FAIL', error: 'unknown send response error: BadTopic' },
    });
    expect(
      decide(
        { kind: 'sent', outcome: { kind: 'rejected', reason: 'INVALID_ARGUMENT', statusCode: 400 } },
        { ...state, provider: 'fcm' },
      ),
    ).toMatchObject({
      fate: 'failed',
      response: { status: 'FAIL', error: 'fcm send error: INVALID_ARGUMENT' },
    });
  });

  it('retries with jittered backoff, never before a Retry-After', () => {
    const outcome = { kind: 'retryable', reason: 'TooManyRequests', statusCode: 429 } as const;
    // Attempt 1: jitter 0.5 of a 1 s cap.
    expect(decide({ kind: 'sent', outcome }, state)).toEqual({
      fate: 'retry',
      atMs: 1_500,
      reason: 'TooManyRequests',
    });
    expect(decide({ kind: 'sent', outcome: { ...outcome, retryAfterMs: 7_000 } }, state)).toEqual({
      fate: 'retry',
      atMs: 8_000,
      reason: 'TooManyRequests',
    });
    // The cap of the delay grows to the policy's maximum.
    expect(
      decide(
        { kind: 'sent', outcome },
        { ...state, attempts: 40 },
        { backoff: { baseDelayMs: 10, maxDelayMs: 100 } },
      ),
    ).toEqual({ fate: 'retry', atMs: 1_050, reason: 'TooManyRequests' });
  });

  it('keeps retrying until the TTL, far beyond 25 attempts; the attempt guard catches only a bug', () => {
    const outcome = { kind: 'retryable', reason: 'ServiceUnavailable', statusCode: 503 } as const;
    expect(decide({ kind: 'sent', outcome }, { ...state, attempts: 200 })).toMatchObject({ fate: 'retry' });
    expect(decide({ kind: 'sent', outcome }, { ...state, attempts: 1000 })).toEqual({
      fate: 'failed',
      reason: 'attempt_limit',
      response: { status: 'FAIL', error: 'unknown send response error: ServiceUnavailable' },
    });
    // A retry that could only happen after the TTL: expired now.
    expect(decide({ kind: 'sent', outcome: { ...outcome, retryAfterMs: 3_600_000 } }, state)).toMatchObject({
      fate: 'expired',
    });
    // A transport error answers in the proxy's words.
    expect(
      decide(
        { kind: 'sent', outcome: { kind: 'retryable', reason: 'ECONNRESET', statusCode: 0 } },
        { ...state, attempts: 1000 },
      ),
    ).toMatchObject({ response: { status: 'FAIL', error: 'unknown transport error: ECONNRESET' } });
  });

  it('holds a push back while its circuit is open, without an attempt, unless that outlives the TTL', () => {
    expect(decide({ kind: 'circuit_open', waitMs: 4_000 }, state)).toEqual({
      fate: 'held',
      atMs: 5_000,
      reason: 'circuit_open',
    });
    expect(decide({ kind: 'circuit_open', waitMs: 4_000 }, { ...state, expiresAtMs: 4_000 })).toMatchObject({
      fate: 'expired',
    });
  });

  it('fails an unreadable push, holds one that is not readable yet', () => {
    expect(decide({ kind: 'unreadable', notYet: false }, state)).toEqual({
      fate: 'failed',
      reason: 'unreadable',
      response: { status: 'FAIL', error: 'push could not be read by the delivery worker' },
    });
    expect(decide({ kind: 'unreadable', notYet: true }, state, { notYetReadableMs: 2_000 })).toEqual({
      fate: 'held',
      atMs: 3_000,
      reason: 'not_yet_readable',
    });
  });

  it('fails a push whose provider client threw at once (a bug does not heal by retrying)', () => {
    expect(decide({ kind: 'provider_bug' }, state)).toEqual({
      fate: 'failed',
      reason: 'internal_error',
      response: { status: 'FAIL', error: 'internal error' },
    });
  });

  it('tells final decisions (an answer goes out) from the others', () => {
    expect(isFinal(decide({ kind: 'provider_bug' }, state))).toBe(true);
    expect(isFinal(decide({ kind: 'due' }, state))).toBe(false);
    expect(isFinal(decide({ kind: 'circuit_open', waitMs: 1 }, state))).toBe(false);
  });
});
