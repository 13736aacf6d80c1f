import { GoogleAuth, JWT, gaxios } from 'google-auth-library';
import { Agent, Client, fetch as undiciFetch } from 'undici';
import {
  createFcmSimulator,
  createOAuthSimulator,
  createTestCa,
  generateServiceAccount,
  GOOGLE_TOKEN_URL,
  type FcmSimulator,
  type OAuthSimulator,
  type TestServiceAccount,
} from '@hpns/testkit';

/**
 * google-auth-library@10 against the OAuth and FCM simulators. The library signs `aud` and posts to Google's
 * token URL whatever the key file's `token_uri` says (reference/apns-fcm.md §3.2), so the test gives it a Gaxios
 * transporter that (1) rewrites that URL to the key file's `token_uri` and (2) fetches with undici and a
 * dispatcher that trusts the test CA.
 */

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const ca = createTestCa();
const dispatcher = new Agent({ connect: { ca: ca.caPem } });
let oauth: OAuthSimulator;
let fcm: FcmSimulator;
let account: TestServiceAccount;
let keyFile: { client_email: string; private_key: string; private_key_id: string; token_uri: string };
let fcmClient: Client;
let fcmClockOffsetMs = 0;
const urlsSeenByTransporter: string[] = [];

/** The transporter seam of AuthClientOptions: where the token request is aimed and how TLS is trusted. */
function simulatorTransporter(): gaxios.Gaxios {
  const transporter = new gaxios.Gaxios({
    // Gaxios's default fetch is node-fetch, loaded by a dynamic import() that jest's CommonJS runtime refuses
    // (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING_FLAG); a fetchImplementation is the supported replacement.
    fetchImplementation: ((input: URL, init: object) =>
      undiciFetch(input, { ...init, dispatcher })) as unknown as typeof fetch,
  });
  transporter.interceptors.request.add({
    resolved: async (config) => {
      urlsSeenByTransporter.push(String(config.url));
      if (String(config.url) === GOOGLE_TOKEN_URL) config.url = new URL(keyFile.token_uri);
      return config;
    },
  });
  return transporter;
}

function newJwt(options: { forceRefreshOnFailure?: boolean } = {}): JWT {
  return new JWT({
    email: keyFile.client_email,
    key: keyFile.private_key,
    keyId: keyFile.private_key_id,
    scopes: [SCOPE],
    transporter: simulatorTransporter(),
    ...options,
  });
}

const message = (token = 'device-token-1') => JSON.stringify({ message: { token, data: { k: 'v' } } });

async function sendWith(accessToken: string): Promise<{ status: number; body: unknown; headers: object }> {
  const res = await fcmClient.request({
    path: `/v1/projects/${account.projectId}/messages:send`,
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
    body: message(),
  });
  return { status: res.statusCode, body: await res.body.json(), headers: res.headers };
}

beforeAll(async () => {
  oauth = await createOAuthSimulator({ ca });
  fcm = await createFcmSimulator({
    ca,
    accessTokens: oauth.accessTokens,
    now: () => Date.now() + fcmClockOffsetMs,
  });
  account = generateServiceAccount({ projectId: 'hpns-gal', tokenUri: oauth.tokenUrl });
  keyFile = JSON.parse(account.json);
  fcmClient = new Client(fcm.url, { connect: { ca: ca.caPem }, allowH2: true });
});

beforeEach(() => {
  oauth.reset();
  fcm.reset();
  oauth.registerServiceAccount(account);
  fcmClockOffsetMs = 0;
  urlsSeenByTransporter.length = 0;
});

afterAll(async () => {
  await fcmClient.close();
  await dispatcher.close();
  await fcm.close();
  await oauth.close();
});

describe('google-auth-library JWT against the OAuth simulator', () => {
  it('posts to the hard-coded Google URL despite token_uri, which the transporter rewrites', async () => {
    const { token } = await newJwt().getAccessToken();
    expect(urlsSeenByTransporter).toEqual([GOOGLE_TOKEN_URL]);
    expect(keyFile.token_uri).toBe(`${oauth.url}/token`);
    expect(token).toMatch(/^ya29\.[\w-]+$/);
    expect(oauth.counters().mintsByAccount).toEqual({ [account.clientEmail]: 1 });
  });

  it('mints once for many concurrent and later calls, and FCM accepts the token', async () => {
    const jwt = newJwt();
    const tokens = await Promise.all(Array.from({ length: 5 }, () => jwt.getAccessToken()));
    const again = await jwt.getAccessToken();
    expect(new Set([...tokens, again].map((t) => t.token)).size).toBe(1);
    expect(oauth.counters().mints).toBe(1);

    const sent = await sendWith(again.token as string);
    expect(sent.status).toBe(200);
    expect(sent.body).toEqual({
      name: expect.stringMatching(/^projects\/hpns-gal\/messages\/0:\d+%[0-9a-f]{16}$/),
    });
  });

  it('gets 401 for a token FCM sees expired, and with a short expires_in refreshes eagerly, one mint per refresh', async () => {
    // 60 s is under the library's 5-minute eager-refresh threshold (§3.2), so every call refreshes.
    oauth.setExpiresIn(60);
    const jwt = newJwt();
    const first = (await jwt.getAccessToken()).token as string;
    expect((await sendWith(first)).status).toBe(200);

    fcmClockOffsetMs = 61_000;
    const expired = await sendWith(first);
    expect(expired.status).toBe(401);
    expect(expired.headers).toMatchObject({
      'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"',
    });

    oauth.setExpiresIn(120);
    const second = (await jwt.getAccessToken()).token as string;
    expect(second).not.toBe(first);
    expect(oauth.counters().mints).toBe(2);
    expect((await sendWith(second)).status).toBe(200);

    // Still under the threshold: the next call refreshes again, with one token request.
    await jwt.getAccessToken();
    expect(oauth.counters().mints).toBe(3);
  });

  it('after revocation, forceRefreshOnFailure alone replays the cached token: 401 again, no new mint', async () => {
    // JWT.refreshTokenNoCache asks gtoken for a token with forceRefresh = isTokenExpiring(); a revoked token
    // with most of its hour left is not "expiring", so the retry reuses it. A gateway must drop the cached
    // credentials itself (next test).
    const jwt = newJwt({ forceRefreshOnFailure: true });
    const url = `${fcm.url}/v1/projects/${account.projectId}/messages:send`;
    expect((await jwt.request({ url, method: 'POST', data: JSON.parse(message()) })).status).toBe(200);
    oauth.revoke((await jwt.getAccessToken()).token as string);

    await expect(jwt.request({ url, method: 'POST', data: JSON.parse(message()) })).rejects.toMatchObject({
      status: 401,
    });
    expect(oauth.counters().mints).toBe(1);
    expect(fcm.counters().byStatus).toEqual({ '200': 1, '401': 2 });
  });

  it('after revocation and a 401, marking the credentials expired makes exactly one new mint', async () => {
    const jwt = newJwt();
    const revoked = (await jwt.getAccessToken()).token as string;
    oauth.revoke(revoked);
    expect((await sendWith(revoked)).status).toBe(401);

    jwt.credentials = { ...jwt.credentials, expiry_date: 1 };
    const fresh = (await jwt.getAccessToken()).token as string;
    expect(fresh).not.toBe(revoked);
    expect((await sendWith(fresh)).status).toBe(200);
    expect(oauth.counters().mints).toBe(2);
    expect(fcm.requests().map((r) => r.accessToken)).toEqual([revoked, fresh]);
  });

  it('retries the token POST after a 503 (Gaxios), so the endpoint sees two requests and one mint', async () => {
    oauth.injectFault({ kind: 'unavailable' });
    const { token } = await newJwt().getAccessToken();
    expect(token).toMatch(/^ya29\./);
    expect(oauth.counters()).toMatchObject({ mints: 1, byStatus: { '503': 1, '200': 1 } });
  });

  it('surfaces invalid_grant from the simulator as the library error message', async () => {
    oauth.unregisterServiceAccount(account.clientEmail);
    await expect(newJwt().getAccessToken()).rejects.toThrow(
      'invalid_grant: Invalid grant: account not found',
    );
  });
});

describe('google-auth-library GoogleAuth against the OAuth simulator', () => {
  it('mints from the service-account JSON with clientOptions.transporter and sends through FCM', async () => {
    const auth = new GoogleAuth({
      credentials: keyFile,
      scopes: [SCOPE],
      clientOptions: { transporter: simulatorTransporter() },
    });
    const client = await auth.getClient();
    const { token } = await client.getAccessToken();
    expect(token).toMatch(/^ya29\./);
    expect((await sendWith(token as string)).status).toBe(200);
    expect(oauth.counters().mintsByAccount).toEqual({ [account.clientEmail]: 1 });
  });
});
