export {
  ControlRouter,
  ControlServer,
  createControlServer,
  type ControlHandler,
  type ControlReply,
} from './control-server';
export {
  generateApnsKey,
  generateServiceAccount,
  randomAppleId,
  type TestApnsKey,
  type TestServiceAccount,
} from './credentials';
export {
  CpuMeter,
  formatCpuReport,
  freePort,
  machineCpu,
  parseStatCpu,
  processCpu,
  type CpuReport,
  type CpuTime,
} from './bench-kit';
export { createLatencySampler, createRng, type LatencyProfile, type Rng } from './random';
export { createTestCa, type TestCa, type TestCaOptions } from './tls/test-ca';
export { startTestRedis, TestRedis, type TestRedisOptions } from './redis/redis-server';
export {
  REDIS_BACKEND_KINDS,
  startTestRedisBackend,
  TEST_CLUSTER_SHARDS,
  TestRedisBackend,
  type RedisBackendKind,
  type TestRedisBackendOptions,
} from './redis/redis-backend';
export { CommandMonitor, parseMonitorLine } from './redis/redis-monitor';
export {
  parseClusterNodes,
  startTestRedisCluster,
  TestRedisCluster,
  type ClusterNode,
  type TestRedisClusterOptions,
} from './redis/redis-cluster';
export { ApnsSimulator, createApnsSimulator } from './apns/apns-simulator';
export { addApnsControlRoutes } from './apns/control-routes';
export { type ApnsCapturedRequest, type ApnsCounters, type ApnsRequestOutcome } from './apns/counters';
export { type ApnsFaultProfile, type ApnsInjectedFault } from './apns/faults';
export { type ApnsSimulatorOptions, type ApnsStreamLimitMode } from './apns/options';
export { signApnsProviderToken, type ApnsSigningKey } from './apns/provider-token';
export { APNS_PUSH_TYPE_SUFFIX, type ApnsSimPushType } from './apns/push-types';
export { APNS_REASON_STATUS, type ApnsReason } from './apns/reasons';
export {
  APNS_MAGIC_TOKEN_PREFIXES,
  apnsMagicToken,
  type ApnsEnvironment,
  type ApnsMagicTokenKind,
  type ApnsTokenEntry,
  type ApnsTokenState,
} from './apns/token-registry';
export {
  createAccessTokenStore,
  type AccessTokenGrant,
  type AccessTokenRecord,
  type AccessTokenStore,
} from './oauth/access-token-store';
export { type FaultRate } from './oauth/fault-plan';
export {
  GOOGLE_TOKEN_URL,
  JWT_BEARER_GRANT_TYPE,
  type ServiceAccountRegistration,
} from './oauth/oauth-assertion';
export { addOAuthControlRoutes } from './oauth/oauth-control';
export {
  createOAuthSimulator,
  OAuthSimulator,
  type OAuthCounters,
  type OAuthFault,
  type OAuthSimulatorOptions,
} from './oauth/oauth-simulator';
export { type ConnectionStats } from './oauth/secure-server';
export { FCM_SCOPES } from './fcm/fcm-auth';
export { addFcmControlRoutes } from './fcm/fcm-control';
export { fcmReplies, type FcmReply, type FieldViolation } from './fcm/fcm-errors';
export { type FcmQuotaOptions } from './fcm/fcm-quota';
export { createFcmSimulator, FcmSimulator } from './fcm/fcm-simulator';
export {
  FCM_DEAD_TOKEN_PREFIX,
  FCM_TOKEN_STATES,
  type FcmTokenRegistration,
  type FcmTokenState,
  type UnknownTokenPolicy,
} from './fcm/fcm-tokens';
export {
  FCM_FAULT_KINDS,
  type CapturedFcmRequest,
  type FcmCounters,
  type FcmFault,
  type FcmFaultKind,
  type FcmSimulatorOptions,
} from './fcm/fcm-types';
export { FCM_MAX_PAYLOAD_BYTES, FCM_MAX_TOPIC_PAYLOAD_BYTES, FCM_MAX_TTL_SECONDS } from './fcm/fcm-validate';
export {
  SimulatorStack,
  startSimulatorStack,
  type SimulatorStackInfo,
  type SimulatorStackOptions,
} from './simulator-stack';
export { spawnService, stopService, type ServiceProcess, type SpawnServiceOptions } from './service-process';
export { ackIdOf, ReceiptLog, type Receipt, type ReceiptPage } from './receipt-log';
