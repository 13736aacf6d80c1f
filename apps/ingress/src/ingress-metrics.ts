import { Counter, Histogram, type Registry } from 'prom-client';

const ENDPOINTS = ['send_push', 'ack'] as const;
const ACK_PLATFORMS = new Set(['ios', 'android']);
const PUSH_TYPES = new Set(['message', 'clear', 'update_badge', 'session', 'test']);

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

  constructor(registry: Registry, regions: readonly string[]) {
    this.#regions = new Set(regions);
    this.#results = new Counter({
      name: 'hpns_ingress_requests_total',
      help: 'API requests by endpoint, result (ok, remove, fail, remove_cached, rate_limited, not_registered, wrong_region, region_not_served, unavailable, internal_error) and region.',
      labelNames: ['endpoint', 'result', 'region'],
      registers: [registry],
    });
    this.#badRequests = new Counter({
      name: 'hpns_ingress_bad_requests_total',
      help: 'Requests refused by the push-proxy validation (the proxy’s service_bad_request_total), by failed check.',
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

  badRequest(endpoint: (typeof ENDPOINTS)[number], reason: string): void {
    this.#badRequests.inc({ endpoint, reason });
  }

  timeToDevice(platform: string, seconds: number): void {
    // A device clock far off makes the figure meaningless: keep only plausible values.
    if (seconds >= 0 && seconds <= 3600)
      this.#timeToDevice.observe({ platform: bounded(platform, ACK_PLATFORMS) }, seconds);
  }

  ack(platform: string, type: string): void {
    this.#acks.inc({ platform: bounded(platform, ACK_PLATFORMS), type: bounded(type, PUSH_TYPES) });
  }
}
