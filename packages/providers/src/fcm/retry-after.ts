/**
 * `Retry-After` (RFC 9110 §10.2.3): either a number of seconds (`120`) or an HTTP date
 * (`Wed, 21 Oct 2015 07:28:00 GMT`). FCM sends it with 429 and 503 (reference/apns-fcm.md §2.5).
 *
 * @returns the delay in ms (0 for a date in the past), or undefined when the header is absent or unreadable.
 */
export function parseRetryAfterMs(value: string | string[] | undefined, nowMs: number): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only the date form may follow: a bare number with a sign or a fraction is not valid Retry-After.
  if (/^[+-]?\d*\.?\d+$/.test(text)) return undefined;
  const atMs = Date.parse(text);
  if (Number.isNaN(atMs)) return undefined;
  return Math.max(0, atMs - nowMs);
}
