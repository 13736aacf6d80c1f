/** Where a command writes: `out` is the answer (a table, or one JSON document), `err` warnings and errors. */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/**
 * A plain-text table for people: a header in capitals, columns padded to their widest cell, two spaces apart,
 * no trailing spaces. Empty when there are no rows.
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '';
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join('\n');
}

/** A duration for people: `850ms`, `42s`, `12m05s`, `3h07m`, `2d04h`. */
export function formatDuration(ms: number): string {
  const abs = Math.abs(Math.round(ms));
  if (abs < 1000) return `${abs}ms`;
  const s = Math.floor(abs / 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d${two(Math.floor((s % 86_400) / 3600))}h`;
}

/** A point in time relative to now: `3m12s ago`, `in 42m10s`. */
export function formatRelative(atMs: number, nowMs: number): string {
  return atMs <= nowMs ? `${formatDuration(nowMs - atMs)} ago` : `in ${formatDuration(atMs - nowMs)}`;
}

/** One JSON document per command run, so that `--json` output can be piped into jq as a whole. */
export function writeJson(io: CliIo, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}
