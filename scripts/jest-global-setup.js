// Runs once before the whole jest run: builds every workspace (turbo, cached), because the process-level tests
// (the worker crash test, the local stack) run the compiled apps, and they must run what the sources say.
// Set HPNS_TEST_SKIP_BUILD=1 to skip it when the build is known to be fresh.
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

module.exports = async function buildOnce() {
  if (process.env.HPNS_TEST_SKIP_BUILD === '1') return;
  execFileSync('npx', ['turbo', 'run', 'build', '--output-logs=errors-only'], {
    cwd: join(__dirname, '..'),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
};
