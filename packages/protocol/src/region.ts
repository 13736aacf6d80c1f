import { HpnsError } from './errors';

/**
 * A data-residency region (`us`, `de`, …). The list of regions is configuration, not code; a Region value is
 * only a name that passed the shape check. Each region has its own Redis and worker pool, and its data never
 * leaves it.
 */
export type Region = string & { readonly __region: unique symbol };

/** Lower-case letters and digits, starting with a letter, 2–16 characters (safe in queue names and labels). */
export const REGION_PATTERN = /^[a-z][a-z0-9]{1,15}$/;

export function isRegionName(value: string): boolean {
  return REGION_PATTERN.test(value);
}

/**
 * Checks a region name's shape and, when `allowed` is given, that it is one of them.
 * @throws HpnsError HPNS_REGION_INVALID
 */
export function parseRegion(value: string, allowed?: readonly string[]): Region {
  if (!isRegionName(value)) {
    throw new HpnsError(
      'HPNS_REGION_INVALID',
      `region ${JSON.stringify(value)} is not a valid region name (lower-case letters and digits, 2-16 characters)`,
    );
  }
  if (allowed !== undefined && !allowed.includes(value)) {
    throw new HpnsError(
      'HPNS_REGION_INVALID',
      `region ${JSON.stringify(value)} is not configured (configured: ${allowed.join(', ') || 'none'})`,
    );
  }
  return value as Region;
}
