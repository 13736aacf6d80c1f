import { type Registry } from 'prom-client';
import { createProviderMetrics, type ProviderMetrics } from '../provider-metrics';
import { ACCESS_TOKEN_FAILURE_REASONS } from './access-token-source';

/**
 * The FCM provider's series on the shared provider metrics (provider-metrics.ts):
 * `hpns_provider_request_duration_seconds{provider="fcm",target,outcome}` and
 * `hpns_provider_outcomes_total{provider="fcm",target,outcome,reason}`. Reasons outside this list (an
 * `HTTP_418`, an unusual socket error code) are counted as `other`; the outcome itself keeps the full reason.
 */

/** Reasons an FCM outcome can carry that get their own label value. */
export const FCM_METRIC_REASONS: readonly string[] = [
  // FcmError codes and google.rpc names (fcm-classify.ts).
  'UNREGISTERED',
  'SENDER_ID_MISMATCH',
  'INVALID_ARGUMENT',
  'QUOTA_EXCEEDED',
  'UNAVAILABLE',
  'INTERNAL',
  'THIRD_PARTY_AUTH_ERROR',
  'APNS_AUTH_ERROR',
  'UNSPECIFIED_ERROR',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  // Apple's reasons when FCM forwarded to APNs.
  'Unregistered',
  'ExpiredToken',
  'BadDeviceToken',
  'APNS_TOKEN_DISABLED',
  // The send's own deadline and the caller's abort.
  'timeout',
  'aborted',
  // Token endpoint failures.
  ...ACCESS_TOKEN_FAILURE_REASONS,
  // Transport errors (undici and Node socket codes).
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_ABORTED',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'TRANSPORT_ERROR',
];

export interface FcmMetricsOptions {
  /** The registry to register on (the worker's). Required. */
  registry: Registry;
  /** The configured Android target types; others are labelled `other`. Required. */
  targets: readonly string[];
}

export function createFcmMetrics(options: FcmMetricsOptions): ProviderMetrics {
  return createProviderMetrics({
    registry: options.registry,
    provider: 'fcm',
    targets: options.targets,
    reasons: FCM_METRIC_REASONS,
  });
}
