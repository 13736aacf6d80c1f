// `npm run demo`: a realistic burst of Mattermost push notifications through the local two-region stack, then a
// summary of what the ingress answered and what the APNs and FCM simulators received.
//
//   node scripts/demo.mjs [--count N] [--concurrency N] [--seed N] [--settle-ms N] [--json] [--no-build] [--verbose]
//   node scripts/demo.mjs --ingress URL --control URL [...]     (or HPNS_DEMO_INGRESS / HPNS_DEMO_CONTROL)
//
// Without --ingress/--control the demo starts its own stack (`scripts/start.mjs --port 0` with a temporary state
// directory) and stops it with SIGINT at the end, on Ctrl-C and on errors. With them it uses a stack that is
// already running and leaves it running.
//
// Traffic: every notification kind the Mattermost server sends (message, CRT reply, id-loaded, Calls, clear,
// update_badge, session expired, session wipe, test, VoIP) to both regions, from several servers, to iOS and
// Android devices on the v2 and legacy app platforms; `--count` well-formed pushes in all (at least one of every
// region × platform × kind). On top of those: pushes to device tokens marked dead through the simulators'
// control API (answer REMOVE, the second time from the dead-token cache) and malformed requests (answer FAIL).
//
// Exit code: 0 when every answer was the expected one and every push answered OK reached a simulator exactly
// once; 1 otherwise (the reasons are printed); 2 for bad arguments.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const USAGE = `usage: npm run demo -- [options]

  --count N          well-formed pushes to send (default 300; at least one per region × platform × kind)
  --concurrency N    requests in flight at once (default 16)
  --seed N           seed of the traffic mix (default: random, printed)
  --settle-ms N      how long to wait for deliveries still in flight (default 15000)
  --regions LIST     regions to push to (default us,de)
  --json             print the summary as one JSON object
  --no-build         start the stack without building first
  --verbose          copy the stack's output to stderr
  --ingress URL      use a running stack: its ingress (env HPNS_DEMO_INGRESS) ...
  --control URL      ... and its simulators' control API (env HPNS_DEMO_CONTROL)
  --fcm-project ID   FCM project of a running stack (default hpns-local)
`;

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      ingress: { type: 'string' },
      control: { type: 'string' },
      count: { type: 'string', default: '300' },
      concurrency: { type: 'string', default: '16' },
      seed: { type: 'string' },
      'settle-ms': { type: 'string', default: '15000' },
      regions: { type: 'string', default: 'us,de' },
      'fcm-project': { type: 'string' },
      json: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }));
} catch (error) {
  process.stderr.write(`demo: ${error.message}\n\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

function positiveInt(name, text, min = 1) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    process.stderr.write(`demo: --${name} must be an integer ≥ ${min}, got ${text}\n`);
    process.exit(2);
  }
  return value;
}

const options = {
  ingress: (args.ingress ?? process.env.HPNS_DEMO_INGRESS ?? '').replace(/\/+$/, ''),
  control: (args.control ?? process.env.HPNS_DEMO_CONTROL ?? '').replace(/\/+$/, ''),
  count: positiveInt('count', args.count),
  concurrency: positiveInt('concurrency', args.concurrency),
  seed: args.seed === undefined ? randomBytes(4).readUInt32BE() : positiveInt('seed', args.seed, 0),
  settleMs: positiveInt('settle-ms', args['settle-ms'], 0),
  regions: args.regions
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean),
};
if (options.regions.length === 0 || !options.regions.every((r) => /^[a-z][a-z0-9]{1,15}$/.test(r))) {
  process.stderr.write(`demo: --regions must list region names such as us,de; got ${args.regions}\n`);
  process.exit(2);
}
if ((options.ingress === '') !== (options.control === '')) {
  process.stderr.write('demo: give both --ingress and --control (a running stack), or neither (start one)\n');
  process.exit(2);
}

/** Set by Ctrl-C (or SIGTERM/SIGHUP): no new requests, no summary; the stack is stopped and the demo exits 130. */
let interrupted = false;

/** Progress goes to stderr; stdout holds only the summary (text or JSON). */
const progress = (line) => process.stderr.write(`[demo] ${line}\n`);

// ---------------------------------------------------------------------------------------------------------------
// Platforms and notification kinds
// ---------------------------------------------------------------------------------------------------------------

/** The app platforms of `Session.DeviceId` (reference §1.4): current v2 apps and the legacy v1 React Native apps. */
const PLATFORMS = [
  { name: 'apple_rn-v2', provider: 'apns', appVersion: 2, weight: 40 },
  { name: 'android_rn-v2', provider: 'fcm', appVersion: 2, weight: 40 },
  { name: 'apple_rn', provider: 'apns', appVersion: 1, weight: 10 },
  { name: 'android_rn', provider: 'fcm', appVersion: 1, weight: 10 },
];
const PLATFORM = Object.fromEntries(PLATFORMS.map((p) => [p.name, p]));

/** Kinds as a Mattermost server sends them (reference §8.3, §8.4), with their share of the random traffic. */
const KINDS = [
  { kind: 'message', weight: 38 },
  { kind: 'crt_reply', weight: 12 },
  { kind: 'id_loaded', weight: 8 },
  { kind: 'calls', weight: 3 },
  { kind: 'clear', weight: 14 },
  { kind: 'update_badge', weight: 8 },
  { kind: 'session', weight: 3 },
  { kind: 'session_wipe', weight: 2 },
  { kind: 'test', weight: 8 },
  // Calls ringing goes to the VoIP token of iOS devices only.
  { kind: 'voip', weight: 4, appleOnly: true },
];
const KIND_NAMES = KINDS.map((k) => k.kind);
const kindFits = (kind, platform) =>
  !(KINDS.find((k) => k.kind === kind)?.appleOnly && platform.provider !== 'apns');

const APNS_TOPIC = 'com.mattermost.react.native';
/** APNs simulator tokens starting with one of these get a canned error; a random token must not. */
const APNS_MAGIC_PREFIXES = [
  'bad0bad0',
  'deaddead',
  'e0e0e0e0',
  '04290429',
  '05000500',
  '05030503',
  '5a115a11',
  'c105c105',
];

// ---------------------------------------------------------------------------------------------------------------
// Random but realistic identifiers and content
// ---------------------------------------------------------------------------------------------------------------

/** A small seeded generator (mulberry32): the mix is reproducible with --seed; identifiers are not. */
function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rng = seededRandom(options.seed);
const chance = (p) => rng() < p;
const pick = (list) => list[Math.floor(rng() * list.length)];
const pickWeighted = (list) => {
  let r = rng() * list.reduce((sum, item) => sum + item.weight, 0);
  for (const item of list) {
    r -= item.weight;
    if (r < 0) return item;
  }
  return list[list.length - 1];
};
const between = (lo, hi) => lo + Math.floor(rng() * (hi - lo + 1));

/** A Mattermost id (model.NewId): 26 characters of its base32 alphabet. Fresh for every run. */
const MM_ALPHABET = 'ybndrfg8ejkmcpqxot1uwisza345h769';
const newId = () => [...randomBytes(26)].map((b) => MM_ALPHABET[b & 31]).join('');

function apnsToken() {
  for (;;) {
    const token = randomBytes(32).toString('hex');
    if (!APNS_MAGIC_PREFIXES.some((prefix) => token.startsWith(prefix))) return token;
  }
}
/** An FCM registration token: `<instance id>:APA91b<...>`. */
const fcmToken = () =>
  `${randomBytes(16).toString('base64url').slice(0, 22)}:APA91b${randomBytes(105).toString('base64url')}`;

/** A signature shaped like the server's ES256 JWT over {ack_id, device_id} (the proxy only passes it on). */
function signature(ackId, deviceId) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'ES256', typ: 'JWT' })}.${part({ ack_id: ackId, device_id: deviceId })}.${randomBytes(64).toString('base64url')}`;
}

const CHANNELS = [
  'Town Square',
  'Off-Topic',
  'release-planning',
  'incident-2231-db-failover',
  'design-reviews',
  'support-escalations',
  'Équipe Produit 🇫🇷',
  '東京オフィス',
  // Longer than the proxy's 64-byte channel_name cap.
  'customer-success-emea-and-apac-weekly-sync-and-escalation-review-board',
];
const SENDERS = ['alice.martin', 'bob', 'carol.nguyen', 'dmitri', 'eve-oncall', 'françois', 'hiro.tanaka'];
const TEXTS = [
  'can you take a look at the failover runbook? :eyes:',
  'deploy is green :white_check_mark: shipping in 10',
  'lunch? :pizza:',
  'PR #4821 needs a second review',
  '@channel standup moved to 10:30',
  'thanks! :pray:',
  'ERROR db-2 replication lag 45s, paging the DBA',
  'naïve café ☕ — see you there',
  'the customer confirmed the fix :tada: :tada:',
  'merging after CI :shipit:',
];
const LONG_TEXT = `${'Post-incident summary: '.padEnd(40, '-')} ${'the replica lagged behind the primary for 45 seconds; '.repeat(50)}`;

// ---------------------------------------------------------------------------------------------------------------
// The world: Mattermost servers and their users' devices, per region
// ---------------------------------------------------------------------------------------------------------------

function buildWorld() {
  const world = {};
  for (const region of options.regions) {
    // Three customer servers per region; one is an older version that does not sign its pushes.
    const servers = [0, 1, 2].map((i) => ({
      serverId: newId(),
      signs: i !== 2,
      teams: [newId(), newId()],
      channels: CHANNELS.map((name) => ({ id: newId(), name })),
    }));
    const devices = {};
    for (const platform of PLATFORMS) {
      devices[platform.name] = Array.from({ length: 12 }, () => ({
        server: pick(servers),
        userId: newId(),
        token: platform.provider === 'apns' ? apnsToken() : fcmToken(),
        voipToken: platform.provider === 'apns' ? apnsToken() : undefined,
        badge: between(0, 6),
      }));
    }
    world[region] = { servers, devices };
  }
  return world;
}

/** Field order of the server's `model.PushNotification` JSON (so bodies look like the real thing). */
const WIRE_ORDER = [
  'ack_id',
  'platform',
  'server_id',
  'device_id',
  'post_id',
  'category',
  'sound',
  'message',
  'badge',
  'cont_ava',
  'team_id',
  'channel_id',
  'root_id',
  'channel_name',
  'type',
  'sub_type',
  'sender_id',
  'sender_name',
  'override_username',
  'override_icon_url',
  'from_webhook',
  'version',
  'is_crt_enabled',
  'is_id_loaded',
  'signature',
  'transport',
];
/** Server omitempty rules: empty strings and zero ints are left out, except the always-present keys. */
const ALWAYS = new Set([
  'ack_id',
  'platform',
  'server_id',
  'device_id',
  'post_id',
  'is_crt_enabled',
  'is_id_loaded',
  'signature',
]);
function wire(fields) {
  const out = {};
  for (const key of WIRE_ORDER) {
    const value = fields[key];
    if (value === undefined) continue;
    if (!ALWAYS.has(key) && (value === '' || value === 0)) continue;
    out[key] = value;
  }
  return out;
}

/**
 * One notification of `kind` for `device` on `platform`, as the Mattermost server would send it (§8.3). `long`:
 * a post longer than the proxy's 2047-byte message cap in a channel whose name is over its 64-byte cap.
 */
function notification(kind, platform, device, { long = false } = {}) {
  const { server } = device;
  const channel = long ? server.channels[server.channels.length - 1] : pick(server.channels);
  const sender = pick(SENDERS.filter((s) => s !== device.userId));
  const ackId = kind === 'test' ? '' : newId();
  const deviceId = kind === 'voip' ? device.voipToken : device.token;
  const common = {
    ack_id: ackId,
    platform: platform.name,
    server_id: server.serverId,
    device_id: deviceId,
    post_id: '',
    is_crt_enabled: false,
    is_id_loaded: false,
    signature: server.signs && kind !== 'test' ? signature(ackId, deviceId) : '',
  };
  const postFields = () => {
    const dm = !long && chance(0.25);
    const text = long || chance(0.02) ? LONG_TEXT : pick(TEXTS);
    const webhook = !dm && chance(0.05);
    device.badge += 1;
    return {
      post_id: newId(),
      category: 'CAN_REPLY',
      team_id: dm ? '' : pick(server.teams),
      channel_id: channel.id,
      channel_name: dm ? sender : channel.name,
      sender_id: newId(),
      sender_name: webhook ? 'jenkins' : sender,
      override_username: webhook ? 'jenkins' : '',
      override_icon_url: webhook ? 'https://ci.example.com/static/jenkins.png' : '',
      from_webhook: webhook ? 'true' : '',
      message: dm ? text : `${webhook ? 'jenkins' : sender}: ${text}`,
      badge: device.badge,
      version: 'v2',
      type: 'message',
      is_crt_enabled: chance(0.5),
    };
  };
  switch (kind) {
    case 'message':
      return wire({ ...common, ...postFields() });
    case 'crt_reply': {
      const post = postFields();
      return wire({
        ...common,
        ...post,
        root_id: newId(),
        is_crt_enabled: true,
        channel_name: `Reply in ${channel.name}`,
      });
    }
    case 'id_loaded':
      device.badge += 1;
      return wire({
        ...common,
        post_id: newId(),
        category: 'CAN_REPLY',
        message: "You've received a new message.",
        badge: device.badge,
        team_id: pick(server.teams),
        channel_id: channel.id,
        root_id: chance(0.3) ? newId() : '',
        type: 'message',
        // The server's quirk: sender_id is the recipient's own user id (§8.3).
        sender_id: device.userId,
        version: 'v2',
        is_crt_enabled: chance(0.5),
        is_id_loaded: true,
      });
    case 'calls':
      return wire({
        ...common,
        ...postFields(),
        sub_type: 'calls',
        message: `${sender} is inviting you to a call`,
      });
    case 'voip':
      return wire({
        ...common,
        post_id: newId(),
        channel_id: channel.id,
        channel_name: channel.name,
        type: 'message',
        sub_type: 'calls',
        sender_id: newId(),
        sender_name: sender,
        transport: 'voip',
      });
    case 'clear': {
      device.badge = Math.max(0, device.badge - between(1, 4));
      const crt = chance(0.4);
      return wire({
        ...common,
        cont_ava: 1,
        badge: device.badge,
        channel_id: channel.id,
        root_id: crt ? newId() : '',
        type: 'clear',
        version: 'v2',
        is_crt_enabled: crt,
      });
    }
    case 'update_badge':
      device.badge = between(0, 9);
      return wire({
        ...common,
        sound: 'none',
        cont_ava: 1,
        badge: device.badge,
        type: 'update_badge',
        version: 'v2',
      });
    case 'session':
      return wire({
        ...common,
        message: 'Session Expired: Please log in to continue receiving notifications.',
        type: 'session',
        version: 'v2',
      });
    case 'session_wipe':
      return wire({ ...common, sound: 'none', cont_ava: 1, type: 'session', version: 'v2' });
    case 'test':
      return wire({ ...common, badge: -1, type: 'test', version: '2' });
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The plan: regular pushes, pushes to dead tokens, malformed requests
// ---------------------------------------------------------------------------------------------------------------

/** Malformed requests and the start of the FAIL text each must get (reference §1.5). */
const MALFORMED = [
  { name: 'empty body', body: () => '', error: 'Failed to read message body' },
  {
    name: 'truncated JSON',
    body: (n) => JSON.stringify(n).slice(0, 60),
    error: 'Failed to read message body',
  },
  {
    name: 'badge as a string',
    body: (n) => JSON.stringify({ ...n, badge: '3' }),
    error: 'Failed to read message body',
  },
  {
    name: 'no server_id',
    body: (n) => JSON.stringify({ ...n, server_id: '' }),
    error: 'Failed because of missing server Id',
  },
  {
    name: 'no device_id',
    body: (n) => JSON.stringify({ ...n, device_id: '' }),
    error: 'Failed because of missing device Id',
  },
  {
    // The classic native iOS app's platform: not configured in this stack.
    name: 'unknown platform "apple"',
    body: (n) => JSON.stringify({ ...n, platform: 'apple' }),
    error: 'Did not send message because of missing platform property',
  },
];

/** Dead tokens per region: marked through the simulators' control API, each pushed twice. */
const DEAD = [
  { platform: 'apple_rn-v2', mark: 'unregistered', expectReason: 'Unregistered' },
  { platform: 'apple_rn', mark: 'bad', expectReason: 'BadDeviceToken' },
  { platform: 'android_rn-v2', mark: 'unregistered', expectReason: 'UNREGISTERED' },
  { platform: 'android_rn', mark: 'unregistered', expectReason: 'UNREGISTERED' },
];

function plan(world) {
  const regular = [];
  const add = (region, platform, kind, variant) => {
    const device = pick(world[region].devices[platform.name]);
    const n = notification(kind, platform, device, variant);
    regular.push({
      region,
      platform: platform.name,
      provider: platform.provider,
      kind,
      n,
      body: JSON.stringify(n),
      expect: 'OK',
    });
  };
  // Coverage first: every region × platform × kind once (its message one long enough to be truncated).
  for (const region of options.regions)
    for (const platform of PLATFORMS)
      for (const kind of KIND_NAMES)
        if (kindFits(kind, platform)) add(region, platform, kind, { long: kind === 'message' });
  const coverage = regular.length;
  while (regular.length < options.count) {
    const region = pick(options.regions);
    const { kind } = pickWeighted(KINDS);
    const platforms = PLATFORMS.filter((p) => kindFits(kind, p));
    add(region, pickWeighted(platforms), kind);
  }

  const dead = [];
  const deadRepeat = [];
  for (const region of options.regions) {
    for (const spec of DEAD) {
      const platform = PLATFORM[spec.platform];
      const device = {
        ...pick(world[region].devices[spec.platform]),
        token: platform.provider === 'apns' ? apnsToken() : fcmToken(),
        badge: 1,
      };
      const base = {
        region,
        platform: spec.platform,
        provider: platform.provider,
        expect: 'REMOVE',
        mark: spec.mark,
      };
      const first = notification('message', platform, device);
      const again = notification('message', platform, device);
      const name = `${platform.provider === 'apns' ? 'APNs' : 'FCM'} token marked ${spec.mark}`;
      dead.push({
        ...base,
        kind: 'message',
        n: first,
        body: JSON.stringify(first),
        name,
        expectReason: spec.expectReason,
      });
      deadRepeat.push({
        ...base,
        kind: 'message',
        n: again,
        body: JSON.stringify(again),
        name: `${name}, sent again`,
        repeat: true,
      });
    }
  }

  const malformed = [];
  for (const region of options.regions) {
    for (const spec of MALFORMED) {
      const platform = pick(PLATFORMS);
      const n = notification('message', platform, pick(world[region].devices[platform.name]));
      malformed.push({
        region,
        platform: spec.name.includes('platform') ? 'apple' : platform.name,
        provider: undefined,
        kind: 'malformed',
        n: undefined,
        body: spec.body(n),
        name: spec.name,
        expect: 'FAIL',
        expectError: spec.error,
      });
    }
  }
  return { regular, dead, deadRepeat, malformed, coverage };
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------------------------

async function control(method, path, body) {
  let res;
  try {
    res = await fetch(`${options.control}${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: globalThis.AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new Error(
      `cannot reach the simulators' control API at ${options.control}: ${error.cause?.code ?? error.message}`,
      { cause: error },
    );
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`simulator control ${method} ${path}: HTTP ${res.status} ${text.trim()}`);
  return text === '' ? undefined : JSON.parse(text);
}

/** One send_push as the Mattermost server makes it: POST, no Content-Type, 30 s client timeout (§8.1). */
async function sendPush(send) {
  const started = performance.now();
  try {
    const res = await fetch(`${options.ingress}/${send.region}/api/v1/send_push`, {
      method: 'POST',
      body: Buffer.from(send.body),
      signal: globalThis.AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    send.latencyMs = performance.now() - started;
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.status === 200 && ['OK', 'REMOVE', 'FAIL'].includes(parsed?.status)) {
      send.answer = parsed.status;
      if (parsed.error !== undefined) send.error = parsed.error;
    } else {
      send.answer = 'ERROR';
      send.error = `HTTP ${res.status}: ${text.trim().slice(0, 200)}`;
    }
  } catch (error) {
    send.latencyMs = performance.now() - started;
    send.answer = 'ERROR';
    send.error = error.name === 'TimeoutError' ? 'no answer within 30 s' : String(error.message ?? error);
  }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function inPool(items, limit, fn) {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !interrupted) {
      const item = items[next];
      next += 1;
      await fn(item);
    }
  });
  await Promise.all(lanes);
}

// ---------------------------------------------------------------------------------------------------------------
// What the simulators captured
// ---------------------------------------------------------------------------------------------------------------

/** Collects the simulators' captured requests for this run's tokens (their rings keep only the last 1000). */
class Captures {
  apns = new Map();
  fcm = new Map();
  overflow = { apns: false, fcm: false };
  #last = { apns: undefined, fcm: undefined };

  constructor(tokens) {
    this.tokens = tokens;
  }

  async poll() {
    const [apns, fcm] = await Promise.all([
      control('GET', '/apns/requests'),
      control('GET', '/fcm/requests'),
    ]);
    this.#take(
      'apns',
      apns,
      (r) => r.seq,
      (r) => r.token,
      (r) => r.atMs,
    );
    this.#take(
      'fcm',
      fcm,
      (r) => r.sequence,
      (r) => r.registrationToken,
      (r) => r.receivedAtMs,
    );
  }

  #take(name, list, seqOf, tokenOf, atOf) {
    const last = this.#last[name];
    if (list.length > 0) {
      // A gap between what we saw last time and the oldest capture now: the ring dropped some.
      if (last !== undefined && seqOf(list[0]) > last + 1) this.overflow[name] = true;
      this.#last[name] = seqOf(list[list.length - 1]);
    }
    for (const request of list) {
      // Later polls replace earlier copies: a capture gets its status when the simulator answers.
      if (this.tokens.has(tokenOf(request))) this[name].set(`${seqOf(request)}@${atOf(request)}`, request);
    }
  }
}

const dataOf = (request) => request.json?.message?.data ?? {};

/** What a captured APNs request is, from its headers and body alone. */
function apnsKind(request) {
  if (request.headers['apns-push-type'] === 'voip') return 'voip';
  let p;
  try {
    p = JSON.parse(request.body);
  } catch {
    return 'unparsable';
  }
  if (p.id_loaded === true) return 'id_loaded';
  if (p.type === 'message') {
    if (p.sub_type === 'calls') return 'calls';
    return p.is_crt_enabled === true && p.root_id ? 'crt_reply' : 'message';
  }
  if (p.type === 'session') {
    const alert = p.aps?.alert;
    const text = typeof alert === 'string' ? alert : (alert?.body ?? '');
    return text === '' ? 'session_wipe' : 'session';
  }
  return String(p.type ?? 'untyped');
}

/** What a captured FCM request is, from its data map alone. */
function fcmKind(request) {
  const d = dataOf(request);
  if (d.id_loaded === 'true') return 'id_loaded';
  if (d.type === 'message') {
    if (d.sub_type === 'calls') return 'calls';
    return d.is_crt_enabled === 'true' && d.root_id ? 'crt_reply' : 'message';
  }
  if (d.type === 'session') return (d.message ?? '') === '' ? 'session_wipe' : 'session';
  return String(d.type ?? 'untyped');
}

const apnsAckId = (request) => {
  try {
    return JSON.parse(request.body).ack_id ?? '';
  } catch {
    return '';
  }
};

// ---------------------------------------------------------------------------------------------------------------
// Payload checks against the proxy's rules (reference §2.2–§2.4, §3.2; HPNS's documented deviations A1, C1)
// ---------------------------------------------------------------------------------------------------------------

const utf8Bytes = (s) => Buffer.byteLength(s, 'utf8');

function checkApns(send, request, issue) {
  const n = send.n;
  const h = request.headers;
  let p;
  try {
    p = JSON.parse(request.body);
  } catch {
    return issue('apns.body_json', 'body is not JSON');
  }
  const aps = p.aps ?? {};
  const expect = (rule, ok, detail) => ok || issue(rule, detail);
  expect('apns.server_id', p.server_id === n.server_id, `server_id ${p.server_id}`);
  expect('apns.signature', p.signature === (n.signature || 'NO_SIGNATURE'), 'signature not passed through');
  expect(
    'apns.ack_id',
    n.ack_id === '' ? p.ack_id === undefined : p.ack_id === n.ack_id,
    `ack_id ${p.ack_id}`,
  );
  expect('apns.type', p.type === n.type, `type ${p.type}`);
  expect('apns.sub_type', p.sub_type === (n.sub_type ?? ''), `sub_type ${JSON.stringify(p.sub_type)}`);
  if (send.kind === 'voip') {
    expect('apns.voip.topic', h['apns-topic'] === `${APNS_TOPIC}.voip`, `apns-topic ${h['apns-topic']}`);
    expect('apns.voip.aps', JSON.stringify(aps) === '{"content-available":1}', `aps ${JSON.stringify(aps)}`);
    for (const key of ['channel_id', 'post_id', 'thread_id', 'sender_id', 'id_loaded'])
      expect('apns.voip.keys', key in p, `voip payload without ${key}`);
    return;
  }
  expect('apns.topic', h['apns-topic'] === APNS_TOPIC, `apns-topic ${h['apns-topic']}`);
  // Badge (§2.3): clear with badge 0 from a v2 app → 1; -1 → untouched; otherwise the badge (absent = 0).
  const appVersion = PLATFORM[send.platform].appVersion;
  const badge = n.badge ?? 0;
  const wantBadge =
    n.type === 'clear' && badge === 0 && appVersion > 1 ? 1 : badge === -1 ? undefined : badge;
  expect('apns.badge', aps.badge === wantBadge, `aps.badge ${aps.badge}, expected ${wantBadge}`);
  const backgroundOnly = Object.keys(aps).length === 1 && aps['content-available'] === 1;
  const wantType = backgroundOnly ? 'background' : 'alert';
  expect(
    'apns.push_type',
    h['apns-push-type'] === wantType,
    `apns-push-type ${h['apns-push-type']} for aps ${JSON.stringify(aps)}`,
  );
  expect(
    'apns.priority',
    h['apns-priority'] === (backgroundOnly ? '5' : '10'),
    `apns-priority ${h['apns-priority']}`,
  );
  if (n.channel_id) {
    const thread = n.is_crt_enabled && n.root_id ? n.root_id : n.channel_id;
    expect('apns.thread_id', aps['thread-id'] === thread, `thread-id ${aps['thread-id']}`);
  }
  if (n.is_id_loaded) {
    expect(
      'apns.id_loaded',
      p.id_loaded === true && aps['mutable-content'] === 1,
      'id_loaded/mutable-content missing',
    );
    expect('apns.id_loaded.alert', aps.alert?.body === n.message, `alert ${JSON.stringify(aps.alert)}`);
    return;
  }
  if (n.type === 'message' || n.type === 'session') {
    expect('apns.sound', aps.sound === 'default', `sound ${aps.sound}`);
    expect('apns.mutable_content', aps['mutable-content'] === 1, 'no mutable-content');
    expect(
      'apns.content_available',
      (aps['content-available'] === 1) === (n.type === 'message'),
      `content-available ${aps['content-available']} for ${n.type}`,
    );
    if (n.channel_name && n.version === 'v2') {
      // The title is the channel name, cut to at most 64 bytes on a character boundary (HPNS deviation D1).
      const title = aps.alert?.title;
      const cut =
        typeof title === 'string' &&
        utf8Bytes(n.channel_name) > 64 &&
        n.channel_name.startsWith(title) &&
        utf8Bytes(title) <= 64 &&
        utf8Bytes(title) >= 61;
      expect('apns.alert.title', title === n.channel_name || cut, `title ${JSON.stringify(title)}`);
      expect(
        'apns.alert.body',
        typeof aps.alert?.body === 'string' && utf8Bytes(aps.alert.body) <= 2047,
        'alert body',
      );
    } else {
      expect('apns.alert.string', typeof aps.alert === 'string', `alert ${JSON.stringify(aps.alert)}`);
    }
  } else if (n.type === 'clear' || n.type === 'test') {
    expect(
      'apns.content_available',
      aps['content-available'] === 1 && aps.alert === undefined,
      `aps ${JSON.stringify(aps)}`,
    );
  } else {
    expect(
      'apns.badge_only',
      aps.alert === undefined && aps['content-available'] === undefined,
      `aps ${JSON.stringify(aps)}`,
    );
  }
}

function checkFcm(send, request, issue) {
  const n = send.n;
  const message = request.json?.message ?? {};
  const d = message.data ?? {};
  const expect = (rule, ok, detail) => ok || issue(rule, detail);
  expect('fcm.priority', message.android?.priority === 'HIGH', `android ${JSON.stringify(message.android)}`);
  expect('fcm.no_notification', message.notification === undefined, 'has a notification block');
  expect(
    'fcm.strings',
    Object.values(d).every((v) => typeof v === 'string'),
    'a data value is not a string',
  );
  for (const key of [
    'ack_id',
    'type',
    'sub_type',
    'version',
    'channel_id',
    'is_crt_enabled',
    'server_id',
    'category',
    'signature',
  ])
    expect('fcm.always_keys', key in d, `no ${key}`);
  expect('fcm.ack_id', d.ack_id === n.ack_id, `ack_id ${d.ack_id}`);
  expect('fcm.server_id', d.server_id === n.server_id, `server_id ${d.server_id}`);
  expect('fcm.signature', d.signature === (n.signature || 'NO_SIGNATURE'), 'signature not passed through');
  expect(
    'fcm.is_crt_enabled',
    d.is_crt_enabled === String(n.is_crt_enabled),
    `is_crt_enabled ${d.is_crt_enabled}`,
  );
  const badge = n.badge ?? 0;
  expect(
    'fcm.badge',
    badge === -1 ? d.badge === undefined : d.badge === String(badge),
    `badge ${d.badge}, sent ${badge}`,
  );
  expect(
    'fcm.root_id',
    n.root_id ? d.root_id === n.root_id : d.root_id === undefined,
    `root_id ${d.root_id}`,
  );
  if (n.is_id_loaded) {
    expect(
      'fcm.id_loaded',
      d.id_loaded === 'true' && d.sender_name === 'Someone',
      `id_loaded ${d.id_loaded}, sender_name ${d.sender_name}`,
    );
    expect('fcm.id_loaded.message', d.message === n.message, 'message changed');
    for (const key of ['post_id', 'sender_id', 'team_id'])
      expect('fcm.id_loaded.keys', key in d, `no ${key}`);
  } else if (n.type === 'message' || n.type === 'session') {
    const keys = [
      'team_id',
      'sender_id',
      'sender_name',
      'message',
      'channel_name',
      'post_id',
      'override_username',
      'override_icon_url',
      'from_webhook',
    ];
    for (const key of keys) expect('fcm.message.keys', key in d, `no ${key}`);
    if (typeof d.message === 'string')
      expect('fcm.message.length', utf8Bytes(d.message) <= 2047, 'message over 2047 bytes');
    if (typeof d.channel_name === 'string')
      expect('fcm.channel_name.length', utf8Bytes(d.channel_name) <= 64, 'channel_name over 64 bytes');
  } else {
    expect('fcm.no_message', d.message === undefined, `${n.type} carries a message`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The stack this demo starts (if any)
// ---------------------------------------------------------------------------------------------------------------

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

class OwnStack {
  child = undefined;
  ready = undefined;
  stopped = false;
  /** Set when the stack exited without being asked to. */
  crashed = false;
  tmp = mkdtempSync(join(tmpdir(), 'hpns-demo-'));
  logFile = join(this.tmp, 'stack.log');
  #exited = undefined;

  /** Spawns `scripts/start.mjs` and resolves with its stack.ready line. */
  start() {
    const log = createWriteStream(this.logFile);
    const startArgs = ['--port', '0', '--state-dir', join(this.tmp, 'state')];
    if (args['no-build']) startArgs.push('--no-build');
    // Its own process group: a Ctrl-C in the terminal reaches the demo only, which then stops the stack in order.
    this.child = spawn(process.execPath, [join(root, 'scripts/start.mjs'), ...startArgs], {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HPNS_LOG_LEVEL: process.env.HPNS_LOG_LEVEL ?? 'warn' },
    });
    this.#exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    return new Promise((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(
        () => reject(new Error(`the stack was not ready within 5 minutes (log: ${this.logFile})`)),
        300_000,
      );
      const onData = (stream) => (chunk) => {
        log.write(chunk);
        if (args.verbose) process.stderr.write(chunk);
        if (stream !== 'stdout' || this.ready !== undefined) return;
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        const line = lines.find((l) => l.startsWith('{"event":"stack.ready"'));
        if (line === undefined) return;
        this.ready = JSON.parse(line);
        clearTimeout(timer);
        resolve(this.ready);
      };
      this.child.stdout.on('data', onData('stdout'));
      this.child.stderr.on('data', onData('stderr'));
      this.#exited.then(({ code, signal }) => {
        clearTimeout(timer);
        if (this.ready === undefined)
          reject(
            new Error(
              `the stack exited (${signal ?? code}) before it was ready; its output is in ${this.logFile}`,
            ),
          );
        else if (!this.stopped) {
          this.crashed = true;
          progress(`the stack exited on its own (${signal ?? code}); see ${this.logFile}`);
        }
      });
    });
  }

  get pids() {
    return Object.values(this.ready?.pids ?? {});
  }

  /** SIGINT to the start script, which stops its children in order; anything still alive after that is killed. */
  async stop() {
    if (this.stopped || this.child === undefined) return { cleanly: !this.crashed, leftBehind: [] };
    this.stopped = true;
    let cleanly = !this.crashed;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGINT');
      const result = await Promise.race([this.#exited, sleep(30_000, undefined, { ref: false })]);
      if (result === undefined) {
        cleanly = false;
        this.child.kill('SIGKILL');
        await this.#exited;
      } else if (result.code !== 0) cleanly = false;
    }
    const deadline = Date.now() + 5000;
    while (this.pids.some(alive) && Date.now() < deadline) await sleep(100);
    const leftBehind = Object.entries(this.ready?.pids ?? {})
      .filter(([, pid]) => alive(pid))
      .map(([name, pid]) => ({ name, pid }));
    for (const { pid } of leftBehind) process.kill(pid, 'SIGKILL');
    return { cleanly: cleanly && leftBehind.length === 0, leftBehind };
  }

  /** Last resort when the demo itself is exiting (synchronous): no child of ours may outlive it. */
  killNow() {
    if (this.stopped || this.child === undefined) return;
    this.stopped = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    for (const pid of this.pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }

  removeTemp() {
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------------------------------------------

function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] * 10) / 10;
}
const counts = () => ({ OK: 0, REMOVE: 0, FAIL: 0, ERROR: 0 });

function summarize({ sends, captures, counters, durationMs, coverage, planned }) {
  const problems = [];
  const regular = sends.filter((s) => s.expect === 'OK');
  const wellFormed = sends.filter((s) => s.n !== undefined);

  // Join captures to sends by (device token, ack id): each send has its own ack id except test pushes, which are
  // counted per token.
  const byKey = new Map();
  const keyOf = (token, ackId) => `${token}|${ackId}`;
  for (const send of wellFormed) {
    const key = keyOf(send.n.device_id, send.n.ack_id);
    if (!byKey.has(key)) byKey.set(key, { sends: [], delivered: [], rejected: [] });
    byKey.get(key).sends.push(send);
  }
  const simulators = {};
  for (const [name, map, kindOf, tokenOf, ackOf] of [
    ['apns', captures.apns, apnsKind, (r) => r.token, apnsAckId],
    ['fcm', captures.fcm, fcmKind, (r) => r.registrationToken, (r) => dataOf(r).ack_id ?? ''],
  ]) {
    const sim = {
      received: 0,
      delivered: 0,
      rejected: 0,
      byKind: {},
      rejections: {},
      requests: counters[name]?.requests,
      connections: counters[name]?.connections,
    };
    for (const request of [...map.values()].sort((a, b) => (a.seq ?? a.sequence) - (b.seq ?? b.sequence))) {
      const kind = kindOf(request);
      sim.byKind[kind] ??= { delivered: 0, rejected: 0 };
      sim.received += 1;
      const entry = byKey.get(keyOf(tokenOf(request), ackOf(request)));
      const ok = request.status === 200;
      if (ok) {
        sim.delivered += 1;
        sim.byKind[kind].delivered += 1;
      } else {
        sim.rejected += 1;
        sim.byKind[kind].rejected += 1;
        const why =
          `${request.status ?? request.outcome ?? 'no answer'} ${request.reason ?? request.code ?? ''}`.trim();
        sim.rejections[why] = (sim.rejections[why] ?? 0) + 1;
      }
      if (entry === undefined) {
        problems.push(
          `${name}: a request for one of this run's tokens matches no push sent (kind ${kind}, status ${request.status})`,
        );
        continue;
      }
      (ok ? entry.delivered : entry.rejected).push({ request, kind, provider: name });
    }
    simulators[name] = sim;
  }

  const payloadIssues = new Map();
  const reconciliation = {
    answeredOk: 0,
    delivered: 0,
    missing: 0,
    duplicated: 0,
    unexpected: 0,
    kindMismatches: 0,
  };
  for (const { sends: group, delivered, rejected } of byKey.values()) {
    const okSends = group.filter((s) => s.answer === 'OK');
    const removeSends = group.filter((s) => s.answer === 'REMOVE' && !s.repeat);
    reconciliation.answeredOk += okSends.length;
    okSends.forEach((send, i) => {
      const hit = delivered[i];
      if (hit === undefined) {
        reconciliation.missing += 1;
        send.received = 'missing';
        return;
      }
      reconciliation.delivered += 1;
      send.received = 'delivered';
      send.receivedKind = hit.kind;
      if (hit.kind !== send.kind) {
        reconciliation.kindMismatches += 1;
        problems.push(
          `${send.region} ${send.platform} ${send.kind}: the simulator's payload reads as ${hit.kind}`,
        );
      }
      const issue = (rule, detail) => {
        const entry = payloadIssues.get(rule) ?? {
          rule,
          count: 0,
          kinds: new Set(),
          example: `${send.platform} ${send.kind}: ${detail}`,
        };
        entry.count += 1;
        entry.kinds.add(send.kind);
        payloadIssues.set(rule, entry);
      };
      (hit.provider === 'apns' ? checkApns : checkFcm)(send, hit.request, issue);
    });
    if (delivered.length > okSends.length) {
      const extra = delivered.length - okSends.length;
      if (okSends.length === 0) {
        reconciliation.unexpected += extra;
        problems.push(
          `${group[0].region} ${group[0].platform} ${group[0].kind}: delivered although answered ${group.map((s) => s.answer).join('/')}`,
        );
      } else {
        reconciliation.duplicated += extra;
        problems.push(
          `${group[0].region} ${group[0].platform} ${group[0].kind}: delivered ${delivered.length}× for ${okSends.length} send(s)`,
        );
      }
    }
    removeSends.forEach((send, i) => {
      const hit = rejected[i];
      send.providerAnswer =
        hit === undefined
          ? undefined
          : `${hit.request.status} ${hit.request.reason ?? hit.request.code ?? ''}`.trim();
    });
    for (const send of group.filter((s) => s.repeat))
      send.reachedProvider = rejected.length > removeSends.length;
  }

  // Regular pushes must all be OK.
  for (const send of regular.filter((s) => s.answer !== 'OK'))
    problems.push(
      `${send.region} ${send.platform} ${send.kind}: answered ${send.answer}${send.error ? ` (${send.error})` : ''}`,
    );
  if (reconciliation.missing > 0) {
    const overflow = captures.overflow.apns || captures.overflow.fcm;
    const where = {};
    for (const send of wellFormed.filter((s) => s.received === 'missing')) {
      const key = `${send.region} ${send.provider === 'apns' ? 'APNs' : 'FCM'}`;
      where[key] = (where[key] ?? 0) + 1;
    }
    const breakdown = Object.entries(where)
      .map(([key, n]) => `${key} ${n}`)
      .join(', ');
    problems.push(
      `${reconciliation.missing} push(es) answered OK never reached a simulator (${breakdown})` +
        (overflow
          ? ' (the simulators keep only their last 1000 requests and some were dropped: try a smaller --count)'
          : ''),
    );
  }

  // Expected errors.
  const platformOrder = (name) => PLATFORMS.findIndex((p) => p.name === name);
  const cases = sends
    .filter((s) => s.expect !== 'OK')
    .sort(
      (a, b) =>
        options.regions.indexOf(a.region) - options.regions.indexOf(b.region) ||
        a.expect.localeCompare(b.expect) * -1 ||
        platformOrder(a.platform) - platformOrder(b.platform) ||
        Number(a.repeat ?? false) - Number(b.repeat ?? false) ||
        a.name.localeCompare(b.name),
    )
    .map((s) => {
      let pass = s.answer === s.expect;
      if (s.expect === 'FAIL') pass &&= (s.error ?? '').startsWith(s.expectError);
      if (s.expect === 'REMOVE' && !s.repeat)
        pass &&= s.providerAnswer !== undefined && s.providerAnswer.endsWith(s.expectReason);
      if (!pass)
        problems.push(
          `${s.region} ${s.name}: expected ${s.expect}${s.expectError ? ` "${s.expectError}…"` : ''}${s.expectReason ? ` after ${s.expectReason}` : ''}, got ${s.answer}${s.error ? ` "${s.error}"` : ''}${s.expect === 'REMOVE' && !s.repeat ? ` (provider: ${s.providerAnswer ?? 'not reached'})` : ''}`,
        );
      return {
        region: s.region,
        platform: s.platform,
        name: s.name,
        expect: s.expect,
        got: s.answer,
        ...(s.error !== undefined ? { error: s.error } : {}),
        ...(s.providerAnswer !== undefined ? { providerAnswer: s.providerAnswer } : {}),
        ...(s.repeat ? { reachedProvider: s.reachedProvider } : {}),
        latencyMs: Math.round(s.latencyMs * 10) / 10,
        pass,
      };
    });

  // Rows: region × platform × kind of the well-formed pushes.
  const rows = new Map();
  for (const send of wellFormed) {
    const key = `${send.region}\t${send.platform}\t${send.kind}`;
    if (!rows.has(key))
      rows.set(key, {
        region: send.region,
        platform: send.platform,
        kind: send.kind,
        sent: 0,
        answers: counts(),
        latencies: [],
        delivered: 0,
      });
    const row = rows.get(key);
    row.sent += 1;
    row.answers[send.answer] += 1;
    row.latencies.push(send.latencyMs);
    if (send.received === 'delivered') row.delivered += 1;
  }
  const regionOrder = (r) => options.regions.indexOf(r);
  const rowList = [...rows.values()]
    .sort(
      (a, b) =>
        regionOrder(a.region) - regionOrder(b.region) ||
        PLATFORMS.findIndex((p) => p.name === a.platform) -
          PLATFORMS.findIndex((p) => p.name === b.platform) ||
        KIND_NAMES.indexOf(a.kind) - KIND_NAMES.indexOf(b.kind),
    )
    .map(({ latencies, ...row }) => ({
      ...row,
      latencyMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) },
    }));

  const latencies = wellFormed.map((s) => s.latencyMs);
  const issues = [...payloadIssues.values()].map(({ kinds, ...rest }) => ({ ...rest, kinds: [...kinds] }));
  reconciliation.ok =
    reconciliation.missing === 0 &&
    reconciliation.duplicated === 0 &&
    reconciliation.unexpected === 0 &&
    reconciliation.kindMismatches === 0 &&
    reconciliation.answeredOk === regular.length;
  return {
    ok: problems.length === 0,
    problems,
    run: {
      seed: options.seed,
      count: regular.length,
      requestedCount: options.count,
      coverage,
      concurrency: options.concurrency,
      regions: options.regions,
      kinds: KIND_NAMES,
      platforms: PLATFORMS.map((p) => p.name),
      durationMs: Math.round(durationMs),
      requests: planned,
      answers: sends.reduce((acc, s) => ((acc[s.answer] += 1), acc), counts()),
      latencyMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) },
    },
    rows: rowList,
    cases,
    simulators,
    payloadIssues: issues,
    reconciliation,
  };
}

function table(headers, rows, alignRight) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells
      .map((c, i) => (alignRight(i) ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)].join('\n');
}

function renderText(summary, stack) {
  const out = [];
  const { run } = summary;
  const ms = (v) => (v === null ? '-' : v < 10 ? v.toFixed(1) : String(Math.round(v)));
  out.push(
    `HPNS demo: ${run.requests} requests (${run.count} pushes, ${summary.cases.length} expected errors) in ${(run.durationMs / 1000).toFixed(1)} s`,
    `  ingress ${stack.ingress}, simulators ${stack.control}; seed ${run.seed}, concurrency ${run.concurrency}; ` +
      `overall latency p50 ${ms(run.latencyMs.p50)} ms, p99 ${ms(run.latencyMs.p99)} ms`,
    '',
    'Ingress answers per region × platform × kind (latency in ms; "at sim" = delivered to the simulator)',
  );
  const rows = [];
  let previous;
  for (const r of summary.rows) {
    if (previous !== undefined && previous !== r.region) rows.push(['', '', '', '', '', '', '', '', '', '']);
    previous = r.region;
    rows.push([
      r.region,
      r.platform,
      r.kind,
      r.sent,
      r.answers.OK,
      r.answers.REMOVE,
      r.answers.FAIL + r.answers.ERROR,
      ms(r.latencyMs.p50),
      ms(r.latencyMs.p99),
      r.delivered,
    ]);
  }
  out.push(
    table(
      ['region', 'platform', 'kind', 'sent', 'OK', 'REMOVE', 'FAIL', 'p50', 'p99', 'at sim'],
      rows,
      (i) => i >= 3,
    ),
  );
  out.push('', 'Expected errors');
  for (const c of summary.cases) {
    const detail =
      c.expect === 'FAIL'
        ? c.error
          ? `"${c.error}"`
          : ''
        : c.providerAnswer
          ? `(provider answered ${c.providerAnswer})`
          : c.reachedProvider === false
            ? '(from the dead-token cache)'
            : c.reachedProvider
              ? '(reached the provider again)'
              : '';
    out.push(
      `  ${c.pass ? '✔' : '✘'} ${c.region} ${c.platform.padEnd(13)} ${c.name.padEnd(42)} → ${c.got.padEnd(6)} ${detail}`.trimEnd(),
    );
  }
  out.push('', "What the simulators received for this run's tokens (kind read from the captured payloads)");
  const kinds = [
    ...new Set([
      ...KIND_NAMES,
      ...Object.keys(summary.simulators.apns?.byKind ?? {}),
      ...Object.keys(summary.simulators.fcm?.byKind ?? {}),
    ]),
  ];
  const simRows = kinds
    .map((k) => {
      const a = summary.simulators.apns?.byKind[k] ?? { delivered: 0, rejected: 0 };
      const f = summary.simulators.fcm?.byKind[k] ?? { delivered: 0, rejected: 0 };
      return [k, a.delivered, a.rejected, f.delivered, f.rejected];
    })
    .filter((r) => r.slice(1).some((v) => v > 0));
  const a = summary.simulators.apns;
  const f = summary.simulators.fcm;
  simRows.push(['total', a.delivered, a.rejected, f.delivered, f.rejected]);
  out.push(table(['kind', 'APNs 200', 'APNs error', 'FCM 200', 'FCM error'], simRows, (i) => i >= 1));
  const rejections = (sim) =>
    Object.entries(sim.rejections)
      .map(([why, n]) => `${why} ×${n}`)
      .join(', ') || 'none';
  out.push(`  rejections: APNs ${rejections(a)}; FCM ${rejections(f)}`);
  if (a.connections !== undefined || f.connections !== undefined)
    out.push(
      `  connections opened during the run: APNs ${a.connections ?? '?'}, FCM ${f.connections ?? '?'}`,
    );
  out.push('');
  if (summary.payloadIssues.length === 0)
    out.push('Payload checks (reference §2.3, §3.2): no deviations found');
  else {
    out.push('Payload checks (reference §2.3, §3.2): deviations found (warnings)');
    for (const i of summary.payloadIssues)
      out.push(`  ! ${i.rule} ×${i.count} (${i.kinds.join(', ')}), e.g. ${i.example}`);
  }
  const rec = summary.reconciliation;
  const removes = summary.cases.filter((c) => c.expect === 'REMOVE');
  const fails = summary.cases.filter((c) => c.expect === 'FAIL');
  out.push(
    '',
    `Reconciliation: ${rec.ok ? '✔' : '✘'} ${rec.answeredOk} answered OK → ${rec.delivered} delivered ` +
      `(APNs ${a.delivered}, FCM ${f.delivered}); missing ${rec.missing}, duplicated ${rec.duplicated}, ` +
      `unexpected ${rec.unexpected}, kind mismatches ${rec.kindMismatches}; ` +
      `REMOVE ${removes.filter((c) => c.pass).length}/${removes.length}, FAIL ${fails.filter((c) => c.pass).length}/${fails.length} as expected`,
  );
  if (stack.started)
    out.push(
      stack.cleanly
        ? `Stack stopped: all ${Object.keys(stack.pids ?? {}).length} processes gone.`
        : `Stack stopped uncleanly; killed: ${stack.leftBehind.map((p) => `${p.name} (${p.pid})`).join(', ') || 'none'}`,
    );
  if (summary.ok) out.push('', 'OK: everything reconciles.');
  else
    out.push(
      '',
      `FAILED (${summary.problems.length} problem(s)):`,
      ...summary.problems.slice(0, 30).map((p) => `  - ${p}`),
    );
  if (summary.problems.length > 30) out.push(`  … and ${summary.problems.length - 30} more (see --json)`);
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------------

const own = options.ingress === '' ? new OwnStack() : undefined;
/** After Ctrl-C the signal handler owns the exit; main stops where it is and prints nothing. */
const halt = () => new Promise(() => undefined);

function onSignal(signal) {
  if (interrupted) {
    own?.killNow();
    process.exit(130);
  }
  interrupted = true;
  progress(`${signal}: stopping${own ? ' the stack' : ''}…`);
  void (own ? own.stop() : Promise.resolve()).finally(() => {
    own?.removeTemp();
    process.exit(130);
  });
}
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));
process.on('SIGHUP', () => onSignal('SIGHUP'));
process.on('exit', () => own?.killNow());

async function main() {
  let fcmProject = args['fcm-project'] ?? 'hpns-local';
  if (own) {
    progress(
      `starting the stack${args['no-build'] ? '' : ' (building first)'}; its output goes to ${own.logFile}`,
    );
    const ready = await own.start();
    if (interrupted) return halt();
    options.ingress = ready.ingress;
    options.control = ready.simulators.controlUrl;
    fcmProject = args['fcm-project'] ?? ready.simulators.fcmProjectId ?? fcmProject;
    // One line a test (or a human) can use to clean up should the demo itself be killed.
    process.stderr.write(
      `${JSON.stringify({ event: 'demo.stack', ingress: ready.ingress, control: options.control, pids: ready.pids, log: own.logFile })}\n`,
    );
  }

  // Both ends must answer before anything is sent (any HTTP answer from the ingress will do).
  await control('GET', '/fcm');
  try {
    await (await fetch(`${options.ingress}/`, { signal: globalThis.AbortSignal.timeout(10_000) })).text();
  } catch (error) {
    throw new Error(`cannot reach the ingress at ${options.ingress}: ${error.cause?.code ?? error.message}`, {
      cause: error,
    });
  }

  const world = buildWorld();
  const { regular, dead, deadRepeat, malformed, coverage } = plan(world);
  if (regular.length > options.count)
    progress(
      `--count ${options.count} raised to ${regular.length}: one push of every region × platform × kind`,
    );
  const tokens = new Set();
  for (const send of [...regular, ...dead]) tokens.add(send.n.device_id);

  // Dead tokens, through the simulators' control API.
  for (const send of dead) {
    if (send.provider === 'apns')
      await control('PUT', `/apns/tokens/${send.n.device_id}`, { bundleId: APNS_TOPIC, state: send.mark });
    else
      await control('POST', '/fcm/tokens', {
        token: send.n.device_id,
        projectId: fcmProject,
        state: send.mark,
      });
  }

  const captures = new Captures(tokens);
  const before = await Promise.all([control('GET', '/apns/counters'), control('GET', '/fcm/counters')]);
  await captures.poll();

  // Regular pushes, first sends to dead tokens and malformed requests, shuffled together; then the repeats.
  const burst = [...regular, ...dead, ...malformed];
  for (let i = burst.length - 1; i > 0; i -= 1) {
    const j = Math.floor(rng() * (i + 1));
    [burst[i], burst[j]] = [burst[j], burst[i]];
  }
  const started = performance.now();
  progress(
    `sending ${burst.length + deadRepeat.length} requests to ${options.regions.join(' and ')} (${options.concurrency} in flight)…`,
  );
  let polling = true;
  const poller = (async () => {
    while (polling && !interrupted) {
      await sleep(1000);
      if (polling) await captures.poll().catch(() => undefined);
    }
  })();
  await inPool(burst, options.concurrency, sendPush);
  await inPool(deadRepeat, options.concurrency, sendPush);
  const durationMs = performance.now() - started;
  polling = false;
  await poller;
  if (interrupted) return halt();

  // Wait for deliveries still in flight: an OK may come before the push reaches the provider.
  const expected = (sim, pred) => [...regular, ...dead].filter((s) => s.provider === sim && pred(s)).length;
  const settleDeadline = Date.now() + options.settleMs;
  for (;;) {
    await captures.poll();
    const seen = (map) => [...map.values()].filter((r) => r.status !== undefined).length;
    const wantApns = expected('apns', (s) => s.answer === 'OK' || (s.answer === 'REMOVE' && !s.repeat));
    const wantFcm = expected('fcm', (s) => s.answer === 'OK' || (s.answer === 'REMOVE' && !s.repeat));
    if (
      (seen(captures.apns) >= wantApns && seen(captures.fcm) >= wantFcm) ||
      Date.now() >= settleDeadline ||
      interrupted
    )
      break;
    await sleep(250);
  }
  if (interrupted) return halt();
  const after = await Promise.all([control('GET', '/apns/counters'), control('GET', '/fcm/counters')]);
  const counters = {
    apns: {
      requests: after[0].requests - before[0].requests,
      connections: after[0].connections - before[0].connections,
    },
    fcm: {
      requests: after[1].requests - before[1].requests,
      connections: (after[1].connections?.total ?? 0) - (before[1].connections?.total ?? 0),
    },
  };

  // Tidy up the simulators' token registry (the tokens were this run's own).
  for (const send of dead) {
    const path =
      send.provider === 'apns'
        ? `/apns/tokens/${send.n.device_id}`
        : `/fcm/tokens/${encodeURIComponent(send.n.device_id)}`;
    await control('DELETE', path).catch(() => undefined);
  }

  const all = [...burst, ...deadRepeat];
  const summary = summarize({ sends: all, captures, counters, durationMs, coverage, planned: all.length });
  const stack = { started: own !== undefined, ingress: options.ingress, control: options.control };
  if (own) {
    progress('stopping the stack…');
    const { cleanly, leftBehind } = await own.stop();
    Object.assign(stack, {
      pids: own.ready.pids,
      cleanly,
      leftBehind,
      ...(cleanly ? {} : { log: own.logFile }),
    });
    if (!cleanly) {
      summary.ok = false;
      summary.problems.push(
        `the stack ${own.crashed ? 'exited on its own during the run' : 'did not stop cleanly'}${leftBehind.length ? `; killed ${leftBehind.map((p) => p.name).join(', ')}` : ''} (log: ${own.logFile})`,
      );
    } else own.removeTemp();
  }
  if (args.json) process.stdout.write(`${JSON.stringify({ ...summary, stack })}\n`);
  else process.stdout.write(renderText(summary, stack));
  if (!summary.ok && !args.json)
    process.stderr.write(
      `demo: FAILED: ${summary.problems[0]}${summary.problems.length > 1 ? ` (+${summary.problems.length - 1} more)` : ''}\n`,
    );
  process.exitCode = summary.ok ? 0 : 1;
}

main().catch(async (error) => {
  if (interrupted) return;
  process.stderr.write(`demo: ${error.message}\n`);
  if (own) {
    const { leftBehind } = await own.stop();
    if (leftBehind.length > 0)
      process.stderr.write(
        `demo: killed what the stack left behind: ${leftBehind.map((p) => p.name).join(', ')}\n`,
      );
    process.stderr.write(`demo: the stack's output is in ${own.logFile}\n`);
  }
  process.exit(1);
});
