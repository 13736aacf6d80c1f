import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { stringify } from 'yaml';
import { readYaml, readYamlStream } from '../src/infra-files';
import {
  isForeignMetric,
  type MetricDefinition,
  type PrometheusRule,
  promqlMetricNames,
  promqlProblems,
  readMetricCatalog,
  recordedSeries,
} from '../src/metric-catalog';
import { optionalTool } from './infra-fixtures';

/**
 * The Prometheus rules, infra/prometheus/alerts.yml and slo.yml, and their promtool unit tests (alerts*.test.yml,
 * slo*.test.yml): always, every rule's metrics and labels against the metric catalog (the prom-client
 * constructors in the sources), the labels and annotations every alert needs, its runbook anchor in
 * docs/runbooks.md and the runbook's list of alerts, the SLOs' windows, objectives and SLI definitions, and the
 * wiring (prometheus.yml, docker-compose.yml, the Helm chart's links). With promtool: `check rules` and `test
 * rules`, and broken copies of the rules that the unit tests must catch. With helm: the PrometheusRule renders
 * both files.
 */
const root = resolve(__dirname, '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const ALERTS = 'infra/prometheus/alerts.yml';
const SLO = 'infra/prometheus/slo.yml';
/** The rule files in the order Prometheus loads them (a rule may read the series of rules before it). */
const RULE_FILES = [ALERTS, SLO];
/** Each file's unit tests; the daily files hold those spanning days, evaluated at a coarser step. */
const RULE_TESTS: Record<string, string[]> = {
  [ALERTS]: ['infra/prometheus/alerts.test.yml', 'infra/prometheus/alerts.daily.test.yml'],
  [SLO]: ['infra/prometheus/slo.test.yml', 'infra/prometheus/slo.daily.test.yml'],
};
const RUNBOOKS = 'docs/runbooks.md';
const SEVERITIES = ['page', 'ticket'];

interface Rule extends PrometheusRule {
  for?: string;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; interval?: string; rules: Rule[] }[];
}
interface RuleTests {
  rule_files: string[];
  group_eval_order?: string[];
  tests: {
    name: string;
    alert_rule_test?: { eval_time: string; alertname: string; exp_alerts?: unknown[] }[];
  }[];
}

const ruleFiles = new Map(RULE_FILES.map((file) => [file, readYaml(join(root, file)) as RuleFile]));
const rulesOf = (file: string) => (ruleFiles.get(file) as RuleFile).groups.flatMap((g) => g.rules);
const isAlert = (r: Rule): r is Rule & { alert: string } => r.alert !== undefined;
const rules = RULE_FILES.flatMap(rulesOf);
const alerts = rules.filter(isAlert);
/** Recorded series and their labels. */
const recorded = recordedSeries(rules);
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

describe(RULE_FILES.join(', '), () => {
  it('has alerts on every area the runbooks cover', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(21);
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
      'all:hpns_slo_availability_errors:ratio_rate1h',
      'region:hpns_slo_latency_errors:ratio_rate1h',
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
    // The level (before the first colon) is the labels the series keeps, `all` none.
    const levelLabels = (level: string) => (level === 'all' ? '' : level.split('_').sort().join(','));
    for (const [name, labels] of recorded)
      expect(`${name}: ${[...labels].sort().join(',')}`).toBe(
        `${name}: ${levelLabels(name.split(':')[0] ?? '')}`,
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

const SLIS = ['availability', 'latency'];
const SLO_WINDOWS = ['5m', '30m', '1h', '6h', '3d', '30d'];
/** send_push results that are neither good nor bad for the availability SLI: the caller's own refusals. */
const OUTSIDE_AVAILABILITY = ['rate_limited', 'not_registered', 'wrong_region', 'region_not_served'];
/** The workbook's pairs: long window, short window, burn-rate factor, severity, the long window in seconds. */
const BURN_ALERTS = [
  { suffix: '1h', long: '1h', short: '5m', factor: '14.4', severity: 'page', seconds: 3600 },
  { suffix: '6h', long: '6h', short: '30m', factor: '6', severity: 'page', seconds: 21600 },
  { suffix: '3d', long: '3d', short: '6h', factor: '1', severity: 'ticket', seconds: 259200 },
];

describe(SLO, () => {
  const sloRules = rulesOf(SLO);
  const sloAlerts = sloRules.filter(isAlert);
  const byName = (name: string) => sloRules.filter((r) => r.record === name);

  it('records each SLI, per region and overall, at every window, each rule over its own window only', () => {
    const problems: string[] = [];
    for (const sli of SLIS)
      for (const level of ['region', 'all'])
        for (const window of SLO_WINDOWS)
          for (const name of [
            `${level}:hpns_slo_${sli}_events:rate${window}`,
            `${level}:hpns_slo_${sli}_errors:ratio_rate${window}`,
          ]) {
            const [rule, ...more] = byName(name);
            if (rule === undefined || more.length > 0) problems.push(`${name}: ${more.length + 1} rules`);
            const ranges = new Set([...(rule?.expr ?? '').matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]));
            if (rule !== undefined && [...ranges].join() !== window)
              problems.push(`${name}: ranges ${[...ranges]}`);
          }
    expect(problems).toEqual([]);
    // Nothing else is recorded but the objectives.
    expect(sloRules.filter((r) => r.record !== undefined).length).toBe(
      SLIS.length * 2 * SLO_WINDOWS.length * 2 + 3,
    );
    // The 30-day range is costly: its group is evaluated once a minute, not at every evaluation.
    const group = (ruleFiles.get(SLO) as RuleFile).groups.find((g) =>
      g.rules.some((r) => r.record?.endsWith('30d')),
    );
    expect(group?.interval).toBe('1m');
    expect(group?.rules.every((r) => r.record?.endsWith('rate30d'))).toBe(true);
  });

  it('places every send_push result as good, bad or outside the availability SLI, once', () => {
    const help = catalog.get('hpns_ingress_requests_total')?.help ?? '';
    const results = (/result \(([^)]*)\)/.exec(help)?.[1] ?? '').split(', ');
    expect(results).toEqual(expect.arrayContaining(['ok', 'fail', 'unavailable', 'rate_limited']));
    const matchers = (kind: string) =>
      new Set(
        sloRules
          .filter((r) => new RegExp(`^[a-z]+:hpns_slo_availability_${kind}:`).test(r.record ?? ''))
          .map((r) => /hpns_ingress_requests_total\{[^}]*result=~"([^"]+)"/.exec(r.expr)?.[1]),
      );
    const [valid, ...otherValid] = [...matchers('events')];
    const [bad, ...otherBad] = [...matchers('errors')];
    // One definition for every window and level.
    expect([otherValid, otherBad]).toEqual([[], []]);
    const validResults = (valid ?? '').split('|');
    const badResults = (bad ?? '').split('|');
    expect(badResults.sort()).toEqual(['fail', 'internal_error', 'unavailable']);
    expect(validResults).toEqual(expect.arrayContaining(badResults));
    expect(validResults.filter((r) => OUTSIDE_AVAILABILITY.includes(r))).toEqual([]);
    // A result added to the ingress (its help lists them) must be placed before this passes.
    expect([...validResults, ...OUTSIDE_AVAILABILITY].sort()).toEqual([...results].sort());
    // Every availability rule reads send_push answers only.
    for (const rule of sloRules.filter((r) => r.record?.includes('_availability_') && r.expr.includes('{')))
      expect(rule.expr.match(/hpns_ingress_requests_total\{endpoint="send_push"/g)?.length).toBeGreaterThan(
        0,
      );
  });

  it('keeps the objectives in one place: recorded constants, read by every burn-rate alert', () => {
    const objectives = byName('slo:hpns_slo_objective:ratio');
    expect(objectives.map((r) => r.labels?.['slo']).sort()).toEqual(SLIS);
    for (const rule of objectives) {
      const value = Number(/^vector\(([0-9.]+)\)$/.exec(rule.expr)?.[1]);
      expect(value).toBeGreaterThan(0.9);
      expect(value).toBeLessThan(1);
      // No alert repeats the number.
      for (const alert of sloAlerts) expect(alert.expr).not.toContain(String(value));
    }
    expect(byName('slo:hpns_slo_error_budget:ratio').map((r) => r.expr)).toEqual([
      '1 - slo:hpns_slo_objective:ratio',
    ]);
  });

  it('pairs windows, factors, severities and the floor of each burn-rate alert as the workbook does', () => {
    const expected = SLIS.flatMap((sli) => {
      const Sli = `${sli[0]?.toUpperCase()}${sli.slice(1)}`;
      return BURN_ALERTS.map((b) => `Hpns${Sli}BudgetBurn${b.suffix}`);
    });
    expect(sloAlerts.map((a) => a.alert).sort()).toEqual(expected.sort());
    for (const alert of sloAlerts) {
      const [, sli, suffix] = /^Hpns(\w+?)BudgetBurn(\w+)$/.exec(alert.alert) ?? [];
      const slo = (sli ?? '').toLowerCase();
      const b = BURN_ALERTS.find((x) => x.suffix === suffix);
      // Availability over everything (its server errors have no region), latency per region.
      const level = slo === 'availability' ? 'all' : 'region';
      const burn = (window: string) =>
        `(\n  ${level}:hpns_slo_${slo}_errors:ratio_rate${window}\n  / on () group_left ()\n` +
        `  slo:hpns_slo_error_budget:ratio{slo="${slo}"}\n) > ${b?.factor}`;
      const floor =
        `${level}:hpns_slo_${slo}_errors:ratio_rate${b?.long} * ` +
        `${level}:hpns_slo_${slo}_events:rate${b?.long} * ${b?.seconds} > 9.5`;
      expect(`${alert.alert}:\n${alert.expr.trim()}`).toBe(
        `${alert.alert}:\n${[burn(b?.long ?? ''), burn(b?.short ?? ''), floor].join('\nand\n')}`,
      );
      expect(`${alert.alert}: ${alert.labels?.['severity']} ${alert.labels?.['slo']}`).toBe(
        `${alert.alert}: ${b?.severity} ${slo}`,
      );
    }
  });
});

describe(`${RULE_FILES.join(', ')}: runbooks`, () => {
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

  it('states the objectives that slo.yml records in the SLO section', () => {
    const section = /\n## SLOs and error budget burn\n([\s\S]*?)\n## /.exec(runbooks)?.[1] ?? '';
    for (const rule of rulesOf(SLO).filter((r) => r.record === 'slo:hpns_slo_objective:ratio')) {
      const percent = Number((Number(/\(([0-9.]+)\)/.exec(rule.expr)?.[1]) * 100).toFixed(6));
      expect(section).toContain(`${rule.labels?.['slo']}: ${percent} %`);
    }
  });
});

describe(`${RULE_FILES.join(', ')}: wiring`, () => {
  const names = RULE_FILES.map((file) => posix.basename(file));

  it('are loaded by prometheus.yml, and mounted next to it in the compose Prometheus', () => {
    const config = readYaml(join(root, 'infra/prometheus/prometheus.yml')) as { rule_files?: string[] };
    expect(config.rule_files).toEqual(names);
    const compose = readYaml(join(root, 'docker-compose.yml'), { merge: true }) as {
      services: Record<string, { command?: string[]; volumes?: string[] }>;
    };
    const prometheus = compose.services['prometheus'];
    const configPath = prometheus?.command
      ?.find((arg) => arg.startsWith('--config.file='))
      ?.slice('--config.file='.length);
    expect(configPath).toBeDefined();
    for (const file of RULE_FILES)
      expect(prometheus?.volumes).toContain(
        `./${file}:${posix.join(posix.dirname(configPath as string), posix.basename(file))}:ro`,
      );
  });

  it('are the files the Helm chart renders (files/ links to each), in the same order', () => {
    for (const file of RULE_FILES)
      expect(realpathSync(join(root, 'infra/helm/hpns/files', posix.basename(file)))).toBe(
        realpathSync(join(root, file)),
      );
    const template = read('infra/helm/hpns/templates/prometheusrule.yaml');
    expect(template).toContain(`{{- range $name := list ${names.map((n) => `"${n}"`).join(' ')} }}`);
    expect(template).toContain('$.Files.Get (printf "files/%s" $name)');
    expect(template).toMatch(/^\{\{- if \.Values\.prometheusRule\.enabled \}\}/);
  });
});

describe.each(RULE_FILES)('%s: unit tests', (file) => {
  const unitTests = (RULE_TESTS[file] ?? []).map((test) => readYaml(join(root, test)) as RuleTests);
  const cases = unitTests.flatMap((u) => u.tests.flatMap((t) => t.alert_rule_test ?? []));
  const alerts = rulesOf(file).filter(isAlert);

  it('test that file', () => {
    expect(unitTests.length).toBeGreaterThan(0);
    for (const u of unitTests) expect(u.rule_files).toEqual([posix.basename(file)]);
    // promtool evaluates groups in random order unless given one: if given, every group in the file's order.
    const groups = (ruleFiles.get(file) as RuleFile).groups.map((g) => g.name);
    for (const u of unitTests) expect(u.group_eval_order ?? groups).toEqual(groups);
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
(hasPromtool ? describe : describe.skip)(`promtool: ${RULE_FILES.join(', ')}`, () => {
  const promtool = (...args: string[]) => spawnSync('promtool', args, { cwd: root, encoding: 'utf8' });

  it.each(RULE_FILES)('check rules: accepts %s', (file) => {
    const run = promtool('check', 'rules', file);
    expect(`${run.status} ${run.stdout}${run.stderr}`).toMatch(
      new RegExp(`^0 .*SUCCESS: ${rulesOf(file).length} rules found`, 's'),
    );
  });

  it.each(RULE_FILES)(
    'test rules: every unit test of %s passes',
    (file) => {
      const run = promtool('test', 'rules', ...(RULE_TESTS[file] ?? []));
      expect(`${run.status} ${run.stdout}${run.stderr}`).toMatch(/^0 .*SUCCESS/s);
      expect(`${run.stdout}${run.stderr}`).not.toMatch(/FAILED/);
    },
    60_000,
  );

  // A threshold changed in a copy of the rules: the unit tests of that alert (only those, to keep it quick)
  // must fail.
  it.each([
    {
      file: ALERTS,
      alert: 'HpnsQueueOldestWaitingHigh',
      from: 'max by (region, queue) (hpns_queue_oldest_waiting_seconds) > 120',
      to: 'max by (region, queue) (hpns_queue_oldest_waiting_seconds) > 300',
    },
    // Every 14.4 of the 1 h pages: both windows' factor.
    { file: SLO, alert: 'HpnsAvailabilityBudgetBurn1h', from: /\) > 14\.4\n/g, to: ') > 25\n' },
  ])(
    'test rules: fails on a copy of $file with a threshold of $alert changed',
    ({ file, alert, from, to }) => {
      const dir = mkdtempSync(join(tmpdir(), 'hpns-alerts-'));
      try {
        const broken = read(file).replace(from, to);
        expect(broken).not.toBe(read(file));
        const name = posix.basename(file);
        writeFileSync(join(dir, name), broken);
        const unitTests = readYaml(join(root, RULE_TESTS[file]?.[0] as string)) as RuleTests;
        unitTests.tests = unitTests.tests.filter((t) =>
          (t.alert_rule_test ?? []).some((c) => c.alertname === alert && (c.exp_alerts ?? []).length > 0),
        );
        expect(unitTests.tests.length).toBeGreaterThan(0);
        writeFileSync(join(dir, 'unit.test.yml'), stringify(unitTests));
        const run = spawnSync('promtool', ['test', 'rules', 'unit.test.yml'], { cwd: dir, encoding: 'utf8' });
        expect(run.status).not.toBe(0);
        expect(`${run.stdout}${run.stderr}`).toMatch(new RegExp(`FAILED[\\s\\S]*${alert}`));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );
});

const hasHelm = optionalTool('helm', ['version'], 'see docs/deployment.md, "Validation"');
(hasHelm ? describe : describe.skip)(`helm: ${RULE_FILES.join(', ')} as a PrometheusRule`, () => {
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

  it('renders the groups of alerts.yml and slo.yml unchanged with prometheusRule.enabled=true', () => {
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
    expect((rule?.['spec'] as RuleFile).groups).toEqual(
      RULE_FILES.flatMap((file) => (ruleFiles.get(file) as RuleFile).groups),
    );
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
