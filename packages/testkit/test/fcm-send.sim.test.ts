import { connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { Client, Pool } from 'undici';
import {
  createFcmSimulator,
  createOAuthSimulator,
  createTestCa,
  generateServiceAccount,
  type FcmSimulator,
  type OAuthSimulator,
} from '@hpns/testkit';

const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const CREDENTIALS_HINT =
  'Expected OAuth 2 access token, login cookie or other valid authentication credential. ' +
  'See https://developers.google.com/identity/sign-in/web/devconsole-project.';
const ca = createTestCa();
const accountA = generateServiceAccount({ projectId: 'hpns-a', tokenUri: 'https://127.0.0.1/token' });
const accountB = generateServiceAccount({ projectId: 'hpns-b', tokenUri: 'https://127.0.0.1/token' });
let oauth: OAuthSimulator;
let fcm: FcmSimulator;
let h2: Client;

/** A token as the OAuth simulator would mint it (the mint itself is covered by oauth-token.sim.test.ts). */
function accessToken(
  projectId = 'hpns-a',
  overrides: { scopes?: string[]; expiresAtMs?: number; projectNumber?: string } = {},
): string {
  const now = Date.now();
  return oauth.accessTokens.issue({
    clientEmail: `sa@${projectId}.iam.gserviceaccount.com`,
    projectId,
    scopes: [FCM_SCOPE],
    issuedAtMs: now,
    expiresAtMs: now + 3_599_000,
    ...overrides,
  });
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

async function send(
  body: unknown,
  options: { token?: string | null; project?: string; client?: Client | Pool; headers?: object } = {},
): Promise<Answer> {
  const token = options.token === undefined ? accessToken() : options.token;
  const res = await (options.client ?? h2).request({
    path: `/v1/projects/${options.project ?? 'hpns-a'}/messages:send`,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...options.headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** HTTP/1.1 through node:https. */
function sendH1(body: unknown, token = accessToken()): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${fcm.url}/v1/projects/hpns-a/messages:send`,
      {
        method: 'POST',
        ca: ca.caPem,
        agent: false,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const simple = {
  message: { token: 'device-1', data: { k: 'v' }, android: { priority: 'HIGH', ttl: '60s' } },
};
const rpc = (code: number, status: string, message: string, details?: object[]) =>
  JSON.stringify({ error: { code, message, status, ...(details ? { details } : {}) } });

beforeAll(async () => {
  oauth = await createOAuthSimulator({ ca, serviceAccounts: [accountA, accountB] });
  fcm = await createFcmSimulator({ ca, accessTokens: oauth.accessTokens });
  h2 = new Client(fcm.url, { connect: { ca: ca.caPem }, allowH2: true });
});

beforeEach(() => {
  oauth.reset();
  fcm.reset();
});

afterAll(async () => {
  await h2.close();
  await fcm.close();
  await oauth.close();
});

describe('FcmSimulator messages:send', () => {
  it('answers 200 with the message name and application/json; charset=UTF-8 over HTTP/2', async () => {
    const res = await send(simple);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=UTF-8');
    expect(JSON.parse(res.text)).toEqual({
      name: expect.stringMatching(/^projects\/hpns-a\/messages\/0:\d{16}%[0-9a-f]{16}$/),
    });
    expect(fcm.requests()[0]?.protocol).toBe('h2');
    expect(fcm.counters()).toMatchObject({ delivered: 1, byStatus: { '200': 1 }, byCode: { OK: 1 } });
  });

  it('serves HTTP/1.1 on the same port', async () => {
    const res = await sendH1(simple);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=UTF-8');
    expect(JSON.parse(res.text).name).toMatch(/^projects\/hpns-a\/messages\/0:/);
    await send(simple);
    expect(fcm.counters()).toMatchObject({ byProtocol: { h1: 1, h2: 1 } });
    expect(fcm.counters().connections.h1).toBe(1);
  });

  it('keeps an HTTP/1.1 connection alive across requests and announces a 65 s keep-alive', async () => {
    const pool = new Pool(fcm.url, { connect: { ca: ca.caPem }, connections: 1 });
    try {
      for (let i = 0; i < 3; i += 1) {
        const res = await send(simple, { client: pool });
        expect(res.status).toBe(200);
        // Longer than clients' idle timeouts, so the server never closes a socket a client is about to reuse.
        expect(res.headers['keep-alive']).toBe('timeout=65');
      }
    } finally {
      await pool.close();
    }
    expect(fcm.counters()).toMatchObject({ byProtocol: { h1: 3 }, connections: { h1: 1 } });
  });

  it('advertises 100 concurrent streams to HTTP/2 clients', async () => {
    const session = connect(fcm.url, { ca: ca.caPem });
    try {
      const settings = await new Promise<{ maxConcurrentStreams?: number }>((resolve) =>
        session.once('remoteSettings', resolve),
      );
      expect(settings.maxConcurrentStreams).toBe(100);
    } finally {
      session.close();
    }
  });

  it('answers validate_only (snake or camel case) with fake_message_id and delivers nothing', async () => {
    for (const flag of ['validate_only', 'validateOnly']) {
      const res = await send({ [flag]: true, ...simple });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.text)).toEqual({ name: 'projects/hpns-a/messages/fake_message_id' });
    }
    expect(fcm.counters().delivered).toBe(0);
  });

  it('accepts lowerCamelCase field names as well as snake_case', async () => {
    const android = { collapseKey: 'c', restrictedPackageName: 'com.x', directBootOk: true, ttl: '3.5s' };
    expect(
      (await send({ message: { token: 'device-1', android, fcmOptions: { analyticsLabel: 'l' } } })).status,
    ).toBe(200);
  });

  it('captures each request: headers, body, project, registration and access tokens', async () => {
    const token = accessToken();
    await send(simple, { token, headers: { 'x-goog-user-project': 'hpns-a' } });
    await sendH1(simple, token);
    const [first, second] = fcm.requests();
    expect(first).toMatchObject({
      sequence: 1,
      protocol: 'h2',
      method: 'POST',
      path: '/v1/projects/hpns-a/messages:send',
      project: 'hpns-a',
      body: JSON.stringify(simple),
      json: simple,
      registrationToken: 'device-1',
      accessToken: token,
      status: 200,
      code: 'OK',
      latencyMs: 0,
      headers: expect.objectContaining({
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'x-goog-user-project': 'hpns-a',
      }),
    });
    expect(Object.keys(first?.headers ?? {}).filter((name) => name.startsWith(':'))).toEqual([]);
    expect(second).toMatchObject({ sequence: 2, protocol: 'h1', registrationToken: 'device-1' });
    fcm.clearRequests();
    expect(fcm.requests()).toEqual([]);
  });

  it('keeps only the last captureLimit requests', async () => {
    const small = await createFcmSimulator({ ca, accessTokens: oauth.accessTokens, captureLimit: 2 });
    const client = new Client(small.url, { connect: { ca: ca.caPem }, allowH2: true });
    try {
      for (let i = 0; i < 3; i += 1) await send(simple, { client });
      expect(small.requests().map((r) => r.sequence)).toEqual([2, 3]);
    } finally {
      await client.close();
      await small.close();
    }
  });

  it('answers 404 NOT_FOUND for other paths and 405 for other methods', async () => {
    const notFound = await h2.request({
      path: '/v1/projects/hpns-a/messages:batchSend',
      method: 'POST',
      body: '{}',
    });
    expect(notFound.statusCode).toBe(404);
    expect(await notFound.body.text()).toBe(rpc(404, 'NOT_FOUND', 'Requested entity was not found.'));
    const wrongMethod = await h2.request({ path: '/v1/projects/hpns-a/messages:send', method: 'GET' });
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers.allow).toBe('POST');
    await wrongMethod.body.dump();
  });
});

describe('FcmSimulator authentication', () => {
  const invalid = rpc(
    401,
    'UNAUTHENTICATED',
    `Request had invalid authentication credentials. ${CREDENTIALS_HINT}`,
  );

  it('answers 401 with the exact body for a request without credentials', async () => {
    const res = await send(simple, { token: null });
    expect(res.status).toBe(401);
    expect(res.text).toBe(
      rpc(
        401,
        'UNAUTHENTICATED',
        `Request is missing required authentication credential. ${CREDENTIALS_HINT}`,
      ),
    );
    expect(res.headers['www-authenticate']).toBe('Bearer realm="https://accounts.google.com/"');
  });

  it.each([
    ['an unknown', () => 'ya29.not-minted-here'],
    ['an expired', () => accessToken('hpns-a', { expiresAtMs: Date.now() - 1 })],
    [
      'a revoked',
      () => {
        const token = accessToken();
        oauth.revoke(token);
        return token;
      },
    ],
  ])('answers 401 UNAUTHENTICATED with WWW-Authenticate for %s token', async (_name, token) => {
    const res = await send(simple, { token: token() });
    expect(res.status).toBe(401);
    expect(res.text).toBe(invalid);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer realm="https://accounts.google.com/", error="invalid_token"',
    );
    expect(fcm.counters().byCode).toEqual({ UNAUTHENTICATED: 1 });
  });

  it("answers 403 PERMISSION_DENIED for a token of another project's service account", async () => {
    const res = await send(simple, { token: accessToken('hpns-b') });
    expect(res.status).toBe(403);
    expect(res.text).toBe(
      rpc(
        403,
        'PERMISSION_DENIED',
        "Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/hpns-a' (or it may not exist).",
        [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            reason: 'IAM_PERMISSION_DENIED',
            domain: 'cloudresourcemanager.googleapis.com',
            metadata: { permission: 'cloudmessaging.messages.create', resource: 'projects/hpns-a' },
          },
        ],
      ),
    );
  });

  it('answers 403 for a token without an FCM scope, and accepts cloud-platform', async () => {
    const res = await send(simple, {
      token: accessToken('hpns-a', { scopes: ['https://www.googleapis.com/auth/userinfo.email'] }),
    });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text).error).toMatchObject({
      code: 403,
      status: 'PERMISSION_DENIED',
      message: 'Request had insufficient authentication scopes.',
    });
    expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
    const cloud = accessToken('hpns-a', { scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
    expect((await send(simple, { token: cloud })).status).toBe(200);
  });

  it('accepts the project number in the URL for a service account of that project', async () => {
    const token = accessToken('hpns-a', { projectNumber: '123456789012' });
    expect((await send(simple, { token, project: '123456789012' })).status).toBe(200);
    expect((await send(simple, { token, project: '999' })).status).toBe(403);
  });
});
