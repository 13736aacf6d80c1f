import {
  decodeGoStruct,
  foldGoKey,
  readFirstGoJsonValue,
  type GoJsonObject,
  type GoJsonValue,
  type GoStructSchema,
} from '@hpns/protocol';

/**
 * Reading of a `mattermost-push-proxy.json` file as the Go proxy reads it (reference §4): encoding/json with
 * case-insensitive keys and `null` as "leave the default". Where the proxy is lenient to a fault we are not:
 * a wrong type is reported (Go stops at the first; we list every one), unknown keys are warnings, and the
 * file's contents never appear in a message (the proxy prints the whole file, passwords included, on a parse
 * error).
 */

export interface ProxyFileSettings {
  ListenAddress: string;
  ThrottlePerSec: number;
  ThrottleMemoryStoreSize: number;
  ThrottleVaryByHeader: string;
  EnableMetrics: boolean;
  SendTimeoutSec: number;
  RetryTimeoutSec: number;
  EnableConsoleLog: boolean;
  EnableFileLog: boolean;
  LogFileLocation: string;
  LogFormat: string;
  ApplePushSettings: AppleProxySettings[];
  AndroidPushSettings: AndroidProxySettings[];
  /** Top-level keys that were present (by canonical name), so defaults can tell "absent" from "zero". */
  present: Set<string>;
}

export interface AppleProxySettings {
  Type: string;
  ApplePushUseDevelopment: boolean;
  ApplePushCertPrivate: string;
  ApplePushCertPassword: string;
  ApplePushTopic: string;
  AppleAuthKeyFile: string;
  AppleAuthKeyID: string;
  AppleTeamID: string;
}

export interface AndroidProxySettings {
  Type: string;
  ServiceFileLocation: string;
  AndroidApiKey: string;
}

const TOP_LEVEL: GoStructSchema = {
  qualifiedName: 'config.ConfigPushProxy',
  name: 'ConfigPushProxy',
  fields: {
    ListenAddress: 'string',
    ThrottlePerSec: 'int',
    ThrottleMemoryStoreSize: 'int',
    ThrottleVaryByHeader: 'string',
    EnableMetrics: 'bool',
    SendTimeoutSec: 'int',
    RetryTimeoutSec: 'int',
    EnableConsoleLog: 'bool',
    EnableFileLog: 'bool',
    LogFileLocation: 'string',
    LogFormat: 'string',
  },
};

const APPLE: GoStructSchema = {
  qualifiedName: 'config.ApplePushSettings',
  name: 'ApplePushSettings',
  fields: {
    Type: 'string',
    ApplePushUseDevelopment: 'bool',
    ApplePushCertPrivate: 'string',
    ApplePushCertPassword: 'string',
    ApplePushTopic: 'string',
    AppleAuthKeyFile: 'string',
    AppleAuthKeyID: 'string',
    AppleTeamID: 'string',
  },
};

const ANDROID: GoStructSchema = {
  qualifiedName: 'config.AndroidPushSettings',
  name: 'AndroidPushSettings',
  fields: { Type: 'string', ServiceFileLocation: 'string', AndroidApiKey: 'string' },
};

const ARRAY_KEYS = ['ApplePushSettings', 'AndroidPushSettings'] as const;

export interface ProxyFileReadResult {
  settings: ProxyFileSettings;
  problems: string[];
  warnings: string[];
}

function jsonKind(value: GoJsonValue): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'a boolean';
  return value.kind === 'number' ? 'a number' : `an ${value.kind}`;
}

/** Strips Go's "json: cannot unmarshal X into Go struct field S.F of type T" down to a readable problem. */
function fieldProblem(source: string, goError: string): string {
  const match = /^json: cannot unmarshal (.+) into Go struct field \w+\.(\w+) of type (\w+)$/.exec(goError);
  if (match === null) return `${source}: ${goError}`;
  const [, got, field, want] = match;
  return `${source}: ${field} must be ${want === 'bool' ? 'true or false' : `of type ${want}`}, got ${got}`;
}

function decodeEntries<T>(
  path: string,
  key: string,
  value: GoJsonValue,
  schema: GoStructSchema,
  problems: string[],
  warnings: string[],
): T[] {
  if (value === null) return [];
  if (typeof value !== 'object' || value.kind !== 'array') {
    problems.push(`${path}: ${key} must be an array of objects, got ${jsonKind(value)}`);
    return [];
  }
  const entries: T[] = [];
  value.items.forEach((item, index) => {
    const where = `${path}: ${key}[${index}]`;
    if (item !== null && (typeof item !== 'object' || item.kind !== 'object')) {
      problems.push(`${where} must be an object, got ${jsonKind(item)}`);
      return;
    }
    const decoded = decodeGoStruct<T>(item, schema);
    for (const error of decoded.typeErrors) problems.push(fieldProblem(where, error));
    for (const unknown of decoded.unknownKeys)
      warnings.push(`${where}: unknown key ${JSON.stringify(unknown)} ignored`);
    entries.push(decoded.value);
  });
  return entries;
}

/** Decodes the text of a push-proxy config file. `path` is used in messages only. */
export function readProxyConfigFile(path: string, text: string): ProxyFileReadResult {
  const problems: string[] = [];
  const warnings: string[] = [];
  const empty = decodeGoStruct<
    Omit<ProxyFileSettings, 'ApplePushSettings' | 'AndroidPushSettings' | 'present'>
  >(null, TOP_LEVEL).value;
  const settings: ProxyFileSettings = {
    ...empty,
    ApplePushSettings: [],
    AndroidPushSettings: [],
    present: new Set(),
  };
  const read = readFirstGoJsonValue(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  if (!read.ok) {
    // Only the decoder's own wording (a character and a position class), never the file's contents.
    problems.push(`${path}: not valid JSON (${read.error})`);
    return { settings, problems, warnings };
  }
  try {
    JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    problems.push(`${path}: unexpected content after the top-level JSON object`);
  }
  const root = read.value;
  if (root === null || typeof root !== 'object' || root.kind !== 'object') {
    problems.push(`${path}: the top level must be a JSON object, got ${jsonKind(root)}`);
    return { settings, problems, warnings };
  }
  const arrayFolded = new Map(ARRAY_KEYS.map((key) => [foldGoKey(key), key]));
  const scalars: GoJsonObject = { kind: 'object', keys: [], values: [] };
  root.keys.forEach((key, index) => {
    const value = root.values[index] as GoJsonValue;
    const arrayKey = arrayFolded.get(foldGoKey(key));
    if (arrayKey === undefined) {
      scalars.keys.push(key);
      scalars.values.push(value);
      return;
    }
    if (value !== null) settings.present.add(arrayKey);
    if (arrayKey === 'ApplePushSettings') {
      settings.ApplePushSettings = decodeEntries(path, arrayKey, value, APPLE, problems, warnings);
    } else {
      settings.AndroidPushSettings = decodeEntries(path, arrayKey, value, ANDROID, problems, warnings);
    }
  });
  const decoded = decodeGoStruct<typeof empty>(scalars, TOP_LEVEL);
  Object.assign(settings, decoded.value);
  for (const error of decoded.typeErrors) problems.push(fieldProblem(path, error));
  for (const unknown of decoded.unknownKeys)
    warnings.push(`${path}: unknown key ${JSON.stringify(unknown)} ignored`);
  const fieldNames = new Map(Object.keys(TOP_LEVEL.fields).map((name) => [foldGoKey(name), name]));
  scalars.keys.forEach((key, index) => {
    const name = fieldNames.get(foldGoKey(key));
    if (name !== undefined && scalars.values[index] !== null) settings.present.add(name);
  });
  return { settings, problems, warnings };
}
