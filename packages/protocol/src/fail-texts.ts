import { DEVICE_ID_MAX_LENGTH, ID_MAX_LENGTH } from './identifiers';

/**
 * The FAIL texts of HPNS's request checks, in one place: the push proxy's own (word for word, reference
 * §1.5, §1.7) and HPNS's additions in the proxy's style. The Mattermost server only logs them (§8.2), so they
 * are written for the admin reading that log. docs/compatibility.md lists every one (a test renders each text
 * and looks for it there). Delivery FAIL texts come from the outcome mapping (`outcome.ts`).
 */
export const FAIL_TEXTS = {
  /** The body is not JSON, or a field has the wrong type (Go's error text follows). */
  bodyUnreadable: (goError: string) => `Failed to read message body: ${goError}`,
  missingServerId: 'Failed because of missing server Id',
  /** Not echoed: the id is what is wrong with it. */
  invalidServerId: `Failed because of invalid server Id (more than ${ID_MAX_LENGTH} characters or not printable ASCII)`,
  missingDeviceId: (serverId: string) => `Failed because of missing device Id serverId=${serverId}`,
  invalidDeviceId: (serverId: string) =>
    `Failed because of invalid device Id (more than ${DEVICE_ID_MAX_LENGTH} characters or not printable ASCII) serverId=${serverId}`,
  /** `field` is one of BOUNDED_ID_FIELDS: `ack_id`, `post_id`, `team_id`, `channel_id`, `root_id`, `sender_id`. */
  invalidId: (field: string, serverId: string) =>
    `Failed because of invalid ${field} (more than ${ID_MAX_LENGTH} characters or not printable ASCII) serverId=${serverId}`,
  missingPlatform: (type: string, serverId: string) =>
    `Did not send message because of missing platform property type=${type} serverId=${serverId}`,

  ackUnreadable: (goError: string) => `Failed to read ack body: ${goError}`,
  missingAckId: 'Failed because of missing ack Id',
  invalidAckId: `Failed because of invalid ack Id (more than ${ID_MAX_LENGTH} characters or not printable ASCII)`,
  invalidAckPostId: `Failed because of invalid ack post_id (more than ${ID_MAX_LENGTH} characters or not printable ASCII)`,
  missingAckPlatform: 'Failed because of missing ack platform',
  missingAckType: 'Failed because of missing ack type',

  /** Redis of the region (or of the rate limits) cannot be reached, or a bug of ours: the server may retry. */
  unavailable: 'Push service temporarily unavailable, please retry',
  /** The server's own limit: a tenant's rate, or the free tier's per-server rate. */
  rateLimited: (serverId: string) => `Rate limit exceeded for serverId=${serverId}`,
  /** The free tier's limit per caller address (every server behind one address shares it). */
  callerRateLimited: (serverId: string) =>
    `Rate limit exceeded for the address this request came from serverId=${serverId}`,
  notRegistered: (serverId: string) =>
    `Server is not registered for this push notification service serverId=${serverId}`,
  wrongRegion: (serverId: string, home: string) =>
    `Server serverId=${serverId} is registered in region ${home}; use the ${home} push notification endpoint`,
  regionNotServed: (region: string | undefined) =>
    region === undefined
      ? 'No push notification region could be chosen for this request'
      : `Push notification region ${region} is not served by this endpoint`,
} as const;
