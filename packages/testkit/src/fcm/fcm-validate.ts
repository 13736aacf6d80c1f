import { fcmReplies, type FcmReply, type FieldViolation } from './fcm-errors';

/**
 * Validation of a `messages:send` body as FCM does it (reference/apns-fcm.md §2.2). Two layers, as at Google:
 * proto-JSON parsing (wrong types, unknown names, bad enums/durations → 400 with a BadRequest detail only) and
 * FCM's own checks (target, topic, reserved keys, TTL range, size → 400 with FcmError INVALID_ARGUMENT).
 * Field names are accepted in snake_case and lowerCamelCase, like any proto3 JSON endpoint.
 */

/** §2.2: payload limit, keys plus values, bytes; half of it for topic messages. */
export const FCM_MAX_PAYLOAD_BYTES = 4096;
export const FCM_MAX_TOPIC_PAYLOAD_BYTES = 2048;
/** §2.2: `android.ttl` at most 4 weeks. */
export const FCM_MAX_TTL_SECONDS = 2_419_200;
/** §2.2: a protobuf Duration in JSON, as the simulator accepts it. */
export const FCM_TTL_PATTERN = /^\d+(\.\d{1,9})?s$/;
const TOPIC_PATTERN = /^[a-zA-Z0-9-_.~%]+$/;
const CONDITION_TOPIC = /'[a-zA-Z0-9-_.~%]+'\s+in\s+topics/g;

export type FcmTarget = { token: string } | { topic: string } | { condition: string };

export type FcmValidation =
  | { ok: true; validateOnly: boolean; target: FcmTarget; payloadBytes: number }
  | { ok: false; reply: FcmReply };

type Json = Record<string, unknown>;

const SEND_REQUEST_FIELDS = ['validate_only', 'message'];
const MESSAGE_FIELDS = [
  'name',
  'data',
  'notification',
  'android',
  'webpush',
  'apns',
  'fcm_options',
  'token',
  'topic',
  'condition',
];
const ANDROID_FIELDS = [
  'collapse_key',
  'priority',
  'ttl',
  'restricted_package_name',
  'data',
  'notification',
  'fcm_options',
  'direct_boot_ok',
  'bandwidth_constrained_ok',
  'restricted_satellite_ok',
];

const toCamel = (snake: string): string => snake.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/**
 * lowerCamelCase of the field names looked up per request, computed once: a regex replace per lookup, with the
 * name sets below rebuilt per call, took about a sixth of the FCM simulator's CPU per send (profile of the
 * worker throughput bench).
 */
const CAMEL = new Map<string, string>();
const camel = (snake: string): string => {
  let name = CAMEL.get(snake);
  if (name === undefined) {
    name = toCamel(snake);
    CAMEL.set(snake, name);
  }
  return name;
};

/** The value of a field under its snake_case or lowerCamelCase name; null counts as absent (proto3 JSON). */
function field(object: Json, snake: string): unknown {
  return object[snake] ?? object[camel(snake)] ?? undefined;
}

/** The accepted names (snake_case and lowerCamelCase) of each message's field list, built once per list. */
const KNOWN_NAMES = new Map<readonly string[], ReadonlySet<string>>();
function knownNames(known: readonly string[]): ReadonlySet<string> {
  let names = KNOWN_NAMES.get(known);
  if (names === undefined) {
    names = new Set(known.flatMap((name) => [name, camel(name)]));
    KNOWN_NAMES.set(known, names);
  }
  return names;
}

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const invalidValue = (path: string, type: string, value: unknown): FieldViolation => ({
  field: path,
  description: `Invalid value at '${path}' (${type}), ${JSON.stringify(value)}`,
});

/** Violations for names that are not fields of the message at `path` (proto JSON rejects them). */
function unknownNames(object: Json, known: readonly string[], path: string): FieldViolation[] {
  const names = knownNames(known);
  return Object.keys(object)
    .filter((key) => !names.has(key))
    .map((key) => ({
      ...(path === '' ? {} : { field: path }),
      description: `Invalid JSON payload received. Unknown name "${key}"${path === '' ? '' : ` at '${path}'`}: Cannot find field.`,
    }));
}

/** Type violations of a map<string,string>, named as Google names them: `message.data[0].value`. */
function stringMapViolations(value: unknown, path: string): FieldViolation[] {
  if (value === undefined) return [];
  if (!isObject(value))
    return [invalidValue(path, `type.googleapis.com/google.firebase.fcm.v1.DataEntry`, value)];
  return Object.entries(value).flatMap(([, entry], index) =>
    typeof entry === 'string' ? [] : [invalidValue(`${path}[${index}].value`, 'TYPE_STRING', entry)],
  );
}

function utf8Bytes(value: unknown): number {
  if (!isObject(value)) return 0;
  let bytes = 0;
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry === 'string') bytes += Buffer.byteLength(key) + Buffer.byteLength(entry);
  }
  return bytes;
}

/** §2.2: `from`, `message_type` and keys starting with `google` or `gcm` are reserved. */
function reservedKey(data: unknown): string | undefined {
  if (!isObject(data)) return undefined;
  return Object.keys(data).find(
    (key) => key === 'from' || key === 'message_type' || key.startsWith('google') || key.startsWith('gcm'),
  );
}

function parseLayer(request: Json): FieldViolation[] {
  const violations = unknownNames(request, SEND_REQUEST_FIELDS, '');
  const validateOnly = field(request, 'validate_only');
  if (validateOnly !== undefined && typeof validateOnly !== 'boolean') {
    violations.push(invalidValue('validate_only', 'TYPE_BOOL', validateOnly));
  }
  const message = field(request, 'message');
  if (message === undefined) return violations;
  if (!isObject(message)) {
    return [
      ...violations,
      invalidValue('message', 'type.googleapis.com/google.firebase.fcm.v1.Message', message),
    ];
  }
  violations.push(...unknownNames(message, MESSAGE_FIELDS, 'message'));
  for (const target of ['token', 'topic', 'condition']) {
    const value = field(message, target);
    if (value !== undefined && typeof value !== 'string') {
      violations.push(invalidValue(`message.${target}`, 'TYPE_STRING', value));
    }
  }
  violations.push(...stringMapViolations(field(message, 'data'), 'message.data'));
  const android = field(message, 'android');
  if (android !== undefined && !isObject(android)) {
    violations.push(
      invalidValue('message.android', 'type.googleapis.com/google.firebase.fcm.v1.AndroidConfig', android),
    );
  } else if (android !== undefined) {
    violations.push(...unknownNames(android, ANDROID_FIELDS, 'message.android'));
    const priority = field(android, 'priority');
    if (priority !== undefined && priority !== 'NORMAL' && priority !== 'HIGH') {
      violations.push(
        invalidValue(
          'message.android.priority',
          'type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority',
          priority,
        ),
      );
    }
    const ttl = field(android, 'ttl');
    if (ttl !== undefined && (typeof ttl !== 'string' || !FCM_TTL_PATTERN.test(ttl))) {
      violations.push(
        invalidValue('message.android.ttl', 'type.googleapis.com/google.protobuf.Duration', ttl),
      );
    }
    for (const name of ['collapse_key', 'restricted_package_name']) {
      const value = field(android, name);
      if (value !== undefined && typeof value !== 'string') {
        violations.push(invalidValue(`message.android.${name}`, 'TYPE_STRING', value));
      }
    }
    violations.push(...stringMapViolations(field(android, 'data'), 'message.android.data'));
  }
  return violations;
}

/** Validates a raw request body. */
export function validateSendRequest(raw: Buffer): FcmValidation {
  let request: unknown;
  try {
    request = JSON.parse(raw.toString('utf8'));
  } catch {
    return {
      ok: false,
      reply: fcmReplies.badRequest([{ description: 'Invalid JSON payload received. Unexpected token.' }]),
    };
  }
  if (!isObject(request)) {
    return {
      ok: false,
      reply: fcmReplies.badRequest([
        { description: 'Invalid JSON payload received. Unknown name "": Root element must be a message.' },
      ]),
    };
  }
  const violations = parseLayer(request);
  if (violations.length > 0) return { ok: false, reply: fcmReplies.badRequest(violations) };

  const message = field(request, 'message');
  // [assumption] Google's generic INVALID_ARGUMENT text; the exact wording for a missing message is unknown.
  if (!isObject(message))
    return { ok: false, reply: fcmReplies.invalidArgument('Request contains an invalid argument.') };

  // Exactly one target. A second one is a proto oneof error, named after the later key [observed wording].
  const targets = Object.keys(message).filter(
    (key) => ['token', 'topic', 'condition'].includes(key) && message[key] !== null,
  );
  if (targets.length > 1) {
    const description = `Invalid value at 'message' (oneof), oneof field 'target' is already set. Cannot set '${targets[1]}'`;
    return { ok: false, reply: fcmReplies.badRequest([{ field: 'message', description }]) };
  }
  const targetName = targets[0] as 'token' | 'topic' | 'condition' | undefined;
  if (targetName === undefined) {
    const description = 'Recipient of the message is not set.';
    return { ok: false, reply: fcmReplies.invalidArgument(description, [{ field: 'message', description }]) };
  }
  const targetValue = message[targetName] as string;
  if (targetName === 'topic' && !TOPIC_PATTERN.test(targetValue)) {
    return {
      ok: false,
      reply: fcmReplies.invalidArgument('Request contains an invalid argument.', [
        { field: 'message.topic', description: `Invalid topic name: ${targetValue}` },
      ]),
    };
  }
  if (targetName === 'condition') {
    const topics = targetValue.match(CONDITION_TOPIC)?.length ?? 0;
    if (topics < 1 || topics > 5) {
      return {
        ok: false,
        reply: fcmReplies.invalidArgument('Request contains an invalid argument.', [
          { field: 'message.condition', description: 'A condition must name 1 to 5 topics.' },
        ]),
      };
    }
  }

  const android = field(message, 'android') as Json | undefined;
  const reserved = reservedKey(field(message, 'data')) ?? reservedKey(android && field(android, 'data'));
  // [observed] wording quoted in beste/firebase-php#574.
  if (reserved !== undefined) {
    return { ok: false, reply: fcmReplies.invalidArgument(`Invalid data payload key: ${reserved}`) };
  }
  const ttl = android && (field(android, 'ttl') as string | undefined);
  if (ttl !== undefined && Number.parseFloat(ttl) > FCM_MAX_TTL_SECONDS) {
    return {
      ok: false,
      reply: fcmReplies.invalidArgument('Request contains an invalid argument.', [
        { field: 'message.android.ttl', description: `TTL must not exceed ${FCM_MAX_TTL_SECONDS}s.` },
      ]),
    };
  }

  const payloadBytes =
    utf8Bytes(field(message, 'data')) +
    utf8Bytes(field(message, 'notification')) +
    (android ? utf8Bytes(field(android, 'data')) + utf8Bytes(field(android, 'notification')) : 0);
  const limit = targetName === 'topic' ? FCM_MAX_TOPIC_PAYLOAD_BYTES : FCM_MAX_PAYLOAD_BYTES;
  // [observed] wording: firebase/firebase-admin-go#580.
  if (payloadBytes > limit)
    return { ok: false, reply: fcmReplies.invalidArgument('Android message is too big') };

  const target = { [targetName]: targetValue } as FcmTarget;
  return { ok: true, validateOnly: field(request, 'validate_only') === true, target, payloadBytes };
}
