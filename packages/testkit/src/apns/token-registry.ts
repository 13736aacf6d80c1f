import { randomBytes } from 'node:crypto';
import { type ApnsReason } from './reasons';

/** An APNs environment: sandbox (development) or production (§1.1). */
export type ApnsEnvironment = 'sandbox' | 'production';

/** The state of a registered device token (reference §7.1 "Token registry"). */
export type ApnsTokenState =
  | { kind: 'active' }
  /** 410 `Unregistered` with this `timestamp` (ms since epoch) — when APNs learnt the token died (§1.4). */
  | { kind: 'unregistered'; timestampMs: number }
  /** 410 `ExpiredToken`. */
  | { kind: 'expired' }
  /** 400 `BadDeviceToken`. */
  | { kind: 'bad' };

/** A registered device token. */
export interface ApnsTokenEntry {
  /** The app the token belongs to; another topic's bundle → `DeviceTokenNotForTopic` (§1.2). */
  bundleId: string;
  /** The token's environment; the other one → `BadDeviceToken` (§1.2: tokens are per environment). Default: any. */
  environment?: ApnsEnvironment;
  state: ApnsTokenState;
}

/**
 * Magic device-token prefixes (go-apnsmock style, reference §6/§7.1): a token that starts with one of these
 * gets the listed answer without registering it. Eight hex characters, so a random test token matches one
 * only with probability 2⁻²⁹. Build such tokens with {@link apnsMagicToken}.
 *
 * | prefix     | answer                                              |
 * |------------|-----------------------------------------------------|
 * | `bad0bad0` | 400 `BadDeviceToken`                                |
 * | `deaddead` | 410 `Unregistered`, `timestamp` = simulator's now   |
 * | `e0e0e0e0` | 410 `ExpiredToken`                                  |
 * | `04290429` | 429 `TooManyRequests`                               |
 * | `05000500` | 500 `InternalServerError`                           |
 * | `05030503` | 503 `ServiceUnavailable`                            |
 * | `5a115a11` | stall: the stream is accepted and never answered    |
 * | `c105c105` | TCP reset of the connection once the body is read   |
 */
export const APNS_MAGIC_TOKEN_PREFIXES = {
  bad: 'bad0bad0',
  unregistered: 'deaddead',
  expired: 'e0e0e0e0',
  tooManyRequests: '04290429',
  internalServerError: '05000500',
  serviceUnavailable: '05030503',
  stall: '5a115a11',
  reset: 'c105c105',
} as const;

/** A kind of magic token. */
export type ApnsMagicTokenKind = keyof typeof APNS_MAGIC_TOKEN_PREFIXES;

/** A 64-hex-character device token that triggers `kind` (see {@link APNS_MAGIC_TOKEN_PREFIXES}). */
export function apnsMagicToken(kind: ApnsMagicTokenKind): string {
  return APNS_MAGIC_TOKEN_PREFIXES[kind] + randomBytes(28).toString('hex');
}

/** What the registry decides for a token: answer with a reason, stall, reset, or go on. */
export type TokenVerdict =
  | { kind: 'ok' }
  | { kind: 'reject'; reason: ApnsReason; timestampMs?: number }
  | { kind: 'stall' }
  | { kind: 'reset' };

const OK: TokenVerdict = { kind: 'ok' };

const MAGIC_VERDICTS: readonly [string, (nowMs: number) => TokenVerdict][] = [
  [APNS_MAGIC_TOKEN_PREFIXES.bad, () => ({ kind: 'reject', reason: 'BadDeviceToken' })],
  [
    APNS_MAGIC_TOKEN_PREFIXES.unregistered,
    (nowMs) => ({ kind: 'reject', reason: 'Unregistered', timestampMs: nowMs }),
  ],
  [APNS_MAGIC_TOKEN_PREFIXES.expired, () => ({ kind: 'reject', reason: 'ExpiredToken' })],
  [APNS_MAGIC_TOKEN_PREFIXES.tooManyRequests, () => ({ kind: 'reject', reason: 'TooManyRequests' })],
  [APNS_MAGIC_TOKEN_PREFIXES.internalServerError, () => ({ kind: 'reject', reason: 'InternalServerError' })],
  [APNS_MAGIC_TOKEN_PREFIXES.serviceUnavailable, () => ({ kind: 'reject', reason: 'ServiceUnavailable' })],
  [APNS_MAGIC_TOKEN_PREFIXES.stall, () => ({ kind: 'stall' })],
  [APNS_MAGIC_TOKEN_PREFIXES.reset, () => ({ kind: 'reset' })],
];

/** Device tokens known to the simulator, keyed by lower-case hex. */
export class ApnsTokenRegistry {
  readonly #entries = new Map<string, ApnsTokenEntry>();

  set(token: string, entry: ApnsTokenEntry): void {
    this.#entries.set(token.toLowerCase(), entry);
  }

  get(token: string): ApnsTokenEntry | undefined {
    return this.#entries.get(token.toLowerCase());
  }

  delete(token: string): boolean {
    return this.#entries.delete(token.toLowerCase());
  }

  clear(): void {
    this.#entries.clear();
  }

  entries(): [string, ApnsTokenEntry][] {
    return [...this.#entries];
  }

  /**
   * Decides a token's fate for a push to `bundleId` in `environment`: magic prefixes first (when enabled),
   * then the registry, then the unknown-token policy.
   */
  verdict(
    token: string,
    bundleId: string,
    environment: ApnsEnvironment,
    nowMs: number,
    policy: { magicTokens: boolean; acceptUnknownTokens: boolean },
  ): TokenVerdict {
    // Keys are lower-case; most clients send lower-case hex, so skip the copy when there is nothing to fold.
    const key = /[A-F]/.test(token) ? token.toLowerCase() : token;
    if (policy.magicTokens) {
      for (const [prefix, verdict] of MAGIC_VERDICTS) {
        if (key.startsWith(prefix)) return verdict(nowMs);
      }
    }
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      return policy.acceptUnknownTokens ? OK : { kind: 'reject', reason: 'BadDeviceToken' };
    }
    // A token of the other environment is just a bad token there (§1.2, Apple DTS in §1.5).
    if (entry.environment !== undefined && entry.environment !== environment) {
      return { kind: 'reject', reason: 'BadDeviceToken' };
    }
    switch (entry.state.kind) {
      case 'bad':
        return { kind: 'reject', reason: 'BadDeviceToken' };
      case 'expired':
        return { kind: 'reject', reason: 'ExpiredToken' };
      case 'unregistered':
        return { kind: 'reject', reason: 'Unregistered', timestampMs: entry.state.timestampMs };
      case 'active':
        return entry.bundleId === bundleId ? OK : { kind: 'reject', reason: 'DeviceTokenNotForTopic' };
    }
  }
}
