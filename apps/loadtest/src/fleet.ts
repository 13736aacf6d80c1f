import { createHash, randomBytes } from 'node:crypto';

/**
 * What a fleet of Mattermost servers sends to a push proxy: many server ids, each with its devices, a mix of
 * notification kinds and app platforms, message sizes, regions, and a share of dead tokens (devices whose app
 * was removed: the provider answers Unregistered and the proxy answers REMOVE). The body of every push is what
 * `model.PushNotification` of the Mattermost server serialises (reference: mattermost-wire.md §1.3): the fields
 * the server always emits, the omitempty ones only when set.
 *
 * Every push has its own `ack_id` (26 characters, as the server's ids): a run tag and the request's serial, so
 * that a reconciliation can tell which pushes reached the provider. Test pushes carry `ack_id: ""`, as the
 * server sends them; they are reconciled by count.
 */
export const KINDS = ['message', 'id_loaded', 'clear', 'update_badge', 'session', 'test'] as const;
export type Kind = (typeof KINDS)[number];
/** `voip` is an Apple VoIP push (apple_rn-v2 with transport voip, a Calls ring). */
export const PLATFORMS = [
  'apple_rn-v2',
  'android_rn-v2',
  'apple_rnbeta-v2',
  'android_rnbeta-v2',
  'voip',
] as const;
export type Platform = (typeof PLATFORMS)[number];

export interface FleetProfile {
  /** Distinct Mattermost servers (server ids). */
  servers: number;
  /** Devices each server sends to (token pool per server and platform). */
  devicesPerServer: number;
  /** Relative weights of the notification kinds. */
  kinds: Partial<Record<Kind, number>>;
  /** Relative weights of the platforms. */
  platforms: Partial<Record<Platform, number>>;
  /** Relative weights of the region prefixes (`/us/api/v1/send_push`); `none` sends without a prefix. */
  regions: Record<string, number>;
  /** Message text sizes in bytes, drawn uniformly between the two. */
  messageBytes: { min: number; max: number };
  /** Share (0–1) of pushes sent to dead tokens. */
  deadTokens: number;
  /** Seed of the mix: the same seed sends the same sequence of pushes. */
  seed: number;
}

export const DEFAULT_PROFILE: FleetProfile = {
  servers: 50,
  devicesPerServer: 200,
  kinds: { message: 70, id_loaded: 10, clear: 12, update_badge: 5, session: 2, test: 1 },
  platforms: {
    'apple_rn-v2': 50,
    'android_rn-v2': 40,
    'apple_rnbeta-v2': 2,
    'android_rnbeta-v2': 2,
    voip: 6,
  },
  regions: { us: 1, de: 1 },
  messageBytes: { min: 20, max: 1200 },
  deadTokens: 0.02,
  seed: 1,
};

const FIELDS = new Set(Object.keys(DEFAULT_PROFILE));
const REGION_NAME = /^(none|[a-z][a-z0-9-]{0,31})$/;

/** A profile error that names the field. */
export class ProfileError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`profile field "${field}": ${problem}`);
    this.name = 'ProfileError';
  }
}

/** Checks a profile (from a JSON file, flags, or both merged over the defaults); throws ProfileError. */
export function checkProfile(input: unknown, base: FleetProfile = DEFAULT_PROFILE): FleetProfile {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new ProfileError('(top level)', 'must be a JSON object');
  const object = input as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (!FIELDS.has(key)) throw new ProfileError(key, `unknown field; known: ${[...FIELDS].join(', ')}`);
  }
  const count = (field: 'servers' | 'devicesPerServer', max: number): number => {
    const value = object[field] ?? base[field];
    if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > max)
      throw new ProfileError(field, `must be a whole number from 1 to ${max.toLocaleString('en-US')}`);
    return value as number;
  };
  const weights = <K extends string>(
    field: 'kinds' | 'platforms' | 'regions',
    known: readonly K[] | RegExp,
  ): Record<K, number> => {
    const value = object[field] ?? base[field];
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new ProfileError(field, 'must be an object of name: weight');
    let sum = 0;
    for (const [name, weight] of Object.entries(value)) {
      const ok = Array.isArray(known) ? known.includes(name as K) : (known as RegExp).test(name);
      if (!ok)
        throw new ProfileError(
          `${field}.${name}`,
          Array.isArray(known)
            ? `unknown ${field === 'kinds' ? 'kind' : 'platform'}; known: ${known.join(', ')}`
            : 'not a region name (lower-case letters, digits and -, or none for no prefix)',
        );
      if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0)
        throw new ProfileError(`${field}.${name}`, 'the weight must be a number ≥ 0');
      sum += weight;
    }
    if (!(sum > 0)) throw new ProfileError(field, 'needs at least one weight > 0');
    return value as Record<K, number>;
  };
  const sizes = object.messageBytes ?? base.messageBytes;
  if (typeof sizes !== 'object' || sizes === null || Array.isArray(sizes))
    throw new ProfileError('messageBytes', 'must be {"min": N, "max": N}');
  for (const key of Object.keys(sizes)) {
    if (key !== 'min' && key !== 'max')
      throw new ProfileError(`messageBytes.${key}`, 'unknown field; known: min, max');
  }
  const { min, max } = sizes as { min?: unknown; max?: unknown };
  for (const [name, value] of [
    ['min', min],
    ['max', max],
  ] as const) {
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 4096)
      throw new ProfileError(`messageBytes.${name}`, 'must be a whole number of bytes from 0 to 4,096');
  }
  if ((min as number) > (max as number)) throw new ProfileError('messageBytes', 'min is larger than max');
  const dead = object.deadTokens ?? base.deadTokens;
  if (typeof dead !== 'number' || !(dead >= 0 && dead <= 1))
    throw new ProfileError('deadTokens', 'must be a share from 0 to 1 (0.02 = 2 %)');
  const seed = object.seed ?? base.seed;
  if (!Number.isInteger(seed)) throw new ProfileError('seed', 'must be a whole number');
  return {
    servers: count('servers', 1_000_000),
    devicesPerServer: count('devicesPerServer', 1_000_000),
    kinds: weights('kinds', KINDS),
    platforms: weights('platforms', PLATFORMS),
    regions: weights('regions', REGION_NAME),
    messageBytes: { min: min as number, max: max as number },
    deadTokens: dead,
    seed: seed as number,
  };
}

/** `message=70,clear=30` → {message: 70, clear: 30}, for the --kinds, --platforms and --regions flags. */
export function parseWeights(flag: string, text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const match = /^([^=]+)=(\d+(?:\.\d+)?)$/.exec(part);
    out[(match?.[1] ?? part).trim()] = match === null ? 1 : Number(match[2]);
  }
  if (Object.keys(out).length === 0) throw new Error(`${flag}: no weights given (e.g. ${flag} a=3,b=1)`);
  return out;
}

/** One push to send. */
export interface PushRequest {
  serial: number;
  kind: Kind;
  platform: Platform;
  /** Region prefix, '' for none. */
  region: string;
  dead: boolean;
  /** '' for test pushes. */
  ackId: string;
  path: string;
  body: string;
}

/** A small seeded generator (mulberry32): the mix is a function of the seed alone. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function picker<K extends string>(weights: Partial<Record<K, number>>): (u: number) => K {
  const entries = Object.entries(weights).filter(([, w]) => (w as number) > 0) as [K, number][];
  const sum = entries.reduce((s, [, w]) => s + w, 0);
  const bounds = entries.map(
    ([name], i) => [name, entries.slice(0, i + 1).reduce((s, [, w]) => s + w, 0) / sum] as const,
  );
  return (u) => {
    for (const [name, bound] of bounds) if (u < bound) return name;
    return bounds[bounds.length - 1]![0];
  };
}

const WORDS =
  'the quick brown fox jumps over the lazy dog while the release train waits for a review of the new build ' +
  'and everyone in town square asks when the deploy starts so the on call engineer answers in the thread ';

/** A 26-character Mattermost-style id from a prefix and a number. */
function mmId(prefix: string, n: number): string {
  const tail = n.toString(36);
  return prefix + tail.padStart(26 - prefix.length, '0');
}

export class Fleet {
  readonly profile: FleetProfile;
  /** Marks this run's ack ids (8 characters); the reconciliation reads serials back from them. */
  readonly runTag: string;
  readonly #random: () => number;
  readonly #kind: (u: number) => Kind;
  readonly #platform: (u: number) => Platform;
  readonly #region: (u: number) => string;
  readonly #tokens = new Map<string, string>();
  #serial = 0;

  constructor(
    profile: FleetProfile,
    runTag = randomBytes(6)
      .toString('base64url')
      .toLowerCase()
      .replace(/[^a-z0-9]/g, 'x')
      .slice(0, 8),
  ) {
    this.profile = profile;
    this.runTag = runTag.padEnd(8, 'x').slice(0, 8);
    this.#random = rng(profile.seed);
    this.#kind = picker(profile.kinds);
    this.#platform = picker(profile.platforms);
    this.#region = picker(profile.regions);
  }

  /** The request serial an ack id of this run carries, or undefined for another run's. */
  serialOf(ackId: string): number | undefined {
    if (ackId.length !== 26 || !ackId.startsWith(this.runTag)) return undefined;
    const n = parseInt(ackId.slice(8), 36);
    return Number.isSafeInteger(n) ? n : undefined;
  }

  /** The next push of the mix. */
  next(): PushRequest {
    const r = this.#random;
    const serial = this.#serial++;
    const kind = this.#kind(r());
    const platform = this.#platform(r());
    const regionName = this.#region(r());
    const region = regionName === 'none' ? '' : regionName;
    const server = Math.floor(r() * this.profile.servers);
    const device = Math.floor(r() * this.profile.devicesPerServer);
    const dead = r() < this.profile.deadTokens;
    const { min, max } = this.profile.messageBytes;
    const size = min + Math.floor(r() * (max - min + 1));
    const offset = Math.floor(r() * 97);
    const ackId = kind === 'test' ? '' : mmId(this.runTag, serial);
    const body = pushBody({
      kind,
      platform,
      serverId: mmId('srv', server),
      deviceId: this.#token(platform, server, device, dead),
      ackId,
      text: messageText(size, offset),
      channel: device % 7,
      badge: 1 + (serial % 9),
    });
    return {
      serial,
      kind,
      platform,
      region,
      dead,
      ackId,
      path: `${region === '' ? '' : `/${region}`}/api/v1/send_push`,
      body,
    };
  }

  /** A device's token: Apple 64 hex, Android an FCM registration token; dead ones start with `deaddead`. */
  #token(platform: Platform, server: number, device: number, dead: boolean): string {
    const apple = platform.startsWith('apple') || platform === 'voip';
    const key = `${apple ? 'a' : 'g'}${dead ? 'd' : 'l'}${server}:${device}`;
    let token = this.#tokens.get(key);
    if (token === undefined) {
      const hex = createHash('sha256').update(`${this.profile.seed}:${key}`).digest('hex');
      if (apple) token = dead ? `deaddead${hex.slice(8)}` : hex;
      else {
        const more = createHash('sha256').update(hex).digest('base64url');
        token = `${dead ? 'deaddead' : hex.slice(0, 8)}${hex.slice(8, 22)}:APA91b${more}${hex}${more}`.slice(
          0,
          163,
        );
      }
      if (this.#tokens.size < 1_000_000) this.#tokens.set(key, token);
    }
    return token;
  }
}

function messageText(bytes: number, offset: number): string {
  if (bytes === 0) return '';
  let text = WORDS.slice(offset);
  while (text.length < bytes) text += WORDS;
  return text.slice(0, bytes);
}

interface BodyParts {
  kind: Kind;
  platform: Platform;
  serverId: string;
  deviceId: string;
  ackId: string;
  text: string;
  channel: number;
  badge: number;
}

/** The JSON the Mattermost server posts for one push: its always-emitted fields, then the kind's own. */
function pushBody(p: BodyParts): string {
  const voip = p.platform === 'voip';
  const channelId = `chan${p.channel}`.padEnd(26, 'c');
  const always = {
    ack_id: p.ackId,
    platform: voip ? 'apple_rn-v2' : p.platform,
    server_id: p.serverId,
    device_id: p.deviceId,
    post_id: '',
    is_crt_enabled: false,
    is_id_loaded: false,
    signature: 'NO_SIGNATURE',
  };
  switch (voip ? 'voip' : p.kind) {
    case 'voip':
      return JSON.stringify({
        ...always,
        post_id: 'post'.padEnd(26, 'p'),
        category: 'CAN_REPLY',
        message: `${p.text.slice(0, 40)} is calling you`,
        channel_id: channelId,
        channel_name: 'Town Square',
        type: 'message',
        sub_type: 'calls',
        sender_id: 'user'.padEnd(26, 'u'),
        sender_name: 'alice',
        version: 'v2',
        transport: 'voip',
      });
    case 'message':
      return JSON.stringify({
        ...always,
        post_id: 'post'.padEnd(26, 'p'),
        category: 'CAN_REPLY',
        message: p.text,
        badge: p.badge,
        channel_id: channelId,
        channel_name: 'Town Square',
        type: 'message',
        sender_id: 'user'.padEnd(26, 'u'),
        sender_name: 'alice',
        version: 'v2',
      });
    case 'id_loaded':
      return JSON.stringify({
        ...always,
        post_id: 'post'.padEnd(26, 'p'),
        category: 'CAN_REPLY',
        message: 'You have a new message',
        badge: p.badge,
        channel_id: channelId,
        type: 'message',
        sender_id: 'user'.padEnd(26, 'u'),
        version: 'v2',
        is_id_loaded: true,
      });
    case 'clear':
      return JSON.stringify({
        ...always,
        badge: p.badge,
        cont_ava: 1,
        channel_id: channelId,
        type: 'clear',
        version: 'v2',
      });
    case 'update_badge':
      return JSON.stringify({
        ...always,
        sound: 'none',
        badge: p.badge,
        cont_ava: 1,
        type: 'update_badge',
        version: 'v2',
      });
    case 'session':
      return JSON.stringify({
        ...always,
        message: 'Session Expired: Please log in to continue receiving notifications.',
        type: 'session',
        version: 'v2',
      });
    case 'test':
      return JSON.stringify({
        ...always,
        message: 'This is a test push notification from Mattermost',
        type: 'test',
        version: '2',
        signature: '',
      });
  }
}
