import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { checkBoundaries, findWorkspaces, formatViolations, type Violation } from '../src/index';

const repoRoot = resolve(__dirname, '../..');
const tempDirs: string[] = [];

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** Writes a throw-away repository; a value that is not a string becomes JSON (a package.json). */
function makeRepo(files: Record<string, string | object>): string {
  const root = mkdtempSync(join(tmpdir(), 'hpns-boundaries-'));
  tempDirs.push(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return root;
}

/** Compact `file:line rule specifier` keys, so one assertion shows every finding of a file. */
function keys(violations: readonly Violation[], file?: string): string[] {
  return violations
    .filter((v) => file === undefined || v.file === file)
    .map((v) => `${v.file}${v.line === undefined ? '' : `:${v.line}`} ${v.rule} ${v.specifier}`);
}

describe('checkBoundaries on this repository', () => {
  it('finds no violations in this repository', () => {
    const violations = checkBoundaries(repoRoot);
    // Compare the report first: a failure then reads as file:line, rule and reason, not an object diff.
    expect(formatViolations(violations)).toBe(formatViolations([]));
    expect(violations).toEqual([]);
  });

  it('discovers the workspaces it checks', () => {
    // Guards the test above against passing vacuously because discovery found nothing.
    const names = findWorkspaces(repoRoot).map((ws) => ws.name);
    expect(names).toEqual(expect.arrayContaining(['@hpns/protocol', '@hpns/testkit', '@hpns/tools']));
  });
});

describe('checkBoundaries on a fixture repository', () => {
  const pkg = (name: string, extra: object = {}): object => ({ name, version: '0.1.0', ...extra });
  let violations: Violation[];

  beforeAll(() => {
    const root = makeRepo({
      'package.json': { name: 'fixture', private: true, workspaces: ['packages/*', 'apps/*', 'tools'] },
      'packages/protocol/package.json': pkg('@hpns/protocol', { dependencies: { '@hpns/runtime': '*' } }),
      'packages/protocol/src/index.ts': [
        "import { x } from './x';",
        "import { loadConfig } from '@hpns/runtime';",
        '// import { nope } from "@hpns/queue"; a comment is not an import',
      ].join('\n'),
      'packages/protocol/src/x.ts': 'export const x = 1;\n',
      'packages/protocol/test/x.test.ts': "import { x } from '@hpns/protocol';\n",
      'packages/protocol/jest.config.js': "module.exports = require('@hpns/testkit/jest-preset');\n",
      'packages/runtime/package.json': pkg('@hpns/runtime', { dependencies: { '@hpns/protocol': '*' } }),
      'packages/runtime/src/index.ts': [
        "import { parseRegion } from '@hpns/protocol';",
        "import { readFirstGoJsonValue } from '@hpns/protocol/src/go-json';",
        "import { TESTKIT_PRESET } from '@hpns/testkit';",
        "import { type Nope } from '@hpns/nope';",
      ].join('\n'),
      'packages/runtime/src/escape.ts': [
        '// reaches into a sibling package by path',
        "export { x } from '../../protocol/src/x';",
        "import { y } from '../src/y';",
      ].join('\n'),
      'packages/queue/package.json': pkg('@hpns/queue', {
        dependencies: { '@hpns/protocol': '*' },
        devDependencies: { '@hpns/testkit': '*' },
      }),
      'packages/queue/src/index.ts': "import { send } from '@hpns/providers';\n",
      'packages/queue/src/forms.ts': [
        "export { send } from '@hpns/providers';",
        "export * from '@hpns/testkit';",
        'export async function load() {',
        "  return import('@hpns/providers');",
        '}',
        "import type { PushProvider } from '@hpns/providers';",
      ].join('\n'),
      'packages/queue/src/legacy.cjs': "'use strict';\nconst providers = require('@hpns/providers');\n",
      'packages/queue/test/queue.test.ts': "import { TESTKIT_PRESET } from '@hpns/testkit';\n",
      'packages/queue/bench/queue.bench.mts': "import '@hpns/testkit';\nimport '@hpns/providers';\n",
      'packages/queue/node_modules/dep/index.js': "require('@hpns/ingress');\n",
      'packages/queue/dist/index.js': "require('@hpns/ingress');\n",
      'packages/queue/coverage/x.js': "require('@hpns/ingress');\n",
      'packages/queue/.turbo/x.js': "require('@hpns/ingress');\n",
      'packages/providers/package.json': pkg('@hpns/providers'),
      'packages/providers/src/index.ts': 'export const send = 1;\n',
      'packages/testkit/package.json': pkg('@hpns/testkit'),
      'packages/testkit/src/index.ts': "export * from '@hpns/protocol';\n",
      'packages/testkit/test/bad.test.ts': "import '@hpns/worker';\n",
      'packages/stray/package.json': pkg('@hpns/stray'),
      'packages/not-a-workspace/README.md': 'no package.json here\n',
      'apps/ingress/package.json': pkg('@hpns/ingress', { dependencies: { '@hpns/worker': '*' } }),
      'apps/ingress/src/main.ts':
        "import { parseRegion } from '@hpns/protocol';\nimport { start } from '@hpns/worker';\n",
      'apps/worker/package.json': pkg('@hpns/worker', { devDependencies: { '@hpns/loadtest': '*' } }),
      'apps/worker/src/main.ts': "import { checkBoundaries } from '@hpns/tools';\n",
      'apps/worker/bench/load.bench.mjs': "import { runLoad } from '@hpns/loadtest';\n",
      'apps/worker/src/load.ts': "import { runLoad } from '@hpns/loadtest';\n",
      'apps/loadtest/package.json': pkg('@hpns/loadtest'),
      'tools/package.json': pkg('@hpns/tools', { devDependencies: { '@hpns/ingress': '*' } }),
      'tools/src/check.ts': "import '@hpns/ingress';\nimport '@hpns/queue';\n",
    });
    violations = checkBoundaries(root);
  });

  it('reports an import of a higher layer with its file, line and message', () => {
    expect(violations).toContainEqual({
      file: 'packages/protocol/src/index.ts',
      line: 2,
      importer: '@hpns/protocol',
      specifier: '@hpns/runtime',
      rule: 'upward-import',
      message: '@hpns/protocol (layer 0) must not import @hpns/runtime (layer 1)',
    });
  });

  it('reports an import between packages of the same layer', () => {
    expect(keys(violations, 'packages/queue/src/index.ts')).toEqual([
      'packages/queue/src/index.ts:1 same-layer-import @hpns/providers',
    ]);
  });

  it('reports an app importing another app, in source and in the manifest', () => {
    expect(keys(violations, 'apps/ingress/src/main.ts')).toEqual([
      'apps/ingress/src/main.ts:2 app-import @hpns/worker',
    ]);
    expect(keys(violations, 'apps/ingress/package.json')).toEqual([
      'apps/ingress/package.json manifest-dependency @hpns/worker',
    ]);
  });

  it('reports deep imports, a @hpns/testkit import from src and unknown packages', () => {
    expect(keys(violations, 'packages/runtime/src/index.ts')).toEqual([
      'packages/runtime/src/index.ts:2 deep-import @hpns/protocol/src/go-json',
      'packages/runtime/src/index.ts:3 upward-import @hpns/testkit',
      'packages/runtime/src/index.ts:4 unknown-package @hpns/nope',
    ]);
  });

  it('reports a relative import that leaves the workspace, and only that one', () => {
    expect(keys(violations, 'packages/runtime/src/escape.ts')).toEqual([
      'packages/runtime/src/escape.ts:2 relative-escape ../../protocol/src/x',
    ]);
  });

  it('sees export-from, export *, dynamic import(), type-only imports and require()', () => {
    expect(keys(violations, 'packages/queue/src/forms.ts')).toEqual([
      'packages/queue/src/forms.ts:1 same-layer-import @hpns/providers',
      'packages/queue/src/forms.ts:2 same-layer-import @hpns/testkit',
      'packages/queue/src/forms.ts:4 same-layer-import @hpns/providers',
      'packages/queue/src/forms.ts:6 same-layer-import @hpns/providers',
    ]);
    expect(keys(violations, 'packages/queue/src/legacy.cjs')).toEqual([
      'packages/queue/src/legacy.cjs:2 same-layer-import @hpns/providers',
    ]);
  });

  it('lets bench files and devDependencies use the load-test kit, an app, and nothing else does', () => {
    expect(keys(violations, 'apps/worker/bench/load.bench.mjs')).toEqual([]);
    expect(keys(violations, 'apps/worker/package.json')).toEqual([]);
    expect(keys(violations, 'apps/worker/src/load.ts')).toEqual([
      'apps/worker/src/load.ts:1 app-import @hpns/loadtest',
    ]);
  });

  it('lets test, bench and jest config files import @hpns/testkit, but nothing else upward', () => {
    expect(keys(violations, 'packages/queue/test/queue.test.ts')).toEqual([]);
    expect(keys(violations, 'packages/protocol/jest.config.js')).toEqual([]);
    expect(keys(violations, 'packages/queue/bench/queue.bench.mts')).toEqual([
      'packages/queue/bench/queue.bench.mts:2 same-layer-import @hpns/providers',
    ]);
    expect(keys(violations, 'packages/testkit/test/bad.test.ts')).toEqual([
      'packages/testkit/test/bad.test.ts:1 app-import @hpns/worker',
    ]);
  });

  it('reports a manifest dependency that points upward, and allows @hpns/testkit as a devDependency', () => {
    expect(violations).toContainEqual(
      expect.objectContaining({
        file: 'packages/protocol/package.json',
        specifier: '@hpns/runtime',
        rule: 'manifest-dependency',
        message: 'dependencies: @hpns/protocol (layer 0) must not import @hpns/runtime (layer 1)',
      }),
    );
    expect(keys(violations, 'packages/queue/package.json')).toEqual([]);
  });

  it('reports a workspace missing from the layer map, and any import of @hpns/tools', () => {
    expect(keys(violations, 'packages/stray/package.json')).toEqual([
      'packages/stray/package.json unknown-workspace @hpns/stray',
    ]);
    expect(violations.find((v) => v.rule === 'unknown-workspace')?.message).toMatch(
      /add it to the layer map/,
    );
    expect(keys(violations, 'apps/worker/src/main.ts')).toEqual([
      'apps/worker/src/main.ts:1 tools-import @hpns/tools',
    ]);
  });

  it('reports nothing else: self-imports, tools, comments and skipped directories are clean', () => {
    expect([...new Set(violations.map((v) => v.file))]).toEqual([
      'apps/ingress/package.json',
      'apps/ingress/src/main.ts',
      'apps/worker/src/load.ts',
      'apps/worker/src/main.ts',
      'packages/protocol/package.json',
      'packages/protocol/src/index.ts',
      'packages/queue/bench/queue.bench.mts',
      'packages/queue/src/forms.ts',
      'packages/queue/src/index.ts',
      'packages/queue/src/legacy.cjs',
      'packages/runtime/src/escape.ts',
      'packages/runtime/src/index.ts',
      'packages/stray/package.json',
      'packages/testkit/test/bad.test.ts',
    ]);
    // The per-file tests above account for all of them.
    expect(violations).toHaveLength(19);
  });
});

describe('findWorkspaces', () => {
  it('supports "dir/*" and plain "dir" entries and skips a missing group', () => {
    const root = makeRepo({
      'package.json': { workspaces: ['packages/*', 'apps/*', 'tools'] },
      'packages/a/package.json': { name: '@hpns/protocol' },
      'tools/package.json': { name: '@hpns/tools' },
    });
    expect(findWorkspaces(root).map((ws) => ws.relDir)).toEqual(['packages/a', 'tools']);
  });

  it('throws on a pattern it cannot expand rather than skipping workspaces', () => {
    const root = makeRepo({ 'package.json': { workspaces: ['packages/**'] } });
    expect(() => findWorkspaces(root)).toThrow('unsupported workspaces pattern "packages/**"');
  });
});

describe('formatViolations', () => {
  it('prints one line per violation with file:line, rule and message', () => {
    const report = formatViolations([
      {
        file: 'a/b.ts',
        line: 3,
        importer: '@hpns/x',
        specifier: '@hpns/y',
        rule: 'deep-import',
        message: 'm',
      },
      {
        file: 'a/package.json',
        importer: '@hpns/x',
        specifier: '@hpns/y',
        rule: 'manifest-dependency',
        message: 'n',
      },
    ]);
    expect(report.split('\n')).toEqual([
      '2 boundary violations (STYLE.md convention 1, DESIGN.md "Layout"):',
      '  a/b.ts:3  deep-import  m',
      '  a/package.json  manifest-dependency  n',
    ]);
  });
});
