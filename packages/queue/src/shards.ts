import { type ProviderKind, type Region } from '@hpns/protocol';
import { type RedisConnection } from './connections';
import { MAX_QUEUE_SHARDS } from '@hpns/runtime';
import { pushQueueShard } from './names';

/** The BullMQ lists and sets of a queue that hold jobs not yet finished. */
const UNFINISHED = ['wait', 'paused', 'delayed', 'prioritized', 'active'];

/**
 * The shards from `configured` up to MAX_QUEUE_SHARDS − 1 that still hold unfinished jobs: what a shard count
 * that was lowered left behind. Workers consume them too until they are empty, and the admin tool lists them,
 * so that no layout change strands a queued push. One EXISTS per shard (its keys share a slot).
 */
export async function leftoverShards(
  connection: RedisConnection,
  region: Region,
  provider: ProviderKind,
  configured: number,
): Promise<number[]> {
  const indices = Array.from({ length: MAX_QUEUE_SHARDS - configured }, (_, k) => configured + k);
  const found = await Promise.all(
    indices.map(async (index) => {
      const { name, prefix } = pushQueueShard(region, provider, index);
      const held = await connection.exists(...UNFINISHED.map((list) => `${prefix}:${name}:${list}`));
      return held > 0 ? index : undefined;
    }),
  );
  return found.filter((index): index is number => index !== undefined);
}
