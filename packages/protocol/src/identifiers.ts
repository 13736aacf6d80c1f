/**
 * Bounds of the identifiers a caller chooses (issue 14: nothing but the 64 KiB body limit bounded them, and a
 * 60 KB `server_id`, different each time, filled the ingress's tenant cache until the process died).
 *
 * What the Mattermost server sends is far inside these bounds: its ids (`server_id`, `ack_id`, post, team,
 * channel, root and sender ids) are 26 characters of `[a-z0-9]` (`model.NewId`, reference/mattermost-wire.md
 * §1.3); APNs device tokens are 64 hex characters today (Apple asks not to assume a size, so up to 200 are
 * foreseen, reference/apns-fcm.md §1.2) and FCM registration tokens are about 160 characters of
 * `[A-Za-z0-9_:-]`. The character set is printable ASCII without the space (U+0021–U+007E): every real id and
 * token fits, and nothing that could pass for a line break, a control sequence or a look-alike letter in a log or
 * a terminal does.
 */

/** Longest Mattermost id accepted (`server_id`, `ack_id`, `post_id`, …), in characters. */
export const ID_MAX_LENGTH = 64;

/** Longest device token accepted (`device_id`), in characters. */
export const DEVICE_ID_MAX_LENGTH = 512;

/** The ids inside a send_push body other than `server_id` and `device_id`, checked in this order. */
export const BOUNDED_ID_FIELDS = [
  'ack_id',
  'post_id',
  'team_id',
  'channel_id',
  'root_id',
  'sender_id',
] as const;
export type BoundedIdField = (typeof BOUNDED_ID_FIELDS)[number];

const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;

/** True when `value` has at most `maxLength` characters, all printable ASCII other than the space. */
export function isBoundedId(value: string, maxLength: number): boolean {
  // The length first: a regular expression over 60 KB of text is the cost this check exists to refuse.
  return value.length <= maxLength && PRINTABLE_ASCII.test(value);
}
