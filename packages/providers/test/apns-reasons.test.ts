import { APNS_REASON_STATUS } from '@hpns/testkit';
import {
  APNS_METRIC_REASONS,
  APNS_REASONS,
  classifyApnsAnswer,
  type ApnsReason,
} from '../src/apns/apns-reasons';
import { parseRetryAfterMs } from '../src/retry-after';

describe('APNs reason table', () => {
  const rows = Object.entries(APNS_REASONS) as [ApnsReason, (typeof APNS_REASONS)[ApnsReason]][];

  it('cites Apple\'s "Handling notification responses from APNs" on every row, with the reason and status', () => {
    for (const [reason, row] of rows) {
      expect(row.doc).toMatch(new RegExp(`^HNR ${row.status} ${reason}: .{10,}`));
    }
  });

  it("pairs each reason with the status the simulator (from Apple's tables) answers it with", () => {
    for (const [reason, row] of rows) {
      expect([reason, row.status]).toEqual([reason, APNS_REASON_STATUS[reason]]);
    }
  });

  it('maps the reasons the issue names to invalid_token, and the transient ones to retryable', () => {
    const by = (outcome: string) =>
      rows
        .filter(([, row]) => row.outcome === outcome)
        .map(([reason]) => reason)
        .sort();
    expect(by('invalid_token')).toEqual([
      'BadDeviceToken',
      'DeviceTokenNotForTopic',
      'ExpiredToken',
      'MissingDeviceToken',
      'Unregistered',
    ]);
    expect(by('retryable')).toEqual([
      'ExpiredProviderToken',
      'IdleTimeout',
      'InternalServerError',
      'ServiceUnavailable',
      'Shutdown',
      'TooManyProviderTokenUpdates',
      'TooManyRequests',
    ]);
  });

  it('has a bounded metric label for every reason it can report', () => {
    expect(APNS_METRIC_REASONS).toEqual(expect.arrayContaining(['BadDeviceToken', 'timeout', 'ECONNRESET']));
    expect(new Set(APNS_METRIC_REASONS).size).toBe(APNS_METRIC_REASONS.length);
  });
});

describe('classifyApnsAnswer', () => {
  it('keeps the 410 timestamp as invalidSinceMs, and ignores one that is not a number', () => {
    expect(classifyApnsAnswer(410, { reason: 'Unregistered', timestamp: 1_700_000_000_000 })).toEqual({
      kind: 'invalid_token',
      reason: 'Unregistered',
      statusCode: 410,
      invalidSinceMs: 1_700_000_000_000,
    });
    expect(classifyApnsAnswer(410, { reason: 'Unregistered', timestamp: 'soon' })).toEqual({
      kind: 'invalid_token',
      reason: 'Unregistered',
      statusCode: 410,
    });
  });

  it('passes Retry-After on for retryable answers only', () => {
    expect(classifyApnsAnswer(503, { reason: 'ServiceUnavailable' }, 2000)).toEqual({
      kind: 'retryable',
      reason: 'ServiceUnavailable',
      statusCode: 503,
      retryAfterMs: 2000,
    });
    expect(classifyApnsAnswer(400, { reason: 'BadTopic' }, 2000)).toEqual({
      kind: 'rejected',
      reason: 'BadTopic',
      statusCode: 400,
    });
  });

  it('judges an unknown reason by its status, keeping the reason', () => {
    expect(classifyApnsAnswer(429, { reason: 'SlowDown' })).toEqual({
      kind: 'retryable',
      reason: 'SlowDown',
      statusCode: 429,
    });
    expect(classifyApnsAnswer(502, undefined)).toEqual({
      kind: 'retryable',
      reason: 'HTTP 502',
      statusCode: 502,
    });
    expect(classifyApnsAnswer(400, { reason: 'NewReason' })).toEqual({
      kind: 'rejected',
      reason: 'NewReason',
      statusCode: 400,
    });
    expect(classifyApnsAnswer(403, { reason: 42 })).toEqual({
      kind: 'rejected',
      reason: 'HTTP 403',
      statusCode: 403,
    });
  });
});

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('reads delay-seconds and HTTP-dates', () => {
    expect(parseRetryAfterMs('7', now)).toBe(7000);
    expect(parseRetryAfterMs(' 0 ', now)).toBe(0);
    expect(parseRetryAfterMs('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfterMs('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
  });

  it('ignores a missing or malformed value', () => {
    expect(parseRetryAfterMs(undefined, now)).toBeUndefined();
    expect(parseRetryAfterMs('-1', now)).toBeUndefined();
    expect(parseRetryAfterMs('soon', now)).toBeUndefined();
  });
});
