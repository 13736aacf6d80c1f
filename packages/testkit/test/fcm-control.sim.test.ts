import { Client } from 'undici';
import {
  addFcmControlRoutes,
  addOAuthControlRoutes,
  ControlRouter,
  createControlServer,
  createFcmSimulator,
  createOAuthSimulator,
  createTestCa,
  type ControlServer,
  type FcmSimulator,
  type OAuthSimulator,
} from '@hpns/testkit';

/** The `/fcm/...` control routes, mounted with the OAuth ones on one router, driven with fetch. */

const ca = createTestCa();
let oauth: OAuthSimulator;
let fcm: FcmSimulator;
let control: ControlServer;
let client: Client;
let accessToken: string;

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

async function send(token = 'device-1', project = 'hpns-a'): Promise<number> {
  const res = await client.request({
    path: `/v1/projects/${project}/messages:send`,
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ message: { token, data: { k: 'v' } } }),
  });
  await res.body.dump();
  return res.statusCode;
}

beforeAll(async () => {
  oauth = await createOAuthSimulator({ ca });
  fcm = await createFcmSimulator({ ca, accessTokens: oauth.accessTokens });
  const router = new ControlRouter();
  addOAuthControlRoutes(router, oauth);
  addFcmControlRoutes(router, fcm);
  control = await createControlServer(router);
  client = new Client(fcm.url, { connect: { ca: ca.caPem }, allowH2: true });
});

beforeEach(async () => {
  expect((await call('POST', '/fcm/reset')).status).toBe(200);
  accessToken = oauth.accessTokens.issue({
    clientEmail: 'sa@hpns-a.iam.gserviceaccount.com',
    projectId: 'hpns-a',
    scopes: ['https://www.googleapis.com/auth/firebase.messaging'],
    issuedAtMs: Date.now(),
    expiresAtMs: Date.now() + 3_599_000,
  });
});

afterAll(async () => {
  await client.close();
  await control.close();
  await fcm.close();
  await oauth.close();
});

describe('FCM control routes', () => {
  it('tells its URL next to the OAuth routes on the same router', async () => {
    expect(await call('GET', '/fcm')).toEqual({ status: 200, json: { url: fcm.url } });
    expect((await call('GET', '/oauth')).status).toBe(200);
  });

  it('registers tokens one by one or as a list, and forgets them', async () => {
    expect(
      await call('POST', '/fcm/tokens', { token: 'dead', projectId: 'hpns-a', state: 'unregistered' }),
    ).toEqual({
      status: 201,
      json: { registered: 1 },
    });
    const list = {
      tokens: [
        { token: 'ios-dead', project_id: 'hpns-a', state: 'apns-disabled' },
        { token: 'other', projectId: 'hpns-b' },
      ],
    };
    expect((await call('POST', '/fcm/tokens', list)).json).toEqual({ registered: 2 });
    expect([await send('dead'), await send('ios-dead'), await send('other')]).toEqual([404, 400, 403]);
    expect(await call('DELETE', '/fcm/tokens/dead')).toEqual({ status: 200, json: { removed: true } });
    expect(await send('dead')).toBe(200);
  });

  it('sets the unknown-token policy and the latency', async () => {
    expect(
      (await call('PUT', '/fcm/config', { unknownTokens: 'unregistered', latency: { p50Ms: 2 } })).status,
    ).toBe(200);
    expect(await send('never-seen')).toBe(404);
    expect(fcm.requests()[0]?.latencyMs).toBe(2);
  });

  it('sets a project quota', async () => {
    expect((await call('PUT', '/fcm/quota', { limitPerMinute: 1, projectId: 'hpns-a' })).status).toBe(200);
    expect([await send(), await send()]).toEqual([200, 429]);
  });

  it('schedules faults, sets random ones, and clears them', async () => {
    const inject = { fault: { kind: 'unavailable', retryAfterSeconds: 3 }, count: 1 };
    expect((await call('POST', '/fcm/faults', inject)).status).toBe(200);
    expect(await send()).toBe(503);
    expect((await call('PUT', '/fcm/faults/rates', { rates: [{ kind: 'internal', rate: 1 }] })).status).toBe(
      200,
    );
    expect(await send()).toBe(500);
    expect((await call('DELETE', '/fcm/faults')).status).toBe(200);
    expect(await send()).toBe(200);
  });

  it('reads counters and captured requests, and clears the captures', async () => {
    await send('a');
    await send('b');
    const counters = (await call('GET', '/fcm/counters')).json;
    expect(counters).toMatchObject({
      requests: 2,
      delivered: 2,
      byStatus: { '200': 2 },
      byProtocol: { h2: 2 },
    });
    const last = (await call('GET', '/fcm/requests?limit=1')).json as { registrationToken: string }[];
    expect(last.map((r) => r.registrationToken)).toEqual(['b']);
    expect(((await call('GET', '/fcm/requests')).json as unknown[]).length).toBe(2);
    expect(((await call('GET', '/fcm/requests?limit=0')).json as unknown[]).length).toBe(0);
    expect((await call('DELETE', '/fcm/requests')).status).toBe(200);
    expect((await call('GET', '/fcm/requests')).json).toEqual([]);
  });

  it('revoking through /oauth makes FCM answer 401', async () => {
    expect(await send()).toBe(200);
    expect((await call('POST', `/oauth/tokens/${accessToken}/revoke`)).json).toEqual({ revoked: true });
    expect(await send()).toBe(401);
  });

  it('answers 400 with the reason for a bad body', async () => {
    expect(await call('POST', '/fcm/tokens', { token: 'x', projectId: 'p', state: 'zombie' })).toEqual({
      status: 400,
      json: {
        error:
          'state must be one of valid, unregistered, malformed, apns-unregistered, apns-disabled, apns-auth-error',
      },
    });
    expect((await call('PUT', '/fcm/quota', { limitPerMinute: -1 })).status).toBe(400);
    expect((await call('PUT', '/fcm/faults/rates', { rates: [{ kind: 'stall' }] })).status).toBe(400);
  });
});
