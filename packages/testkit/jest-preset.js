// The one jest preset every workspace uses (STYLE.md: tests run from TypeScript sources, no build step).
// @swc/jest strips types only; `npm run typecheck` is the type check. The "hpns-source" export condition
// makes `@hpns/*` imports resolve to each package's src/index.ts.
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: {
    '^.+\\.(t|j)s$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'commonjs' },
        sourceMaps: 'inline',
      },
    ],
  },
  testEnvironmentOptions: { customExportConditions: ['hpns-source', 'node', 'require', 'default'] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  clearMocks: true,
};
