import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { boundedPushType } from '@hpns/protocol';

const ENDPOINTS = ['send_push', 'ack'] as const;
const ACK_PLATFORMS = new Set(['ios', 'android']);
const RATE_SCOPES = new Set(['tenant', 'tpns-server', 'tpns-caller', 'throttle']);
const ADDRESS_SOURCES = new Set(['socket', 'header', 'header_invalid']);
/** Per-push lookups that a push may go without when the node that holds their key is away. */
export const SKIPPABLE_LOOKUPS = ['dead_token', 'idempotency'] as const;
export type SkippableLookup = (typeof SKIPPABLE_LOOKUPS)[number];

/** What the ingress's in-memory caches hold (TtlCacheStats of the tenant registry). */
export interface CacheStatsSource {
  readonly cacheStats: { entries: number; bytes: number };
}

/** Bounded label values (STYLE.md §12): anything unknown becomes `other`. */
function bounded(value: string, allowed: ReadonlySet<string>): string {
  return allowed.has(value) ? value : 'other';
}

/** The ingress's metrics, on the registry it is given (never the global one). */
export class IngressMetrics {
  readonly #results: Counter<'endpoint' | 'result' | 'region'>;
  readonly #badRequests: Counter<'endpoint' | 'reason'>;
  readonly #acks: Counter<'platform' | 'type'>;
  readonly duration: Histogram<'endpoint'>;
  readonly #timeToDevice: Histogram<'platform'>;
  readonly #regions: ReadonlySet<string>;
  readonly #rateLimited: Counter<'scope'>;
  readonly #callerAddresses: Counter<'source'>;
  readonly #lookupsSkipped: Counter<'lookup'>;
  #tenantCache: CacheStatsSource | undefined;

  constructor(registry: Registry, regions: readonly string[]) {
    this.#regions = new Set(regions);
    this.#results = new Counter({
      name: 'hpns_ingress_requests_total',
      help: 'API requests by endpoint, result (ok, remove, fail, remove_cached, duplicate, rate_limited, not_registered, wrong_region, region_not_served, unavailable, internal_error) and region.',
      labelNames: ['endpoint', 'result', 'region'],
      registers: [registry],
    });
    this.#badRequests = new Counter({
      name: 'hpns_ingress_bad_requests_total',
      help: 'Requests refused by the push-proxy validation (the proxy’s service_bad_request_total), by failed check: decode, server_id, device_id, platform (ack: id, type), and the bounds on caller-chosen ids (server_id_invalid, device_id_invalid, id_invalid).',
      labelNames: ['endpoint', 'reason'],
      registers: [registry],
    });
    this.#acks = new Counter({
      name: 'hpns_ingress_acks_total',
      help: 'Delivery receipts forwarded by Mattermost servers, by client platform and push type.',
      labelNames: ['platform', 'type'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'hpns_ingress_request_duration_seconds',
      help: 'Time from request start to answer, by endpoint (send_push includes the wait for the outcome).',
      labelNames: ['endpoint'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
      registers: [registry],
    });
    for (const endpoint of ENDPOINTS) this.duration.zero({ endpoint });
    this.#rateLimited = new Counter({
      name: 'hpns_ingress_rate_limited_total',
      help: 'Requests refused by a rate limit, by the limit that refused it: tenant (paid tier), tpns-server, tpns-caller (free tier send_push, per server id and per caller address, across regions), throttle (ThrottlePerSec, per caller and process, any route of an open listener).',
      labelNames: ['scope'],
      registers: [registry],
    });
    for (const scope of RATE_SCOPES) this.#rateLimited.inc({ scope }, 0);
    this.#callerAddresses = new Counter({
      name: 'hpns_ingress_caller_addresses_total',
      help: 'Caller addresses taken for the free tier’s limit, by source: socket, header (the configured proxy header), header_invalid (configured but missing or unparsable: the socket peer was used).',
      labelNames: ['source'],
      registers: [registry],
    });
    this.#lookupsSkipped = new Counter({
      name: 'hpns_ingress_lookups_skipped_total',
      help: 'Pushes queued without a per-push lookup because the Redis node holding its key was away (a cluster node failing over) while the push’s queue shard could still take it: dead_token (the provider answers for a dead token instead), idempotency (a repeated push within the window may then be delivered twice).',
      labelNames: ['lookup'],
      registers: [registry],
    });
    for (const lookup of SKIPPABLE_LOOKUPS) this.#lookupsSkipped.inc({ lookup }, 0);
    const cacheStats = () => this.#tenantCache?.cacheStats;
    new Gauge({
      name: 'hpns_ingress_tenant_cache_entries',
      help: 'Entries in the tenant registry’s in-memory caches (found and not registered).',
      registers: [registry],
      collect() {
        this.set(cacheStats()?.entries ?? 0);
      },
    });
    new Gauge({
      name: 'hpns_ingress_tenant_cache_bytes',
      help: 'Estimated bytes held by the tenant registry’s in-memory caches (bounded by their byte limit).',
      registers: [registry],
      collect() {
        this.set(cacheStats()?.bytes ?? 0);
      },
    });
    this.#timeToDevice = new Histogram({
      name: 'hpns_push_time_to_device_seconds',
      help: 'From send_push accepted to the app’s delivery receipt (device clock), for delivered pushes that were acked, by client platform. Its count over hpns deliveries is the delivery ratio.',
      labelNames: ['platform'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800],
      registers: [registry],
    });
  }

  result(endpoint: (typeof ENDPOINTS)[number], result: string, region?: string): void {
    this.#results.inc({
      endpoint,
      result,
      region: region !== undefined && this.#regions.has(region) ? region : 'none',
    });
  }

  /** The cache whose size the tenant-cache gauges report. */
  watchTenantCache(source: CacheStatsSource): void {
    this.#tenantCache = source;
  }

  rateLimited(scope: string): void {
    this.#rateLimited.inc({ scope: bounded(scope, RATE_SCOPES) });
  }

  lookupSkipped(lookup: SkippableLookup): void {
    this.#lookupsSkipped.inc({ lookup });
  }

  callerAddress(source: string): void {
    this.#callerAddresses.inc({ source: bounded(source, ADDRESS_SOURCES) });
  }

  badRequest(endpoint: (typeof ENDPOINTS)[number], reason: string): void {
    this.#badRequests.inc({ endpoint, reason });
  }

  timeToDevice(platform: string, seconds: number): void {
    // A device clock far off makes the figure meaningless: keep only plausible values.
    if (seconds >= 0 && seconds <= 3600)
      this.#timeToDevice.observe({ platform: bounded(platform, ACK_PLATFORMS) }, seconds);
  }

  ack(platform: string, type: string): void {
    this.#acks.inc({ platform: bounded(platform, ACK_PLATFORMS), type: boundedPushType(type) });
  }
}
