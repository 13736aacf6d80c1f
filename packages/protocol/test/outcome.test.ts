import {
  DELIVERY_OUTCOME_KINDS,
  encodePushResponse,
  EXPIRED_FAIL_TEXT,
  failResponse,
  failTextForOutcome,
  pushResponseForOutcome,
  type DeliveryOutcome,
} from '@hpns/protocol';

describe('DELIVERY_OUTCOME_KINDS', () => {
  it('lists the four outcome kinds', () => {
    expect([...DELIVERY_OUTCOME_KINDS].sort()).toEqual([
      'delivered',
      'invalid_token',
      'rejected',
      'retryable',
    ]);
  });
});

describe('EXPIRED_FAIL_TEXT', () => {
  it('is "expired" and encodes as a FAIL answer', () => {
    expect(EXPIRED_FAIL_TEXT).toBe('expired');
    expect(encodePushResponse(failResponse(EXPIRED_FAIL_TEXT))).toBe('{"error":"expired","status":"FAIL"}\n');
  });
});

describe('failTextForOutcome', () => {
  it('appends the APNs reason to the proxy’s "unknown send response error"', () => {
    expect(failTextForOutcome({ kind: 'rejected', reason: 'PayloadTooLarge', statusCode: 413 }, 'apns')).toBe(
      'unknown send response error: PayloadTooLarge',
    );
    expect(
      failTextForOutcome({ kind: 'retryable', reason: 'TooManyRequests', statusCode: 429 }, 'apns'),
    ).toBe('unknown send response error: TooManyRequests');
  });

  it('prefixes the FCM reason with "fcm send error"', () => {
    expect(failTextForOutcome({ kind: 'rejected', reason: 'INVALID_ARGUMENT', statusCode: 400 }, 'fcm')).toBe(
      'fcm send error: INVALID_ARGUMENT',
    );
    expect(failTextForOutcome({ kind: 'retryable', reason: 'UNAVAILABLE', statusCode: 503 }, 'fcm')).toBe(
      'fcm send error: UNAVAILABLE',
    );
  });

  it('reports a transport error (status 0) as "unknown transport error" for either provider', () => {
    for (const provider of ['apns', 'fcm'] as const) {
      expect(failTextForOutcome({ kind: 'retryable', reason: 'ECONNRESET', statusCode: 0 }, provider)).toBe(
        'unknown transport error: ECONNRESET',
      );
      expect(failTextForOutcome({ kind: 'rejected', reason: 'timeout', statusCode: 0 }, provider)).toBe(
        'unknown transport error: timeout',
      );
    }
  });

  it('ignores retryAfterMs', () => {
    expect(
      failTextForOutcome({ kind: 'retryable', reason: 'x', statusCode: 503, retryAfterMs: 1000 }, 'apns'),
    ).toBe('unknown send response error: x');
  });

  it('keeps an empty reason after the colon', () => {
    expect(failTextForOutcome({ kind: 'rejected', reason: '', statusCode: 400 }, 'apns')).toBe(
      'unknown send response error: ',
    );
  });
});

describe('pushResponseForOutcome', () => {
  it('answers OK for a delivered push', () => {
    expect(pushResponseForOutcome({ kind: 'delivered', statusCode: 200 }, 'apns')).toEqual({ status: 'OK' });
    expect(pushResponseForOutcome({ kind: 'delivered', statusCode: 200 }, 'fcm')).toEqual({ status: 'OK' });
  });

  it('answers REMOVE for a dead token, whatever the reason', () => {
    const apns: DeliveryOutcome = {
      kind: 'invalid_token',
      reason: 'Unregistered',
      statusCode: 410,
      invalidSinceMs: 1_700_000_000_000,
    };
    expect(pushResponseForOutcome(apns, 'apns')).toEqual({ status: 'REMOVE' });
    expect(
      pushResponseForOutcome({ kind: 'invalid_token', reason: 'UNREGISTERED', statusCode: 404 }, 'fcm'),
    ).toEqual({ status: 'REMOVE' });
  });

  it('answers FAIL with the failTextForOutcome text for rejected and retryable outcomes', () => {
    const cases: [Extract<DeliveryOutcome, { kind: 'rejected' | 'retryable' }>, 'apns' | 'fcm', string][] = [
      [
        { kind: 'rejected', reason: 'BadDeviceToken', statusCode: 400 },
        'apns',
        'unknown send response error: BadDeviceToken',
      ],
      [
        { kind: 'retryable', reason: 'InternalServerError', statusCode: 500 },
        'apns',
        'unknown send response error: InternalServerError',
      ],
      [
        { kind: 'rejected', reason: 'SENDER_ID_MISMATCH', statusCode: 403 },
        'fcm',
        'fcm send error: SENDER_ID_MISMATCH',
      ],
      [
        { kind: 'retryable', reason: 'ETIMEDOUT', statusCode: 0 },
        'fcm',
        'unknown transport error: ETIMEDOUT',
      ],
    ];
    for (const [outcome, provider, error] of cases) {
      expect(pushResponseForOutcome(outcome, provider)).toEqual({ status: 'FAIL', error });
      expect(pushResponseForOutcome(outcome, provider)).toEqual({
        status: 'FAIL',
        error: failTextForOutcome(outcome, provider),
      });
    }
  });

  it('gives an answer that encodes to the §1.6 wire shapes', () => {
    expect(encodePushResponse(pushResponseForOutcome({ kind: 'delivered', statusCode: 200 }, 'apns'))).toBe(
      '{"status":"OK"}\n',
    );
    expect(
      encodePushResponse(
        pushResponseForOutcome({ kind: 'invalid_token', reason: 'BadDeviceToken', statusCode: 400 }, 'apns'),
      ),
    ).toBe('{"status":"REMOVE"}\n');
    expect(
      encodePushResponse(
        pushResponseForOutcome({ kind: 'rejected', reason: 'a<b>', statusCode: 400 }, 'apns'),
      ),
    ).toBe('{"error":"unknown send response error: a\\u003cb\\u003e","status":"FAIL"}\n');
  });
});
