import { classifyFcmAnswer, isAccessTokenRejected, parseFcmError } from '../src/fcm/fcm-classify';
import { parseRetryAfterMs } from '@hpns/providers';

/** The pure mapping, for the bodies the simulator does not produce (reference/apns-fcm.md §2.4, §2.5). */

const FCM_ERROR = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
const APNS_ERROR = 'type.googleapis.com/google.firebase.fcm.v1.ApnsError';

function body(status: string, message: string, details?: object[]): string {
  return JSON.stringify({ error: { code: 0, message, status, ...(details ? { details } : {}) } });
}

describe('parseFcmError', () => {
  it('reads errorCode, status, message and the ApnsError detail', () => {
    expect(
      parseFcmError(
        body('INVALID_ARGUMENT', 'APNs device token is disabled.', [
          { '@type': FCM_ERROR, errorCode: 'INVALID_ARGUMENT' },
          { '@type': APNS_ERROR, statusCode: 410, reason: 'Unregistered' },
        ]),
      ),
    ).toEqual({
      errorCode: 'INVALID_ARGUMENT',
      status: 'INVALID_ARGUMENT',
      message: 'APNs device token is disabled.',
      apns: { statusCode: 410, reason: 'Unregistered' },
    });
  });

  it('gives {} for bodies that are not a google.rpc.Status', () => {
    expect(parseFcmError('<html>502 Bad Gateway</html>')).toEqual({});
    expect(parseFcmError('null')).toEqual({});
    expect(parseFcmError('{"error":"invalid_grant"}')).toEqual({});
    expect(parseFcmError('{"error":{"details":[null,1,{"@type":"x"}]}}')).toEqual({});
  });
});

describe('classifyFcmAnswer', () => {
  const answer = (statusCode: number, text: string, retryAfterMs?: number) => ({
    statusCode,
    error: parseFcmError(text),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });

  it('prefers the FcmError code to the HTTP status', () => {
    const text = body('NOT_FOUND', 'x', [{ '@type': FCM_ERROR, errorCode: 'QUOTA_EXCEEDED' }]);
    expect(classifyFcmAnswer(answer(404, text))).toEqual({
      kind: 'retryable',
      reason: 'QUOTA_EXCEEDED',
      statusCode: 404,
      retryAfterMs: 60_000,
    });
  });

  it('takes a dead APNs token from the message text when the ApnsError detail is missing', () => {
    const text = body('INVALID_ARGUMENT', 'APNs device token is disabled.', [
      { '@type': FCM_ERROR, errorCode: 'INVALID_ARGUMENT' },
    ]);
    expect(classifyFcmAnswer(answer(400, text))).toEqual({
      kind: 'invalid_token',
      reason: 'APNS_TOKEN_DISABLED',
      statusCode: 400,
    });
  });

  it('answers invalid_token with the APNs reason for BadDeviceToken and ExpiredToken', () => {
    for (const reason of ['BadDeviceToken', 'ExpiredToken']) {
      const text = body('INVALID_ARGUMENT', 'Request contains an invalid argument.', [
        { '@type': FCM_ERROR, errorCode: 'INVALID_ARGUMENT' },
        { '@type': APNS_ERROR, statusCode: 400, reason },
      ]);
      expect(classifyFcmAnswer(answer(400, text))).toEqual({
        kind: 'invalid_token',
        reason,
        statusCode: 400,
      });
    }
  });

  it('never removes a token on 404 NOT_FOUND without FcmError UNREGISTERED (a wrong URL or project)', () => {
    expect(classifyFcmAnswer(answer(404, body('NOT_FOUND', 'Requested entity was not found.')))).toEqual({
      kind: 'rejected',
      reason: 'NOT_FOUND',
      statusCode: 404,
    });
    expect(classifyFcmAnswer(answer(404, '<html>Not Found</html>'))).toEqual({
      kind: 'rejected',
      reason: 'HTTP_404',
      statusCode: 404,
    });
  });

  it('rejects UNSPECIFIED_ERROR and the deprecated APNS_AUTH_ERROR', () => {
    for (const code of ['UNSPECIFIED_ERROR', 'APNS_AUTH_ERROR']) {
      const text = body('UNKNOWN', 'x', [{ '@type': FCM_ERROR, errorCode: code }]);
      expect(classifyFcmAnswer(answer(400, text))).toEqual({
        kind: 'rejected',
        reason: code,
        statusCode: 400,
      });
    }
  });

  it('falls back to the google.rpc status for an unknown FcmError code', () => {
    const text = body('UNAVAILABLE', 'x', [{ '@type': FCM_ERROR, errorCode: 'SOMETHING_NEW' }]);
    expect(classifyFcmAnswer(answer(503, text, 2_000))).toEqual({
      kind: 'retryable',
      reason: 'UNAVAILABLE',
      statusCode: 503,
      retryAfterMs: 2_000,
    });
  });

  it('classifies non-JSON answers by HTTP status: 5xx and 408 retryable, other 4xx rejected', () => {
    const html = '<html>oops</html>';
    expect(classifyFcmAnswer(answer(502, html))).toEqual({
      kind: 'retryable',
      reason: 'HTTP_502',
      statusCode: 502,
    });
    expect(classifyFcmAnswer(answer(503, html, 5_000))).toEqual({
      kind: 'retryable',
      reason: 'UNAVAILABLE',
      statusCode: 503,
      retryAfterMs: 5_000,
    });
    expect(classifyFcmAnswer(answer(408, html))).toEqual({
      kind: 'retryable',
      reason: 'HTTP_408',
      statusCode: 408,
    });
    expect(classifyFcmAnswer(answer(429, html))).toMatchObject({
      reason: 'QUOTA_EXCEEDED',
      retryAfterMs: 60_000,
    });
    expect(classifyFcmAnswer(answer(413, html))).toEqual({
      kind: 'rejected',
      reason: 'HTTP_413',
      statusCode: 413,
    });
  });

  it('honours a configured quota delay and a Retry-After over it', () => {
    const text = body('RESOURCE_EXHAUSTED', 'x');
    expect(classifyFcmAnswer(answer(429, text), { quotaRetryAfterMs: 5_000 })).toMatchObject({
      retryAfterMs: 5_000,
    });
    expect(classifyFcmAnswer(answer(429, text, 1_000), { quotaRetryAfterMs: 5_000 })).toMatchObject({
      retryAfterMs: 1_000,
    });
  });

  it('treats only a 401 without FcmError as our access token refused', () => {
    const ours = answer(401, body('UNAUTHENTICATED', 'Request had invalid authentication credentials.'));
    const theirs = answer(
      401,
      body('UNAUTHENTICATED', 'Auth error from APNS or Web Push Service', [
        { '@type': FCM_ERROR, errorCode: 'THIRD_PARTY_AUTH_ERROR' },
      ]),
    );
    expect(isAccessTokenRejected(ours)).toBe(true);
    expect(isAccessTokenRejected(answer(401, ''))).toBe(true);
    expect(isAccessTokenRejected(theirs)).toBe(false);
    expect(isAccessTokenRejected(answer(403, body('PERMISSION_DENIED', 'x')))).toBe(false);
  });
});

describe('parseRetryAfterMs', () => {
  const nowMs = Date.parse('2025-01-01T00:00:00Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfterMs('120', nowMs)).toBe(120_000);
    expect(parseRetryAfterMs(' 0 ', nowMs)).toBe(0);
    expect(parseRetryAfterMs(['7', '9'], nowMs)).toBe(7_000);
  });

  it('reads an HTTP date, as 0 when it is past', () => {
    expect(parseRetryAfterMs('Wed, 01 Jan 2025 00:01:30 GMT', nowMs)).toBe(90_000);
    expect(parseRetryAfterMs('Tue, 31 Dec 2024 23:59:00 GMT', nowMs)).toBe(0);
  });

  it('ignores absent and unreadable values', () => {
    expect(parseRetryAfterMs(undefined, nowMs)).toBeUndefined();
    expect(parseRetryAfterMs('', nowMs)).toBeUndefined();
    expect(parseRetryAfterMs('-5', nowMs)).toBeUndefined();
    expect(parseRetryAfterMs('1.5', nowMs)).toBeUndefined();
    expect(parseRetryAfterMs('soon', nowMs)).toBeUndefined();
  });
});
