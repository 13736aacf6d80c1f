/**
 * `Retry-After` (RFC 9110 §10.2.3), for both providers: a number of seconds (`120`) or an HTTP date
 * (`Wed, 21 Oct 2015 07:28:00 GMT`). FCM sends it with 429 and 503 (reference/apns-fcm.md §2.5); APNs documents
 * no such header, so it is read when present and ignored when malformed.
 *
 * @returns the delay in ms (0 for a date in the past), or undefined when the header is absent or unreadable.
 */
export function parseRetryAfterMs(value: string | string[] | undefined, nowMs: number): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only an HTTP date may follow, and it starts with a day name: Date.parse alone would also take "-1" or "2025".
  if (!/^[A-Za-z]{3,9},? /.test(text)) return undefined;
  const atMs = Date.parse(text);
  return Number.isNaN(atMs) ? undefined : Math.max(0, atMs - nowMs);
}
