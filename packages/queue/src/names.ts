import { isRegionName, type ProviderKind, type Region } from '@hpns/protocol';

/**
 * Names of everything HPNS keeps in Redis. BullMQ builds its keys as `<prefix>:<queue>:<suffix>` and its Lua
 * scripts touch several keys of one queue at once, so in Redis Cluster all keys of a queue must hash to one
 * slot: the prefix carries the queue name as a hash tag (`hpns:{push-us-apns}`), which keeps each queue on one
 * slot while different queues spread over the cluster (reference/operations.md §A1 "Redis Cluster").
 * BullMQ forbids `:` in queue names and job ids; region names cannot hold one (REGION_PATTERN).
 */

/** The root of every HPNS key. */
export const KEY_ROOT = 'hpns';

/** `push-<region>-<provider>`, e.g. `push-de-fcm`. */
export function pushQueueName(region: Region, provider: ProviderKind): string {
  if (!isRegionName(region)) throw new Error(`not a region name: ${JSON.stringify(region)}`);
  return `push-${region}-${provider}`;
}

/** The BullMQ `prefix` of a queue: `hpns:{<queue>}`. */
export function queuePrefix(queueName: string): string {
  return `${KEY_ROOT}:{${queueName}}`;
}

/** The pub/sub channel on which workers publish outcomes for one ingress process of a region. */
export function outcomeChannel(region: Region, ingressId: string): string {
  return `${KEY_ROOT}:{outcomes-${region}}:${ingressId}`;
}

/** The key of the dead-token cache entry for a token hash (never the token itself); single-key, so no hash tag. */
export function deadTokenKey(region: Region, tokenHash: string): string {
  return `${KEY_ROOT}:dead-${region}:${tokenHash}`;
}

/** The hash of registered tenants (field: server_id, as the admin tool registered it; value: the record). */
export const TENANTS_KEY = `${KEY_ROOT}:tenants`;

/** The key joining a delivered push with its ack (`AckTracker`), by the ack id's keyed hash. */
export function ackKey(region: Region, ackIdHash: string): string {
  return `${KEY_ROOT}:ack-${region}:${ackIdHash}`;
}

/**
 * What a rate limit counts: a tenant of the paid tier (in its home region), a server of the free tier, or a
 * caller address of the free tier (both in the deployment's limit region).
 */
export type RateScope = 'tenant' | 'tpns-server' | 'tpns-caller';

/** The bucket of one rate limit, by the keyed hash of what it counts (never a raw server id or address). */
export function rateLimitKey(scope: RateScope, idHash: string): string {
  return `${KEY_ROOT}:rl:${scope}:${idHash}`;
}

/**
 * A push's final outcome when it was not OK, kept for the idempotency window, so that a second copy of the push
 * (same ack_id and device) is answered what the first got instead of a blind OK. Keyed by the request id of
 * the first copy (an id HPNS made, never one a caller chose).
 */
export function finalOutcomeKey(region: Region, requestId: string): string {
  return `${KEY_ROOT}:final-${region}:${requestId}`;
}

/**
 * One slot (a window of time) of one shard of the idempotency store (idempotency.ts). The shard is a hash tag, so
 * a slot and the one before it share a cluster slot, while the 64 shards spread over the cluster.
 */
export function idempotencyKey(region: Region, shard: string, slot: number): string {
  return `${KEY_ROOT}:{idem-${region}-${shard}}:${slot}`;
}

/** The dead-letter stream of a region: one record per push that failed for good (dead-letters.ts). */
export function deadLetterKey(region: Region): string {
  return `${KEY_ROOT}:dlq-${region}`;
}

/** The sealed content of a dead-lettered push, held until its time to live ends when the setting asks for it. */
export function deadLetterContentKey(region: Region, requestId: string): string {
  return `${KEY_ROOT}:dlq-content-${region}:${requestId}`;
}
