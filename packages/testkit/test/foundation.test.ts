import { createSign, createVerify } from 'node:crypto';
import { connect, createServer, type Server } from 'node:tls';
import {
  ControlRouter,
  createControlServer,
  createLatencySampler,
  createRng,
  createTestCa,
  generateApnsKey,
  generateServiceAccount,
} from '@hpns/testkit';

describe('createTestCa', () => {
  const ca = createTestCa({ hosts: ['api.sandbox.push.apple.com'] });
  let server: Server;
  let port = 0;

  beforeAll(async () => {
    server = createServer({ key: ca.serverKeyPem, cert: ca.serverCertPem }, (socket) => socket.end('hi'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const handshake = (servername: string | undefined, caPem?: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(
        { host: '127.0.0.1', port, ca: caPem, ...(servername ? { servername } : {}) },
        () => undefined,
      );
      let data = '';
      socket.on('data', (chunk) => (data += chunk));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });

  it('issues a server certificate that clients trusting only the CA accept for each host', async () => {
    expect(await handshake('localhost', ca.caPem)).toBe('hi');
    expect(await handshake('api.sandbox.push.apple.com', ca.caPem)).toBe('hi');
    expect(await handshake(undefined, ca.caPem)).toBe('hi'); // checked against the IP 127.0.0.1
  });

  it('is rejected by clients that do not trust it, or for a host it does not name', async () => {
    await expect(handshake('localhost')).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
    await expect(handshake('api.push.apple.com', ca.caPem)).rejects.toThrow(/altnames/i);
  });
});

describe('generateApnsKey and generateServiceAccount', () => {
  it('make keys that sign and verify as ES256 and RS256', () => {
    const apns = generateApnsKey({ teamId: 'TEAM123456' });
    expect(apns.keyId).toMatch(/^[A-Z0-9]{10}$/);
    expect(apns.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const es = createSign('SHA256').update('x').sign({ key: apns.privateKeyPem, dsaEncoding: 'ieee-p1363' });
    expect(es).toHaveLength(64);
    expect(
      createVerify('SHA256').update('x').verify({ key: apns.publicKey, dsaEncoding: 'ieee-p1363' }, es),
    ).toBe(true);

    const account = generateServiceAccount({ projectId: 'p1', tokenUri: 'https://127.0.0.1:1/token' });
    const json = JSON.parse(account.json);
    expect(json).toMatchObject({
      type: 'service_account',
      project_id: 'p1',
      client_email: account.clientEmail,
      token_uri: 'https://127.0.0.1:1/token',
    });
    const rs = createSign('RSA-SHA256').update('y').sign(json.private_key);
    expect(createVerify('RSA-SHA256').update('y').verify(account.publicKey, rs)).toBe(true);
  });
});

describe('createLatencySampler', () => {
  it('is repeatable from a seed and matches the requested median and p99', () => {
    const sample = (seed: number) => {
      const next = createLatencySampler({ p50Ms: 20, p99Ms: 250 }, createRng(seed));
      return Array.from({ length: 20_000 }, next).sort((a, b) => a - b);
    };
    const a = sample(42);
    expect(sample(42)).toEqual(a);
    expect(a[10_000]).toBeGreaterThan(18);
    expect(a[10_000]).toBeLessThan(22);
    expect(a[19_800]).toBeGreaterThan(200);
    expect(a[19_800]).toBeLessThan(310);
    expect(createLatencySampler({ p50Ms: 0 }, createRng(1))()).toBe(0);
    expect(createLatencySampler({ p50Ms: 5 }, createRng(1))()).toBe(5);
  });
});

describe('ControlRouter over createControlServer', () => {
  it('routes JSON requests with params, and answers 404, 405 and 400 for bad requests', async () => {
    const router = new ControlRouter().add('POST', '/apns/tokens/:token', ({ params, body }) => ({
      status: 200,
      body: { params, body },
    }));
    const control = await createControlServer(router);
    try {
      const ok = await fetch(`${control.url}/apns/tokens/ab%2Fc`, {
        method: 'POST',
        body: '{"state":"active"}',
      });
      expect(await ok.json()).toEqual({ params: { token: 'ab/c' }, body: { state: 'active' } });
      expect((await fetch(`${control.url}/nope`)).status).toBe(404);
      expect((await fetch(`${control.url}/apns/tokens/x`)).status).toBe(405);
      const bad = await fetch(`${control.url}/apns/tokens/x`, { method: 'POST', body: '{' });
      expect(bad.status).toBe(400);
    } finally {
      await control.close();
    }
  });
});
