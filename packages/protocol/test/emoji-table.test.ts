import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const REPO_ROOT = resolve(__dirname, '../../..');

describe('emoji shortcode table', () => {
  it('is what scripts/generate-emoji-shortcodes.mjs produces from the installed packages', () => {
    const run = spawnSync(process.execPath, ['scripts/generate-emoji-shortcodes.mjs', '--check'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.error).toBeUndefined();
    // stderr is part of the compared object so that a failure shows the script's message.
    expect({ status: run.status, stderr: run.stderr }).toMatchObject({ status: 0 });
    const table = JSON.parse(
      readFileSync(resolve(REPO_ROOT, 'packages/protocol/src/emoji/shortcodes.json'), 'utf8'),
    );
    expect(run.stdout.trim()).toBe(`emoji table up to date (${Object.keys(table).length} shortcodes)`);
  });
});
