/**
 * Environment and file access for `loadConfig`. Both arrive as arguments (`env`, `files`) so that loading is a
 * pure function of its inputs and tests need neither process.env nor the real file system.
 */

/** Reads files named by the configuration (config file, keys, certificates, `*_FILE` secrets). */
export interface ConfigFiles {
  /** Returns the file's text; throws (an Error with `code`, like fs does) when it cannot be read. */
  readText(path: string): string;
}

/** Environment variables, e.g. `process.env`. */
export type ConfigEnv = Readonly<Record<string, string | undefined>>;

/** Problems and warnings collected while settings are read, so that every problem is reported at once. */
export interface ConfigIssues {
  readonly problems: string[];
  readonly warnings: string[];
}

/** A short, secret-free reason for a failed file read (`ENOENT`, `EACCES`, …). */
export function readFailure(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES') return 'permission denied';
    if (code === 'EISDIR') return 'is a directory';
    return code;
  }
  return 'unreadable';
}

/** Reads a file for the configuration; on failure records a problem naming `what` and returns undefined. */
export function readConfigFile(
  files: ConfigFiles,
  issues: ConfigIssues,
  what: string,
  path: string,
): string | undefined {
  try {
    return files.readText(path);
  } catch (error) {
    issues.problems.push(`${what}: cannot read ${JSON.stringify(path)} (${readFailure(error)})`);
    return undefined;
  }
}

/**
 * Reads setting `name` from the environment, or from the file named by `${name}_FILE` (the Docker/Kubernetes
 * secrets convention; one trailing newline is dropped). Setting both is a problem. Empty values count as unset.
 */
export function readEnvSetting(
  env: ConfigEnv,
  files: ConfigFiles,
  issues: ConfigIssues,
  name: string,
): string | undefined {
  const direct = env[name];
  const fileName = env[`${name}_FILE`];
  const hasDirect = direct !== undefined && direct !== '';
  const hasFile = fileName !== undefined && fileName !== '';
  if (hasDirect && hasFile) {
    issues.problems.push(`${name} and ${name}_FILE are both set; set only one`);
    return undefined;
  }
  if (hasFile) {
    const text = readConfigFile(files, issues, `${name}_FILE`, fileName);
    return text?.replace(/\r?\n$/, '');
  }
  return hasDirect ? direct : undefined;
}

/** Parses a whole number in [min, max] from an environment value; records a problem otherwise. */
export function parseIntSetting(
  issues: ConfigIssues,
  name: string,
  text: string,
  min: number,
  max: number,
): number | undefined {
  const trimmed = text.trim();
  if (!/^-?\d+$/.test(trimmed)) {
    issues.problems.push(`${name} must be a whole number, got ${JSON.stringify(text)}`);
    return undefined;
  }
  const value = Number(trimmed);
  if (value < min || value > max) {
    issues.problems.push(`${name} must be between ${min} and ${max}, got ${trimmed}`);
    return undefined;
  }
  return value;
}

/** Parses `true`/`false` (also `1`/`0`, `yes`/`no`, any case); records a problem otherwise. */
export function parseBoolSetting(issues: ConfigIssues, name: string, text: string): boolean | undefined {
  const lower = text.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(lower)) return true;
  if (['false', '0', 'no', 'off'].includes(lower)) return false;
  issues.problems.push(`${name} must be true or false, got ${JSON.stringify(text)}`);
  return undefined;
}

/** An HTTP field name (RFC 9110 §5.1: a token), at most 64 characters. */
export function isHeaderName(text: string): boolean {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/.test(text);
}

/** Checks `host:port`, `:port` or `[v6]:port`; returns a problem text or undefined. */
export function listenAddressProblem(name: string, value: string): string | undefined {
  const match = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(\d{1,5})$/.exec(value);
  if (match === null || Number(match[1]) > 65535) {
    return `${name} must be "host:port" or ":port" with a port from 0 to 65535, got ${JSON.stringify(value)}`;
  }
  return undefined;
}

/** Splits a checked `host:port`, `:port` or `[v6]:port` into listen arguments (no host → all interfaces). */
export function parseListenAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  return { host: host === '' ? '0.0.0.0' : host, port: Number(address.slice(colon + 1)) };
}
