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
export { createLatencySampler, createRng, type LatencyProfile, type Rng } from './random';
export { createTestCa, type TestCa, type TestCaOptions } from './tls/test-ca';
export { startTestRedis, TestRedis, type TestRedisOptions } from './redis/redis-server';
