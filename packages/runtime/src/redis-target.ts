/**
 * A region's Redis setting: one URL (`redis://` or `rediss://`), or a comma-separated list of the seed URLs of
 * one Redis Cluster. The seeds share a scheme and credentials; a client learns the other nodes from the cluster.
 */

/** Queue shards per region and provider at most (HPNS_QUEUE_SHARDS; the queue package's names.ts). */
export const MAX_QUEUE_SHARDS = 256;

/** What a Redis setting names: the seed URLs, and whether they are a cluster's. */
export interface RedisTarget {
  cluster: boolean;
  seeds: URL[];
}

/**
 * Parses a Redis setting (one URL or a comma-separated seed list).
 * @throws Error for a malformed URL, a scheme other than redis:/rediss:, or seeds that differ in scheme,
 *   user or password. The message never holds the URL (it may hold a password).
 */
export function parseRedisTarget(text: string, cluster?: boolean): RedisTarget {
  const parts = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (parts.length === 0) throw new Error('no Redis URL given');
  const seeds = parts.map((part, index) => {
    let url: URL;
    try {
      url = new URL(part);
    } catch {
      throw new Error(`seed ${index + 1} is not a valid URL`);
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw new Error(`seed ${index + 1}: scheme must be redis: or rediss:, got ${url.protocol}`);
    }
    return url;
  });
  const first = seeds[0] as URL;
  for (const [index, seed] of seeds.entries()) {
    if (
      seed.protocol !== first.protocol ||
      seed.username !== first.username ||
      seed.password !== first.password
    ) {
      throw new Error(
        `seed ${index + 1} differs from the first in scheme or credentials; a cluster has one of each`,
      );
    }
  }
  const isCluster = cluster ?? seeds.length > 1;
  if (!isCluster && seeds.length > 1) {
    throw new Error('several URLs name a cluster, but the setting says it is not one');
  }
  const withDatabase = seeds.findIndex((seed) => seed.pathname !== '' && seed.pathname !== '/');
  if (isCluster && withDatabase >= 0) {
    throw new Error(`seed ${withDatabase + 1} names a database; a cluster has only database 0`);
  }
  return { cluster: isCluster, seeds };
}
