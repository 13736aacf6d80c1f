/**
 * The Prometheus metrics HPNS defines, read from the sources (prom-client constructors in `*metrics*.ts`), and a
 * check of PromQL expressions (dashboards, alert rules) against them: every `hpns_*` metric exists, histogram
 * suffixes are used on histograms only, and every label selected or grouped by exists on the metric.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface MetricDefinition {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary';
  /** Its own labels plus the registry's default labels and Prometheus' target labels. */
  labels: readonly string[];
  /** Repo-relative source file. */
  file: string;
}

/** Default labels of the registry each source folder's metrics land on (apps/*\/src/main.ts). */
const REGISTRY_LABELS: readonly { prefix: string; labels: readonly string[] }[] = [
  { prefix: 'apps/ingress/', labels: ['service'] },
  { prefix: 'apps/worker/', labels: ['service', 'region'] },
  // Providers register on the worker's registry (apps/worker/src/providers.ts).
  { prefix: 'packages/providers/', labels: ['service', 'region'] },
];
const TARGET_LABELS = ['job', 'instance'];

function metricsSources(root: string): string[] {
  const files: string[] = [];
  for (const group of ['apps', 'packages']) {
    for (const name of readdirSync(join(root, group))) {
      const src = join(root, group, name, 'src');
      let entries: string[];
      try {
        entries = readdirSync(src);
      } catch {
        continue;
      }
      for (const entry of entries) if (/metrics.*\.ts$/.test(entry)) files.push(join(src, entry));
    }
  }
  return files.sort();
}

/** Every metric constructed with `new Counter|Gauge|Histogram|Summary({ name, labelNames })` in the sources. */
export function readMetricCatalog(root: string): Map<string, MetricDefinition> {
  const catalog = new Map<string, MetricDefinition>();
  for (const path of metricsSources(root)) {
    const file = relative(root, path).split('\\').join('/');
    const text = readFileSync(path, 'utf8');
    const constants = new Map(
      [...text.matchAll(/const\s+([A-Z0-9_]+)\s*=\s*'([a-z0-9_]+)'/g)].map((m) => [m[1], m[2]]),
    );
    const registry = REGISTRY_LABELS.find((r) => file.startsWith(r.prefix))?.labels ?? ['service'];
    for (const match of text.matchAll(/new (Counter|Gauge|Histogram|Summary)\(\{([\s\S]*?)\n\s*\}\)/g)) {
      const body = match[2] as string;
      const nameMatch = /\bname:\s*(?:'([a-z0-9_:]+)'|([A-Z0-9_]+))/.exec(body);
      const name = nameMatch?.[1] ?? constants.get(nameMatch?.[2] ?? '');
      if (name === undefined) continue;
      const labelNames = [...(/labelNames:\s*\[([^\]]*)\]/.exec(body)?.[1] ?? '').matchAll(/'([^']+)'/g)].map(
        (m) => m[1] as string,
      );
      catalog.set(name, {
        name,
        type: (match[1] as string).toLowerCase() as MetricDefinition['type'],
        labels: [...new Set([...labelNames, ...registry, ...TARGET_LABELS])],
        file,
      });
    }
  }
  return catalog;
}

/** Metrics that are not HPNS's own but may appear in PromQL: Prometheus' and prom-client's defaults. */
export function isForeignMetric(name: string): boolean {
  return name === 'up' || /^(process|nodejs)_[a-z0-9_]+$/.test(name);
}

const PROMQL_WORDS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'count',
  'by',
  'without',
  'rate',
  'irate',
  'increase',
  'histogram_quantile',
  'clamp_min',
  'clamp_max',
  'topk',
  'bottomk',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'abs',
  'time',
  'vector',
  'label_values',
  'delta',
  'deriv',
  'max_over_time',
  'min_over_time',
  'avg_over_time',
  'absent',
  'le',
]);

/**
 * Problems of one PromQL expression against the catalog: unknown `hpns_*` metrics, `_bucket/_sum/_count` on a
 * metric that is no histogram, and labels (in `{…}` selectors and `by (…)`) that the metric does not carry.
 */
export function promqlProblems(expr: string, catalog: ReadonlyMap<string, MetricDefinition>): string[] {
  const problems: string[] = [];
  const text = expr.replace(/\$__[a-z_]+|\$[a-z_]+/gi, 'x').replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const used: MetricDefinition[] = [];
  for (const match of text.matchAll(/\b([a-z_][a-z0-9_:]*)\s*(\{[^}]*\})?/g)) {
    const word = match[1] as string;
    if (PROMQL_WORDS.has(word) || /^[a-z]$/.test(word)) continue;
    const after = text.slice((match.index ?? 0) + word.length).trimStart();
    if (after.startsWith('(') && !match[2]) continue; // a function name
    const labels = [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map(
      (m) => m[1] as string,
    );
    if (!word.startsWith('hpns_')) {
      if (match[2] !== undefined && !isForeignMetric(word)) problems.push(`unknown metric ${word}`);
      continue;
    }
    const histogramPart = /^(.*)_(bucket|sum|count)$/.exec(word);
    const definition =
      catalog.get(word) ?? (histogramPart ? catalog.get(histogramPart[1] as string) : undefined);
    if (definition === undefined) {
      problems.push(`unknown metric ${word}`);
      continue;
    }
    if (definition.name !== word && definition.type !== 'histogram' && definition.type !== 'summary') {
      problems.push(`${word}: ${definition.name} is a ${definition.type}, not a histogram`);
    }
    used.push(definition);
    for (const label of labels) {
      if (!definition.labels.includes(label)) problems.push(`${word} has no label ${label}`);
    }
  }
  for (const match of text.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    const labels = (match[1] as string)
      .split(',')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    for (const label of labels) {
      for (const definition of used) {
        const own = label === 'le' ? definition.type === 'histogram' : definition.labels.includes(label);
        if (!own) problems.push(`${definition.name} has no label ${label} (grouped by)`);
      }
    }
  }
  return [...new Set(problems)];
}
