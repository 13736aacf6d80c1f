import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '@hpns/testkit';
import { readYaml } from '../src/infra-files';
import { promqlMetricNames } from '../src/metric-catalog';
import { optionalTool } from './infra-fixtures';
import { startLocalStack, type LocalStack, type StackReady } from '@hpns/loadtest';

/**
 * The dashboard and the rules proven on a real Prometheus (Debian's `prometheus`, which .ci/run installs). The
 * local stack runs with an admin token; a Prometheus started here scrapes every process with the scrape jobs,
 * token and rule files of infra/prometheus/prometheus.yml (targets pointed at the stack, 1 s intervals). Traffic
 * with failures goes through: dead tokens on both providers, provider 5xx (retries, an open circuit), unknown
 * platforms, bad requests, delivery receipts, a paused region. Then, through Prometheus's HTTP API:
 * - every panel query of the Grafana dashboard returns series, or is listed in EMPTY_BY_DESIGN with the reason;
 * - every recording rule has series and every rule evaluates without error (rule health);
 * - every vector selector inside every alerting rule matches series (a wrong metric or label value would
 *   silently never fire), and the alerts that this traffic must trip are pending or firing.
 */
const root = resolve(__dirname, '../..');
const hasPrometheus = optionalTool('prometheus', ['--version'], 'apt-get install prometheus');
const ADMIN_TOKEN = `prom-e2e-${randomBytes(12).toString('hex')}`;

/** Dashboard panels that stay empty in this run, and why. */
const EMPTY_BY_DESIGN: Record<string, string> = {};

/** Selectors in alert rules that match nothing in this run, and why. */
const SELECTORS_EMPTY_BY_DESIGN: Record<string, string> = {};

interface Rule {
  type: 'recording' | 'alerting';
  name: string;
  query: string;
  health: string;
  lastError?: string;
  state?: string;
}

let dir: string;
let stack: LocalStack | undefined;
let prometheus: ChildProcess | undefined;
let ready: StackReady;
let promUrl: string;

const host = (url: string) => new URL(url).host;

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** infra/prometheus/prometheus.yml with its targets pointed at the stack and a private token file. */
function prometheusConfig(promPort: number): string {
  const config = readYaml(join(root, 'infra/prometheus/prometheus.yml')) as {
    global: Record<string, unknown>;
    rule_files: string[];
    scrape_configs: {
      job_name: string;
      authorization?: { credentials_file?: string };
      static_configs: { targets: string[]; labels?: Record<string, string> }[];
    }[];
  };
  config.global = {
    ...config.global,
    scrape_interval: '1s',
    scrape_timeout: '1s',
    evaluation_interval: '1s',
  };
  const rules = join(dir, 'rules');
  mkdirSync(rules, { recursive: true });
  // The rule files as they are, but every group evaluated each second (a group's own `interval`, e.g. the
  // 30-day SLO series' 1m, would not come round within the test).
  config.rule_files = config.rule_files.map((file) => {
    const text = readFileSync(join(root, 'infra/prometheus', file), 'utf8');
    writeFileSync(join(rules, basename(file)), text.replace(/^(\s+)interval: \S+$/gm, '$1interval: 1s'));
    return join(rules, basename(file));
  });
  const targetOf: Record<string, string> = {
    ingress: host(ready.ingressAdmin),
    'worker-us': host(ready.workerAdmin['us']!),
    'worker-de': host(ready.workerAdmin['de']!),
  };
  for (const job of config.scrape_configs) {
    if (job.authorization?.credentials_file !== undefined)
      job.authorization.credentials_file = join(dir, 'admin-token');
    for (const group of job.static_configs) {
      const instance = group.labels?.['instance'];
      if (job.job_name === 'prometheus') group.targets = [`127.0.0.1:${promPort}`];
      else if (instance !== undefined && targetOf[instance] !== undefined)
        group.targets = [targetOf[instance]];
      else throw new Error(`prometheus.yml: no stack process for ${job.job_name} ${instance}`);
    }
  }
  return stringify(config);
}

/** The admin CLI (apps/admin) with the stack's settings. */
function hpns(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [join(root, 'apps/admin/dist/main.js'), ...args], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      HPNS_REGIONS: 'us,de',
      HPNS_REDIS_URL_US: ready.redis['us']!,
      HPNS_REDIS_URL_DE: ready.redis['de']!,
    },
  });
}

async function query(expr: string): Promise<unknown[]> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data!.result;
}

async function rules(): Promise<Rule[]> {
  const body = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as {
    data: { groups: { rules: Rule[] }[] };
  };
  return body.data.groups.flatMap((g) => g.rules);
}

async function until(what: string, test: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

(hasPrometheus ? describe : describe.skip)('a real Prometheus on the local stack', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hpns-prometheus-e2e-'));
    writeFileSync(join(dir, 'admin-token'), `${ADMIN_TOKEN}\n`);
    stack = await startLocalStack({
      noBuild: true,
      env: {
        ...process.env,
        HPNS_LOG_LEVEL: 'error',
        HPNS_ADMIN_TOKEN_FILE: join(dir, 'admin-token'),
        // Quick retries and a circuit that opens and probes within the test.
        HPNS_WORKER_RETRY_BASE_MS: '200',
        HPNS_WORKER_RETRY_MAX_MS: '1000',
        HPNS_WORKER_CIRCUIT_OPEN_MS: '1000',
        HPNS_WAIT_MS: '500',
      },
    });
    ready = stack.ready;
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    writeFileSync(join(dir, 'prometheus.yml'), prometheusConfig(promPort));
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let promLog = '';
    prometheus.stderr!.on('data', (c: Buffer) => (promLog = (promLog + c.toString()).slice(-4000)));
    prometheus.once('exit', (code) => {
      if (code !== 0 && code !== null) process.stderr.write(`prometheus exited ${code}:\n${promLog}\n`);
    });
    await until('Prometheus ready', async () => (await fetch(`${promUrl}/-/ready`)).ok);
    await until('every HPNS target up', async () => (await query('up{job=~"hpns-.*"} == 1')).length === 3);
  }, 180_000);

  afterAll(async () => {
    await stop(prometheus);
    await stack?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('evaluates every dashboard query and every rule on real series', async () => {
    const control = ready.simulators.controlUrl;
    const send = async (path: string, fields: Record<string, unknown>) =>
      (
        await fetch(`${ready.ingress}${path}`, {
          method: 'POST',
          body: JSON.stringify({
            server_id: 'prom-e2e',
            type: 'message',
            version: 'v2',
            message: 'hi',
            ...fields,
          }),
        })
      ).text();
    const token = () => randomBytes(32).toString('hex');
    // Traffic for about 20 s, so that every rate() window holds many samples.
    for (let round = 0; round < 20; round += 1) {
      if (round === 4) {
        // Provider 5xx: retries, then an open circuit on the APNs target of us.
        const res = await fetch(`${control}/apns/faults/next`, {
          method: 'POST',
          body: JSON.stringify({ count: 40, fault: 'ServiceUnavailable' }),
        });
        expect(res.status).toBe(200);
      }
      if (round === 8) {
        // A permanent rejection: FAIL answers, dead letters.
        const res = await fetch(`${control}/apns/faults/next`, {
          method: 'POST',
          body: JSON.stringify({ count: 10, fault: 'BadTopic' }),
        });
        expect(res.status).toBe(200);
      }
      // The Redis of de is full for two rounds (maxmemory 1 byte, noeviction): the ingress answers the
      // retryable FAIL `unavailable` meanwhile.
      if (round === 12) await redisCommand(ready.redis['de']!, 'CONFIG', 'SET', 'maxmemory', '1');
      if (round === 14) await redisCommand(ready.redis['de']!, 'CONFIG', 'SET', 'maxmemory', '0');
      // The last rounds with the delivery of de paused (`hpns pause de`): its pushes wait in the queue.
      if (round === 16) expect(hpns('pause', 'de').status).toBe(0);
      const pushes: Promise<string>[] = [];
      for (const region of ['us', 'de']) {
        for (let i = 0; i < 10; i += 1) {
          const ackId = `ack${randomBytes(8).toString('hex')}`;
          pushes.push(
            send(`/${region}/api/v1/send_push`, {
              platform: 'apple_rn-v2',
              device_id: token(),
              ack_id: ackId,
            }).then(async (answer) => {
              // The app's delivery receipt, as the Mattermost server forwards it.
              await fetch(`${ready.ingress}/${region}/api/v1/ack`, {
                method: 'POST',
                body: JSON.stringify({
                  id: ackId,
                  platform: 'ios',
                  type: 'message',
                  received_at: Date.now(),
                }),
              });
              return answer;
            }),
          );
          pushes.push(
            send(`/${region}/api/v1/send_push`, { platform: 'android_rn-v2', device_id: `fcm${token()}` }),
          );
        }
        pushes.push(
          send(`/${region}/api/v1/send_push`, { platform: 'android_rn-v2', device_id: `deaddead${token()}` }),
        );
        pushes.push(send(`/${region}/api/v1/send_push`, { platform: 'nokia-v2', device_id: token() }));
        pushes.push(
          fetch(`${ready.ingress}/${region}/api/v1/send_push`, {
            method: 'POST',
            body: '{"server_id":',
          }).then((r) => r.text()),
        );
      }
      await Promise.all(pushes);
      await new Promise((r) => setTimeout(r, 1000));
    }
    // A few more scrapes and rule evaluations of the last traffic.
    await new Promise((r) => setTimeout(r, 4000));
    const paused = JSON.parse(hpns('queues', '--region', 'de', '--json').stdout) as {
      queues: { provider: string; paused: boolean; waiting: number }[];
    };
    expect(paused.queues.every((q) => q.paused)).toBe(true);
    expect(await query('sum(hpns_queue_jobs{region="de", state="waiting"}) > 0')).toHaveLength(1);

    // --- the dashboard ----------------------------------------------------------------------------------
    const dashboard = JSON.parse(
      readFileSync(join(root, 'infra/grafana/dashboards/hpns-overview.json'), 'utf8'),
    ) as {
      panels: { title: string; targets?: { expr: string }[]; panels?: unknown[] }[];
    };
    const panels: { title: string; expr: string }[] = [];
    const walk = (list: typeof dashboard.panels) => {
      for (const panel of list) {
        if (panel.panels !== undefined) walk(panel.panels as typeof dashboard.panels);
        for (const target of panel.targets ?? []) panels.push({ title: panel.title, expr: target.expr });
      }
    };
    walk(dashboard.panels);
    expect(panels.length).toBeGreaterThan(20);
    const grafana = (expr: string) =>
      expr
        .replaceAll('$__rate_interval', '30s')
        .replaceAll('$__interval', '5s')
        .replaceAll('$__range', '1h')
        .replaceAll('$region', 'us|de');
    const emptyPanels: string[] = [];
    for (const { title, expr } of panels) {
      const result = await query(grafana(expr));
      if (result.length === 0 && EMPTY_BY_DESIGN[title] === undefined) emptyPanels.push(`${title}: ${expr}`);
    }
    expect(emptyPanels).toEqual([]);

    // --- the rules --------------------------------------------------------------------------------------
    const loaded = await rules();
    expect(loaded.filter((r) => r.type === 'alerting').length).toBeGreaterThan(5);
    expect(loaded.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
    const emptyRecords: string[] = [];
    for (const rule of loaded.filter((r) => r.type === 'recording')) {
      if ((await query(rule.name)).length === 0 && EMPTY_BY_DESIGN[rule.name] === undefined)
        emptyRecords.push(rule.name);
    }
    expect(emptyRecords).toEqual([]);
    const recorded = new Set(loaded.filter((r) => r.type === 'recording').map((r) => r.name));
    const emptySelectors: string[] = [];
    for (const rule of loaded.filter((r) => r.type === 'alerting')) {
      for (const selector of vectorSelectors(rule.query, recorded)) {
        if (SELECTORS_EMPTY_BY_DESIGN[selector] !== undefined) continue;
        if ((await query(`count(${selector})`)).length === 0)
          emptySelectors.push(`${rule.name}: ${selector}`);
      }
    }
    expect(emptySelectors).toEqual([]);
    // The traffic above must trip these (pending: their `for` is longer than the test).
    const tripped = new Set(
      loaded.filter((r) => r.state === 'pending' || r.state === 'firing').map((r) => r.name),
    );
    expect([...tripped].sort()).toEqual(expect.arrayContaining(EXPECTED_TRIPPED));
    expect(hpns('resume', 'de').status).toBe(0);
  }, 180_000);
});

/** One Redis command over a plain socket (RESP), answered with its first reply line. */
function redisCommand(url: string, ...args: string[]): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolveReply, reject) => {
    const socket = connect(Number(port), hostname, () =>
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`),
    );
    socket.once('data', (data) => {
      socket.destroy();
      const reply = data.toString().split('\r\n')[0]!;
      if (reply.startsWith('-')) reject(new Error(`${args.join(' ')}: ${reply}`));
      else resolveReply(reply);
    });
    socket.once('error', reject);
  });
}

/**
 * Alerts the traffic of the test must trip: 10 permanent rejections and two rounds of a full Redis in about 900
 * pushes put the server-side FAIL share above 1 %, and burn the 0.1 % availability budget far above 14.4× in
 * every window (all windows hold the same half minute of data here).
 */
const EXPECTED_TRIPPED: string[] = [
  'HpnsAvailabilityBudgetBurn1h',
  'HpnsAvailabilityBudgetBurn3d',
  'HpnsAvailabilityBudgetBurn6h',
  'HpnsIngressErrorRatioElevated',
];

/**
 * The vector selectors of an expression (`metric{labels}`, ranges dropped), for metrics the processes export;
 * recording rules' outputs are checked as rules of their own.
 */
function vectorSelectors(expr: string, recorded: ReadonlySet<string>): string[] {
  const selectors = new Set<string>();
  for (const name of promqlMetricNames(expr)) {
    if (recorded.has(name)) continue;
    const pattern = new RegExp(`(?<![A-Za-z0-9_:])${name}(\\{[^}]*\\})?`, 'g');
    for (const match of expr.matchAll(pattern)) selectors.add(`${name}${match[1] ?? ''}`);
  }
  return [...selectors];
}
