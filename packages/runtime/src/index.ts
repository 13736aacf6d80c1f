export {
  AdminServer,
  bearerMatches,
  createAdminServer,
  sendMetrics,
  sendUnauthorized,
  type AdminServerOptions,
  type ReadinessCheck,
} from './admin-server';
export {
  CONFIG_ENV_VARS,
  isLoopbackAddress,
  loadConfig,
  loadRedisConfig,
  redactRedisUrl,
  type LoadConfigOptions,
  type LoadedConfig,
  type RedisConfig,
} from './config';
export { MAX_QUEUE_SHARDS, parseRedisTarget, type RedisTarget } from './redis-target';
export { parseListenAddress, type ConfigEnv, type ConfigFiles } from './config-env';
export { nodeConfigFiles, resolveTokenHashKey, summarizeConfig, tokenHashKeyOf } from './config-summary';
export { appleCertPasswordEnvName, GOOGLE_TOKEN_URI } from './config-targets';
export {
  Secret,
  type AndroidTargetConfig,
  type AppleAuth,
  type AppleTargetConfig,
  type HpnsConfig,
  type LogConfig,
  type LogLevel,
  type PayloadKeyConfig,
  type RedisRegionConfig,
  type TargetConfig,
  type ThrottleConfig,
} from './config-types';
export {
  createLogger,
  redactToken,
  TOKEN_PREFIX_LENGTH,
  type Logger,
  type LoggerOptionsInput,
} from './logger';
export { createMetricsRegistry, Registry, type MetricsRegistryOptions } from './metrics';
export { readProxyConfigFile, type ProxyFileReadResult, type ProxyFileSettings } from './proxy-config-file';
export {
  GracefulShutdown,
  type ShutdownOptions,
  type ShutdownReport,
  type ShutdownStep,
  type SignalSource,
  type StepReport,
} from './shutdown';
export {
  type AdminAccessConfig,
  type DeadLetterConfig,
  type IngressConfig,
  type ListenerConfig,
  type ListenerModeSetting,
  type ProviderEndpointsConfig,
  type ServiceConfig,
  type WorkerConfig,
} from './config-service';
