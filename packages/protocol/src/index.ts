export {
  decodeAck,
  PUSH_NOTIFICATION_ACK_SCHEMA,
  type AckDecodeResult,
  type AckFailure,
  type PushNotificationAck,
} from './ack';
export {
  APNS_MAX_PAYLOAD_BYTES,
  APNS_VOIP_MAX_PAYLOAD_BYTES,
  buildApnsPayload,
  buildApnsRequest,
  buildApnsVoipPayload,
  serializeApnsPayload,
  type ApnsCustomValue,
  type ApnsPayload,
  type ApnsPushType,
  type ApnsRequest,
  type ApnsRequestOptions,
  type ApsAlert,
  type ApsDictionary,
} from './apns-payload';
export { emojize } from './emoji/emojize';
export {
  ERROR_CATALOG,
  ERROR_CODES,
  HpnsError,
  isHpnsError,
  type HpnsErrorCode,
  type HpnsErrorOptions,
} from './errors';
export { FAIL_TEXTS } from './fail-texts';
export {
  buildFcmData,
  buildFcmRequest,
  fcmDataByteLength,
  FCM_MAX_DATA_BYTES,
  FCM_MAX_TTL_SECONDS,
  type FcmMessage,
  type FcmMessageOptions,
  type FcmRequest,
} from './fcm-message';
export {
  decodeGoStruct,
  foldGoKey,
  type GoDecodeResult,
  type GoFieldKind,
  type GoStructSchema,
} from './go-decode';
export {
  readFirstGoJsonValue,
  type GoJsonArray,
  type GoJsonNumber,
  type GoJsonObject,
  type GoJsonReadResult,
  type GoJsonValue,
} from './go-json';
export {
  BOUNDED_ID_FIELDS,
  DEVICE_ID_MAX_LENGTH,
  ID_MAX_LENGTH,
  isBoundedId,
  type BoundedIdField,
} from './identifiers';
export { PUSH_JOB_VERSION, type PushJob, type PushJobRouting } from './job';
export {
  DELIVERY_OUTCOME_KINDS,
  EXPIRED_FAIL_TEXT,
  failTextForOutcome,
  pushResponseForOutcome,
  type DeliveryOutcome,
  type DeliveryOutcomeKind,
} from './outcome';
export {
  parsePlatform,
  PROVIDER_KINDS,
  voipAliasTarget,
  type ParsedPlatform,
  type ProviderKind,
  type Transport,
} from './platform';
export {
  boundedPushType,
  CHANNEL_NAME_MAX_BYTES,
  makePushNotification,
  MESSAGE_MAX_BYTES,
  MESSAGE_TRUNCATED_BYTES,
  NO_SIGNATURE,
  PUSH_NOTIFICATION_SCHEMA,
  PUSH_TYPES,
  type KnownPushType,
  type PushNotification,
} from './push-notification';
export { isRegionName, parseRegion, REGION_PATTERN, type Region } from './region';
export {
  encodePushResponse,
  encodeStringMap,
  failResponse,
  goJsonString,
  parsePushResponse,
  type PushResponse,
  type PushStatus,
} from './response';
export {
  decodeSendPush,
  type SendPushDecodeResult,
  type SendPushFailure,
  type SendPushRequest,
  type TargetLookup,
} from './send-push';
export { truncateUtf8, utf8ByteLength } from './utf8';
