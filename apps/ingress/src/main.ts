// Composition root of the ingress (STYLE.md §9): reads the configuration once, builds every collaborator and
// passes it down; nothing else in the app reads the environment or holds a module-level client.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isHpnsError, type Region } from '@hpns/protocol';
import {
  AckTracker,
  createOutcomeListener,
  createPayloadCipher,
  createProducerConnection,
  createWorkerConnection,
  DeadTokenCache,
  FinalOutcomes,
  keyedHasher,
  outcomeChannel,
  PushProducer,
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
  type Logger,
} from '@hpns/runtime';
import { type ListenerMode } from './entitlement';
import { IngressMetrics } from './ingress-metrics';
import { createIngressServer } from './ingress-server';
import { PushApi, type RegionBinding } from './push-api';
import { RedisRateLimiter } from './rate-limiter';
import { RedisTenantRegistry } from './tenant-registry';

/** The payload keys, or in development mode one generated for this process (never shared: dev only). */
export function payloadKeysOf(config: HpnsConfig, logger: Logger): { id: string; key: Buffer }[] {
  const keys = config.payloadKeys.map((k) => ({ id: k.id, key: k.key.reveal() }));
  if (keys.length > 0) return keys;
  logger.warn(
    { event: 'config.dev_payload_key' },
    'HPNS_DEV_MODE: using a generated payload key; workers must get the same HPNS_PAYLOAD_KEYS',
  );
  return [{ id: 'dev', key: randomBytes(32) }];
}

function version(): { version: string; hash: string } {
  try {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    return { version: pkg.version, hash: process.env['HPNS_BUILD_HASH'] ?? 'unknown' };
  } catch {
    return { version: '0.0.0', hash: 'unknown' };
  }
}

export async function main(): Promise<void> {
  let config: HpnsConfig;
  let warnings: readonly string[];
  try {
    // The ingress never calls a provider: it reads the targets' types, not their keys (which need not be
    // mounted into it).
    ({ config, warnings } = loadConfig(process.env, nodeConfigFiles, { credentials: false }));
  } catch (error) {
    if (isHpnsError(error, 'HPNS_CONFIG_INVALID')) {
      process.stderr.write(`hpns ingress: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const instanceId = randomBytes(6).toString('hex');
  const logger = createLogger({
    level: config.log.level,
    base: { service: 'ingress', instance: instanceId },
  });
  for (const warning of warnings) logger.warn({ event: 'config.warning' }, warning);
  logger.info({ event: 'config.loaded', config: summarizeConfig(config) }, 'configuration loaded');

  const registry = createMetricsRegistry({ defaultLabels: { service: 'ingress' } });
  const metrics = new IngressMetrics(registry, config.regions);
  const keys = payloadKeysOf(config, logger);
  const cipher = createPayloadCipher(keys, config.currentPayloadKeyId, { format: config.sealedJobFormat });
  const hasher = keyedHasher(tokenHashKeyOf(config, keys, logger));

  const regions = new Map<Region, RegionBinding>();
  const connections: {
    region: Region;
    producer: ReturnType<typeof createProducerConnection>;
    lookups: ReturnType<typeof createProducerConnection>;
    subscriber: ReturnType<typeof createWorkerConnection>;
  }[] = [];
  for (const region of config.regions) {
    const url = config.redis[region]?.url.reveal() as string;
    const ca = config.redis[region]?.caPem;
    const producerConnection = createProducerConnection({
      url,
      ca,
      connectionName: `hpns-ingress-${region}-${instanceId}`,
    });
    // The per-request reads and writes (dead tokens, rate limits, tenants, acks) get a connection of their own.
    // BullMQ defines its 64 scripts on the producer connection, and ioredis copies every one of them into each
    // pipeline made on it (about 50 µs, against 5 µs on a plain connection): the auto-pipeline of these small
    // commands, one per event-loop turn, would pay that on every turn.
    const lookups = createProducerConnection({
      url,
      ca,
      connectionName: `hpns-ingress-lookup-${region}-${instanceId}`,
    });
    const subscriber = createWorkerConnection({
      url,
      ca,
      connectionName: `hpns-ingress-sub-${region}-${instanceId}`,
    });
    producerConnection.on('error', (err) =>
      logger.warn({ event: 'redis.error', region, err }, 'redis connection error'),
    );
    lookups.on('error', (err) =>
      logger.warn({ event: 'redis.error', region, err }, 'redis lookup connection error'),
    );
    subscriber.on('error', (err) =>
      logger.warn({ event: 'redis.error', region, err }, 'redis subscriber error'),
    );
    connections.push({ region, producer: producerConnection, lookups, subscriber });
    // Start only on a reachable Redis (an orchestrator restarts us); readiness covers later outages.
    await Promise.all([waitForReady(producerConnection, 30_000), waitForReady(lookups, 30_000)]);
    regions.set(region, {
      producer: new PushProducer({ region, connection: producerConnection, cipher }),
      outcomes: await createOutcomeListener(subscriber, outcomeChannel(region, instanceId)),
      deadTokens: new DeadTokenCache({ region, connection: lookups, hasher }),
      finalOutcomes: new FinalOutcomes({ region, connection: lookups }),
      acks: new AckTracker({ region, connection: lookups, hasher }),
    });
  }
  if (connections.length === 0) throw new Error('no region configured');
  const lookupsByRegion = new Map(connections.map(({ region, lookups }) => [region, lookups]));

  const targets = new Map(config.targets.map((t) => [t.type, t.provider]));
  const tenants = new RedisTenantRegistry({ connections: lookupsByRegion, hasher });
  metrics.watchTenantCache(tenants);
  const api = new PushApi({
    regions,
    routing: {
      served: config.regions,
      hosts: config.ingress.regionHosts,
      knownRegions: config.ingress.knownRegions,
    },
    targets: (type) => targets.get(type),
    tenants,
    rateLimiter: new RedisRateLimiter({ connections: lookupsByRegion, hasher }),
    hasher,
    tpnsRatePerSec: config.ingress.tpnsRatePerSec,
    tpnsCallerRatePerSec: config.ingress.tpnsCallerRatePerSec,
    tpnsLimitRegion: config.ingress.tpnsLimitRegion,
    waitMs: config.ingress.waitMs,
    testWaitMs: config.ingress.testWaitMs,
    pushTtlMs: config.pushTtlMs,
    logger: logger.child({ component: 'api' }),
    metrics,
  });
  const server = await createIngressServer({
    api,
    logger,
    metrics,
    version: version(),
    clientAddress: {
      header: config.ingress.clientAddressHeader,
      hops: config.ingress.clientAddressHops,
    },
    listeners: config.ingress.listeners.map((listener) => ({
      ...parseListenAddress(listener.address),
      mode: listener.mode as ListenerMode,
      ...(listener.tls
        ? { tls: { certPem: listener.tls.certPem, keyPem: listener.tls.keyPem.reveal() } }
        : {}),
    })),
  });
  const admin = await createAdminServer({
    registry,
    logger,
    ...parseListenAddress(config.adminListenAddress),
    readinessChecks: connections.map(({ region, producer, lookups }) => ({
      name: `redis-${region}`,
      check: async () => {
        await Promise.all([producer.ping(), lookups.ping()]);
      },
    })),
  });
  logger.info(
    {
      event: 'ingress.listening',
      listeners: server.addresses.map((a) => `${a.address}:${a.port}`),
      admin: admin.url,
    },
    'ingress listening',
  );

  const shutdown = new GracefulShutdown({ logger, timeoutMs: config.shutdownTimeoutMs });
  shutdown
    .add('admin.not-ready', () => admin.setReady(false))
    .add('http.drain', () => server.close(Math.max(config.ingress.testWaitMs, 1000)))
    .add('outcomes.close', async () => {
      for (const binding of regions.values()) await binding.outcomes.close();
    })
    .add('producers.close', async () => {
      for (const binding of regions.values()) await binding.producer.close();
    })
    .add('redis.close', async () => {
      for (const { producer, lookups, subscriber } of connections) {
        await Promise.allSettled([producer.quit(), lookups.quit(), subscriber.quit()]);
      }
    })
    .add('admin.close', () => admin.close())
    .listen(process);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `hpns ingress failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(1);
  });
}
