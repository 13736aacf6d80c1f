import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ERROR_CATALOG, FAIL_TEXTS } from '@hpns/protocol';
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
    const families = [
      'HPNS_REDIS_URL_<REGION>',
      'HPNS_REDIS_CLUSTER_<REGION>',
      'HPNS_QUEUE_SHARDS_<REGION>',
      'HPNS_APPLE_CERT_PASSWORD_<TYPE>',
    ];
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

describe('docs/compatibility.md FAIL texts', () => {
  /** The placeholders each FAIL text is rendered with, as the table writes them. */
  const PLACEHOLDERS: Record<keyof typeof FAIL_TEXTS, string[][]> = {
    bodyUnreadable: [['<go error>']],
    missingServerId: [],
    invalidServerId: [],
    missingDeviceId: [['<server_id>']],
    invalidDeviceId: [['<server_id>']],
    invalidId: [['<field>', '<server_id>']],
    missingPlatform: [['<type>', '<server_id>']],
    ackUnreadable: [['<go error>']],
    missingAckId: [],
    invalidAckId: [],
    invalidAckPostId: [],
    missingAckPlatform: [],
    missingAckType: [],
    unavailable: [],
    rateLimited: [['<server_id>']],
    callerRateLimited: [['<server_id>']],
    notRegistered: [['<server_id>']],
    wrongRegion: [['<server_id>', '<home>']],
    regionNotServed: [[undefined as unknown as string], ['<region>']],
  };

  it('lists every FAIL text of the request checks, word for word', () => {
    const text = readFileSync(join(root, 'docs/compatibility.md'), 'utf8');
    const table = text.slice(text.indexOf('## FAIL texts'));
    const rendered = Object.entries(FAIL_TEXTS).flatMap(([name, entry]) => {
      const calls = PLACEHOLDERS[name as keyof typeof FAIL_TEXTS];
      if (calls === undefined) throw new Error(`FAIL_TEXTS.${name} has no placeholders in this test`);
      return typeof entry === 'string'
        ? [entry]
        : calls.map((args) => (entry as (...a: string[]) => string)(...args));
    });
    const listed = new Set(
      table
        .split('\n')
        .filter((line) => line.startsWith('|'))
        .map((line) => line.split('|')[1]?.trim()),
    );
    const missing = rendered.filter((t) => !listed.has(`\`${t}\``));
    expect(missing).toEqual([]);
  });
});
