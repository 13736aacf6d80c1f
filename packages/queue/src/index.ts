export { retryDelayMs, type BackoffOptions } from './backoff';
export {
  createProducerConnection,
  createSubscriberConnection,
  createWorkerConnection,
  duplicateConnection,
  isCluster,
  reconnectDelayMs,
  redisCall,
  waitForReady,
  type ConnectionOptions,
  type RedisConnection,
} from './connections';
export { CLUSTER_SLOTS, hashTagOf, keySlot } from './key-slot';
export {
  ackKey,
  deadLetterContentKey,
  deadLetterKey,
  deadTokenKey,
  idempotencyKey,
  finalOutcomeKey,
  KEY_ROOT,
  isShardedOutcomeChannel,
  outcomeChannel,
  pushQueueName,
  pushQueueShard,
  pushQueueShards,
  type QueueShard,
  queuePrefix,
  rateLimitKey,
  TENANTS_KEY,
  type RateScope,
} from './names';
export { SEALED_FIELDS } from './content-encoding';
export { keyedHasher, type KeyedHasher } from './keyed-hash';
export {
  createOutcomeListener,
  OutcomeListener,
  publishOutcome,
  publishOutcomes,
  type OutcomeMessage,
} from './outcomes';
export {
  ENVELOPE_FORMAT,
  envelopeMeta,
  isEnvelope,
  PUSH_FIELDS,
  type EnvelopePush,
  type EnvelopePushMeta,
  type SealedEnvelope,
} from './envelope';
export { IdempotencyStore, type IdempotencyOptions, type Reservation } from './idempotency';
export { DeadLetters, type DeadLetter, type DeadLetterEntry, type DeadLetterOptions } from './dead-letters';
export {
  redriveDeadLetters,
  type RedriveOptions,
  type RedriveResult,
  type RedriveSkipReason,
} from './redrive';
export { oldestWaitingMs, RegionQueues, type QueueStatus, type RegionQueuesOptions } from './region-queues';
export {
  createPayloadCipher,
  type PayloadCipher,
  type PackedRouting,
  type PayloadKey,
  type SealedPushJob,
  ROUTING_FIELDS,
  SEALED_JOB_VERSIONS,
  sealedRouting,
} from './payload-cipher';
export {
  addEnvelope,
  ENVELOPE_JOB_NAME,
  openPushQueue,
  PushProducer,
  type EnqueueResult,
  type PushProducerOptions,
} from './producer';
export {
  PushConsumer,
  type JobDisposition,
  type JobHandler,
  type OpenedJob,
  type PushConsumerOptions,
  type UnreadableJob,
} from './consumer';
export { DeadTokenCache, type DeadTokenCacheOptions } from './dead-tokens';
export { RandomPool } from './random-pool';
export { AckTracker, type AckTrackerOptions } from './ack-tracker';
export { FinalOutcomes, IDEMPOTENCY_WINDOW_MS, type FinalOutcomesOptions } from './final-outcomes';
export { leftoverShards } from './shards';
export { MAX_QUEUE_SHARDS } from '@hpns/runtime';
