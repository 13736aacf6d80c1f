import { type Region } from '@hpns/protocol';
import { type RateScope } from '@hpns/queue';

/**
 * Who may push through a listener (DESIGN.md "send_push, step by step" 3):
 * - `open`: anyone (the self-hosted default, as the Go proxy);
 * - `tpns`: anyone, under a strict rate limit per server id and per caller address, whatever the region (the
 *   free test tier);
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

/** One rate limit a request is charged against. */
export interface RateBucket {
  /** The region whose Redis holds the bucket. */
  region: Region;
  scope: RateScope;
  /** What is counted: a server id or a caller address (hashed before it reaches Redis). */
  id: string;
  /** Sustained rate, requests per second (> 0). */
  perSec: number;
  /** Requests that may come at once after a quiet spell. Default: one second's allowance, at least 1. */
  burst?: number;
}

/** Rate limits shared across ingress instances through Redis. */
export interface RateLimiter {
  /**
   * Charges one request to each bucket in order; resolves the scope of the first bucket that refused (the
   * later ones are not charged), or undefined when every bucket allowed it. Rejects only when a store is
   * unreachable.
   */
  take(buckets: readonly RateBucket[]): Promise<RateScope | undefined>;
}
