import { fcmReplies, type FcmReply } from './fcm-errors';

/**
 * Registration tokens the FCM simulator knows, and the answer each state gets (reference/apns-fcm.md §2.4,
 * §2.5, §7.2).
 */

export type FcmTokenState =
  /** Delivered: 200. */
  | 'valid'
  /** App instance gone: 404 UNREGISTERED. */
  | 'unregistered'
  /** Not a token FCM issued: 400 INVALID_ARGUMENT "not a valid FCM registration token". */
  | 'malformed'
  /** iOS token APNs reported dead, 404 variant: UNREGISTERED + ApnsError 410 Unregistered. */
  | 'apns-unregistered'
  /** iOS token APNs reported dead, 400 variant: "APNs device token is disabled." + ApnsError 410. */
  | 'apns-disabled'
  /** The project's APNs credentials are bad: 401 THIRD_PARTY_AUTH_ERROR + ApnsError 403. */
  | 'apns-auth-error';

export const FCM_TOKEN_STATES: readonly FcmTokenState[] = [
  'valid',
  'unregistered',
  'malformed',
  'apns-unregistered',
  'apns-disabled',
  'apns-auth-error',
];

export interface FcmTokenRegistration {
  token: string;
  /** The project (id or number) the token belongs to; another project gets 403 SENDER_ID_MISMATCH. */
  projectId: string;
  /** Default `valid`. */
  state?: FcmTokenState;
}

/** What happens to tokens never registered: accepted (if token-shaped), or answered as dead or malformed. */
export type UnknownTokenPolicy = 'accept' | 'unregistered' | 'malformed';

/** An unregistered token's prefix that needs no registration (load tests' dead tokens): 404 UNREGISTERED. */
export const FCM_DEAD_TOKEN_PREFIX = 'deaddead';

/** [assumption] the characters real tokens use (`<instance id>:APA91b...`); anything else is malformed. */
const TOKEN_SHAPE = /^[A-Za-z0-9_:-]+$/;

/** The error reply for sending to `token` as one of `projects`, or undefined when it is deliverable. */
export function tokenReply(
  registration: FcmTokenRegistration | undefined,
  token: string,
  projects: readonly string[],
  unknownTokens: UnknownTokenPolicy,
): FcmReply | undefined {
  if (registration === undefined) {
    // go-apnsmock style magic prefix, as the APNs simulator's `deaddead`: a dead app instance, no registration.
    if (token.startsWith(FCM_DEAD_TOKEN_PREFIX)) return fcmReplies.unregistered();
    if (!TOKEN_SHAPE.test(token) || unknownTokens === 'malformed')
      return fcmReplies.invalidRegistrationToken();
    return unknownTokens === 'unregistered' ? fcmReplies.unregistered() : undefined;
  }
  const state = registration.state ?? 'valid';
  if (state === 'malformed') return fcmReplies.invalidRegistrationToken();
  // A token of another sender is refused before anything else is known about it.
  if (!projects.includes(registration.projectId)) return fcmReplies.senderIdMismatch();
  switch (state) {
    case 'valid':
      return undefined;
    case 'unregistered':
      return fcmReplies.unregistered();
    case 'apns-unregistered':
      return fcmReplies.unregistered(true);
    case 'apns-disabled':
      return fcmReplies.apnsTokenDisabled();
    case 'apns-auth-error':
      return fcmReplies.thirdPartyAuthError();
  }
}
