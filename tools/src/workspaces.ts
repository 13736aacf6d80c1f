import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';

/** The `package.json` fields the boundary check reads. */
export interface Manifest {
  name?: string;
  workspaces?: string[] | { packages?: string[] };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** A workspace found through the root `package.json` "workspaces" entries. */
export interface Workspace {
  /** The manifest's `name`, if it has one. */
  name: string | undefined;
  /** Absolute directory. */
  dir: string;
  /** Repo-relative directory with `/` separators, e.g. `packages/protocol`. */
  relDir: string;
  /** The parsed `package.json`. */
  manifest: Manifest;
}

/** Extensions of the files whose imports are checked. */
export const SOURCE_EXTENSIONS: ReadonlySet<string> = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']);

/** Directories never scanned: installed dependencies, build and coverage output, caches. */
export const SKIPPED_DIRS: ReadonlySet<string> = new Set([
  'node_modules',
  'dist',
  'coverage',
  '.turbo',
  '.git',
]);

/**
 * Lists the workspaces named by the root `package.json` "workspaces" entries, sorted by directory. Supports
 * `dir/*` and plain `dir`; any other pattern throws, because silently skipping a workspace would let its
 * imports escape the check. A matched directory without a `package.json` is not a workspace (npm agrees).
 */
export function findWorkspaces(rootDir: string): Workspace[] {
  const root = readManifest(join(rootDir, 'package.json'));
  const patterns = Array.isArray(root.workspaces) ? root.workspaces : (root.workspaces?.packages ?? []);
  const dirs = new Set<string>();
  for (const pattern of patterns) {
    const clean = pattern.replace(/^\.\//, '').replace(/\/+$/, '');
    const isGlob = clean.endsWith('/*');
    const base = isGlob ? clean.slice(0, -2) : clean;
    if (/[*?[\]{}!]/.test(base)) {
      throw new Error(`unsupported workspaces pattern "${pattern}": use "dir/*" or "dir"`);
    }
    const absBase = resolve(rootDir, base);
    if (!isGlob) dirs.add(absBase);
    // A group such as apps/ may not exist yet; that is an empty group, not an error.
    else if (existsSync(absBase)) {
      for (const entry of readdirSync(absBase, { withFileTypes: true })) {
        if (entry.isDirectory()) dirs.add(join(absBase, entry.name));
      }
    }
  }
  return [...dirs]
    .filter((dir) => existsSync(join(dir, 'package.json')))
    .map((dir) => {
      const manifest = readManifest(join(dir, 'package.json'));
      return { name: manifest.name, dir, relDir: toPosix(relative(rootDir, dir)), manifest };
    })
    .sort((a, b) => compare(a.relDir, b.relDir));
}

/**
 * Absolute paths of a workspace's source files, sorted. Skips {@link SKIPPED_DIRS} and any directory that is
 * a workspace of its own (`otherWorkspaceDirs`), so each file is checked once, as part of its own workspace.
 */
export function listSourceFiles(dir: string, otherWorkspaceDirs: ReadonlySet<string>): string[] {
  const files: string[] = [];
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name) && !otherWorkspaceDirs.has(full)) walk(full);
      } else if (entry.isFile() && SOURCE_EXTENSIONS.has(extensionOf(entry.name))) {
        files.push(full);
      }
    }
  };
  walk(dir);
  return files.sort(compare);
}

/** A path with `/` separators, so reports and tests read the same on every platform. */
export function toPosix(path: string): string {
  return path.split(sep).join('/');
}

/** Code-unit order: unlike localeCompare it does not depend on the machine's locale. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function readManifest(file: string): Manifest {
  return JSON.parse(readFileSync(file, 'utf8')) as Manifest;
}

function extensionOf(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  return dot < 0 ? '' : fileName.slice(dot);
}
