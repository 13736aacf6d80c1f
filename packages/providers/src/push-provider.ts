import { type DeliveryOutcome, type ProviderKind, type PushJob } from '@hpns/protocol';

/**
 * One delivery channel (APNs or FCM) for every configured target of its kind. The worker holds one per kind
 * and calls `send` for each attempt; the queue owns retries (STYLE.md §7), so a provider never retries by itself
 * and never throws for a provider or network failure: it classifies it into a `DeliveryOutcome`.
 */
export interface PushProvider {
  readonly kind: ProviderKind;
  /** Target types (`apple_rn`, `android_rn`, …) this provider can deliver to. */
  readonly targetTypes: readonly string[];
  /**
   * Builds the provider request from the job (protocol builders) and sends it once.
   * Resolves the outcome; rejects only for bugs (an unknown target type included).
   * @param signal aborts the request when the worker is force-closed; resolves `retryable` (reason `aborted`).
   */
  send(job: PushJob, signal?: AbortSignal): Promise<DeliveryOutcome>;
  /** Closes connections and timers. */
  close(): Promise<void>;
}
