import { APNS_MAX_PAYLOAD_BYTES, APNS_VOIP_MAX_PAYLOAD_BYTES } from '@hpns/protocol';
import { type ApnsReason } from './reasons';

/**
 * `apns-push-type` values and the `apns-topic` suffix each requires (reference/apns-fcm.md §1.3, Apple's
 * "Sending notification requests to APNs"). `mdm` is absent on purpose: its topic is the UID of an MDM
 * certificate, which token connections (the only kind simulated) cannot use.
 */
export const APNS_PUSH_TYPE_SUFFIX = {
  alert: '',
  background: '',
  voip: '.voip',
  complication: '.complication',
  fileprovider: '.pushkit.fileprovider',
  liveactivity: '.push-type.liveactivity',
  location: '.location-query',
  pushtotalk: '.voip-ptt',
  widgets: '.push-type.widgets',
  controls: '.push-type.controls',
} as const;

/** A push type the simulator accepts. */
export type ApnsSimPushType = keyof typeof APNS_PUSH_TYPE_SUFFIX;

const SUFFIXED = (Object.entries(APNS_PUSH_TYPE_SUFFIX) as [ApnsSimPushType, string][])
  .filter(([, suffix]) => suffix !== '')
  // Longest first, so `.voip-ptt` is not read as `.voip` with a `-ptt` tail.
  .sort((a, b) => b[1].length - a[1].length);

/** What the request's push type and topic resolve to. */
export interface ResolvedTopic {
  pushType: ApnsSimPushType;
  /** The topic without the push type's suffix: the app the device token must belong to. */
  bundleId: string;
  /** Body limit in bytes: 5120 for VoIP, 4096 otherwise (§1.2). */
  maxPayloadBytes: number;
}

const SUFFIX_BY_TYPE: ReadonlyMap<string, string> = new Map(Object.entries(APNS_PUSH_TYPE_SUFFIX));

export function isApnsPushType(value: string): value is ApnsSimPushType {
  return SUFFIX_BY_TYPE.has(value);
}

/** Results by push type, then topic: a run sees few distinct pairs, and this sits on the per-push hot path. */
const memo = new Map<string | undefined, Map<string, Readonly<ResolvedTopic> | ApnsReason>>();
const MEMO_LIMIT = 1024;

/**
 * Checks the push type against the topic's suffix (§1.3). A missing push type is inferred from the suffix,
 * as Apple did for VoIP topics before the header existed; a suffix that does not match the push type, or a
 * suffix-less type on a suffixed topic, is a `BadTopic` [assumption: Apple documents "must match" but not the
 * reason string].
 */
export function resolveTopic(
  pushTypeHeader: string | undefined,
  topic: string,
): Readonly<ResolvedTopic> | ApnsReason {
  let byTopic = memo.get(pushTypeHeader);
  if (byTopic === undefined) {
    if (memo.size >= MEMO_LIMIT) memo.clear();
    byTopic = new Map();
    memo.set(pushTypeHeader, byTopic);
  }
  let result = byTopic.get(topic);
  if (result === undefined) {
    if (byTopic.size >= MEMO_LIMIT) byTopic.clear();
    result = resolveUncached(pushTypeHeader, topic);
    byTopic.set(topic, result);
  }
  return result;
}

function resolveUncached(pushTypeHeader: string | undefined, topic: string): ResolvedTopic | ApnsReason {
  const bySuffix = SUFFIXED.find(([, suffix]) => topic.endsWith(suffix));
  let pushType: ApnsSimPushType;
  if (pushTypeHeader === undefined) {
    pushType = bySuffix?.[0] ?? 'alert';
  } else if (isApnsPushType(pushTypeHeader)) {
    pushType = pushTypeHeader;
  } else {
    return 'InvalidPushType';
  }
  const suffix = APNS_PUSH_TYPE_SUFFIX[pushType];
  if (suffix === '' ? bySuffix !== undefined : !topic.endsWith(suffix)) return 'BadTopic';
  const bundleId = topic.slice(0, topic.length - suffix.length);
  if (!/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(bundleId)) return 'BadTopic';
  const maxPayloadBytes = pushType === 'voip' ? APNS_VOIP_MAX_PAYLOAD_BYTES : APNS_MAX_PAYLOAD_BYTES;
  return { pushType, bundleId, maxPayloadBytes };
}
