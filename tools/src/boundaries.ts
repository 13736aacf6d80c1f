import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import * as ts from 'typescript';
import { compare, findWorkspaces, listSourceFiles, toPosix, type Workspace } from './workspaces';

/** The kind of boundary a finding breaks; stable so CI output and tests can match on it. */
export type BoundaryRule =
  | 'upward-import'
  | 'same-layer-import'
  | 'app-import'
  | 'tools-import'
  | 'deep-import'
  | 'relative-escape'
  | 'unknown-package'
  | 'unknown-workspace'
  | 'manifest-dependency';

/** One broken boundary (STYLE.md convention 1, DESIGN.md "Layout"). */
export interface Violation {
  /** Repo-relative path with `/` separators: the importing source file, or a `package.json`. */
  file: string;
  /** 1-based line of the import specifier; absent for `package.json` findings. */
  line?: number;
  /** Name of the workspace that holds `file` (its directory when the manifest has no name). */
  importer: string;
  /** The import specifier, dependency name or workspace name as written. */
  specifier: string;
  /** Which rule is broken. */
  rule: BoundaryRule;
  /** Human-readable reason, e.g. "@hpns/protocol (layer 0) must not import @hpns/runtime (layer 1)". */
  message: string;
}

/**
 * Layer of every library package; an import must point to a strictly lower layer. Every workspace under
 * `apps/` is {@link APP_LAYER}, so apps need no entry. A new package must be added here, or the check fails.
 */
export const PACKAGE_LAYERS: Readonly<Record<string, number>> = {
  '@hpns/protocol': 0,
  '@hpns/runtime': 1,
  '@hpns/queue': 2,
  '@hpns/providers': 2,
  '@hpns/testkit': 2,
};

/** Layer of every workspace under `apps/`: the top, and nothing may import an app. */
export const APP_LAYER = 3;

/** The tooling workspace: it may import anything, and nothing may import it. */
export const TOOLS_PACKAGE = '@hpns/tools';

/** The package test-side files and devDependencies may use whatever their layer. */
export const TESTKIT_PACKAGE = '@hpns/testkit';
/**
 * The load-test kit (apps/loadtest) is an app, but also the load generator the benches drive their own app
 * with: test-side files and devDependencies may use it, as they may use testkit. Nothing else imports it.
 */
export const LOAD_TEST_KIT = '@hpns/loadtest';

/** Subpath imports allowed despite the "." export rule: jest configs load the shared preset by this path. */
export const ALLOWED_SUBPATH_IMPORTS: readonly string[] = ['@hpns/testkit/jest-preset'];

/** Where a workspace sits: a numbered layer, or the tooling workspace that stands outside the layers. */
type Placement = { kind: 'layer'; layer: number; app: boolean } | { kind: 'tools' };

type Problem = { rule: BoundaryRule; message: string };

const SCOPE = '@hpns/';
const MANIFEST_FIELDS = [
  'dependencies',
  'devDependencies',
  'peerDependencies',
  'optionalDependencies',
] as const;

/**
 * Checks every workspace's sources and manifest against the dependency direction and import rules.
 * Reads files under `rootDir` and nothing else; returns the findings sorted by file, line and rule.
 */
export function checkBoundaries(rootDir: string): Violation[] {
  const workspaces = findWorkspaces(rootDir);
  const byName = new Map(workspaces.flatMap((ws) => (ws.name === undefined ? [] : [[ws.name, ws] as const])));
  const workspaceDirs = new Set(workspaces.map((ws) => ws.dir));
  const violations: Violation[] = [];
  for (const ws of workspaces) {
    violations.push(...checkManifest(ws, byName));
    for (const file of listSourceFiles(ws.dir, workspaceDirs)) {
      violations.push(...checkSourceFile(rootDir, ws, file, byName));
    }
  }
  return violations.sort(
    (a, b) => compare(a.file, b.file) || (a.line ?? 0) - (b.line ?? 0) || compare(a.rule, b.rule),
  );
}

/** Renders findings one per line as `file:line  rule  message`, for test failures and CI logs. */
export function formatViolations(violations: readonly Violation[]): string {
  if (violations.length === 0) return 'no boundary violations';
  const lines = violations.map((v) => {
    const where = v.line === undefined ? v.file : `${v.file}:${v.line}`;
    return `  ${where}  ${v.rule}  ${v.message}`;
  });
  const title = `${violations.length} boundary violation${violations.length === 1 ? '' : 's'}`;
  return [`${title} (STYLE.md convention 1, DESIGN.md "Layout"):`, ...lines].join('\n');
}

function checkManifest(ws: Workspace, byName: ReadonlyMap<string, Workspace>): Violation[] {
  const importer = ws.name ?? ws.relDir;
  const file = `${ws.relDir}/package.json`;
  const found: Violation[] = [];
  if (placementOf(ws) === undefined) {
    const what = ws.name ?? `(no "name" in ${file})`;
    const message = `unknown package ${what}, add it to the layer map (PACKAGE_LAYERS in tools/src/boundaries.ts)`;
    found.push({ file, importer, specifier: ws.name ?? '', rule: 'unknown-workspace', message });
  }
  for (const field of MANIFEST_FIELDS) {
    for (const dep of Object.keys(ws.manifest[field] ?? {}).filter((name) => name.startsWith(SCOPE))) {
      const target = byName.get(dep);
      // Test helpers are a development-time dependency of any layer: the manifest twin of the test/ exception.
      const reason = target
        ? directionProblem(ws, target, field === 'devDependencies')?.message
        : `${dep} is not a workspace of this repository`;
      if (reason !== undefined) {
        const message = `${field}: ${reason}`;
        found.push({ file, importer, specifier: dep, rule: 'manifest-dependency', message });
      }
    }
  }
  return found;
}

function checkSourceFile(
  rootDir: string,
  ws: Workspace,
  file: string,
  byName: ReadonlyMap<string, Workspace>,
): Violation[] {
  const text = readFileSync(file, 'utf8');
  const relFile = toPosix(relative(rootDir, file));
  const importer = ws.name ?? ws.relDir;
  const testSide = isTestSide(toPosix(relative(ws.dir, file)));
  // preProcessFile scans tokens, not text: it finds import/export-from/require()/import() (type-only ones
  // too) and ignores look-alikes in comments and strings, which a regex would not.
  const info = ts.preProcessFile(text, true, true);
  const found: Violation[] = [];
  // Triple-slash path references can leave the workspace just like relative imports.
  for (const ref of [...info.importedFiles, ...info.referencedFiles]) {
    const specifier = ref.fileName;
    const line = lineOf(text, ref.pos);
    for (const { rule, message } of importProblems(rootDir, ws, file, specifier, testSide, byName)) {
      found.push({ file: relFile, line, importer, specifier, rule, message });
    }
  }
  return found;
}

function importProblems(
  rootDir: string,
  ws: Workspace,
  file: string,
  specifier: string,
  testSide: boolean,
  byName: ReadonlyMap<string, Workspace>,
): Problem[] {
  if (specifier.startsWith('.') || isAbsolute(specifier)) {
    const resolved = resolve(dirname(file), specifier);
    if (isInside(ws.dir, resolved)) return [];
    const where = toPosix(relative(rootDir, resolved));
    return [{ rule: 'relative-escape', message: `${specifier} resolves to ${where}, outside ${ws.relDir}/` }];
  }
  if (!specifier.startsWith(SCOPE)) return [];
  const name = specifier.split('/').slice(0, 2).join('/');
  const target = byName.get(name);
  if (!target) return [{ rule: 'unknown-package', message: `${name} is not a workspace of this repository` }];
  const problems: Problem[] = [];
  if (specifier !== name && !ALLOWED_SUBPATH_IMPORTS.includes(specifier)) {
    const message = `import ${name} by its name only (its "." export), not ${specifier}`;
    problems.push({ rule: 'deep-import', message });
  }
  const direction = directionProblem(ws, target, testSide);
  if (direction) problems.push(direction);
  return problems;
}

function placementOf(ws: Workspace): Placement | undefined {
  if (ws.name === TOOLS_PACKAGE) return { kind: 'tools' };
  // An app is defined by where it lives, so a new app needs no layer-map entry.
  if (ws.relDir.split('/')[0] === 'apps' && ws.name?.startsWith(SCOPE)) {
    return { kind: 'layer', layer: APP_LAYER, app: true };
  }
  const layer = ws.name === undefined ? undefined : PACKAGE_LAYERS[ws.name];
  return layer === undefined ? undefined : { kind: 'layer', layer, app: false };
}

/**
 * Why `importer` may not depend on `target`, or undefined when it may. `testkitAllowed` is the exception for
 * test-side files and devDependencies: they may use @hpns/testkit whatever their layer, and the load-test kit,
 * but no other app.
 */
function directionProblem(
  importer: Workspace,
  target: Workspace,
  testkitAllowed: boolean,
): Problem | undefined {
  const from = placementOf(importer);
  const to = placementOf(target);
  // Self-imports go through the package's own "." export (protocol's tests do this) and point nowhere.
  // An unplaced workspace is already reported once as 'unknown-workspace'; repeating it would be noise.
  if (importer.dir === target.dir || !from || !to || from.kind === 'tools') return undefined;
  const a = importer.name ?? importer.relDir;
  const b = target.name ?? target.relDir;
  if (to.kind === 'tools') {
    return { rule: 'tools-import', message: `${a} must not import ${b} (tooling; nothing depends on it)` };
  }
  if (testkitAllowed && (b === TESTKIT_PACKAGE || b === LOAD_TEST_KIT)) return undefined;
  if (to.app)
    return { rule: 'app-import', message: `${a} must not import the app ${b} (nothing imports an app)` };
  if (to.layer > from.layer) {
    return {
      rule: 'upward-import',
      message: `${a} (layer ${from.layer}) must not import ${b} (layer ${to.layer})`,
    };
  }
  if (to.layer === from.layer) {
    const message = `${a} and ${b} are both layer ${to.layer}; packages of one layer must not import each other`;
    return { rule: 'same-layer-import', message };
  }
  return undefined;
}

/**
 * Files under a workspace's `test/` or `bench/` may use @hpns/testkit. So may its jest config: that is how
 * every workspace, protocol included, loads the shared preset.
 */
function isTestSide(relPath: string): boolean {
  return /^(test|bench)\//.test(relPath) || /^jest\.config\.[cm]?[jt]s$/.test(relPath);
}

function isInside(dir: string, target: string): boolean {
  const rel = relative(dir, target);
  return rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

function lineOf(text: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
