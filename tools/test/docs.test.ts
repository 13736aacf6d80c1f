import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ERROR_CATALOG } from '@hpns/protocol';
import { CONFIG_ENV_VARS } from '@hpns/runtime';

const root = resolve(__dirname, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The rows of the markdown table that follows `heading`. */
function tableAfter(heading: string): string[][] {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README.md has no heading ${heading}`);
  const lines = readme.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

describe('README.md', () => {
  it('lists every error code of the catalog, with its retryability and description, and no other', () => {
    const rows = tableAfter('## Error codes');
    expect(rows.map(([code, retryable, meaning]) => [code, retryable, meaning])).toEqual(
      Object.entries(ERROR_CATALOG).map(([code, entry]) => [
        `\`${code}\``,
        entry.retryable ? 'yes' : 'no',
        entry.description,
      ]),
    );
  });

  it('documents every environment variable the configuration reads', () => {
    const documented = tableAfter('## Configuration').flatMap(([name]) =>
      (name ?? '').replace(/`/g, '').split(', '),
    );
    const families = ['HPNS_REDIS_URL_<REGION>', 'HPNS_APPLE_CERT_PASSWORD_<TYPE>'];
    expect([...documented].sort()).toEqual([...CONFIG_ENV_VARS, ...families].sort());
  });

  it('starts with the quick start: npm ci, npm start, npm test', () => {
    const quickStart = readme.slice(readme.indexOf('## Quick start'));
    const block = quickStart.slice(
      quickStart.indexOf('```sh'),
      quickStart.indexOf('```', quickStart.indexOf('```sh') + 3),
    );
    expect(
      block
        .split('\n')
        .slice(1)
        .map((line) => line.split('#')[0]?.trim())
        .filter((line) => line !== ''),
    ).toEqual(['npm ci', 'npm start', 'npm test']);
  });
});

describe('docs/compatibility.md', () => {
  it('exists and gives every deviation an id, the proxy behaviour, ours, its kind and a reason', () => {
    const text = readFileSync(join(root, 'docs/compatibility.md'), 'utf8');
    const rows = text.split('\n').filter((line) => /^\| *[A-Z]\d+ *\|/.test(line));
    expect(rows.length).toBeGreaterThanOrEqual(20);
    for (const row of rows) {
      const cells = row
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim());
      expect(cells).toHaveLength(5);
      for (const cell of cells) expect(cell).not.toMatch(/^(—)?$/);
    }
    const ids = rows.map((row) => row.split('|')[1]?.trim());
    expect(new Set(ids).size).toBe(ids.length);
  });
});
