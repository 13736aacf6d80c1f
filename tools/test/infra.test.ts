import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig, nodeConfigFiles, type ConfigFiles } from '@hpns/runtime';
import {
  dockerIgnoreIncludes,
  isConfigEnvName,
  isSecretSetting,
  parseDockerfile,
  readYaml,
} from '../src/infra-files';
import {
  type PrometheusRule,
  promqlMetricNames,
  promqlProblems,
  readMetricCatalog,
  recordedSeries,
} from '../src/metric-catalog';
import { fakeSecret, filesFrom, optionalTool, simulatorProxyConfig } from './infra-fixtures';

/**
 * The production-shape files (docker-compose.yml, infra/docker, infra/redis, infra/prometheus, infra/grafana)
 * checked without a Docker engine: parsed, cross-checked against each other and against the code (the settings
 * loadConfig reads, the metrics the processes export), and run where a local tool can run them (redis-server,
 * docker-compose, promtool). The Helm chart has its own file: infra-helm.test.ts.
 */
const root = resolve(__dirname, '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  secrets?: (string | { source: string; target?: string })[];
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  network_mode?: string;
  stop_grace_period?: string;
}
interface Compose {
  services: Record<string, ComposeService>;
  secrets: Record<string, { file?: string }>;
  volumes: Record<string, unknown>;
}

const compose = readYaml(join(root, 'docker-compose.yml'), { merge: true }) as Compose;
const HPNS_SERVICES = ['ingress', 'worker-us', 'worker-de'];
const env = (service: string) => compose.services[service]?.environment ?? {};

/** Seconds of a compose duration like `30s` or `1m30s`. */
function seconds(duration: string | undefined): number {
  let total = 0;
  for (const [, value, unit] of (duration ?? '').matchAll(/(\d+)(ms|s|m|h)/g)) {
    total += Number(value) * { ms: 0.001, s: 1, m: 60, h: 3600 }[unit as 'ms' | 's' | 'm' | 'h'];
  }
  return total;
}

/** The secret files a compose service mounts, as /run/secrets/<target> → fake content. */
function composeSecretFiles(service: ComposeService): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of service.secrets ?? []) {
    const target = typeof entry === 'string' ? entry : (entry.target ?? entry.source);
    files[`/run/secrets/${target}`] = fakeSecret(target);
  }
  return files;
}

function portOf(address: string | undefined): number {
  return Number(address?.slice(address.lastIndexOf(':') + 1));
}

describe('docker-compose.yml', () => {
  it('has the two regions, their Redis and workers, the ingress, simulators, Prometheus and Grafana', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      [
        'grafana',
        'ingress',
        'prometheus',
        'redis-de',
        'redis-us',
        'simulators',
        'worker-de',
        'worker-us',
      ].sort(),
    );
  });

  it('gives every service a healthcheck and waits on dependencies by condition', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      expect(`${name}: ${JSON.stringify(service.healthcheck?.test ?? null)}`).not.toMatch(/: null$/);
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(compose.services[dependency]).toBeDefined();
        expect(['service_healthy', 'service_started']).toContain(condition);
        // HPNS processes start only on a healthy Redis and simulators.
        if (HPNS_SERVICES.includes(name)) expect(`${name} → ${dependency}: ${condition}`).toMatch(/healthy$/);
      }
    }
  });

  it('checks readiness of the HPNS processes on /readyz of their own admin server', () => {
    for (const name of HPNS_SERVICES) {
      expect(compose.services[name]?.healthcheck?.test).toEqual([
        'CMD',
        'node',
        '/app/infra/docker/healthcheck.mjs',
        '/readyz',
      ]);
      expect(env(name)['HPNS_ADMIN_LISTEN_ADDRESS']).toMatch(/^0\.0\.0\.0:\d+$/);
    }
  });

  it('sets only environment variables that loadConfig reads, and secrets only as *_FILE', () => {
    for (const name of HPNS_SERVICES) {
      for (const variable of Object.keys(env(name))) {
        expect(`${name}: ${variable} ${isConfigEnvName(variable) ? 'known' : 'unknown'}`).toBe(
          `${name}: ${variable} known`,
        );
        expect(`${name}: ${variable} ${isSecretSetting(variable) ? 'is a secret value' : 'ok'}`).toBe(
          `${name}: ${variable} ok`,
        );
      }
    }
  });

  it('mounts every secret file a process names, from a file, never baked in', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const mounted = (service.secrets ?? []).map((s) =>
        typeof s === 'string' ? s : (s.target ?? s.source),
      );
      for (const [variable, value] of Object.entries(service.environment ?? {})) {
        if (!/_FILE$/.test(variable) || !value.startsWith('/run/secrets/')) continue;
        expect(`${name}: ${variable} → ${mounted.includes(value.slice('/run/secrets/'.length))}`).toBe(
          `${name}: ${variable} → true`,
        );
      }
      for (const secret of service.secrets ?? []) {
        const source = typeof secret === 'string' ? secret : secret.source;
        expect(compose.secrets[source]?.file).toMatch(
          /^\$\{HPNS_COMPOSE_SECRETS:-\.\/\.hpns-local\/compose-secrets\}\/[a-z0-9.-]+$/,
        );
      }
    }
    // The secret folder is git-ignored.
    expect(read('.gitignore').split('\n')).toContain('.hpns-local/');
  });

  it('pins each worker to its region: its own Redis only, nothing of the other region', () => {
    for (const [region, other] of [
      ['us', 'de'],
      ['de', 'us'],
    ] as const) {
      const worker = compose.services[`worker-${region}`] as ComposeService;
      expect(env(`worker-${region}`)['HPNS_WORKER_REGION']).toBe(region);
      expect(env(`worker-${region}`)['HPNS_REGIONS']).toBe(region);
      const names = Object.keys(worker.environment ?? {});
      expect(names.filter((n) => n.split('_').includes(other.toUpperCase()))).toEqual([]);
      const values = [...Object.values(worker.environment ?? {}), JSON.stringify(worker.secrets)];
      expect(values.join(' ')).not.toMatch(new RegExp(`redis[-_]url[-_]${other}|redis-${other}`));
      expect(Object.keys(worker.depends_on ?? {})).not.toContain(`redis-${other}`);
    }
    expect(env('ingress')['HPNS_REGIONS']).toBe('us,de');
  });

  it('gives each process an environment that loadConfig accepts without warnings about unknown names', () => {
    for (const name of HPNS_SERVICES) {
      const variables = env(name);
      const configFile = variables['HPNS_CONFIG_FILE'] as string;
      const dir = configFile.slice(0, configFile.lastIndexOf('/'));
      const proxyConfig = simulatorProxyConfig(dir);
      const credentialFiles = [...proxyConfig.matchAll(/"(\/[^"]+)"/g)].map((m) => m[1] as string);
      const files = filesFrom({
        ...composeSecretFiles(compose.services[name] as ComposeService),
        ...Object.fromEntries(credentialFiles.map((path) => [path, fakeSecret(path)])),
        [configFile]: proxyConfig,
        [`${dir}/simulators-ca-test-only.pem`]: fakeSecret('simulators-ca-test-only.pem'),
      });
      const { config, warnings } = loadConfig(variables, files);
      expect(warnings.filter((w) => w.includes('unknown environment variable'))).toEqual([]);
      expect(config.apple.map((t) => t.type)).toEqual(['apple_rn', 'apple_rnbeta']);
      if (name.startsWith('worker-')) {
        const region = name.slice('worker-'.length);
        expect(config.worker.region).toBe(region);
        expect(Object.keys(config.redis)).toEqual([region]);
        expect(config.providerEndpoints.apnsUrl).toMatch(/^https:\/\/127\.0\.0\.1:/);
      } else {
        expect(Object.keys(config.redis).sort()).toEqual(['de', 'us']);
        expect(config.ingress.listeners[0]?.address).toBe(':8086');
      }
    }
  });

  it('publishes the API on 8086 and admin ports on loopback only', () => {
    expect(compose.services['ingress']?.ports).toContain('8086:8086');
    for (const service of Object.values(compose.services)) {
      for (const port of service.ports ?? []) {
        if (port !== '8086:8086') expect(port).toMatch(/^127\.0\.0\.1:/);
      }
    }
  });

  it('lets processes finish their graceful shutdown before Docker kills them', () => {
    for (const name of HPNS_SERVICES) {
      const deadlineSec = Number(env(name)['HPNS_SHUTDOWN_TIMEOUT_MS'] ?? 10_000) / 1000;
      expect(seconds(compose.services[name]?.stop_grace_period)).toBeGreaterThan(deadlineSec);
    }
  });

  it('runs Redis with infra/redis/redis.conf and its password from a secret file', () => {
    for (const region of ['us', 'de']) {
      const redis = compose.services[`redis-${region}`] as ComposeService;
      expect(redis.volumes).toContain('./infra/redis/redis.conf:/usr/local/etc/redis/redis.conf:ro');
      expect(redis.command).toEqual([
        'redis-server',
        '/usr/local/etc/redis/redis.conf',
        '--include',
        '/run/secrets/redis_auth',
      ]);
      expect(redis.secrets).toEqual([{ source: `redis_auth_${region}`, target: 'redis_auth' }]);
      expect(redis.volumes?.some((v) => v.endsWith(':/data'))).toBe(true);
    }
  });

  it('runs the HPNS services from the one image, with commands that exist in it', () => {
    for (const name of [...HPNS_SERVICES, 'simulators']) {
      const service = compose.services[name] as ComposeService;
      expect(service.image).toBe('hpns:dev');
      const entry = service.command?.[0] as string;
      const source = entry.replace(/^apps\/([a-z]+)\/dist\/main\.js$/, 'apps/$1/src/main.ts');
      expect(`${name}: ${source} ${existsSync(join(root, source))}`).toBe(`${name}: ${source} true`);
    }
  });

  it('mounts only files and folders that exist in the repository', () => {
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes ?? []) {
        if (volume.startsWith('./'))
          expect(existsSync(join(root, volume.split(':')[0] as string))).toBe(true);
        else expect(compose.volumes).toHaveProperty(volume.split(':')[0] as string);
      }
    }
  });
});

describe('infra/prometheus/prometheus.yml', () => {
  const prometheus = readYaml(join(root, 'infra/prometheus/prometheus.yml')) as {
    scrape_configs: {
      job_name: string;
      static_configs: { targets: string[] }[];
      metrics_path?: string;
      authorization?: unknown;
    }[];
  };

  it("scrapes /metrics on the admin port of the ingress and of each region's worker", () => {
    const targets = new Map<string, string>();
    for (const job of prometheus.scrape_configs) {
      for (const group of job.static_configs)
        for (const target of group.targets) targets.set(target, job.job_name);
    }
    for (const name of HPNS_SERVICES) {
      const service = compose.services[name] as ComposeService;
      const host = service.network_mode?.replace(/^service:/, '') ?? name;
      const target = `${host}:${portOf(env(name)['HPNS_ADMIN_LISTEN_ADDRESS'])}`;
      expect(`${name}: ${targets.get(target) ?? 'not scraped'}`).toMatch(/: hpns-/);
      if (host !== name) {
        // Published from the network namespace the worker shares.
        expect(compose.services[host]?.ports?.map((p) => portOf(p))).toContain(portOf(target));
      }
    }
    for (const job of prometheus.scrape_configs.filter((j) => j.job_name.startsWith('hpns-'))) {
      expect(job.metrics_path).toBe('/metrics');
      // With the admin token, which compose mounts into the Prometheus container.
      expect(job.authorization).toEqual({
        type: 'Bearer',
        credentials_file: '/run/secrets/hpns_admin_token',
      });
    }
    expect((compose.services['prometheus'] as ComposeService).secrets).toContain('hpns_admin_token');
  });
});

const hasPromtool = optionalTool('promtool', ['--version'], 'apt-get install prometheus');
(hasPromtool ? describe : describe.skip)('promtool', () => {
  it('accepts infra/prometheus/prometheus.yml', () => {
    // promtool checks that the token file exists: a copy beside the rules, with the secret's path pointing to
    // a file of fake content (in compose the secret is mounted there).
    const dir = mkdtempSync(join(tmpdir(), 'hpns-promtool-'));
    try {
      for (const file of readdirSync(join(root, 'infra/prometheus')))
        writeFileSync(join(dir, file), readFileSync(join(root, 'infra/prometheus', file)));
      writeFileSync(join(dir, 'admin-token'), fakeSecret('admin-token'));
      const text = readFileSync(join(root, 'infra/prometheus/prometheus.yml'), 'utf8');
      expect(text).toContain('credentials_file: /run/secrets/hpns_admin_token');
      writeFileSync(
        join(dir, 'prometheus.yml'),
        text.replaceAll('/run/secrets/hpns_admin_token', join(dir, 'admin-token')),
      );
      const run = spawnSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], {
        encoding: 'utf8',
      });
      expect(`${run.status} ${run.stdout}${run.stderr}`).toMatch(/^0 .*SUCCESS/s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const hasComposeV1 = optionalTool('docker-compose', ['version'], 'apt-get install docker-compose');
(hasComposeV1 ? describe : describe.skip)('docker-compose config', () => {
  it('accepts docker-compose.yml (schema, interpolation, references), without a Docker engine', () => {
    const run = spawnSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config', '-q'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(`${run.status} ${run.stderr}`).toBe('0 ');
  });
});

describe('infra/grafana', () => {
  const datasources = readYaml(join(root, 'infra/grafana/provisioning/datasources/prometheus.yaml')) as {
    datasources: { uid: string; type: string; url: string }[];
  };
  const providers = readYaml(join(root, 'infra/grafana/provisioning/dashboards/hpns.yaml')) as {
    providers: { options: { path: string } }[];
  };
  const dashboardFiles = readdirSync(join(root, 'infra/grafana/dashboards')).filter((f) =>
    f.endsWith('.json'),
  );
  const catalog = readMetricCatalog(root);
  // Panels may read the series the rules record (the SLOs' SLIs and objectives), with the labels they keep.
  const ruleFiles = (readYaml(join(root, 'infra/prometheus/prometheus.yml')) as { rule_files: string[] })
    .rule_files;
  const recorded = recordedSeries(
    ruleFiles.flatMap((file) =>
      (
        readYaml(join(root, 'infra/prometheus', file)) as { groups: { rules: PrometheusRule[] }[] }
      ).groups.flatMap((g) => g.rules),
    ),
  );

  it('provisions the compose Prometheus as datasource and loads the dashboards from their mount', () => {
    expect(datasources.datasources).toEqual([
      expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' }),
    ]);
    const grafana = compose.services['grafana'] as ComposeService;
    expect(grafana.volumes).toContain(
      `./infra/grafana/dashboards:${providers.providers[0]?.options.path}:ro`,
    );
    expect(grafana.volumes).toContain('./infra/grafana/provisioning:/etc/grafana/provisioning:ro');
  });

  it('reads the metric catalog from the sources', () => {
    expect(catalog.get('hpns_ingress_requests_total')?.labels).toEqual(
      expect.arrayContaining(['endpoint', 'result', 'region', 'service']),
    );
    expect(catalog.get('hpns_provider_outcomes_total')?.type).toBe('counter');
    expect(catalog.get('hpns_ingress_request_duration_seconds')?.labels).not.toContain('region');
  });

  it.each(dashboardFiles)('%s: every query uses metrics and labels the processes export', (file) => {
    const dashboard = JSON.parse(read(`infra/grafana/dashboards/${file}`)) as {
      uid: string;
      panels: { type: string; title: string; datasource?: { uid: string }; targets?: { expr: string }[] }[];
      templating: { list: { name: string; current?: { value: string } }[] };
    };
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    const datasource = dashboard.templating.list.find((v) => v.name === 'datasource');
    expect(datasource?.current?.value).toBe(datasources.datasources[0]?.uid);
    const problems: string[] = [];
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource?.uid).toBe('${datasource}');
      for (const target of panel.targets ?? []) {
        problems.push(...promqlProblems(target.expr, catalog, recorded).map((p) => `${panel.title}: ${p}`));
        // A name with a colon is a recorded series: one that a rule file records.
        for (const name of promqlMetricNames(target.expr))
          if (name.includes(':') && !recorded.has(name))
            problems.push(`${panel.title}: no rule records ${name}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('covers ingress rate, latency and outcomes, queue depth and age, worker jobs, retries and circuits', () => {
    const exprs = dashboardFiles.map((f) => read(`infra/grafana/dashboards/${f}`)).join('\n');
    for (const metric of [
      'hpns_ingress_requests_total',
      'hpns_ingress_request_duration_seconds_bucket',
      'hpns_queue_jobs',
      'hpns_queue_oldest_waiting_seconds',
      'hpns_worker_jobs_total',
      'hpns_worker_retries_total',
      'hpns_worker_circuit_state',
      'hpns_provider_outcomes_total',
    ]) {
      expect(exprs).toContain(metric);
    }
  });

  it('shows each SLO: its SLI over 30 days against the objective, the error budget left, the burn rates', () => {
    const exprs = dashboardFiles.map((f) => read(`infra/grafana/dashboards/${f}`)).join('\n');
    for (const sli of ['availability', 'latency'])
      for (const series of [
        `slo:hpns_slo_objective:ratio{slo=\\"${sli}\\"}`,
        `slo:hpns_slo_error_budget:ratio{slo=\\"${sli}\\"}`,
        `hpns_slo_${sli}_errors:ratio_rate30d`,
        `hpns_slo_${sli}_errors:ratio_rate1h`,
        `hpns_slo_${sli}_errors:ratio_rate6h`,
        `hpns_slo_${sli}_errors:ratio_rate3d`,
      ])
        expect(exprs).toContain(series);
    expect(
      promqlProblems('region:hpns_slo_latency_errors:ratio_rate30d{provider="apns"}', catalog, recorded),
    ).toEqual(['region:hpns_slo_latency_errors:ratio_rate30d has no label provider']);
  });

  it('flags a query on a metric or label that does not exist', () => {
    expect(promqlProblems('rate(hpns_ingress_requests_totl[5m])', catalog)).toEqual([
      'unknown metric hpns_ingress_requests_totl',
    ]);
    expect(
      promqlProblems('sum by (region) (rate(hpns_ingress_request_duration_seconds_bucket[5m]))', catalog),
    ).toEqual(['hpns_ingress_request_duration_seconds has no label region (grouped by)']);
    expect(promqlProblems('hpns_worker_jobs_total_bucket{target="x"}', catalog)).toEqual([
      'hpns_worker_jobs_total_bucket: hpns_worker_jobs_total is a counter, not a histogram',
    ]);
  });
});

describe('infra/docker', () => {
  const dockerfile = parseDockerfile(read('infra/docker/Dockerfile'));
  const stages = dockerfile.filter((i) => i.keyword === 'FROM');
  const last = stages.length - 1;
  const inLast = (keyword: string) => dockerfile.filter((i) => i.keyword === keyword && i.stage === last);

  it('builds on Node 24 in stages: npm ci, turbo build, prune to production dependencies', () => {
    const nodeImage = dockerfile.find((i) => i.keyword === 'ARG' && i.args.startsWith('NODE_IMAGE='));
    expect(nodeImage?.args).toMatch(/^NODE_IMAGE=node:24[-.]/);
    for (const stage of stages) expect(stage.args).toMatch(/^\$\{NODE_IMAGE\} AS [a-z]+$|^[a-z]+ AS [a-z]+$/);
    const runs = dockerfile.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /\bnpm ci\b/.test(r))).toBe(true);
    expect(runs.some((r) => /\bturbo run build\b/.test(r))).toBe(true);
    expect(runs.some((r) => /\bnpm prune --omit=dev\b/.test(r))).toBe(true);
    const names = stages.map((s) => /AS ([a-z]+)$/.exec(s.args)?.[1]);
    for (const copy of dockerfile.filter((i) => i.keyword === 'COPY' && i.args.includes('--from='))) {
      expect(names).toContain(/--from=([a-z]+)/.exec(copy.args)?.[1]);
    }
    // The runtime stage starts from Node itself, not from the build stage with its dev dependencies.
    expect(stages[last]?.args).toMatch(/^\$\{NODE_IMAGE\} AS runtime$/);
  });

  it('runs as a numeric non-root user, node as entrypoint, the ingress by default, with a health check', () => {
    const user = inLast('USER').at(-1)?.args ?? 'root';
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    expect(inLast('ENTRYPOINT').at(-1)?.args).toBe('["node"]');
    expect(inLast('CMD').at(-1)?.args).toBe('["apps/ingress/dist/main.js"]');
    expect(inLast('HEALTHCHECK').at(-1)?.args).toContain('/app/infra/docker/healthcheck.mjs');
    expect(inLast('ENV').some((i) => i.args.includes('NODE_ENV=production'))).toBe(true);
  });

  it('sends the build only sources and manifests: no node_modules, build output, local state or secrets', () => {
    const ignore = read('.dockerignore');
    const included = [
      'package.json',
      'package-lock.json',
      'turbo.json',
      'tsconfig.build.json',
      'packages/protocol/src/index.ts',
      'packages/protocol/package.json',
      'packages/protocol/tsconfig.build.json',
      'apps/ingress/src/main.ts',
      'tools/package.json',
      'infra/docker/healthcheck.mjs',
      'infra/docker/run-simulators.mjs',
    ];
    const excluded = [
      'node_modules/yaml/package.json',
      'packages/queue/node_modules/x/index.js',
      'apps/ingress/dist/main.js',
      'apps/ingress/test/ingress.test.ts',
      '.hpns-local/compose-secrets/payload-keys',
      '.git/config',
      '.turbo/cache/x',
      'infra/helm/hpns/values.yaml',
      'docs/deployment.md',
      'tools/src/boundaries.ts',
    ];
    expect(included.filter((p) => !dockerIgnoreIncludes(ignore, p))).toEqual([]);
    expect(excluded.filter((p) => dockerIgnoreIncludes(ignore, p))).toEqual([]);
    for (const path of included) if (!path.includes('/src/')) expect(existsSync(join(root, path))).toBe(true);
  });

  describe('healthcheck.mjs', () => {
    let server: ReturnType<typeof createHttpServer>;
    let port: number;
    let status = 200;
    beforeAll(async () => {
      server = createHttpServer((req, res) => {
        res.writeHead(req.url === '/readyz' ? status : 404).end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));
    // Asynchronously: the server answering is in this process.
    const check = (address = `0.0.0.0:${port}`) =>
      new Promise<number | null>((resolveExit) => {
        spawn(process.execPath, [join(root, 'infra/docker/healthcheck.mjs')], {
          env: { ...process.env, HPNS_ADMIN_LISTEN_ADDRESS: address },
          stdio: 'ignore',
        }).once('exit', resolveExit);
      });

    it('exits 0 when /readyz answers 200 (a wildcard listen address is checked on loopback)', async () => {
      status = 200;
      expect(await check()).toBe(0);
    });

    it('exits 1 when /readyz answers 503, or nothing listens', async () => {
      status = 503;
      expect(await check()).toBe(1);
      await new Promise<void>((r) => server.close(() => r()));
      expect(await check(`127.0.0.1:${port}`)).toBe(1);
      server = createHttpServer();
    });
  });

  const simulatorsBuilt = existsSync(join(root, 'apps/simulators/dist/main.js'));
  if (!simulatorsBuilt) {
    process.stderr.write(
      'infra tests: apps/simulators is not built (npm run build): skipping run-simulators.mjs\n',
    );
  }
  (simulatorsBuilt ? describe : describe.skip)('run-simulators.mjs', () => {
    let out: string;
    beforeAll(() => {
      out = mkdtempSync(join(tmpdir(), 'hpns-run-sims-'));
    });
    afterAll(() => rmSync(out, { recursive: true, force: true }));

    it('writes a push-proxy config that a compose worker loads with the generated credentials', async () => {
      const child = spawn(process.execPath, [join(root, 'infra/docker/run-simulators.mjs'), '--out', out], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        let output = '';
        await new Promise<void>((resolveReady, reject) => {
          child.stdout.on('data', (chunk: Buffer) => {
            output += chunk.toString();
            if (output.includes('"simulators.config_written"')) resolveReady();
          });
          child.once('exit', (code) => reject(new Error(`run-simulators exited (${code}): ${output}`)));
        });
        const variables = { ...env('worker-us') };
        const dir = '/var/lib/hpns/simulators';
        for (const [name, value] of Object.entries(variables)) variables[name] = value.replace(dir, out);
        const secrets = filesFrom(composeSecretFiles(compose.services['worker-us'] as ComposeService));
        const files: ConfigFiles = {
          readText: (path) => (path.startsWith('/run/secrets/') ? secrets : nodeConfigFiles).readText(path),
        };
        const { config } = loadConfig(variables, files);
        expect(config.apple.map((t) => t.type)).toEqual(['apple_rn', 'apple_rnbeta']);
        expect(config.android.map((t) => t.type)).toEqual(['android_rn', 'android_rnbeta']);
        expect(config.providerEndpoints.caPem).toContain('BEGIN CERTIFICATE');
      } finally {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    }, 30_000);
  });
});

/** Starts redis-server on a free port with `args`; resolves with its port and a stop function. */
async function startRedis(args: string[], dir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const port = await new Promise<number>((r) => {
    const probe: Server = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => r(free));
    });
  });
  const child = spawn(
    'redis-server',
    [
      ...args,
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--logfile',
      join(dir, 'redis.log'),
    ],
    { stdio: 'ignore' },
  );
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`redis-server exited: ${readFileSync(join(dir, 'redis.log'), 'utf8')}`);
    const up = await new Promise<boolean>((r) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        r(true);
      }).on('error', () => r(false));
    });
    if (up) return { port, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error('redis-server did not start');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends commands over RESP and returns the raw replies (enough for AUTH, CONFIG GET, PING). */
function redisCommand(port: number, commands: string[][]): Promise<string> {
  return new Promise((resolveReply, reject) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    socket.on('connect', () => {
      for (const command of commands) {
        socket.write(
          `*${command.length}\r\n${command.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`,
        );
      }
      socket.write('*1\r\n$4\r\nQUIT\r\n');
    });
    socket.on('data', (data) => (reply += data.toString()));
    socket.on('end', () => resolveReply(reply));
    socket.on('error', reject);
  });
}

describe('infra/redis/redis.conf', () => {
  const conf = new Map(
    read('infra/redis/redis.conf')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => [line.split(/\s+/)[0] as string, line.slice(line.search(/\s/) + 1)]),
  );

  it('keeps every key (noeviction) and writes an AOF fsynced every second', () => {
    expect(conf.get('maxmemory-policy')).toBe('noeviction');
    expect(conf.get('appendonly')).toBe('yes');
    expect(conf.get('appendfsync')).toBe('everysec');
    expect(conf.get('maxmemory')).toMatch(/^\d+[kmg]b$/);
    expect(conf.has('requirepass')).toBe(false); // the password comes from a secret file
  });

  const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
  (hasRedis ? it : it.skip)(
    'is accepted by redis-server, as compose runs it with the password file',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hpns-redis-conf-'));
      const auth = join(dir, 'auth.conf');
      writeFileSync(auth, 'requirepass infra-test-password\n');
      const redis = await startRedis([join(root, 'infra/redis/redis.conf'), '--include', auth], dir);
      try {
        expect(await redisCommand(redis.port, [['PING']])).toMatch(/^-NOAUTH/);
        const reply = await redisCommand(redis.port, [
          ['AUTH', 'infra-test-password'],
          ['CONFIG', 'GET', 'maxmemory-policy'],
          ['CONFIG', 'GET', 'appendonly'],
          ['CONFIG', 'GET', 'appendfsync'],
        ]);
        expect(reply).toMatch(/^\+OK\r\n/);
        for (const expected of ['noeviction', 'appendonly\r\n$3\r\nyes', 'everysec'])
          expect(reply).toContain(expected);
      } finally {
        await redis.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    20_000,
  );
});
