import { failShare, type LoadResult } from './result';

/** Two runs side by side: each headline figure, the ratio B / A, and whether B is better. */
export interface Comparison {
  a: LoadResult;
  b: LoadResult;
  rows: { name: string; a: number; b: number; ratio: number | null; better?: boolean }[];
}

export function compareResults(a: LoadResult, b: LoadResult): Comparison {
  const rows: Comparison['rows'] = [];
  const add = (name: string, pick: (r: LoadResult) => number, higherIsBetter?: boolean) => {
    const x = pick(a);
    const y = pick(b);
    const ratio = x === 0 || !Number.isFinite(x) || !Number.isFinite(y) ? null : y / x;
    const row: Comparison['rows'][number] = { name, a: x, b: y, ratio };
    if (higherIsBetter !== undefined && x !== y) row.better = higherIsBetter ? y > x : y < x;
    rows.push(row);
  };
  add('offered rate /s', (r) => r.rates.offered);
  add('answered rate /s', (r) => r.rates.achieved, true);
  add('OK rate /s', (r) => r.rates.ok, true);
  add('failed share %', (r) => failShare(r.answers), false);
  for (const key of ['p50', 'p90', 'p99', 'p999', 'p9999', 'max'] as const)
    add(
      `latency ${key === 'p999' ? 'p99.9' : key === 'p9999' ? 'p99.99' : key} ms`,
      (r) => r.latency.corrected[key],
      false,
    );
  add('generator CPU µs per request', (r) => r.generator.cpuUsPerRequest, false);
  if (a.reconcile !== undefined && b.reconcile !== undefined) {
    add('missing', (r) => r.reconcile!.missing, false);
    add('duplicates', (r) => r.reconcile!.duplicates, false);
  }
  return { a, b, rows };
}

/** The comparison as plain text lines. */
export function formatComparison(c: Comparison): string {
  const num = (n: number) =>
    !Number.isFinite(n) ? '–' : Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);
  const lines = [`A: ${c.a.label} (${c.a.startedAt})`, `B: ${c.b.label} (${c.b.startedAt})`];
  for (const row of c.rows) {
    lines.push(
      `${row.name.padEnd(30)} ${num(row.a).padStart(12)} ${num(row.b).padStart(12)} ${(row.ratio === null ? '–' : `${row.ratio.toFixed(2)}×`).padStart(8)}` +
        (row.better === undefined ? '' : row.better ? '  better' : '  worse'),
    );
  }
  return lines.join('\n');
}

/** Reads a result file's JSON, with a clear error when it is not one. */
export function asResult(value: unknown, file: string): LoadResult {
  const r = value as Partial<LoadResult> | null;
  if (r === null || typeof r !== 'object' || r.tool !== 'hpns-loadtest' || r.format !== 1)
    throw new Error(`${file} is not a result of hpns-loadtest (format 1)`);
  return r as LoadResult;
}
