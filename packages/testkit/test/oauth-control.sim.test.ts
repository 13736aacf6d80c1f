import { sign } from 'node:crypto';
import { Pool } from 'undici';
import {
  addOAuthControlRoutes,
  ControlRouter,
  createControlServer,
  createOAuthSimulator,
  createTestCa,
  generateServiceAccount,
  GOOGLE_TOKEN_URL,
  JWT_BEARER_GRANT_TYPE,
  type ControlServer,
  type OAuthSimulator,
  type TestServiceAccount,
} from '@hpns/testkit';

/** The `/oauth/...` control routes, driven with fetch as a launcher's user would. */

const ca = createTestCa();
let oauth: OAuthSimulator;
let control: ControlServer;
let pool: Pool;
let account: TestServiceAccount;

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${control.url}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

async function mint(): Promise<{ status: number; json: { access_token?: string; expires_in?: number } }> {
  const iat = Math.floor(Date.now() / 1000);
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${b64({ alg: 'RS256' })}.${b64({
    iss: account.clientEmail,
    scope: 'https://www.googleapis.com/auth/firebase.messaging',
    aud: GOOGLE_TOKEN_URL,
    iat,
    exp: iat + 3600,
  })}`;
  const jwt = `${input}.${sign('sha256', Buffer.from(input), account.privateKeyPem).toString('base64url')}`;
  const res = await pool.request({
    path: '/token',
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT_TYPE, assertion: jwt }).toString(),
  });
  return { status: res.statusCode, json: (await res.body.json()) as { access_token?: string } };
}

beforeAll(async () => {
  oauth = await createOAuthSimulator({ ca });
  control = await createControlServer(addOAuthControlRoutes(new ControlRouter(), oauth));
  pool = new Pool(oauth.url, { connect: { ca: ca.caPem } });
  account = generateServiceAccount({ projectId: 'hpns-ctl', tokenUri: oauth.tokenUrl });
});

beforeEach(async () => {
  expect((await call('POST', '/oauth/reset')).status).toBe(200);
});

afterAll(async () => {
  await pool.close();
  await control.close();
  await oauth.close();
});

describe('OAuth control routes', () => {
  it('tells its URLs', async () => {
    expect(await call('GET', '/oauth')).toEqual({
      status: 200,
      json: { url: oauth.url, tokenUrl: `${oauth.url}/token` },
    });
  });

  it('registers a service account from its key-file JSON and counts its mints', async () => {
    expect((await mint()).status).toBe(400);
    expect(await call('POST', '/oauth/accounts', JSON.parse(account.json))).toEqual({
      status: 201,
      json: { clientEmail: account.clientEmail },
    });
    expect((await mint()).status).toBe(200);
    const counters = (await call('GET', '/oauth/counters')).json;
    expect(counters).toMatchObject({
      mints: 1,
      mintsByAccount: { [account.clientEmail]: 1 },
      byStatus: { '200': 1, '400': 1 },
    });

    expect(await call('DELETE', `/oauth/accounts/${encodeURIComponent(account.clientEmail)}`)).toEqual({
      status: 200,
      json: { removed: true },
    });
    expect((await mint()).status).toBe(400);
  });

  it('accepts a public key instead of the private one', async () => {
    const publicKey = account.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const body = { client_email: account.clientEmail, project_id: account.projectId, public_key: publicKey };
    expect((await call('POST', '/oauth/accounts', body)).status).toBe(201);
    expect((await mint()).status).toBe(200);
  });

  it('schedules faults, sets random ones, and clears them', async () => {
    await call('POST', '/oauth/accounts', JSON.parse(account.json));
    expect((await call('POST', '/oauth/faults', { fault: { kind: 'unavailable' }, count: 2 })).status).toBe(
      200,
    );
    expect([(await mint()).status, (await mint()).status, (await mint()).status]).toEqual([503, 503, 200]);

    expect(
      (await call('PUT', '/oauth/faults/rates', { rates: [{ kind: 'internal', rate: 1 }] })).status,
    ).toBe(200);
    expect((await mint()).status).toBe(500);
    expect((await call('DELETE', '/oauth/faults')).status).toBe(200);
    expect((await mint()).status).toBe(200);
    expect((await call('GET', '/oauth/counters')).json).toMatchObject({
      faults: { unavailable: 2, internal: 1 },
    });
  });

  it('sets expires_in and latency, and revokes tokens', async () => {
    await call('POST', '/oauth/accounts', JSON.parse(account.json));
    expect((await call('PUT', '/oauth/config', { expiresInSeconds: 30, latency: { p50Ms: 1 } })).status).toBe(
      200,
    );
    const minted = await mint();
    expect(minted.json.expires_in).toBe(30);
    const token = minted.json.access_token as string;
    expect(await call('POST', `/oauth/tokens/${token}/revoke`)).toEqual({
      status: 200,
      json: { revoked: true },
    });
    expect(oauth.accessTokens.lookup(token)).toBeUndefined();
  });

  it('answers 400 with the reason for a bad body', async () => {
    expect(await call('POST', '/oauth/faults', { fault: { kind: 'explode' } })).toEqual({
      status: 400,
      json: { error: 'fault.kind must be one of unavailable, internal, stall' },
    });
    expect(await call('POST', '/oauth/accounts', { client_email: 'x' })).toEqual({
      status: 400,
      json: { error: 'public_key or private_key is required' },
    });
    expect((await call('PUT', '/oauth/config', { expiresInSeconds: 0 })).status).toBe(400);
  });
});
