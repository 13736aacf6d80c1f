import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RedisConnection as Redis } from '@hpns/queue';
import { createProducerConnection, createWorkerConnection, waitForReady } from '@hpns/queue';
import { createTestCa, freePort, startTestRedis, type TestRedis } from '@hpns/testkit';

/**
 * Every hop is encrypted in production: Redis over TLS (`rediss:`), here a redis-server whose certificate a
 * private CA signed, as a self-managed Redis has. The connections trust that CA only when given it
 * (HPNS_REDIS_CA_FILE), and check the host name.
 */
describe('rediss: connections with a private CA', () => {
  const ca = createTestCa();
  let dir: string;
  let redis: TestRedis;
  let tlsPort: number;
  const opened: Redis[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hpns-redis-tls-'));
    writeFileSync(join(dir, 'server.crt'), ca.serverCertPem);
    writeFileSync(join(dir, 'server.key'), ca.serverKeyPem);
    writeFileSync(join(dir, 'ca.crt'), ca.caPem);
    tlsPort = await freePort();
    redis = await startTestRedis({
      args: [
        // Also on 127.0.0.2, a loopback address the test certificate does not name.
        ...['--bind', '127.0.0.1', '127.0.0.2'],
        ...['--tls-port', String(tlsPort)],
        ...['--tls-cert-file', join(dir, 'server.crt'), '--tls-key-file', join(dir, 'server.key')],
        ...['--tls-ca-cert-file', join(dir, 'ca.crt'), '--tls-auth-clients', 'no'],
      ],
    });
  });

  afterAll(async () => {
    for (const c of opened) c.disconnect();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const track = (c: Redis) => {
    opened.push(c);
    return c;
  };

  it('connects and runs commands when given the CA (producer and worker connections, name and address)', async () => {
    // By name (sent as SNI) and by address (no SNI: RFC 6066 allows host names only; the certificate names both).
    for (const [create, host] of [
      [createProducerConnection, 'localhost'],
      [createWorkerConnection, 'localhost'],
      [createProducerConnection, '127.0.0.1'],
    ] as const) {
      const c = track(create({ url: `rediss://${host}:${tlsPort}`, ca: ca.caPem }));
      c.on('error', () => undefined);
      await waitForReady(c, 10_000);
      expect(await c.set('tls-check', 'ok')).toBe('OK');
      expect(await c.get('tls-check')).toBe('ok');
    }
    // The TLS options each connection was given: SNI for the name, none for the address (Node deprecates an
    // address as server name, DEP0123).
    expect(
      opened.map(
        (c) => ((c.options as { tls?: unknown }).tls as { servername?: string } | undefined)?.servername,
      ),
    ).toEqual(['localhost', 'localhost', undefined]);
  });

  it('refuses the server without the CA, and under a name its certificate does not hold', async () => {
    const errors: Error[][] = [[], []];
    const untrusted = track(createProducerConnection({ url: `rediss://localhost:${tlsPort}` }));
    untrusted.on('error', (err: Error) => errors[0]!.push(err));
    // 127.0.0.2 is loopback too, but the test certificate names only localhost, 127.0.0.1 and ::1.
    const wrongName = track(createProducerConnection({ url: `rediss://127.0.0.2:${tlsPort}`, ca: ca.caPem }));
    wrongName.on('error', (err: Error) => errors[1]!.push(err));
    await Promise.all([
      expect(waitForReady(untrusted, 1500)).rejects.toThrow(/not reachable/),
      expect(waitForReady(wrongName, 1500)).rejects.toThrow(/not reachable/),
    ]);
    expect(errors[0]!.map((e) => e.message).join('\n')).toMatch(/self[- ]signed|unable to verify/i);
    expect(errors[1]!.map((e) => e.message).join('\n')).toMatch(/altnames|does not match|IP: 127\.0\.0\.2/i);
  });
});
