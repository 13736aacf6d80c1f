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
