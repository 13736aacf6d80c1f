// One jest run over every workspace that has a jest.config.js; each uses the shared preset from @hpns/testkit.
const { existsSync, readdirSync } = require('node:fs');
const { join } = require('node:path');

const workspaceDirs = ['packages', 'apps']
  .filter((group) => existsSync(join(__dirname, group)))
  .flatMap((group) => readdirSync(join(__dirname, group)).map((name) => join(__dirname, group, name)))
  .concat(join(__dirname, 'tools'));

module.exports = {
  // Builds once (turbo, cached) so process-level tests run compiled code that matches the sources.
  globalSetup: '<rootDir>/scripts/jest-global-setup.js',
  projects: workspaceDirs.filter((dir) => existsSync(join(dir, 'jest.config.js'))),
};
