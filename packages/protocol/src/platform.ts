/** Which provider delivers for a configured push target type. */
export type ProviderKind = 'apns' | 'fcm';

/** Every provider, in a fixed order: a region has one push queue per provider (admin tools list them all). */
export const PROVIDER_KINDS: readonly ProviderKind[] = ['apns', 'fcm'];

/** `standard` for ordinary pushes, `voip` for Apple PushKit pushes. */
export type Transport = 'standard' | 'voip';

export interface ParsedPlatform {
  /** The platform with its `-vN` suffix removed: the lookup key among configured target types. */
  type: string;
  /** The app version from the suffix; 1 when there is none or it is not an integer. */
  appVersion: number;
  /** False when a `-v` suffix was present but `N` was not an integer (the proxy logs this and keeps 1). */
  suffixValid: boolean;
}

const GO_ATOI = /^[+-]?[0-9]+$/;
const VOIP_ALIAS = /^apple_voip_(.+)$/;

/**
 * Splits the `-vN` app-version suffix off a platform as the proxy does: at the first `-v`, with Go's
 * `strconv.Atoi` on the rest (sign allowed, int64 range).
 */
export function parsePlatform(platform: string): ParsedPlatform {
  const index = platform.indexOf('-v');
  if (index < 0) return { type: platform, appVersion: 1, suffixValid: true };
  const suffix = platform.slice(index + 2);
  let appVersion = 1;
  let suffixValid = false;
  if (GO_ATOI.test(suffix)) {
    const big = BigInt(suffix);
    if (big >= -(2n ** 63n) && big < 2n ** 63n) {
      appVersion = Number(big);
      suffixValid = true;
    }
  }
  return { type: platform.slice(0, index), appVersion, suffixValid };
}

/**
 * The standard Apple target a VoIP platform alias stands for (`apple_voip_rn` → `apple_rn`), or undefined.
 * The Mattermost server model names `apple_voip_rn` platforms; the Go proxy routes VoIP only by `transport`.
 */
export function voipAliasTarget(type: string): string | undefined {
  const match = VOIP_ALIAS.exec(type);
  return match ? `apple_${match[1]}` : undefined;
}
