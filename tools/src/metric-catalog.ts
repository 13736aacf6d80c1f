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
  /** The help text, when it is a plain string literal. */
  help?: string;
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
      const help = /\bhelp:\s*'([^'\\]*)'/.exec(body)?.[1];
      catalog.set(name, {
        name,
        type: (match[1] as string).toLowerCase() as MetricDefinition['type'],
        labels: [...new Set([...labelNames, ...registry, ...TARGET_LABELS])],
        file,
        ...(help === undefined ? {} : { help }),
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

/** Aggregation operators and keywords: never metric names. */
const PROMQL_KEYWORDS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'atan2',
  'inf',
  'nan',
  'start',
  'end',
]);

/**
 * The expression with Grafana variables replaced by `x` and every string literal by `"<n>"` (its index in
 * `strings`), so that no quoted text (label values, regexes) is mistaken for PromQL and parentheses balance.
 */
function maskStrings(expr: string): { text: string; strings: string[] } {
  const strings: string[] = [];
  const text = expr
    .replace(/\$__[a-z_]+|\$[a-z_]+/gi, 'x')
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, (literal) => {
      strings.push(literal.slice(1, -1));
      return `"${strings.length - 1}"`;
    });
  return { text, strings };
}

/** Index of the `)` closing the `(` at `open` (the end of the text when unbalanced). */
function closingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i;
  }
  return text.length - 1;
}

/** Index of the `(` opened for the `)` at `close` (0 when unbalanced). */
function openingParen(text: string, close: number): number {
  let depth = 0;
  for (let i = close; i >= 0; i--) {
    if (text[i] === ')') depth++;
    else if (text[i] === '(' && --depth === 0) return i;
  }
  return 0;
}

/** The arguments of the call whose `(` is at `open`, split at its top-level commas, with their offsets. */
function callArguments(text: string, open: number): { text: string; start: number }[] {
  const close = closingParen(text, open);
  const args: { text: string; start: number }[] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open + 1; i < close; i++) {
    const c = text[i];
    if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 0) {
      args.push({ text: text.slice(start, i), start });
      start = i + 1;
    }
  }
  args.push({ text: text.slice(start, close), start });
  return args;
}

const labelList = (list: string) =>
  list
    .split(',')
    .map((l) => l.trim())
    .filter((l) => l !== '');

/**
 * The series names an expression reads: metrics (`hpns_*`, `up`, `process_*`, …) and recorded series
 * (`level:metric:operations`); not functions, operators, keywords, label names or label values.
 */
export function promqlMetricNames(expr: string): string[] {
  const text = maskStrings(expr)
    .text.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' $1 ')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]');
  const names = new Set<string>();
  for (const match of text.matchAll(/(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)/g)) {
    const word = match[1] as string;
    if (PROMQL_KEYWORDS.has(word.toLowerCase())) continue;
    if (
      text
        .slice((match.index ?? 0) + word.length)
        .trimStart()
        .startsWith('(')
    )
      continue; // a function
    names.add(word);
  }
  return [...names];
}

/**
 * Problems of one PromQL expression against the catalog: unknown `hpns_*` metrics, `_bucket/_sum/_count` on a
 * metric that is no histogram, and labels that the metrics do not carry: in `{…}` selectors, in `by (…)` /
 * `without (…)` (against the metrics that aggregation reads), in `on (…)` / `ignoring (…)` / `group_left (…)`
 * (against every metric of the expression) and as sources of `label_replace` / `label_join`. Labels those two
 * functions create count as existing. `recorded` names series that recording rules produce (not checked).
 */
export function promqlProblems(
  expr: string,
  catalog: ReadonlyMap<string, MetricDefinition>,
  recorded: ReadonlyMap<string, readonly string[]> = new Map(),
): string[] {
  const problems: string[] = [];
  const { text, strings } = maskStrings(expr);
  const used: { definition: MetricDefinition; index: number }[] = [];
  for (const match of text.matchAll(/\b([a-z_][a-z0-9_:]*)\s*(\{[^}]*\})?/g)) {
    const word = match[1] as string;
    if (PROMQL_WORDS.has(word) || /^[a-z]$/.test(word)) continue;
    const after = text.slice((match.index ?? 0) + word.length).trimStart();
    if (after.startsWith('(') && !match[2]) continue; // a function name
    const labels = [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map(
      (m) => m[1] as string,
    );
    const recordedLabels = recorded.get(word);
    if (recordedLabels !== undefined) {
      const definition: MetricDefinition = { name: word, type: 'gauge', labels: recordedLabels, file: '' };
      used.push({ definition, index: match.index ?? 0 });
      for (const label of labels) {
        if (!recordedLabels.includes(label)) problems.push(`${word} has no label ${label}`);
      }
      continue;
    }
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
    used.push({ definition, index: match.index ?? 0 });
    for (const label of labels) {
      // `le` exists on a histogram's buckets only.
      const bucketBound = label === 'le' && definition.type === 'histogram' && word.endsWith('_bucket');
      if (!definition.labels.includes(label) && !bucketBound) problems.push(`${word} has no label ${label}`);
    }
  }

  // label_replace(v, dst, replacement, src, regex) and label_join(v, dst, separator, src...).
  const created: { label: string; index: number }[] = [];
  const sources: { label: string; start: number; end: number }[] = [];
  for (const match of text.matchAll(/\blabel_(replace|join)\s*\(/g)) {
    const open = (match.index ?? 0) + match[0].length - 1;
    const args = callArguments(text, open);
    const literal = (arg: { text: string } | undefined) =>
      strings[Number(/^\s*"(\d+)"\s*$/.exec(arg?.text ?? '')?.[1] ?? NaN)];
    const dst = literal(args[1]);
    if (dst !== undefined) created.push({ label: dst, index: match.index ?? 0 });
    const vector = args[0] ?? { text: '', start: open };
    const sourceArgs = match[1] === 'replace' ? args.slice(3, 4) : args.slice(3);
    for (const arg of sourceArgs) {
      const label = literal(arg);
      if (label !== undefined && label !== '')
        sources.push({ label, start: vector.start, end: vector.start + vector.text.length });
    }
  }
  const hasLabel = (definition: MetricDefinition, label: string) =>
    label === 'le' ? definition.type === 'histogram' : definition.labels.includes(label);
  const inScope = (start: number, end: number) => ({
    metrics: used.filter((u) => u.index >= start && u.index <= end).map((u) => u.definition),
    created: new Set(created.filter((c) => c.index >= start && c.index <= end).map((c) => c.label)),
  });

  for (const source of sources) {
    const scope = inScope(source.start, source.end);
    if (scope.created.has(source.label)) continue;
    for (const definition of scope.metrics) {
      if (!hasLabel(definition, source.label))
        problems.push(`${definition.name} has no label ${source.label} (label_replace/label_join source)`);
    }
  }

  // An aggregation's labels are checked against the metrics it reads: the parenthesised argument after
  // `by (…)`, or before it (`sum(…) by (…)`).
  for (const match of text.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    const end = (match.index ?? 0) + match[0].length;
    const next = text.slice(end).search(/\S/);
    let start = 0;
    let stop = text.length - 1;
    if (next >= 0 && text[end + next] === '(') {
      start = end + next;
      stop = closingParen(text, start);
    } else {
      const before = text.slice(0, match.index ?? 0).trimEnd();
      if (before.endsWith(')')) {
        stop = before.length - 1;
        start = openingParen(text, stop);
      }
    }
    const scope = inScope(start, stop);
    for (const label of labelList(match[1] as string)) {
      if (scope.created.has(label)) continue;
      for (const definition of scope.metrics) {
        if (!hasLabel(definition, label))
          problems.push(`${definition.name} has no label ${label} (grouped by)`);
      }
    }
  }

  // Vector matching: each label must exist on some metric of the expression (or be created in it).
  const all = inScope(0, text.length);
  for (const match of text.matchAll(/\b(?:on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    for (const label of labelList(match[1] as string)) {
      if (all.created.has(label) || all.metrics.some((d) => hasLabel(d, label))) continue;
      problems.push(`no metric of the expression has label ${label} (matched on)`);
    }
  }
  return [...new Set(problems)];
}

/**
 * The labels a recording rule's series can carry, from its expression: those it groups by, those
 * `label_replace` / `label_join` create, and those of recorded series it reads (`recorded`, rules earlier in
 * the file).
 */
export function recordingRuleLabels(
  expr: string,
  recorded: ReadonlyMap<string, readonly string[]> = new Map(),
): string[] {
  const { text, strings } = maskStrings(expr);
  const labels = new Set<string>();
  for (const match of text.matchAll(/\bby\s*\(([^)]*)\)/g))
    for (const l of labelList(match[1] as string)) labels.add(l);
  for (const match of text.matchAll(/\blabel_(?:replace|join)\s*\(/g)) {
    const dst = /^\s*"(\d+)"\s*$/.exec(
      callArguments(text, (match.index ?? 0) + match[0].length - 1)[1]?.text ?? '',
    );
    const label = dst ? strings[Number(dst[1])] : undefined;
    if (label !== undefined && label !== '') labels.add(label);
  }
  for (const name of promqlMetricNames(expr)) for (const l of recorded.get(name) ?? []) labels.add(l);
  return [...labels];
}

/** A rule of a Prometheus rule file, as far as the checks need it. */
export interface PrometheusRule {
  record?: string;
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
}

/**
 * The series that the recording rules among `rules` produce, with the labels each can carry: those of its
 * expression (recordingRuleLabels, reading the rules before it) plus those its `labels:` sets. Rules in file
 * order, files in the order Prometheus loads them.
 */
export function recordedSeries(rules: readonly PrometheusRule[]): Map<string, readonly string[]> {
  const recorded = new Map<string, readonly string[]>();
  for (const rule of rules) {
    if (rule.record === undefined) continue;
    const labels = new Set([
      ...(recorded.get(rule.record) ?? []),
      ...recordingRuleLabels(rule.expr, recorded),
      ...Object.keys(rule.labels ?? {}),
    ]);
    recorded.set(rule.record, [...labels]);
  }
  return recorded;
}
