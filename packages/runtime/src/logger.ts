import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { type LogLevel } from './config-types';

export type { Logger } from 'pino';

/** Characters of a device token kept in logs (as the push proxy v6.5.0 does), followed by "…". */
export const TOKEN_PREFIX_LENGTH = 8;

/** Cuts a device token (or any credential-like id) to its first 8 characters and "…". */
export function redactToken(token: string): string {
  return token.length <= TOKEN_PREFIX_LENGTH ? token : `${token.slice(0, TOKEN_PREFIX_LENGTH)}…`;
}

/** Field names whose values are device tokens: kept as a prefix so an SRE can correlate, never in full. */
const TOKEN_FIELDS = ['device_id', 'deviceId', 'token', 'deviceToken', 'did'];
/**
 * Field names whose values are message content or whole pushes: removed. HPNS never examines or keeps content,
 * and a log line is a copy that outlives the push.
 */
const CONTENT_FIELDS = [
  'channel_name',
  'sender_name',
  'team_name',
  'body',
  'payload',
  'notification',
  'push',
  'content',
  'alert',
  'data',
];
/**
 * `message` is content at the top level (a push's text) but not below it: `err.message` must stay readable.
 * Nested pushes are caught by their container names above.
 */
const TOP_LEVEL_CONTENT_FIELDS = ['message'];
/** Field names whose values are credentials: replaced. */
const SECRET_FIELDS = [
  'signature',
  'authorization',
  'password',
  'jwt',
  'privateKey',
  'private_key',
  'key',
  'secret',
];

const CENSORED = '[redacted]';

function paths(fields: readonly string[]): string[] {
  // Top level, one and two levels down: `{ device_id }`, `{ job: { device_id } }`, `{ a: { b: { device_id } } }`.
  return fields.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]);
}

function censor(value: unknown, path: string[]): unknown {
  const field = path[path.length - 1] ?? '';
  if (TOKEN_FIELDS.includes(field)) return typeof value === 'string' ? redactToken(value) : CENSORED;
  if (CONTENT_FIELDS.includes(field) || TOP_LEVEL_CONTENT_FIELDS.includes(field)) return undefined; // JSON drops the key
  return CENSORED;
}

export interface LoggerOptionsInput {
  /** Minimum level written. Default `info`. */
  level?: LogLevel;
  /** Fields on every line, e.g. `{ service: 'ingress', region: 'us' }`. */
  base?: Record<string, unknown>;
  /** Where lines go. Default stdout (file descriptor 1), asynchronously buffered by pino. */
  destination?: DestinationStream;
}

/**
 * The HPNS logger: JSON lines (pino), ISO timestamps, stable `event` names chosen by callers, and redaction built
 * in: device tokens cut to 8 characters, message content removed, credentials replaced, at the top level and two
 * levels down. Callers still must not put content in `msg` strings; the redaction is the safety net.
 */
export function createLogger(options: LoggerOptionsInput = {}): Logger {
  const pinoOptions: LoggerOptions = {
    level: options.level ?? 'info',
    base: { pid: process.pid, ...options.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: [
        ...paths(TOKEN_FIELDS),
        ...paths(CONTENT_FIELDS),
        ...TOP_LEVEL_CONTENT_FIELDS,
        ...paths(SECRET_FIELDS),
      ],
      censor,
    },
    serializers: { err: pino.stdSerializers.err },
  };
  return options.destination === undefined ? pino(pinoOptions) : pino(pinoOptions, options.destination);
}
