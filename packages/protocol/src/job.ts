import { type ProviderKind, type Transport } from './platform';
import { type PushNotification } from './push-notification';
import { type Region } from './region';

/**
 * A push on its way from the ingress to a worker. `routing` is what the queue and worker need to pick a
 * queue, a provider target and a deadline; it is stored in clear. `content` is the notification itself; the
 * queue package stores it encrypted and only the worker that delivers it decrypts it.
 */
export interface PushJob {
  /** Job format version, bumped on any incompatible change. */
  v: 1;
  routing: PushJobRouting;
  content: PushNotification;
}

export interface PushJobRouting {
  /** Correlates the job with the ingress request waiting for its outcome; also the job id (no `:`). */
  requestId: string;
  /** Where the worker publishes the outcome (the waiting ingress process's channel); absent: nobody waits. */
  replyTo?: string;
  /** The region whose Redis and workers own this push. */
  region: Region;
  provider: ProviderKind;
  /** The configured target type (`apple_rn`, `android_rn`, …). */
  targetType: string;
  transport: Transport;
  /** From the platform's `-vN` suffix. */
  appVersion: number;
  /**
   * The push `type` as a bounded value, kept in clear for metrics and failed-job metadata: one of PUSH_TYPES, or
   * `other` for anything else a server sent (free text a caller chose is never stored in clear; the type itself
   * travels in the sealed content).
   */
  pushType: string;
  /** When the ingress accepted the push, epoch ms. */
  acceptedAtMs: number;
  /** After this instant (epoch ms) the push is dropped with FAIL "expired" instead of being delivered. */
  expiresAtMs: number;
}

/** The current job format version. */
export const PUSH_JOB_VERSION = 1;
