import { isRegionName, type ProviderKind, type Region } from '@hpns/protocol';
import { MAX_QUEUE_SHARDS } from '@hpns/runtime';
import { CLUSTER_SLOTS, keySlot } from './key-slot';

/**
 * Names of everything HPNS keeps in Redis. BullMQ builds its keys as `<prefix>:<queue>:<suffix>` and its Lua
 * scripts touch several keys of one queue at once, so in Redis Cluster all keys of a queue must hash to one
 * slot: the prefix carries the queue name as a hash tag (`hpns:{push-us-apns}`), which keeps each queue on one
 * slot while different queues spread over the cluster (reference/operations.md §A1 "Redis Cluster").
 * BullMQ forbids `:` in queue names and job ids; region names cannot hold one (REGION_PATTERN).
 */

/** The root of every HPNS key. */
export const KEY_ROOT = 'hpns';

/** `push-<region>-<provider>`, e.g. `push-de-fcm`: the queue of shard 0 (the only one on a single Redis). */
export function pushQueueName(region: Region, provider: ProviderKind): string {
  if (!isRegionName(region)) throw new Error(`not a region name: ${JSON.stringify(region)}`);
  return `push-${region}-${provider}`;
}

/** The BullMQ `prefix` of a queue: `hpns:{<queue>}` (shard 0; other shards carry a placed tag, pushQueueShard). */
export function queuePrefix(queueName: string): string {
  return `${KEY_ROOT}:{${queueName}}`;
}

/** One queue shard of a region and provider: the BullMQ queue name and prefix. */
export interface QueueShard {
  readonly region: Region;
  readonly provider: ProviderKind;
  readonly index: number;
  /** `push-us-apns` for shard 0, `push-us-apns-s<index>` for the others. */
  readonly name: string;
  /** The BullMQ prefix; its hash tag decides the cluster slot of every key of the shard. */
  readonly prefix: string;
}

/** Slots a placed shard may land in, from its target on: well under the closest spacing of 256 shards. */
const PLACEMENT_WINDOW = 16;

/**
 * Where shard `index` sits on the slot circle, as a fraction of it: a low-discrepancy sequence whose first
 * digit is in base 3 and the rest in base 2 (0, 1/3, 2/3, 1/6, 1/2, 5/6, 1/12, …). Any first S points are
 * spread evenly, exactly so for S = 3·2^k: one shard per master of a 3-master cluster at S = 3, two at 6.
 */
function shardPosition(index: number): number {
  let rest = Math.floor(index / 3);
  let reversed = 0;
  let scale = 0.5;
  while (rest > 0) {
    if (rest & 1) reversed += scale;
    rest >>= 1;
    scale /= 2;
  }
  return ((index % 3) + reversed) / 3;
}

/**
 * `<name>@<salt>` with the smallest salt that puts the tag's slot within PLACEMENT_WINDOW slots after `target`:
 * a hash tag placed on the slot circle (CRC16 spreads salts evenly, so about a thousand tries).
 */
function placedTag(name: string, target: number): string {
  let salt = 0;
  while ((keySlot(`${name}@${salt}`) - target + CLUSTER_SLOTS) % CLUSTER_SLOTS >= PLACEMENT_WINDOW) salt++;
  return `${name}@${salt}`;
}

const shardCache = new Map<string, QueueShard>();

/**
 * Queue shard `index` of a region and provider. Shard 0 is the queue of a single-Redis deployment, unchanged
 * (`hpns:{push-us-apns}`). Shard i ≥ 1 is `push-us-apns-s<i>` under the prefix `hpns:{push-us-apns-s<i>@<salt>}`,
 * where the salt is the smallest number that puts the tag's slot within a few slots after the shard's target:
 * shard 0's slot, moved on by shardPosition(i) of the 16384 slots. The first S shards are thus spread evenly
 * round the slot space, and a cluster that splits its slots evenly over M masters (as `redis-cli --cluster
 * create` does) holds S/M of them per master, ±1. A shard's name depends only on its index: raising the shard
 * count adds queues and moves none, so nothing queued is stranded. (The placement is part of the queue
 * layout: changing it would strand queued pushes.)
 */
export function pushQueueShard(region: Region, provider: ProviderKind, index: number): QueueShard {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_QUEUE_SHARDS) {
    throw new Error(`queue shard must be 0-${MAX_QUEUE_SHARDS - 1}, got ${index}`);
  }
  const base = pushQueueName(region, provider);
  const cacheKey = `${base}/${index}`;
  const cached = shardCache.get(cacheKey);
  if (cached !== undefined) return cached;
  let shard: QueueShard;
  if (index === 0) {
    shard = { region, provider, index, name: base, prefix: queuePrefix(base) };
  } else {
    const name = `${base}-s${index}`;
    const origin = keySlot(queuePrefix(base));
    const target = (origin + Math.round(shardPosition(index) * CLUSTER_SLOTS)) % CLUSTER_SLOTS;
    shard = { region, provider, index, name, prefix: `${KEY_ROOT}:{${placedTag(name, target)}}` };
  }
  shardCache.set(cacheKey, shard);
  return shard;
}

/** Shards 0 to `count` − 1 of a region and provider. */
export function pushQueueShards(region: Region, provider: ProviderKind, count: number): QueueShard[] {
  return Array.from({ length: count }, (_, index) => pushQueueShard(region, provider, index));
}

/**
 * The channel on which workers publish outcomes for one ingress process of a region. Its hash tag holds the
 * process id, so the channels of a region's ingresses spread over a cluster, and the workers send each outcome
 * with SPUBLISH to the one node of its channel's slot (sharded pub/sub: a plain PUBLISH in a cluster goes to
 * every node).
 */
export function outcomeChannel(region: Region, ingressId: string): string {
  if (!isRegionName(region)) throw new Error(`not a region name: ${JSON.stringify(region)}`);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(ingressId)) {
    throw new Error(`ingress id must be 1-64 of [A-Za-z0-9_.-], got ${JSON.stringify(ingressId)}`);
  }
  return `${KEY_ROOT}:{outcomes-${region}-${ingressId}}`;
}

/**
 * Whether a push's reply channel is a sharded one (outcomeChannel), to be sent with SPUBLISH; an ingress of a
 * release before sharded pub/sub named `hpns:{outcomes-<region>}:<id>` and subscribed with SUBSCRIBE.
 */
export function isShardedOutcomeChannel(channel: string): boolean {
  return /^hpns:\{outcomes-[a-z0-9]+-[A-Za-z0-9_.-]+\}$/.test(channel);
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

/** The 64 shards of the idempotency store: the first character of a key's base64url hash. */
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const idempotencyTags = new Map<string, string>();

/**
 * One slot (a window of time) of one shard of the idempotency store (idempotency.ts). The shard is a hash tag, so
 * a slot and the one before it share a cluster slot, while the 64 shards spread over the cluster. On a single
 * Redis (`placed` false) the tag is `idem-<region>-<shard>`, as before clusters were served. On a cluster it is
 * placed like the queue shards, at even spacing round the slot circle (21 or 22 shards per master of three):
 * left to CRC16, 64 tags fell 26/22/16 on three masters in the balance bench, and the node with 26 took 70 %
 * more of these scripts than the one with 16.
 */
export function idempotencyKey(region: Region, shard: string, slot: number, placed = false): string {
  if (!placed) return `${KEY_ROOT}:{idem-${region}-${shard}}:${slot}`;
  const name = `idem-${region}-${shard}`;
  let tag = idempotencyTags.get(name);
  if (tag === undefined) {
    // A key that is not base64url (a caller's bug) still gets a shard, by its character code.
    const found = BASE64URL.indexOf(shard);
    const index = found >= 0 ? found : shard.charCodeAt(0) % BASE64URL.length;
    const origin = keySlot(`idem-${region}`);
    tag = placedTag(name, (origin + Math.round((index / BASE64URL.length) * CLUSTER_SLOTS)) % CLUSTER_SLOTS);
    idempotencyTags.set(name, tag);
  }
  return `${KEY_ROOT}:{${tag}}:${slot}`;
}

/** The dead-letter stream of a region: one record per push that failed for good (dead-letters.ts). */
export function deadLetterKey(region: Region): string {
  return `${KEY_ROOT}:dlq-${region}`;
}

/** The sealed content of a dead-lettered push, held until its time to live ends when the setting asks for it. */
export function deadLetterContentKey(region: Region, requestId: string): string {
  return `${KEY_ROOT}:dlq-content-${region}:${requestId}`;
}
