export { type PushProvider } from './push-provider';
export {
  createProviderMetrics,
  DEFAULT_DURATION_BUCKETS_SECONDS,
  NO_REASON_LABEL,
  OTHER_LABEL,
  PROVIDER_OUTCOMES_TOTAL,
  PROVIDER_REQUEST_DURATION_SECONDS,
  type ProviderMetrics,
  type ProviderMetricsOptions,
} from './provider-metrics';
export { ApnsProvider, type ApnsProviderStats } from './apns/apns-provider';
export {
  APNS_PRODUCTION_HOST,
  APNS_SANDBOX_HOST,
  type ApnsEndpointOverride,
  type ApnsProviderOptions,
} from './apns/apns-options';
export {
  APNS_METRIC_REASONS,
  APNS_REASONS,
  APNS_TRANSPORT_REASONS,
  APPLE_RESPONSES_DOC,
  classifyApnsAnswer,
  type ApnsReason,
  type ApnsReasonRow,
  type ApnsTransportReason,
} from './apns/apns-reasons';
export {
  ACCESS_TOKEN_FAILURE_REASONS,
  AccessTokenError,
  isAccessTokenError,
  type AccessTokenFailureReason,
  type AccessTokenSource,
} from './fcm/access-token-source';
export {
  FCM_SCOPE,
  GOOGLE_TOKEN_URL,
  GoogleAccessTokenSource,
  type GoogleAccessTokenSourceOptions,
} from './fcm/google-access-token-source';
export {
  classifyFcmAnswer,
  isAccessTokenRejected,
  parseFcmError,
  type FcmAnswer,
  type FcmClassifyOptions,
  type FcmErrorInfo,
} from './fcm/fcm-classify';
export { createFcmMetrics, FCM_METRIC_REASONS, type FcmMetricsOptions } from './fcm/fcm-metrics';
export { FCM_BASE_URL, FcmProvider, type FcmProviderOptions } from './fcm/fcm-provider';
export { parseRetryAfterMs } from './retry-after';
