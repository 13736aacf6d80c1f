import { isRegionName, PROVIDER_KINDS, type ProviderKind, type Region } from '@hpns/protocol';
import { type DeadLetterEntry } from '@hpns/queue';

/** A command line the CLI cannot act on: exit code 2, with the message and a pointer to `--help`. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Settings the CLI cannot act on (a missing key, no Redis named): exit code 2, like bad usage. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/** `parseArgs` reports unknown and malformed options with these codes. */
export function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/** One of the configured regions, or a UsageError naming them. */
export function regionArg(value: string, regions: readonly Region[], what: string): Region {
  if (!isRegionName(value) || !regions.includes(value as Region)) {
    throw new UsageError(
      `${what} ${JSON.stringify(value)} is not one of HPNS_REGIONS (${regions.join(', ')})`,
    );
  }
  return value as Region;
}

/** One of the providers, or a UsageError naming them. */
export function providerArg(value: string, what = '--provider'): ProviderKind {
  if (!(PROVIDER_KINDS as readonly string[]).includes(value)) {
    throw new UsageError(`${what} must be one of ${PROVIDER_KINDS.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as ProviderKind;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `15m`, `2h`, `1d`, `500ms` (a whole number and a unit) in ms, or a UsageError. */
export function durationArg(value: string, what: string): number {
  const match = /^(\d{1,9})(ms|s|m|h|d)$/.exec(value.trim());
  if (match === null) {
    throw new UsageError(
      `${what} must be a whole number with a unit (ms, s, m, h, d), e.g. 15m or 2h; got ${JSON.stringify(value)}`,
    );
  }
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

/** A whole number in [min, max], or a UsageError. */
export function countArg(value: string, what: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new UsageError(
      `${what} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/** Which dead letters a `dlq` command acts on; every field that is set must match. */
export interface DeadLetterFilter {
  reason?: string;
  provider?: ProviderKind;
  targetType?: string;
  /** Failed at least this long ago, in ms. */
  olderThanMs?: number;
  /** Failed less than this long ago, in ms. */
  newerThanMs?: number;
}

/** The parseArgs options every `dlq` command takes for its filter. */
export const FILTER_OPTIONS = {
  reason: { type: 'string' },
  provider: { type: 'string' },
  target: { type: 'string' },
  'older-than': { type: 'string' },
  'newer-than': { type: 'string' },
} as const;

/** The filter of parsed `dlq` options. */
export function filterOf(values: {
  reason?: string | undefined;
  provider?: string | undefined;
  target?: string | undefined;
  'older-than'?: string | undefined;
  'newer-than'?: string | undefined;
}): DeadLetterFilter {
  const filter: DeadLetterFilter = {};
  if (values.reason !== undefined) filter.reason = values.reason;
  if (values.provider !== undefined) filter.provider = providerArg(values.provider);
  if (values.target !== undefined) filter.targetType = values.target;
  if (values['older-than'] !== undefined)
    filter.olderThanMs = durationArg(values['older-than'], '--older-than');
  if (values['newer-than'] !== undefined)
    filter.newerThanMs = durationArg(values['newer-than'], '--newer-than');
  return filter;
}

/** True when the filter names nothing (it matches every record). */
export function isEmptyFilter(filter: DeadLetterFilter): boolean {
  return Object.values(filter).every((value) => value === undefined);
}

/** Whether a record matches; ages are measured from when the push failed. */
export function matches(entry: DeadLetterEntry, filter: DeadLetterFilter, nowMs: number): boolean {
  const ageMs = nowMs - entry.failedAtMs;
  return (
    (filter.reason === undefined || entry.reason === filter.reason) &&
    (filter.provider === undefined || entry.provider === filter.provider) &&
    (filter.targetType === undefined || entry.targetType === filter.targetType) &&
    (filter.olderThanMs === undefined || ageMs >= filter.olderThanMs) &&
    (filter.newerThanMs === undefined || ageMs < filter.newerThanMs)
  );
}
