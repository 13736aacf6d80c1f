/**
 * The HPNS error catalog. Every error HPNS raises carries one of these codes; code that handles errors branches
 * on `code`, never on `instanceof`. README.md ("Error codes") lists the same codes; a test keeps them in step.
 */
export const ERROR_CATALOG = {
  HPNS_BAD_REQUEST: {
    retryable: false,
    description: 'A send_push or ack body could not be decoded or failed validation.',
  },
  HPNS_UNKNOWN_PLATFORM: {
    retryable: false,
    description: 'The platform of a push names no configured Apple or Android target.',
  },
  HPNS_CONFIG_INVALID: {
    retryable: false,
    description: 'The configuration has one or more problems; all of them are listed in the message.',
  },
  HPNS_REGION_INVALID: {
    retryable: false,
    description: 'A region name is malformed or not one of the configured regions.',
  },
  HPNS_REGION_NOT_SERVED: {
    retryable: false,
    description: 'This process holds no Redis connection for the region a push belongs to.',
  },
  HPNS_TENANT_UNKNOWN: {
    retryable: false,
    description: 'The calling server is not a registered tenant of an entitlement-checked listener.',
  },
  HPNS_RATE_LIMITED: {
    retryable: true,
    description: 'The calling server exceeded its rate limit.',
  },
  HPNS_REDIS_UNAVAILABLE: {
    retryable: true,
    description: 'Redis could not be reached or answered with an error.',
  },
  HPNS_PAYLOAD_TOO_LARGE: {
    retryable: false,
    description: 'A built APNs or FCM payload is larger than the provider accepts.',
  },
  HPNS_PAYLOAD_KEY_MISSING: {
    retryable: false,
    description: 'No payload encryption key is configured, or a job names a key version that is not loaded.',
  },
  HPNS_PAYLOAD_FORMAT_UNKNOWN: {
    retryable: true,
    description:
      'A queued job is in a sealed-job format this process cannot read yet (sealed by a newer release during a rolling upgrade).',
  },
  HPNS_PAYLOAD_DECRYPT_FAILED: {
    retryable: false,
    description: 'A queued payload failed authentication or could not be decoded.',
  },
  HPNS_PUSH_EXPIRED: {
    retryable: false,
    description: 'A push outlived its time to live before it could be delivered.',
  },
  HPNS_SHUTDOWN_TIMEOUT: {
    retryable: false,
    description: 'Shutdown steps did not finish within the shutdown deadline.',
  },
  HPNS_INTERNAL: {
    retryable: false,
    description: 'An unexpected internal error (a bug); the cause is attached.',
  },
} as const satisfies Record<string, { retryable: boolean; description: string }>;

export type HpnsErrorCode = keyof typeof ERROR_CATALOG;

export const ERROR_CODES = Object.keys(ERROR_CATALOG) as HpnsErrorCode[];

export interface HpnsErrorOptions {
  /** The underlying error, kept for logs. */
  cause?: unknown;
  /** Overrides the catalog's default for this code. */
  retryable?: boolean;
  /** Structured, content-free details (field names, counts); safe to log. */
  details?: Record<string, unknown>;
}

/** The single error type of HPNS. */
export class HpnsError extends Error {
  readonly code: HpnsErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: HpnsErrorCode, message: string, options: HpnsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HpnsError';
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CATALOG[code].retryable;
    this.details = options.details;
  }
}

/** True when `value` is an HpnsError with the given code (works across module copies: checks the code). */
export function isHpnsError(value: unknown, code?: HpnsErrorCode): value is HpnsError {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { code?: unknown; name?: unknown };
  if (candidate.name !== 'HpnsError' || typeof candidate.code !== 'string') return false;
  if (!Object.hasOwn(ERROR_CATALOG, candidate.code)) return false; // not `in`: toString is no code
  return code === undefined || candidate.code === code;
}
