// Composition root of the ingress (STYLE.md §9): reads the configuration once, builds every collaborator and
// passes it down; nothing else in the app reads the environment or holds a module-level client.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isHpnsError, type Region } from '@hpns/protocol';
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
  type Logger,
} from '@hpns/runtime';
import { type ListenerMode } from './entitlement';
import { IngressMetrics } from './ingress-metrics';
import { createIngressServer } from './ingress-server';
import { CallerThrottle } from './throttle';
import { IngressRegion } from './ingress-region';
import { PushApi } from './push-api';
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
  const cipher = createPayloadCipher(keys, config.currentPayloadKeyId, {
    format: config.sealedJobFormat === 2 ? 2 : 3,
  });
  const hasher = keyedHasher(tokenHashKeyOf(config, keys, logger));

  const regions = new Map<Region, IngressRegion>();
  try {
    for (const region of config.regions) {
      regions.set(
        region,
        await IngressRegion.open({
          region,
          redisUrl: config.redis[region]?.url.reveal() as string,
          redisCluster: config.redis[region]?.cluster ?? false,
          redisCaPem: config.redis[region]?.caPem,
          instanceId,
          cipher,
          hasher,
          logger,
          producer: {
            format: config.sealedJobFormat,
            shards: config.redis[region]?.shards ?? 1,
            waitReplicas: config.redis[region]?.waitReplicas ?? 0,
            onReservationSkipped: () => metrics.lookupSkipped('idempotency'),
          },
        }),
      );
    }
  } catch (error) {
    await Promise.allSettled([...regions.values()].map((r) => r.close(1000)));
    throw error;
  }
  if (regions.size === 0) throw new Error('no region configured');
  const lookupsByRegion = new Map([...regions].map(([region, bound]) => [region, bound.lookups]));

  const targets = new Map(config.targets.map((t) => [t.type, t.provider]));
  const tenants = new RedisTenantRegistry({ connections: lookupsByRegion, hasher });
  metrics.watchTenantCache(tenants);
  const api = new PushApi({
    regions,
    routing: {
      served: config.regions,
      hosts: config.ingress.regionHosts,
      knownRegions: config.ingress.knownRegions,
      ...(config.ingress.defaultRegion !== undefined ? { defaultRegion: config.ingress.defaultRegion } : {}),
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
  const { throttle } = config;
  const server = await createIngressServer({
    ...(throttle.enabled
      ? {
          throttle: new CallerThrottle({
            perSec: throttle.perSec,
            storeSize: throttle.memoryStoreSize,
            varyByHeaders: throttle.varyByHeaders,
          }),
        }
      : {}),
    ...(config.enableMetrics ? { apiMetrics: { registry, token: config.admin.token } } : {}),
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
    ...(config.admin.token !== undefined ? { token: config.admin.token } : {}),
    readinessChecks: [...regions].map(([region, bound]) => ({
      name: `redis-${region}`,
      check: () => bound.ping(),
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
    .add('regions.close', async () => {
      await Promise.all([...regions.values()].map((bound) => bound.close()));
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
