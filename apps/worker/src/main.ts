// Composition root of a worker (STYLE.md §9): one region per process (HPNS_WORKER_REGION), every collaborator
// built here and passed down.
import { isHpnsError, type ProviderKind, type Region } from '@hpns/protocol';
import {
  AckTracker,
  createPayloadCipher,
  createWorkerConnection,
  DeadTokenCache,
  FinalOutcomes,
  keyedHasher,
  publishOutcome,
  PushConsumer,
  waitForReady,
} from '@hpns/queue';
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
import { createPushProcessor } from './processor';
import { createProviders } from './providers';
import { WorkerMetrics } from './worker-metrics';

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
  // Only this region's Redis: a worker never holds a connection to another region (data residency).
  const url = config.redis[region]?.url.reveal() as string;
  const connection = createWorkerConnection({
    url,
    ca: config.redis[region]?.caPem,
    connectionName: `hpns-worker-${region}`,
  });
  // The worker connection's settings, plus auto-pipelining: the outcome PUBLISH, ack SET and dead-token SET of
  // every job that finishes in one event-loop turn go to Redis in one write instead of one write (a syscall
  // here, a read event in Redis) per command. Only plain commands use this connection; BullMQ's own connection
  // stays unpipelined (BullMQ does not support auto-pipelining).
  const side = connection.duplicate({
    connectionName: `hpns-worker-side-${region}`,
    enableAutoPipelining: true,
  });
  for (const c of [connection, side])
    c.on('error', (err) => logger.warn({ event: 'redis.error', err }, 'redis connection error'));
  await waitForReady(side, 60_000);

  const providers = createProviders(config, registry, logger);
  const kinds = (Object.keys(providers) as ProviderKind[]).filter((kind) => providers[kind] !== undefined);
  const deadTokens = new DeadTokenCache({ region, connection: side, hasher });
  const acks = new AckTracker({ region, connection: side, hasher });
  const finalOutcomes = new FinalOutcomes({ region, connection: side });
  let consumers: PushConsumer[] = [];
  const metrics = new WorkerMetrics(registry, () => consumers.map((c) => c.queue), [
    ...config.apple.map((t) => t.type),
    ...config.android.map((t) => t.type),
  ]);
  metrics.circuitsClosed([
    ...(providers.apns === undefined ? [] : config.apple.map((t) => circuitTarget('apns', t.type))),
    ...(providers.fcm === undefined ? [] : config.android.map((t) => circuitTarget('fcm', t.type))),
  ]);
  const processor = createPushProcessor({
    providers,
    deadTokens,
    acks,
    finalOutcomes,
    publish: (channel, message) => publishOutcome(side, channel, message),
    logger: logger.child({ component: 'processor' }),
    onCircuitChange: (target, state) => metrics.circuit(target, state),
    onDecision: (job, decision, durationMs) => metrics.decision(job, decision, durationMs, Date.now()),
  });
  consumers = kinds.map(
    (provider) =>
      new PushConsumer({
        region,
        provider,
        connection,
        cipher,
        processor,
        concurrency: config.worker.concurrency,
        onUnreadable: (jobId, err, routing, final) => {
          logger.error({ event: 'job.unreadable', jobId, final, err }, 'job content cannot be opened');
          // Tell the waiting ingress, so the Mattermost server does not get an OK for a push that is gone.
          if (final && routing !== undefined) {
            const response = {
              status: 'FAIL',
              error: 'push could not be read by the delivery worker',
            } as const;
            if (routing.replyTo !== undefined) {
              void publishOutcome(side, routing.replyTo, { requestId: routing.requestId, response }).catch(
                () => undefined,
              );
            }
            void finalOutcomes
              .remember(routing.requestId, routing.acceptedAtMs, response)
              .catch(() => undefined);
          }
        },
      }),
  );
  for (const consumer of consumers) consumer.start();

  const admin = await createAdminServer({
    registry,
    logger,
    ...parseListenAddress(config.adminListenAddress),
    readinessChecks: [{ name: `redis-${region}`, check: async () => void (await side.ping()) }],
  });
  logger.info(
    {
      event: 'worker.started',
      region,
      providers: kinds,
      admin: admin.url,
      // BullMQ's lock tokens start with these ids: they tie a locked job in Redis to this process.
      workerIds: consumers.map((c) => c.worker.id),
    },
    `worker for ${region} started`,
  );

  const shutdown = new GracefulShutdown({ logger, timeoutMs: config.shutdownTimeoutMs });
  shutdown
    .add('admin.not-ready', () => admin.setReady(false))
    // Stop fetching and let jobs in flight finish; jobs still running at the deadline go back to the queue
    // when their lock expires (at-least-once, never lost).
    .add('consumers.close', async () => {
      await Promise.all(consumers.map((c) => c.close(Math.max(1000, config.shutdownTimeoutMs - 2000))));
    })
    .add('providers.close', async () => {
      await Promise.allSettled(kinds.map((kind) => providers[kind]?.close()));
    })
    .add('redis.close', async () => {
      await Promise.allSettled([connection.quit(), side.quit()]);
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
