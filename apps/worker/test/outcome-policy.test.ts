import { decideAttempt, EXPIRED, type AttemptContext } from '../src/outcome-policy';

const context: AttemptContext = {
  provider: 'apns',
  attempt: 1,
  maxAttempts: 5,
  nowMs: 1_000,
  expiresAtMs: 31_000,
};

describe('decideAttempt', () => {
  it('completes a delivered push and answers OK', () => {
    expect(decideAttempt({ kind: 'delivered', statusCode: 200 }, context)).toEqual({
      result: { action: 'complete' },
      response: { status: 'OK' },
    });
  });

  it('completes a dead token, answers REMOVE and marks the token dead', () => {
    expect(
      decideAttempt({ kind: 'invalid_token', reason: 'Unregistered', statusCode: 410 }, context),
    ).toEqual({
      result: { action: 'complete' },
      response: { status: 'REMOVE' },
      deadTokenReason: 'Unregistered',
    });
  });

  it('fails a rejected push for good with the proxy-compatible FAIL text', () => {
    expect(decideAttempt({ kind: 'rejected', reason: 'BadTopic', statusCode: 400 }, context)).toEqual({
      result: { action: 'fail', reason: 'BadTopic' },
      response: { status: 'FAIL', error: 'unknown send response error: BadTopic' },
    });
  });

  it('retries a retryable outcome with its Retry-After, telling nobody yet', () => {
    expect(
      decideAttempt(
        { kind: 'retryable', reason: 'TooManyRequests', statusCode: 429, retryAfterMs: 2000 },
        context,
      ),
    ).toEqual({
      result: { action: 'retry', reason: 'TooManyRequests', retryAfterMs: 2000 },
    });
  });

  it('gives up as expired when the retry could only happen after the time to live', () => {
    expect(
      decideAttempt(
        { kind: 'retryable', reason: 'UNAVAILABLE', statusCode: 503, retryAfterMs: 30_000 },
        { ...context, provider: 'fcm' },
      ),
    ).toBe(EXPIRED);
    expect(EXPIRED.response).toEqual({ status: 'FAIL', error: 'expired' });
  });

  it('fails on the last attempt with the transport error text', () => {
    expect(
      decideAttempt({ kind: 'retryable', reason: 'ECONNRESET', statusCode: 0 }, { ...context, attempt: 5 }),
    ).toEqual({
      result: { action: 'fail', reason: 'ECONNRESET' },
      response: { status: 'FAIL', error: 'unknown transport error: ECONNRESET' },
    });
  });
});
