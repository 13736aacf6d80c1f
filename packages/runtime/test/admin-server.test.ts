import { Agent, request } from 'node:http';
import { Counter } from 'prom-client';
import {
  bearerMatches,
  createAdminServer,
  Secret,
  createLogger,
  createMetricsRegistry,
  type AdminServer,
  type ReadinessCheck,
} from '@hpns/runtime';

const logger = createLogger({ destination: { write: () => undefined } });

function get(
  url: string,
  method = 'GET',
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('AdminServer', () => {
  let admin: AdminServer;
  let redisOk = true;
  const checks: ReadinessCheck[] = [
    {
      name: 'redis-us',
      check: async () => (redisOk ? undefined : Promise.reject(new Error('connection refused'))),
    },
  ];

  beforeAll(async () => {
    const registry = createMetricsRegistry({ collectDefaults: false });
    new Counter({ name: 'hpns_admin_test_total', help: 'a test counter', registers: [registry] }).inc(2);
    admin = await createAdminServer({
      registry,
      logger,
      readinessChecks: checks,
      port: 0,
      checkTimeoutMs: 200,
    });
  });
  afterAll(() => admin.close());

  it('serves the registry on /metrics in the Prometheus text format', async () => {
    const res = await get(`${admin.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('hpns_admin_test_total 2\n');
  });

  it('answers /healthz while the process runs', async () => {
    expect(await get(`${admin.url}/healthz`)).toMatchObject({ status: 200, body: '{"status":"ok"}\n' });
  });

  it('answers /readyz 200 when every check passes and 503 with the failing check otherwise', async () => {
    expect(JSON.parse((await get(`${admin.url}/readyz`)).body)).toEqual({
      status: 'ready',
      checks: [{ name: 'redis-us', ok: true }],
    });
    redisOk = false;
    const res = await get(`${admin.url}/readyz`);
    redisOk = true;
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toEqual({
      status: 'not ready',
      checks: [{ name: 'redis-us', ok: false, error: 'connection refused' }],
    });
  });

  it('counts a check that hangs as failed after the check timeout', async () => {
    const registry = createMetricsRegistry({ collectDefaults: false });
    const hanging: ReadinessCheck = { name: 'apns', check: () => new Promise(() => undefined) };
    const slow = await createAdminServer({
      registry,
      logger,
      readinessChecks: [hanging],
      checkTimeoutMs: 50,
    });
    try {
      const res = await get(`${slow.url}/readyz`);
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body).checks).toEqual([
        { name: 'apns', ok: false, error: 'timed out after 50 ms' },
      ]);
    } finally {
      await slow.close();
    }
  });

  it('reports shutting down once readiness is withdrawn', async () => {
    admin.setReady(false);
    const res = await get(`${admin.url}/readyz`);
    admin.setReady(true);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body).status).toBe('shutting down');
  });

  it('answers HEAD without a body, 405 for other methods and 404 for other paths', async () => {
    expect(await get(`${admin.url}/healthz`, 'HEAD')).toMatchObject({ status: 200, body: '' });
    expect(await get(`${admin.url}/metrics`, 'POST')).toMatchObject({
      status: 405,
      headers: { allow: 'GET, HEAD' },
    });
    expect((await get(`${admin.url}/api/v1/send_push`)).status).toBe(404);
  });

  it('closes with a keep-alive connection open, and close() is safe to repeat', async () => {
    const registry = createMetricsRegistry({ collectDefaults: false });
    const server = await createAdminServer({ registry, logger });
    await new Promise<void>((resolve, reject) => {
      const agent = new Agent({ keepAlive: true });
      request(`${server.url}/healthz`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      })
        .on('error', reject)
        .end();
    });
    await server.close();
    await server.close();
    await expect(get(`${server.url}/healthz`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('fails to start with the listen error when the port is taken', async () => {
    const registry = createMetricsRegistry({ collectDefaults: false });
    await expect(createAdminServer({ registry, logger, port: admin.address.port })).rejects.toThrow(
      /EADDRINUSE/,
    );
  });
});

describe('AdminServer with a token (HPNS_ADMIN_TOKEN_FILE)', () => {
  const token = new Secret('s3cret-admin-token-0123456789');
  let admin: AdminServer;
  let redisOk = false;

  beforeAll(async () => {
    const registry = createMetricsRegistry({ collectDefaults: false });
    new Counter({ name: 'hpns_admin_token_test_total', help: 'a test counter', registers: [registry] }).inc();
    admin = await createAdminServer({
      registry,
      logger,
      token,
      port: 0,
      readinessChecks: [
        {
          name: 'redis-us',
          check: async () =>
            redisOk ? undefined : Promise.reject(new Error('connect ECONNREFUSED 10.1.2.3:6379')),
        },
      ],
    });
  });
  afterAll(() => admin.close());

  it('refuses /metrics without the token, or with a wrong one, and serves it with the token', async () => {
    const none = await get(`${admin.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="hpns-admin"');
    expect(none.body).not.toContain('hpns_admin_token_test_total');
    for (const wrong of ['Bearer nope', 'Basic czNjcmV0', `Bearer ${token.reveal()}x`, token.reveal()]) {
      expect((await get(`${admin.url}/metrics`, 'GET', { authorization: wrong })).status).toBe(401);
    }
    const ok = await get(`${admin.url}/metrics`, 'GET', { authorization: `Bearer ${token.reveal()}` });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('hpns_admin_token_test_total 1\n');
    expect((await get(`${admin.url}/metrics`, 'HEAD')).status).toBe(401);
  });

  it('keeps /healthz open for liveness probes', async () => {
    expect((await get(`${admin.url}/healthz`)).status).toBe(200);
  });

  it('answers /readyz to a probe without the token with the status alone, and with the checks to the token', async () => {
    redisOk = false;
    const probe = await get(`${admin.url}/readyz`);
    expect(probe.status).toBe(503);
    expect(JSON.parse(probe.body)).toEqual({ status: 'not ready' });
    expect(probe.body).not.toContain('10.1.2.3');
    const full = await get(`${admin.url}/readyz`, 'GET', { authorization: `Bearer ${token.reveal()}` });
    expect(JSON.parse(full.body).checks[0]).toMatchObject({ name: 'redis-us', ok: false });
    redisOk = true;
    expect(JSON.parse((await get(`${admin.url}/readyz`)).body)).toEqual({ status: 'ready' });
  });

  it('bearerMatches takes only "Bearer <token>"', () => {
    expect(bearerMatches(`Bearer ${token.reveal()}`, token)).toBe(true);
    expect(bearerMatches(`bearer  ${token.reveal()} `, token)).toBe(true);
    expect(bearerMatches(undefined, token)).toBe(false);
    expect(bearerMatches('Bearer', token)).toBe(false);
    expect(bearerMatches(`Bearer ${token.reveal()} extra`, token)).toBe(false);
  });
});
