import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch } from 'undici';
import { signApnsProviderToken } from '@hpns/testkit';
import { parseOptions } from '../src/main';
import { startSimulatorStack, type SimulatorStack } from '@hpns/testkit';

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('the simulator stack', () => {
  let stack: SimulatorStack;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hpns-sims-'));
    stack = await startSimulatorStack({ outputDir: dir });
  });
  afterAll(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes a push on APNs signed with the generated key, trusting the written CA', async () => {
    const { info } = stack;
    const token = signApnsProviderToken({
      keyId: info.apnsKeyId,
      teamId: info.apnsTeamId,
      privateKeyPem: readFileSync(info.apnsKeyFile, 'utf8'),
    });
    const session = connect(info.apnsUrl, { ca: readFileSync(info.caFile, 'utf8') });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({
          ':method': 'POST',
          ':path': `/3/device/${'a'.repeat(64)}`,
          authorization: `bearer ${token}`,
          'apns-topic': 'com.mattermost.react.native',
          'apns-push-type': 'alert',
        });
        req.on('response', (headers) => resolve(Number(headers[':status'])));
        req.on('error', reject);
        req.end('{"aps":{"alert":"hi"}}');
      });
      expect(status).toBe(200);
    } finally {
      session.close();
    }
  });

  it('mints an OAuth token for the generated service account and takes an FCM message with it', async () => {
    const { info } = stack;
    const account = JSON.parse(readFileSync(info.serviceAccountFile, 'utf8')) as Record<string, string>;
    expect(account['token_uri']).toBe(info.oauthTokenUrl);
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${b64url({ alg: 'RS256', typ: 'JWT', kid: account['private_key_id'] })}.${b64url({
      iss: account['client_email'],
      scope: 'https://www.googleapis.com/auth/firebase.messaging',
      aud: info.oauthTokenUrl,
      iat: now,
      exp: now + 3600,
    })}`;
    const assertion = `${unsigned}.${createSign('RSA-SHA256')
      .update(unsigned)
      .sign(account['private_key'] as string, 'base64url')}`;
    const dispatcher = new Agent({ connect: { ca: readFileSync(info.caFile, 'utf8') } });
    try {
      const minted = await fetch(info.oauthTokenUrl, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
          assertion,
        }).toString(),
      });
      const { access_token: accessToken } = (await minted.json()) as { access_token: string };
      const sent = await fetch(`${info.fcmUrl}/v1/projects/${info.fcmProjectId}/messages:send`, {
        method: 'POST',
        dispatcher,
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          message: { token: 'device-token-1', data: { type: 'message' }, android: { priority: 'HIGH' } },
        }),
      });
      expect(sent.status).toBe(200);
      expect(((await sent.json()) as { name: string }).name).toMatch(/^projects\/hpns-local\/messages\//);
    } finally {
      await dispatcher.close();
    }
  });

  it('serves every simulator’s control routes on one control API', async () => {
    const res = await globalThis.fetch(`${stack.info.controlUrl}/fcm/counters`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { delivered: number }).delivered).toBeGreaterThanOrEqual(1);
  });
});

describe('parseOptions', () => {
  it('reads ports, latency and seed, and refuses bad values', () => {
    expect(
      parseOptions(['--apns-port', '8443', '--latency-ms', '20,60', '--seed', '7', '--out', '/tmp/x']),
    ).toMatchObject({
      outputDir: '/tmp/x',
      ports: { apns: 8443, fcm: 0, oauth: 0, control: 0 },
      latency: { p50Ms: 20, p99Ms: 60 },
      seed: 7,
    });
    expect(() => parseOptions(['--apns-port', '70000'])).toThrow(/port number/);
    expect(() => parseOptions(['--latency-ms', '50,10'])).toThrow(/P99/);
    expect(() => parseOptions(['--nope'])).toThrow();
  });
});
