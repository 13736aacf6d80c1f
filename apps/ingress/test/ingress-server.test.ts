import { request as httpsRequest } from 'node:https';
import { type PushResponse } from '@hpns/protocol';
import { createLogger, createMetricsRegistry } from '@hpns/runtime';
import { createTestCa } from '@hpns/testkit';
import { IngressMetrics } from '../src/ingress-metrics';
import { createIngressServer } from '../src/ingress-server';
import { type PushApi } from '../src/push-api';
import { post } from './harness';

const logger = createLogger({ destination: { write: () => undefined } });

/** A fake of our own PushApi: answers after `release()` so tests can hold a request in flight. */
function heldApi() {
  let release: (response: PushResponse) => void = () => undefined;
  const api = {
    sendPush: () => new Promise<PushResponse>((resolve) => (release = resolve)),
    ack: (): PushResponse => ({ status: 'OK' }),
  } as unknown as PushApi;
  return { api, release: (response: PushResponse) => release(response) };
}

const metrics = () => new IngressMetrics(createMetricsRegistry({ collectDefaults: false }), ['us']);

describe('IngressServer', () => {
  it('serves the API over HTTPS with TLS 1.2 or newer', async () => {
    const ca = createTestCa();
    const { api } = heldApi();
    const server = await createIngressServer({
      api,
      logger,
      metrics: metrics(),
      listeners: [
        {
          host: '127.0.0.1',
          port: 0,
          mode: 'open',
          tls: { certPem: ca.serverCertPem, keyPem: ca.serverKeyPem },
        },
      ],
    });
    try {
      const port = server.addresses[0]?.port;
      const answer = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port,
            path: '/api/v1/ack',
            method: 'POST',
            ca: ca.caPem,
            servername: 'localhost',
          },
          (res) => {
            const protocol = (res.socket as unknown as { getProtocol: () => string }).getProtocol();
            let text = '';
            res.on('data', (chunk) => (text += chunk));
            res.on('end', () => resolve(`${protocol} ${text}`));
          },
        );
        req.on('error', reject);
        req.end('{"id":"a","platform":"ios","type":"message"}');
      });
      expect(answer).toMatch(/^TLSv1\.[23] \{"status":"OK"\}\n$/);
      const old = new Promise((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port,
            path: '/',
            ca: ca.caPem,
            servername: 'localhost',
            maxVersion: 'TLSv1.1',
            minVersion: 'TLSv1',
          },
          resolve,
        );
        req.on('error', reject);
        req.end();
      });
      await expect(old).rejects.toThrow();
    } finally {
      await server.close(100);
    }
  });

  it('drains on close: a request in flight gets its answer, new connections are refused', async () => {
    const { api, release } = heldApi();
    const server = await createIngressServer({
      api,
      logger,
      metrics: metrics(),
      listeners: [{ host: '127.0.0.1', port: 0, mode: 'open' }],
    });
    const url = `http://127.0.0.1:${server.addresses[0]?.port}`;
    const inFlight = post(`${url}/api/v1/send_push`, '{}');
    while (server.inFlight === 0) await new Promise((resolve) => setImmediate(resolve));
    const closing = server.close(5000);
    await expect(post(`${url}/api/v1/send_push`, '{}')).rejects.toThrow(/ECONNREFUSED/);
    release({ status: 'REMOVE' });
    expect((await inFlight).body).toBe('{"status":"REMOVE"}\n');
    await closing;
  });

  it('cuts requests still in flight at the drain deadline', async () => {
    const { api } = heldApi();
    const server = await createIngressServer({
      api,
      logger,
      metrics: metrics(),
      listeners: [{ host: '127.0.0.1', port: 0, mode: 'open' }],
    });
    const inFlight = post(`http://127.0.0.1:${server.addresses[0]?.port}/api/v1/send_push`, '{}');
    while (server.inFlight === 0) await new Promise((resolve) => setImmediate(resolve));
    await server.close(50);
    await expect(inFlight).rejects.toThrow(/socket hang up|ECONNRESET/);
  });

  it('refuses to start when a port is taken, closing what it opened', async () => {
    const { api } = heldApi();
    const first = await createIngressServer({
      api,
      logger,
      metrics: metrics(),
      listeners: [{ host: '127.0.0.1', port: 0, mode: 'open' }],
    });
    try {
      const port = first.addresses[0]?.port as number;
      await expect(
        createIngressServer({
          api,
          logger,
          metrics: metrics(),
          listeners: [
            { host: '127.0.0.1', port: 0, mode: 'open' },
            { host: '127.0.0.1', port, mode: 'hpns' },
          ],
        }),
      ).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await first.close(100);
    }
  });
});
