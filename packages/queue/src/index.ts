export { retryDelayMs, type BackoffOptions } from './backoff';
export {
  createProducerConnection,
  createWorkerConnection,
  reconnectDelayMs,
  redisCall,
  waitForReady,
  type ConnectionOptions,
} from './connections';
export {
  ackKey,
  deadTokenKey,
  finalOutcomeKey,
  KEY_ROOT,
  outcomeChannel,
  pushQueueName,
  queuePrefix,
  rateLimitKey,
  TENANTS_KEY,
  type RateScope,
} from './names';
export { keyedHasher, type KeyedHasher } from './keyed-hash';
export { createOutcomeListener, OutcomeListener, publishOutcome, type OutcomeMessage } from './outcomes';
export {
  createPayloadCipher,
  type PayloadCipher,
  type PackedRouting,
  type PayloadKey,
  type SealedPushJob,
  ROUTING_FIELDS,
  SEALED_FIELDS,
  SEALED_JOB_VERSIONS,
  sealedRouting,
} from './payload-cipher';
export { PushProducer, type EnqueueResult, type PushProducerOptions } from './producer';
export {
  PushConsumer,
  type AttemptInfo,
  type AttemptResult,
  type PushConsumerOptions,
  type PushProcessor,
} from './consumer';
export { DeadTokenCache, type DeadTokenCacheOptions } from './dead-tokens';
export { RandomPool } from './random-pool';
export { AckTracker, type AckTrackerOptions } from './ack-tracker';
export { FinalOutcomes, IDEMPOTENCY_WINDOW_MS, type FinalOutcomesOptions } from './final-outcomes';
