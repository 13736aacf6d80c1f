/**
 * Readers and checks for the deployment files under infra/ and docker-compose.yml, used by tools/test/infra*.ts.
 * They work without Docker or Helm: a YAML parser, Docker's ignore-file rules, the instruction list of a
 * Dockerfile, and a static scan of Helm templates (blocks, includes, `.Values` paths, environment names).
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments, parseDocument } from 'yaml';
import { CONFIG_ENV_VARS } from '@hpns/runtime';

/** Parses one YAML document; throws on a syntax error, a duplicate key or a second document. */
export function readYaml(path: string, options: { merge?: boolean } = {}): unknown {
  const doc = parseDocument(readFileSync(path, 'utf8'), { merge: options.merge ?? false, uniqueKeys: true });
  if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
  return doc.toJS({ maxAliasCount: 100 });
}

/** Parses a multi-document YAML stream (e.g. `helm template` output), dropping empty documents. */
export function readYamlStream(text: string): Record<string, unknown>[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('; '));
      return doc.toJS() as unknown;
    })
    .filter((value): value is Record<string, unknown> => value !== null && typeof value === 'object');
}

// ---------------------------------------------------------------------------------------------------------
// Environment variable names

const FAMILIES = [/^HPNS_REDIS_URL_[A-Z0-9]+$/, /^HPNS_APPLE_CERT_PASSWORD_[A-Z0-9_]+$/];

/**
 * Whether loadConfig reads `name`: one of CONFIG_ENV_VARS, a per-region or per-target family, or the `_FILE`
 * form of either (every setting is read through readEnvSetting, which accepts `<NAME>_FILE`).
 */
export function isConfigEnvName(name: string): boolean {
  const known = new Set<string>(CONFIG_ENV_VARS);
  const base = name.endsWith('_FILE') ? name.slice(0, -'_FILE'.length) : name;
  return [name, base].some((n) => known.has(n) || FAMILIES.some((family) => family.test(n)));
}

/** Settings that hold secrets: they must reach a process as `_FILE`, never as a value. */
export function isSecretSetting(name: string): boolean {
  return (
    ['HPNS_PAYLOAD_KEYS', 'HPNS_TOKEN_HASH_KEY', 'HPNS_REDIS_URL'].includes(name) ||
    FAMILIES.some((family) => family.test(name))
  );
}

// ---------------------------------------------------------------------------------------------------------
// .dockerignore

function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === '*' && pattern[i + 1] === '*') {
      const slash = pattern[i + 2] === '/';
      source += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/**
 * Docker's .dockerignore semantics: patterns in order, `!` re-includes, the last pattern that matches a path or
 * one of its parent folders decides. Returns whether `path` (repo-relative, `/`-separated) is sent to the build.
 */
export function dockerIgnoreIncludes(ignoreFile: string, path: string): boolean {
  const rules = ignoreFile
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const body = (negate ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
      return { negate, pattern: globToRegExp(body) };
    });
  const parts = path.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let included = true;
  for (const rule of rules) {
    if (candidates.some((candidate) => rule.pattern.test(candidate))) included = rule.negate;
  }
  return included;
}

// ---------------------------------------------------------------------------------------------------------
// Dockerfile

export interface DockerInstruction {
  /** Upper-case keyword, e.g. `RUN`. */
  keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  args: string;
  /** Index of the build stage (0-based) the instruction belongs to; -1 before the first FROM. */
  stage: number;
}

/** The instructions of a Dockerfile, with `\` continuations joined and comments dropped. */
export function parseDockerfile(text: string): DockerInstruction[] {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // a comment inside a continued instruction
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push(`${current}${line}`.trim());
    current = '';
  }
  if (current.trim() !== '') logical.push(current.trim());
  let stage = -1;
  return logical.map((line) => {
    const space = line.search(/\s/);
    const keyword = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    if (keyword === 'FROM') stage += 1;
    return { keyword, args: space < 0 ? '' : line.slice(space + 1).trim(), stage };
  });
}

// ---------------------------------------------------------------------------------------------------------
// Helm templates, statically

export interface TemplateScan {
  /** Problems: unbalanced actions or blocks. */
  problems: string[];
  /** Names given to `define`. */
  defines: string[];
  /** Names used by `include` and `template`. */
  includes: string[];
  /** `.Values` paths used, e.g. `ingress.autoscaling.enabled`. */
  valuesPaths: string[];
  /** `HPNS_*` names written literally, and those built with printf (`HPNS_REDIS_URL_%s_FILE`). */
  envNames: string[];
}

const BLOCK_OPENERS = new Set(['if', 'range', 'with', 'define', 'block']);

/** Scans the text of one Helm template file. */
export function scanHelmTemplate(text: string, file: string): TemplateScan {
  const problems: string[] = [];
  const opens = text.split('{{').length - 1;
  const closes = text.split('}}').length - 1;
  if (opens !== closes) problems.push(`${file}: ${opens} "{{" but ${closes} "}}"`);
  const stack: string[] = [];
  const actions = [...text.matchAll(/\{\{-?\s*(.*?)\s*-?\}\}/gs)].map((m) => (m[1] ?? '').trim());
  for (const action of actions) {
    if (action.startsWith('/*')) continue;
    const word = /^([a-z]+)\b/.exec(action)?.[1] ?? '';
    if (BLOCK_OPENERS.has(word)) stack.push(word);
    else if (word === 'end') {
      if (stack.pop() === undefined) problems.push(`${file}: {{ end }} without an open block`);
    }
  }
  if (stack.length > 0) problems.push(`${file}: unclosed ${stack.join(', ')}`);
  const code = actions.filter((action) => !action.startsWith('/*')).join('\n');
  return {
    problems,
    defines: [...code.matchAll(/\bdefine\s+"([^"]+)"/g)].map((m) => m[1] as string),
    includes: [...code.matchAll(/\b(?:include|template)\s+"([^"]+)"/g)].map((m) => m[1] as string),
    valuesPaths: [...code.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)].map((m) =>
      (m[1] as string).slice(1),
    ),
    envNames: [...text.matchAll(/HPNS_[A-Z0-9_]*(?:%s[A-Z0-9_]*)?/g)]
      .map((m) => m[0])
      .filter((name) => /[A-Z0-9]$/.test(name) || name.endsWith('_FILE')),
  };
}

/** Whether `path` (dot-separated) can be read from `values`: each step exists, or a step reaches a leaf. */
export function hasValuesPath(values: unknown, path: string): boolean {
  let node: unknown = values;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return false;
    if (!(key in (node as Record<string, unknown>))) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return true;
}

/**
 * Keys of an override file (values-us.yaml) that values.yaml does not have: a typo there would be ignored by
 * Helm silently. Maps that are empty in values.yaml (`{}`) are free-form, and lists are replaced whole.
 */
export function unknownOverrideKeys(defaults: unknown, override: unknown, prefix = ''): string[] {
  if (override === null || typeof override !== 'object' || Array.isArray(override)) return [];
  const base = (defaults ?? {}) as Record<string, unknown>;
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(override as Record<string, unknown>)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (!(key in base)) {
      unknown.push(path);
      continue;
    }
    const known = base[key];
    const freeForm =
      known !== null &&
      typeof known === 'object' &&
      !Array.isArray(known) &&
      Object.keys(known as object).length === 0;
    if (!freeForm && !Array.isArray(known)) unknown.push(...unknownOverrideKeys(known, value, path));
  }
  return unknown;
}
