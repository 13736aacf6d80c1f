import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { stringify } from 'yaml';
import { readYaml, readYamlStream } from '../src/infra-files';
import {
  isForeignMetric,
  type MetricDefinition,
  promqlMetricNames,
  promqlProblems,
  readMetricCatalog,
  recordingRuleLabels,
} from '../src/metric-catalog';
import { optionalTool } from './infra-fixtures';

/**
 * infra/prometheus/alerts.yml and its promtool unit tests (alerts*.test.yml): always, every rule's metrics and
 * labels against the metric catalog (the prom-client constructors in the sources), the labels and annotations
 * every alert needs, its runbook anchor in docs/runbooks.md and the runbook's list of alerts, and the wiring
 * (prometheus.yml, docker-compose.yml, the Helm chart's link). With promtool: `check rules` and `test rules`,
 * and a broken copy of the rules that the unit tests must catch. With helm: the PrometheusRule renders the file.
 */
const root = resolve(__dirname, '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const RULES = 'infra/prometheus/alerts.yml';
/** The unit tests; the daily file holds those spanning more than a day, evaluated at a coarser step. */
const RULE_TESTS = ['infra/prometheus/alerts.test.yml', 'infra/prometheus/alerts.daily.test.yml'];
const RUNBOOKS = 'docs/runbooks.md';
const SEVERITIES = ['page', 'ticket'];

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface RuleTests {
  rule_files: string[];
  tests: {
    name: string;
    alert_rule_test?: { eval_time: string; alertname: string; exp_alerts?: unknown[] }[];
  }[];
}

const ruleFile = readYaml(join(root, RULES)) as RuleFile;
const rules = ruleFile.groups.flatMap((g) => g.rules);
const alerts = rules.filter((r): r is Rule & { alert: string } => r.alert !== undefined);
/** Recorded series and their labels, in file order (a rule may read the series of rules before it). */
const recorded = new Map<string, readonly string[]>();
for (const rule of rules) {
  if (rule.record !== undefined) recorded.set(rule.record, recordingRuleLabels(rule.expr, recorded));
}
const catalog = readMetricCatalog(root);

/** GitHub's heading anchors: lower case, punctuation dropped, each space a hyphen, `-1`, `-2` … for repeats. */
function markdownAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = (heading[1] as string)
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    let anchor = base;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${base}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

/** Problems of one rule's expression: the catalog check plus every series name known. */
function exprProblems(expr: string, known: ReadonlyMap<string, MetricDefinition>): string[] {
  const problems = promqlProblems(expr, known, recorded);
  for (const name of promqlMetricNames(expr)) {
    const histogram = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
    const ok =
      known.has(name) ||
      (histogram !== undefined && known.get(histogram)?.type === 'histogram') ||
      isForeignMetric(name) ||
      recorded.has(name);
    if (!ok) problems.push(`unknown series ${name}`);
  }
  return [...new Set(problems)];
}

describe(RULES, () => {
  it('has alerts on every area the runbooks cover', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(15);
    const exprs = alerts.map((a) => a.expr).join('\n');
    for (const metric of [
      'hpns_ingress_requests_total',
      'hpns_ingress_request_duration_seconds_bucket',
      'up',
      'hpns_queue_jobs',
      'hpns_queue_oldest_waiting_seconds',
      'hpns_worker_jobs_total',
      'hpns_worker_circuit_state',
      'hpns_provider_outcomes_total',
      'platform:hpns_push_ack_ratio:ratio_rate1h',
    ]) {
      expect(exprs).toContain(metric);
    }
  });

  it('names each alert once, in CamelCase with the Hpns prefix', () => {
    const names = alerts.map((a) => a.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^Hpns(?:[A-Z][a-z0-9]+)+$/);
  });

  it('gives every alert a severity (page or ticket), a `for`, a summary, a description and a runbook_url', () => {
    for (const alert of alerts) {
      const shape = {
        severity: SEVERITIES.includes(alert.labels?.['severity'] ?? '') ? 'ok' : alert.labels?.['severity'],
        for: /^\d+[smh]$/.test(alert.for ?? '') ? 'ok' : alert.for,
        annotations: Object.keys(alert.annotations ?? {}).sort(),
      };
      expect(`${alert.alert}: ${JSON.stringify(shape)}`).toBe(
        `${alert.alert}: ${JSON.stringify({ severity: 'ok', for: 'ok', annotations: ['description', 'runbook_url', 'summary'] })}`,
      );
    }
  });

  it('records series under level:metric:operations names', () => {
    expect(recorded.size).toBeGreaterThan(0);
    for (const name of recorded.keys()) expect(name).toMatch(/^[a-z_]+:hpns_[a-z0-9_]+:[a-z0-9_]+$/);
    // The level (before the first colon) is the labels the series keeps.
    for (const [name, labels] of recorded)
      expect(`${name}: ${[...labels].sort().join(',')}`).toBe(
        `${name}: ${name.split(':')[0]?.split('_').sort().join(',')}`,
      );
    expect(exprProblems('platform:hpns_push_ack_ratio:ratio_rate1h{region="de"}', catalog)).toEqual([
      'platform:hpns_push_ack_ratio:ratio_rate1h has no label region',
    ]);
  });

  it('uses only metrics the processes export, with labels they carry', () => {
    const problems = rules.flatMap((rule) =>
      exprProblems(rule.expr, catalog).map((p) => `${rule.alert ?? rule.record}: ${p}`),
    );
    expect(problems).toEqual([]);
  });

  it('uses only labels in annotations that the alert expression keeps', () => {
    // `{{ $labels.x }}` must be a label of the alert's result: one of `by (…)` or a label of the metrics.
    const problems: string[] = [];
    for (const alert of alerts) {
      const text = Object.values(alert.annotations ?? {}).join('\n');
      for (const [, label] of text.matchAll(/\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)/g)) {
        if (!new RegExp(`\\b${label}\\b`).test(alert.expr) && !['job', 'instance'].includes(label as string))
          problems.push(`${alert.alert}: $labels.${label}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('flags what the catalog check exists for: unknown metrics and labels, wherever they are used', () => {
    const probe = (expr: string) => exprProblems(expr, catalog);
    expect(probe('hpns_queue_oldest_wait_seconds > 1')).toEqual([
      'unknown metric hpns_queue_oldest_wait_seconds',
      'unknown series hpns_queue_oldest_wait_seconds',
    ]);
    expect(probe('scrape_duration_seconds > 1')).toEqual(['unknown series scrape_duration_seconds']);
    expect(probe('max by (region, target) (hpns_queue_jobs)')).toEqual([
      'hpns_queue_jobs has no label target (grouped by)',
    ]);
    expect(probe('hpns_worker_circuit_state{provider="apns"} == 2')).toEqual([
      'hpns_worker_circuit_state has no label provider',
    ]);
    expect(probe('hpns_queue_jobs > 0 unless on (region, queues) hpns_worker_jobs_total')).toEqual([
      'no metric of the expression has label queues (matched on)',
    ]);
    expect(probe('label_join(hpns_ingress_acks_total, "x", "/", "platform", "region")')).toEqual([
      'hpns_ingress_acks_total has no label region (label_replace/label_join source)',
    ]);
    // Scoped: each aggregation's labels against the metrics it reads; labels created by label_join count.
    expect(
      probe(
        'max by (region, queue) (hpns_queue_jobs) unless on (region, queue) ' +
          'label_join(sum by (region, provider) (rate(hpns_worker_jobs_total[5m])), "queue", "-", "region", "provider")',
      ),
    ).toEqual([]);
  });

  it('catches a metric or label renamed in the sources (the catalog is read from them)', () => {
    const renamed = new Map(catalog);
    const jobs = catalog.get('hpns_queue_jobs') as MetricDefinition;
    renamed.set('hpns_queue_jobs', { ...jobs, labels: jobs.labels.filter((l) => l !== 'state') });
    renamed.delete('hpns_worker_circuit_state');
    const problems = rules.flatMap((rule) => exprProblems(rule.expr, renamed));
    expect(problems).toEqual(
      expect.arrayContaining([
        'hpns_queue_jobs has no label state',
        'unknown metric hpns_worker_circuit_state',
      ]),
    );
  });
});

describe(`${RULES}: runbooks`, () => {
  const runbooks = read(RUNBOOKS);
  const anchors = markdownAnchors(runbooks);

  it('computes anchors as GitHub does', () => {
    for (const anchor of [
      'queue-backing-up',
      'provider-outage-circuit-open',
      'failed-pushes-the-dead-letters',
      'rotating-the-payload-keys-hpns_payload_keys',
    ]) {
      expect(anchors.has(anchor)).toBe(true);
    }
    // Comments in code blocks are no headings.
    expect(
      anchors.has(
        'kubernetes-the-admin-server-of-one-pod-and-redis-cli-on-the-regions-redis-run-from-a-host-that-reaches-it',
      ),
    ).toBe(false);
    expect(markdownAnchors('# A (b)\n# A (b)\n```\n# c\n```\n')).toEqual(new Set(['a-b', 'a-b-1']));
  });

  it('points every alert at an existing section of docs/runbooks.md', () => {
    const problems: string[] = [];
    for (const alert of alerts) {
      const url = alert.annotations?.['runbook_url'] ?? '';
      const match = /^docs\/runbooks\.md#([a-z0-9_-]+)$/.exec(url);
      if (!match) problems.push(`${alert.alert}: runbook_url ${url} is not docs/runbooks.md#<anchor>`);
      else if (!anchors.has(match[1] as string)) problems.push(`${alert.alert}: no section #${match[1]}`);
    }
    expect(problems).toEqual([]);
  });

  it('lists every alert in the "Alerts" section with its severity and the same section', () => {
    const section = /\n## Alerts\n([\s\S]*?)\n## /.exec(runbooks)?.[1] ?? '';
    const rows = new Map(
      [
        ...section.matchAll(/^\|\s*`(Hpns\w+)`\s*\|\s*(\w+)\s*\|[^|]*\|\s*\[[^\]]*\]\(#([^)]+)\)\s*\|\s*$/gm),
      ].map((m) => [m[1] as string, `${m[2]} #${m[3]}`]),
    );
    for (const alert of alerts) {
      const url = alert.annotations?.['runbook_url'] ?? '';
      expect(`${alert.alert}: ${rows.get(alert.alert) ?? 'not listed'}`).toBe(
        `${alert.alert}: ${alert.labels?.['severity']} #${url.slice(url.indexOf('#') + 1)}`,
      );
    }
    expect([...rows.keys()].sort()).toEqual(alerts.map((a) => a.alert).sort());
  });
});

describe(`${RULES}: wiring`, () => {
  it('is loaded by prometheus.yml, and mounted next to it in the compose Prometheus', () => {
    const config = readYaml(join(root, 'infra/prometheus/prometheus.yml')) as { rule_files?: string[] };
    expect(config.rule_files).toEqual(['alerts.yml']);
    const compose = readYaml(join(root, 'docker-compose.yml'), { merge: true }) as {
      services: Record<string, { command?: string[]; volumes?: string[] }>;
    };
    const prometheus = compose.services['prometheus'];
    const configPath = prometheus?.command
      ?.find((arg) => arg.startsWith('--config.file='))
      ?.slice('--config.file='.length);
    expect(configPath).toBeDefined();
    expect(prometheus?.volumes).toContain(
      `./infra/prometheus/alerts.yml:${posix.join(posix.dirname(configPath as string), 'alerts.yml')}:ro`,
    );
  });

  it('is the file the Helm chart renders (files/alerts.yml links to it)', () => {
    expect(realpathSync(join(root, 'infra/helm/hpns/files/alerts.yml'))).toBe(
      realpathSync(join(root, RULES)),
    );
    const template = read('infra/helm/hpns/templates/prometheusrule.yaml');
    expect(template).toContain('.Files.Get "files/alerts.yml"');
    expect(template).toMatch(/^\{\{- if \.Values\.prometheusRule\.enabled \}\}/);
  });
});

describe(RULE_TESTS.join(', '), () => {
  const unitTests = RULE_TESTS.map((file) => readYaml(join(root, file)) as RuleTests);
  const cases = unitTests.flatMap((u) => u.tests.flatMap((t) => t.alert_rule_test ?? []));

  it('test alerts.yml', () => {
    for (const u of unitTests) expect(u.rule_files).toEqual(['alerts.yml']);
  });

  it('has, for every alert, a case where it fires and one where it does not', () => {
    const missing: string[] = [];
    for (const { alert } of alerts) {
      const own = cases.filter((c) => c.alertname === alert);
      if (!own.some((c) => (c.exp_alerts ?? []).length > 0)) missing.push(`${alert}: no firing case`);
      if (!own.some((c) => (c.exp_alerts ?? []).length === 0)) missing.push(`${alert}: no silent case`);
    }
    expect(missing).toEqual([]);
    expect(cases.filter((c) => !alerts.some((a) => a.alert === c.alertname))).toEqual([]);
  });
});

const hasPromtool = optionalTool('promtool', ['--version'], 'apt-get install prometheus');
(hasPromtool ? describe : describe.skip)(`promtool: ${RULES}`, () => {
  const promtool = (...args: string[]) => spawnSync('promtool', args, { cwd: root, encoding: 'utf8' });

  it('check rules: accepts the rules', () => {
    const run = promtool('check', 'rules', RULES);
    expect(`${run.status} ${run.stdout}${run.stderr}`).toMatch(
      new RegExp(`^0 .*SUCCESS: ${rules.length} rules found`, 's'),
    );
  });

  it('test rules: every unit test passes', () => {
    const run = promtool('test', 'rules', ...RULE_TESTS);
    expect(`${run.status} ${run.stdout}${run.stderr}`).toMatch(/^0 .*SUCCESS/s);
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/FAILED/);
  }, 60_000);

  it('test rules: fails on a copy of the rules with a threshold changed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpns-alerts-'));
    try {
      const broken = read(RULES).replace(
        'max by (region, queue) (hpns_queue_oldest_waiting_seconds) > 120',
        'max by (region, queue) (hpns_queue_oldest_waiting_seconds) > 300',
      );
      expect(broken).not.toBe(read(RULES));
      writeFileSync(join(dir, 'alerts.yml'), broken);
      // Only the unit tests of that alert, to keep it quick.
      const unitTests = readYaml(join(root, RULE_TESTS[0] as string)) as RuleTests;
      unitTests.tests = unitTests.tests.filter((t) =>
        (t.alert_rule_test ?? []).some((c) => c.alertname === 'HpnsQueueOldestWaitingHigh'),
      );
      expect(unitTests.tests.length).toBeGreaterThan(0);
      writeFileSync(join(dir, 'alerts.test.yml'), stringify(unitTests));
      const run = spawnSync('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: dir, encoding: 'utf8' });
      expect(run.status).not.toBe(0);
      expect(`${run.stdout}${run.stderr}`).toMatch(/FAILED[\s\S]*HpnsQueueOldestWaitingHigh/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

const hasHelm = optionalTool('helm', ['version'], 'see docs/deployment.md, "Validation"');
(hasHelm ? describe : describe.skip)(`helm: ${RULES} as a PrometheusRule`, () => {
  const chart = join(root, 'infra/helm/hpns');
  const region = readYaml(join(chart, 'values-de.yaml')) as { providers: { apple: unknown[] } };
  const appleIds = region.providers.apple.flatMap((_, i) => [
    `providers.apple[${i}].authKeyId=ABCDE12345`,
    `providers.apple[${i}].teamId=FGHIJ67890`,
  ]);
  const render = (...set: string[]) =>
    spawnSync(
      'helm',
      [
        'template',
        'hpns-de',
        '.',
        '-n',
        'hpns-de',
        '-f',
        'values-de.yaml',
        '--set',
        [...appleIds, ...set].join(','),
      ],
      { cwd: chart, encoding: 'utf8' },
    );

  it('renders no PrometheusRule by default', () => {
    const run = render();
    expect(run.status).toBe(0);
    expect(readYamlStream(run.stdout).filter((d) => d['kind'] === 'PrometheusRule')).toEqual([]);
  });

  it('renders the groups of alerts.yml unchanged with prometheusRule.enabled=true', () => {
    const run = render('prometheusRule.enabled=true', 'prometheusRule.labels.release=kube-prometheus-stack');
    expect(`${run.status} ${run.stderr.includes('Error') ? run.stderr : ''}`).toBe('0 ');
    const [rule, ...more] = readYamlStream(run.stdout).filter((d) => d['kind'] === 'PrometheusRule');
    expect(more).toEqual([]);
    expect(rule).toEqual(
      expect.objectContaining({
        apiVersion: 'monitoring.coreos.com/v1',
        metadata: expect.objectContaining({
          name: 'hpns-de',
          labels: expect.objectContaining({ release: 'kube-prometheus-stack' }),
        }),
      }),
    );
    expect((rule?.['spec'] as RuleFile).groups).toEqual(ruleFile.groups);
  });

  it('lints with the PrometheusRule (--strict)', () => {
    const run = spawnSync(
      'helm',
      [
        'lint',
        '--strict',
        '.',
        '-f',
        'values-de.yaml',
        '--set',
        [...appleIds, 'prometheusRule.enabled=true'].join(','),
      ],
      { cwd: chart, encoding: 'utf8' },
    );
    expect(`${run.status} ${run.stdout}`).toMatch(/^0 .*0 chart\(s\) failed/s);
  });
});
