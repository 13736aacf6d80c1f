// Composition root of a worker (STYLE.md §9): one region per process (HPNS_WORKER_REGION), every collaborator
// built here and passed down.
import { isHpnsError, type ProviderKind, type Region } from '@hpns/protocol';
import { createPayloadCipher, keyedHasher } from '@hpns/queue';
import {
  createAdminServer,
  createLogger,
  createMetricsRegistry,
  GracefulShutdown,
  loadConfig,
  nodeConfigFiles,
  parseListenAddress,
  tokenHashKeyOf,
  summarizeConfig,
  type HpnsConfig,
} from '@hpns/runtime';
import { circuitTarget } from './circuit-breaker';
import { createProviders } from './providers';
import { WorkerMetrics } from './worker-metrics';
import { WorkerRegion } from './worker-region';

export async function main(): Promise<void> {
  let config: HpnsConfig;
  let warnings: readonly string[];
  try {
    ({ config, warnings } = loadConfig(process.env, nodeConfigFiles));
    if (config.worker.region === undefined) throw new Error('HPNS_WORKER_REGION is required for a worker');
    if (config.payloadKeys.length === 0)
      throw new Error('HPNS_PAYLOAD_KEYS is required for a worker (it must decrypt what the ingress sealed)');
  } catch (error) {
    const message =
      isHpnsError(error, 'HPNS_CONFIG_INVALID') || error instanceof Error ? error.message : String(error);
    process.stderr.write(`hpns worker: ${message}\n`);
    process.exit(2);
  }
  const region = config.worker.region as Region;
  const logger = createLogger({ level: config.log.level, base: { service: 'worker', region } });
  for (const warning of warnings) logger.warn({ event: 'config.warning' }, warning);
  logger.info({ event: 'config.loaded', config: summarizeConfig(config) }, 'configuration loaded');

  const registry = createMetricsRegistry({ defaultLabels: { service: 'worker', region } });
  const keys = config.payloadKeys.map((k) => ({ id: k.id, key: k.key.reveal() }));
  const cipher = createPayloadCipher(keys, config.currentPayloadKeyId);
  const hasher = keyedHasher(tokenHashKeyOf(config, keys, logger));

  const providers = createProviders(config, registry, logger);
  const kinds = (Object.keys(providers) as ProviderKind[]).filter((kind) => providers[kind] !== undefined);
  // Read at scrape time, once the region below exists.
  const metrics = new WorkerMetrics(registry, () => worker.queues, [
    ...config.apple.map((t) => t.type),
    ...config.android.map((t) => t.type),
  ]);
  metrics.circuitsClosed([
    ...(providers.apns === undefined ? [] : config.apple.map((t) => circuitTarget('apns', t.type))),
    ...(providers.fcm === undefined ? [] : config.android.map((t) => circuitTarget('fcm', t.type))),
  ]);
  const worker = await WorkerRegion.open({
    region,
    redisUrl: config.redis[region]?.url.reveal() as string,
    redisCluster: config.redis[region]?.cluster ?? false,
    shards: config.redis[region]?.shards ?? 1,
    redisCaPem: config.redis[region]?.caPem,
    cipher,
    hasher,
    providers,
    logger,
    concurrency: config.worker.concurrency,
    holdDeadLetterContent: config.deadLetters.holdContent,
    policy: { backoff: { baseDelayMs: config.worker.retryBaseMs, maxDelayMs: config.worker.retryMaxMs } },
    breaker: { openMs: config.worker.circuitOpenMs },
    onCircuitChange: (target, state) => metrics.circuit(target, state),
    onDecision: (decided, nowMs) => metrics.decision(decided, nowMs),
  });
  worker.start();

  const admin = await createAdminServer({
    registry,
    logger,
    ...parseListenAddress(config.adminListenAddress),
    ...(config.admin.token !== undefined ? { token: config.admin.token } : {}),
    readinessChecks: [{ name: `redis-${region}`, check: () => worker.ping() }],
  });
  logger.info(
    {
      event: 'worker.started',
      region,
      providers: kinds,
      admin: admin.url,
      // BullMQ's lock tokens start with these ids: they tie a locked job in Redis to this process.
      workerIds: worker.workerIds,
    },
    `worker for ${region} started`,
  );

  const shutdown = new GracefulShutdown({ logger, timeoutMs: config.shutdownTimeoutMs });
  shutdown
    .add('admin.not-ready', () => admin.setReady(false))
    // Stop fetching and let jobs in flight finish; jobs still running at the deadline go back to the queue
    // when their lock expires (at-least-once, never lost).
    .add('region.close', () => worker.close(Math.max(1000, config.shutdownTimeoutMs - 2000)))
    .add('providers.close', async () => {
      await Promise.allSettled(kinds.map((kind) => providers[kind]?.close()));
    })
    .add('admin.close', () => admin.close())
    .listen(process);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `hpns worker failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(1);
  });
}
