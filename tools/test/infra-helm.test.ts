import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '@hpns/runtime';
import {
  hasValuesPath,
  isConfigEnvName,
  readYaml,
  readYamlStream,
  scanHelmTemplate,
  unknownOverrideKeys,
} from '../src/infra-files';
import { fakeSecret, filesFrom, optionalTool } from './infra-fixtures';

/**
 * infra/helm/hpns, in two layers. Always: the chart's files parse, the templates are balanced, every include
 * and `.Values` path resolves, every HPNS_* name is one loadConfig reads, and the region files pin their region.
 * With `helm` on PATH: lint, render both regions, and check the manifests (probes, security, grace periods,
 * selectors) and that the rendered environment and files load with loadConfig.
 */
const root = resolve(__dirname, '../..');
const chart = join(root, 'infra/helm/hpns');
const REGIONS = ['us', 'de'] as const;

type Values = {
  region: string;
  knownRegions: string[];
  secrets: { existingSecret: string; mountPath: string; keys: Record<string, string> };
  providers: { apple: { type: string }[]; android: unknown[] };
};
const values = readYaml(join(chart, 'values.yaml')) as Values;
const regionValues = Object.fromEntries(
  REGIONS.map((region) => [region, readYaml(join(chart, `values-${region}.yaml`)) as Values]),
) as Record<(typeof REGIONS)[number], Values>;
const templateFiles = readdirSync(join(chart, 'templates')).sort();
const templates = templateFiles.map((file) => ({
  file,
  scan: scanHelmTemplate(readFileSync(join(chart, 'templates', file), 'utf8'), file),
}));

describe('infra/helm/hpns (static)', () => {
  it('has the chart files and one template per kind of object', () => {
    const meta = readYaml(join(chart, 'Chart.yaml')) as Record<string, string>;
    expect(meta).toEqual(expect.objectContaining({ apiVersion: 'v2', name: 'hpns', type: 'application' }));
    expect(meta['version']).toMatch(/^\d+\.\d+\.\d+$/);
    expect(templateFiles).toEqual(
      expect.arrayContaining([
        '_helpers.tpl',
        'NOTES.txt',
        'configmap.yaml',
        'deployment-ingress.yaml',
        'deployment-worker.yaml',
        'service.yaml',
        'hpa.yaml',
        'pdb.yaml',
        'servicemonitor.yaml',
        'networkpolicy.yaml',
      ]),
    );
  });

  it('has balanced template actions and blocks', () => {
    expect(templates.flatMap((t) => t.scan.problems)).toEqual([]);
  });

  it('includes only defined templates', () => {
    const defined = new Set(templates.flatMap((t) => t.scan.defines));
    const missing = templates.flatMap((t) =>
      t.scan.includes.filter((n) => !defined.has(n)).map((n) => `${t.file}: ${n}`),
    );
    expect(missing).toEqual([]);
  });

  it('reads only .Values paths that values.yaml has', () => {
    const missing = templates.flatMap((t) =>
      t.scan.valuesPaths
        .filter((path) => !hasValuesPath(values, path))
        .map((path) => `${t.file}: .Values.${path}`),
    );
    expect(missing).toEqual([]);
  });

  it('sets only environment variables that loadConfig reads', () => {
    const names = templates.flatMap((t) => t.scan.envNames.map((name) => ({ file: t.file, name })));
    expect(names.length).toBeGreaterThan(15);
    const unknown = names
      .filter(({ name }) => !isConfigEnvName(name.replace(/%s/g, 'X')))
      .map((n) => `${n.file}: ${n.name}`);
    expect(unknown).toEqual([]);
  });

  it('keeps the templates in production shape: probes, non-root, read-only root, derived grace period', () => {
    for (const file of ['deployment-ingress.yaml', 'deployment-worker.yaml']) {
      const text = readFileSync(join(chart, 'templates', file), 'utf8');
      expect(text).toContain('kind: Deployment');
      expect(text).toContain('include "hpns.probes"');
      expect(text).toContain(
        'terminationGracePeriodSeconds: {{ include "hpns.terminationGracePeriodSeconds"',
      );
      expect(text).toContain('toYaml .Values.containerSecurityContext');
      expect(text).toContain('name: admin');
    }
    const helpers = readFileSync(join(chart, 'templates/_helpers.tpl'), 'utf8');
    expect(helpers).toMatch(/livenessProbe:\s+httpGet:\s+path: \/healthz\s+port: admin/);
    expect(helpers).toMatch(/readinessProbe:\s+httpGet:\s+path: \/readyz\s+port: admin/);
    expect(values).toEqual(
      expect.objectContaining({
        podSecurityContext: expect.objectContaining({ runAsNonRoot: true, runAsUser: 1000 }),
        containerSecurityContext: expect.objectContaining({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
        }),
      }),
    );
    expect(readFileSync(join(chart, 'templates/servicemonitor.yaml'), 'utf8')).toContain(
      'apiVersion: monitoring.coreos.com/v1',
    );
  });

  it.each(REGIONS)(
    'values-%s.yaml pins its region, names its own Secret and only keys of values.yaml',
    (region) => {
      const own = regionValues[region];
      expect(own.region).toBe(region);
      expect(values.knownRegions).toContain(region);
      expect(own.secrets.existingSecret).toBe(`hpns-${region}`);
      expect(unknownOverrideKeys(values, own)).toEqual([]);
    },
  );

  it('values-de.yaml points to nothing in the US: no US secret, no US Redis', () => {
    const text = readFileSync(join(chart, 'values-de.yaml'), 'utf8');
    const settings = text
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .join('\n');
    expect(settings).not.toMatch(/hpns-us|redis[^\n]*\bus\b|_US\b/i);
    expect(text).toMatch(/nothing in this release points to the us/i);
  });
});

const hasHelm = optionalTool('helm', ['version'], 'see docs/deployment.md, "Validation"');
const APPLE_IDS = (own: Values) =>
  own.providers.apple.flatMap((_, i) => [
    `providers.apple[${i}].authKeyId=ABCDE12345`,
    `providers.apple[${i}].teamId=FGHIJ67890`,
  ]);

function helm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync('helm', args, { cwd: chart, encoding: 'utf8' });
}

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
};
type Container = {
  name: string;
  args: string[];
  ports: { name: string; containerPort: number }[];
  envFrom: { configMapRef: { name: string } }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  startupProbe?: { httpGet: { path: string; port: string } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: Record<string, unknown>;
  volumeMounts: { name: string; mountPath: string }[];
  lifecycle?: { preStop?: { exec: { command: string[] } } };
};
type PodSpec = {
  terminationGracePeriodSeconds: number;
  securityContext: Record<string, unknown>;
  containers: Container[];
  volumes: {
    name: string;
    secret?: { secretName: string; items?: { key: string; path: string }[] };
    configMap?: { name: string };
  }[];
};
const pod = (d: Manifest) =>
  (d.spec as { template: { spec: PodSpec; metadata: { labels: Record<string, string> } } }).template;
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

(hasHelm ? describe : describe.skip)('infra/helm/hpns (helm)', () => {
  const rendered: Record<string, Manifest[]> = {};
  beforeAll(() => {
    for (const region of REGIONS) {
      const run = helm([
        'template',
        `hpns-${region}`,
        '.',
        '--namespace',
        `hpns-${region}`,
        '-f',
        `values-${region}.yaml`,
        '--set',
        APPLE_IDS(regionValues[region]).join(','),
      ]);
      if (run.status !== 0) throw new Error(`helm template (${region}) failed: ${run.stderr}`);
      rendered[region] = readYamlStream(run.stdout) as Manifest[];
    }
  });

  it.each(REGIONS)('lints cleanly with values-%s.yaml (--strict)', (region) => {
    const run = helm([
      'lint',
      '--strict',
      '.',
      '-f',
      `values-${region}.yaml`,
      '--set',
      APPLE_IDS(regionValues[region]).join(','),
    ]);
    expect(`${run.status} ${run.stdout}`).toMatch(/^0 .*0 chart\(s\) failed/s);
  });

  it('refuses to render without a region, with an unknown region, or without the Secret', () => {
    expect(helm(['template', 'x', '.']).stderr).toContain('region is required');
    expect(helm(['template', 'x', '.', '--set', 'region=fr,secrets.existingSecret=s']).stderr).toContain(
      'is not one of knownRegions',
    );
    expect(helm(['template', 'x', '.', '--set', 'region=us']).stderr).toContain(
      'secrets.existingSecret is required',
    );
  });

  it.each(REGIONS)('renders the objects of region %s', (region) => {
    const kinds = (rendered[region] ?? []).map((d) => `${d.apiVersion} ${d.kind}`).sort();
    expect(kinds).toEqual(
      [
        'apps/v1 Deployment',
        'apps/v1 Deployment',
        'autoscaling/v2 HorizontalPodAutoscaler',
        'autoscaling/v2 HorizontalPodAutoscaler',
        'monitoring.coreos.com/v1 ServiceMonitor',
        'networking.k8s.io/v1 NetworkPolicy',
        'networking.k8s.io/v1 NetworkPolicy',
        'policy/v1 PodDisruptionBudget',
        'policy/v1 PodDisruptionBudget',
        'v1 ConfigMap',
        'v1 ConfigMap',
        'v1 ConfigMap',
        'v1 Service',
        'v1 Service',
        'v1 Service',
      ].sort(),
    );
  });

  it.each(REGIONS)(
    'region %s: Deployments probe the admin port, run locked down, and outlive their shutdown',
    (region) => {
      const docs = rendered[region] ?? [];
      const configMaps = new Map(
        docs.filter((d) => d.kind === 'ConfigMap').map((d) => [d.metadata.name, d.data ?? {}]),
      );
      for (const deployment of docs.filter((d) => d.kind === 'Deployment')) {
        const spec = pod(deployment).spec;
        expect(spec.securityContext).toEqual(expect.objectContaining({ runAsNonRoot: true }));
        const [container] = spec.containers;
        if (container === undefined) throw new Error('no container');
        expect(container.ports.find((p) => p.name === 'admin')?.containerPort).toBe(9464);
        expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
        expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
        expect(container.startupProbe?.httpGet.port).toBe('admin');
        expect(container.securityContext).toEqual(
          expect.objectContaining({
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            privileged: false,
          }),
        );
        for (const side of ['requests', 'limits'] as const) {
          expect(Object.keys(container.resources[side]).sort()).toEqual(['cpu', 'memory']);
        }
        const env = configMaps.get(container.envFrom[0]?.configMapRef.name ?? '');
        if (env === undefined) throw new Error(`${deployment.metadata.name}: its ConfigMap is not rendered`);
        const shutdownSec = Number(env['HPNS_SHUTDOWN_TIMEOUT_MS']) / 1000;
        const preStopSec = Number(container.lifecycle?.preStop?.exec.command[1] ?? 0);
        expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(shutdownSec + preStopSec);
        expect(env['HPNS_ADMIN_LISTEN_ADDRESS']).toBe('0.0.0.0:9464');
        const secretVolume = spec.volumes.find((v) => v.secret !== undefined);
        expect(secretVolume?.secret?.secretName).toBe(`hpns-${region}`);
        for (const volume of spec.volumes.filter((v) => v.configMap)) {
          expect(configMaps.has(volume.configMap?.name ?? '')).toBe(true);
        }
      }
    },
  );

  it.each(REGIONS)('region %s: Services, HPAs, PDBs and the ServiceMonitor select what exists', (region) => {
    const docs = rendered[region] ?? [];
    const deployments = docs.filter((d) => d.kind === 'Deployment');
    const services = docs.filter((d) => d.kind === 'Service');
    for (const service of services) {
      const spec = service.spec as { selector: Record<string, string>; ports: { targetPort: string }[] };
      const target = deployments.find((d) => matches(spec.selector, pod(d).metadata.labels));
      expect(target).toBeDefined();
      const names = pod(target as Manifest).spec.containers[0]?.ports.map((p) => p.name);
      for (const port of spec.ports) expect(names).toContain(port.targetPort);
    }
    for (const hpa of docs.filter((d) => d.kind === 'HorizontalPodAutoscaler')) {
      const ref = (hpa.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name;
      expect(deployments.map((d) => d.metadata.name)).toContain(ref);
    }
    for (const pdb of docs.filter((d) => d.kind === 'PodDisruptionBudget')) {
      const selector = (pdb.spec as { selector: { matchLabels: Record<string, string> } }).selector
        .matchLabels;
      expect(deployments.filter((d) => matches(selector, pod(d).metadata.labels))).toHaveLength(1);
    }
    const monitor = docs.find((d) => d.kind === 'ServiceMonitor') as Manifest;
    const monitorSpec = monitor.spec as {
      selector: { matchLabels: Record<string, string> };
      endpoints: { port: string }[];
    };
    const scraped = services.filter((s) =>
      matches(monitorSpec.selector.matchLabels, s.metadata.labels ?? {}),
    );
    expect(scraped.map((s) => s.metadata.name).sort()).toEqual([
      `hpns-${region}-ingress-admin`,
      `hpns-${region}-worker-admin`,
    ]);
    for (const service of scraped) {
      const ports = (service.spec as { ports: { name: string }[] }).ports.map((p) => p.name);
      expect(ports).toContain(monitorSpec.endpoints[0]?.port);
    }
  });

  it.each(REGIONS)(
    'region %s: the admin token reaches every process and the ServiceMonitor, and NetworkPolicies guard the admin port',
    (region) => {
      const docs = rendered[region] ?? [];
      const deployments = docs.filter((d) => d.kind === 'Deployment');
      const configMaps = docs.filter((d) => d.kind === 'ConfigMap');
      for (const map of configMaps.filter((m) => (m.data as Record<string, string>)?.['HPNS_REGIONS'])) {
        expect((map.data as Record<string, string>)['HPNS_ADMIN_TOKEN_FILE']).toBe(
          '/etc/hpns/secrets/admin-token',
        );
      }
      const monitor = docs.find((d) => d.kind === 'ServiceMonitor') as Manifest;
      const endpoint = (monitor.spec as { endpoints: { authorization: unknown }[] }).endpoints[0];
      expect(endpoint?.authorization).toEqual({
        type: 'Bearer',
        credentials: { name: `hpns-${region}`, key: 'admin-token' },
      });
      const policies = docs.filter((d) => d.kind === 'NetworkPolicy');
      expect(policies).toHaveLength(2);
      for (const policy of policies) {
        const spec = policy.spec as {
          podSelector: { matchLabels: Record<string, string> };
          policyTypes: string[];
          ingress: { ports: { port: string }[]; from?: unknown[] }[];
        };
        // Each selects exactly one Deployment's Pods, and every named port exists in its container.
        const selected = deployments.filter((d) =>
          matches(spec.podSelector.matchLabels, pod(d).metadata.labels),
        );
        expect(selected).toHaveLength(1);
        const ports = pod(selected[0] as Manifest).spec.containers[0]?.ports.map((p) => p.name) ?? [];
        for (const rule of spec.ingress) for (const port of rule.ports) expect(ports).toContain(port.port);
        expect(spec.policyTypes).toEqual(['Ingress']);
        const admin = spec.ingress.filter((rule) => rule.ports.some((p) => p.port === 'admin'));
        expect(admin).toHaveLength(1);
        expect(admin[0]?.from?.length).toBeGreaterThan(0); // never open to everyone
      }
    },
  );

  it('refuses a chart without the admin token key', () => {
    expect(
      helm(['template', 'x', '.', '--set', 'region=us,secrets.existingSecret=s,secrets.keys.adminToken='])
        .stderr,
    ).toContain('secrets.keys.adminToken is required');
  });

  it('passes the private CA of a rediss: Redis to both Deployments only when secrets.keys.redisCa names it', () => {
    const envOf = (docs: Manifest[], component: string) =>
      docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === `hpns-us-${component}`)?.data ?? {};
    const run = helm([
      'template',
      'hpns-us',
      '.',
      '--namespace',
      'hpns-us',
      '-f',
      'values-us.yaml',
      '--set',
      [...APPLE_IDS(regionValues['us']), 'secrets.keys.redisCa=redis-ca.pem'].join(','),
    ]);
    expect(run.status).toBe(0);
    const docs = readYamlStream(run.stdout) as Manifest[];
    for (const component of ['ingress', 'worker']) {
      expect(envOf(docs, component)['HPNS_REDIS_CA_FILE']).toBe('/etc/hpns/secrets/redis-ca.pem');
      expect(envOf(rendered['us'] ?? [], component)).not.toHaveProperty('HPNS_REDIS_CA_FILE');
    }
  });

  it('passes redisCluster, queueShards and redisWaitReplicas to the ingress and the workers, and refuses values HPNS would refuse', () => {
    const template = (extra: string[]) =>
      helm([
        'template',
        'hpns-de',
        '.',
        '--namespace',
        'hpns-de',
        '-f',
        'values-de.yaml',
        '--set',
        [...APPLE_IDS(regionValues['de']), ...extra].join(','),
      ]);
    const run = template(['redisCluster=true', 'queueShards=6', 'redisWaitReplicas=1']);
    expect(run.status).toBe(0);
    const docs = readYamlStream(run.stdout) as Manifest[];
    // What each Deployment's container really gets: the ConfigMap it takes its environment from.
    const envOf = (all: Manifest[], component: string) => {
      const deployment = all.find(
        (d) => d.kind === 'Deployment' && d.metadata.name === `hpns-de-${component}`,
      );
      const name = deployment && pod(deployment).spec.containers[0]?.envFrom[0]?.configMapRef.name;
      return all.find((d) => d.kind === 'ConfigMap' && d.metadata.name === name)?.data ?? {};
    };
    const proxyConfig =
      docs.find((d) => d.metadata.name.endsWith('-proxy-config'))?.data?.['mattermost-push-proxy.json'] ?? '';
    for (const component of ['ingress', 'worker']) {
      const env = envOf(docs, component);
      expect(env).toEqual(
        expect.objectContaining({
          HPNS_REDIS_CLUSTER_DE: 'true',
          HPNS_QUEUE_SHARDS_DE: '6',
          HPNS_REDIS_WAIT_REPLICAS: '1',
        }),
      );
      // The defaults: one server, one shard.
      expect(envOf(rendered['de'] ?? [], component)).toEqual(
        expect.objectContaining({
          HPNS_REDIS_CLUSTER_DE: 'false',
          HPNS_QUEUE_SHARDS_DE: '1',
          HPNS_REDIS_WAIT_REPLICAS: '0',
        }),
      );
      // And HPNS reads them so: a managed cluster's one configuration endpoint becomes a cluster client.
      const files = filesFrom({
        '/etc/hpns/config/mattermost-push-proxy.json': proxyConfig,
        ...Object.fromEntries(
          Object.values(env)
            .filter((path) => path.startsWith('/etc/hpns/secrets/'))
            .map((path) => [path, fakeSecret(path)]),
        ),
      });
      const { config } = loadConfig(env, files, { credentials: false });
      expect(config.redis['de']).toEqual(
        expect.objectContaining({ cluster: true, shards: 6, waitReplicas: 1 }),
      );
    }
    for (const [setting, error] of [
      ['queueShards=0', 'queueShards must be 1-256'],
      ['queueShards=257', 'queueShards must be 1-256'],
      ['queueShards=2.5', 'queueShards must be a whole number'],
      ['redisCluster=yes', 'redisCluster must be true or false'],
      ['redisWaitReplicas=6', 'redisWaitReplicas must be a whole number 0-5'],
      ['redisWaitReplicas=-1', 'redisWaitReplicas must be a whole number 0-5'],
    ] as const) {
      expect(template([setting]).stderr).toContain(error);
    }
  });

  it.each(REGIONS)(
    'region %s: the rendered environment and files load with loadConfig, pinned to the region',
    (region) => {
      const docs = rendered[region] ?? [];
      const proxyConfig = docs.find((d) => d.metadata.name.endsWith('-proxy-config'))?.data?.[
        'mattermost-push-proxy.json'
      ];
      for (const component of ['ingress', 'worker']) {
        const env =
          docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === `hpns-${region}-${component}`)
            ?.data ?? {};
        const paths = [...Object.values(env), proxyConfig ?? ''].flatMap((text) =>
          [...text.matchAll(/(\/etc\/hpns\/secrets\/[A-Za-z0-9._-]+)/g)].map((m) => m[1] as string),
        );
        // The files the pod really has: the ingress mounts only some keys of the Secret (no provider key).
        const deployment = docs.find(
          (d) => d.kind === 'Deployment' && d.metadata.name === `hpns-${region}-${component}`,
        );
        const volume =
          deployment === undefined
            ? undefined
            : pod(deployment).spec.volumes.find((v) => v.name === 'secrets');
        const items = volume?.secret?.items?.map((item) => `/etc/hpns/secrets/${item.path}`);
        if (component === 'ingress') {
          expect(items?.map((path) => path.split('/').pop()).sort()).toEqual([
            'admin-token',
            'payload-keys',
            'redis-url',
            'token-hash-key',
          ]);
        } else expect(items).toBeUndefined();
        const mounted = items === undefined ? paths : paths.filter((path) => items.includes(path));
        const files = filesFrom({
          '/etc/hpns/config/mattermost-push-proxy.json': proxyConfig ?? '',
          ...Object.fromEntries(mounted.map((path) => [path, fakeSecret(path)])),
        });
        const { config, warnings } = loadConfig(env, files, { credentials: component === 'worker' });
        expect(warnings.filter((w) => w.includes('unknown environment variable'))).toEqual([]);
        expect(config.regions).toEqual([region]);
        expect(Object.keys(config.redis)).toEqual([region]);
        expect(config.targets.map((t) => t.type)).toEqual([
          'apple_rn',
          'apple_rnbeta',
          'android_rn',
          'android_rnbeta',
        ]);
        if (component === 'worker')
          expect(config.apple.map((t) => t.type)).toEqual(['apple_rn', 'apple_rnbeta']);
        if (component === 'worker') expect(config.worker.region).toBe(region);
        // Nothing of the other region's Redis or Secret.
        const other = region === 'us' ? 'de' : 'us';
        expect(Object.keys(env).filter((name) => name.split('_').includes(other.toUpperCase()))).toEqual([]);
        expect(docs.map((d) => d.metadata.name).filter((name) => !name.startsWith(`hpns-${region}`))).toEqual(
          [],
        );
      }
    },
  );
});
