import { type Region } from '@hpns/protocol';

/**
 * Who may push through a listener (DESIGN.md "send_push, step by step" 3):
 * - `open`: anyone (the self-hosted default, as the Go proxy);
 * - `tpns`: anyone, under a strict per-server rate limit (the free test tier);
 * - `hpns`: registered tenants only, each under its own limit (the paid service).
 */
export type ListenerMode = 'open' | 'tpns' | 'hpns';

export const LISTENER_MODES: readonly ListenerMode[] = ['open', 'tpns', 'hpns'];

/** A registered customer server. */
export interface Tenant {
  /** The Mattermost server's telemetry id (`server_id`). */
  serverId: string;
  tier: 'hpns' | 'tpns';
  /** Where this tenant's data lives; a global endpoint routes its pushes here. */
  homeRegion: Region;
  /** Pushes per second allowed for this server; 0 = no limit. */
  ratePerSec: number;
}

/** Looks tenants up (a cached Redis registry in production; an in-memory one in tests). */
export interface TenantLookup {
  /** The tenant, or undefined when the server is not registered. Rejects only when the registry is unreachable. */
  find(serverId: string): Promise<Tenant | undefined>;
}

/** Counts requests per server, region and window; shared across ingress instances through Redis. */
export interface RateLimiter {
  /** True when the request may go ahead. Rejects only when the store is unreachable. */
  take(region: Region, serverId: string, limitPerSec: number): Promise<boolean>;
}
