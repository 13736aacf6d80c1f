import { generateKeyPairSync, sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Client, Pool } from 'undici';
import {
  createOAuthSimulator,
  createTestCa,
  generateServiceAccount,
  GOOGLE_TOKEN_URL,
  JWT_BEARER_GRANT_TYPE,
  type OAuthSimulator,
  type TestServiceAccount,
} from '@hpns/testkit';

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const SHORT_LIVED =
  'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. ' +
  'Check your iat and exp values in the JWT claim.';

const ca = createTestCa();
const accountA = generateServiceAccount({ projectId: 'hpns-a', tokenUri: 'https://127.0.0.1/token' });
const accountB = generateServiceAccount({ projectId: 'hpns-b', tokenUri: 'https://127.0.0.1/token' });
// The simulator's clock: fixed, so expiry arithmetic is exact; assertions are signed relative to it.
let clockMs = Date.now();
let oauth: OAuthSimulator;
let pool: Pool;

const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A jwt-bearer assertion as google-auth-library builds it; `claims`/`header` override or (undefined) drop. */
function assertion(
  account: Pick<TestServiceAccount, 'clientEmail' | 'privateKeyPem'>,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = { alg: 'RS256' },
): string {
  const iat = Math.floor(clockMs / 1000);
  const payload = {
    iss: account.clientEmail,
    scope: SCOPE,
    aud: GOOGLE_TOKEN_URL,
    exp: iat + 3600,
    iat,
    ...claims,
  };
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), account.privateKeyPem).toString('base64url')}`;
}

async function postToken(
  form: Record<string, string>,
  client: Pool | Client = pool,
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const res = await client.request({
    path: '/token',
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

const grant = (value: string) => ({ grant_type: JWT_BEARER_GRANT_TYPE, assertion: value });

beforeAll(async () => {
  oauth = await createOAuthSimulator({ ca, serviceAccounts: [accountA, accountB], now: () => clockMs });
  pool = new Pool(oauth.url, { connect: { ca: ca.caPem } });
});

beforeEach(() => {
  clockMs = Date.now();
  oauth.reset();
});

afterAll(async () => {
  await pool.close();
  await oauth.close();
});

describe('OAuthSimulator token endpoint', () => {
  it('mints a ya29 token for a valid assertion, in the body shape and key order Google uses', async () => {
    const res = await postToken(grant(assertion(accountA)));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    const body = JSON.parse(res.text);
    expect(Object.keys(body)).toEqual(['access_token', 'expires_in', 'token_type']);
    expect(body).toEqual({
      access_token: expect.stringMatching(/^ya29\.[\w-]{20,}$/),
      expires_in: 3599,
      token_type: 'Bearer',
    });
    expect(oauth.accessTokens.lookup(body.access_token)).toEqual({
      token: body.access_token,
      clientEmail: accountA.clientEmail,
      projectId: 'hpns-a',
      scopes: [SCOPE],
      issuedAtMs: clockMs,
      expiresAtMs: clockMs + 3_599_000,
    });
  });

  it('accepts a matching kid, typ JWT, several scopes and its own URL as aud', async () => {
    const scope = `${SCOPE} https://www.googleapis.com/auth/cloud-platform`;
    const header = { alg: 'RS256', typ: 'JWT', kid: accountA.privateKeyId };
    const res = await postToken(grant(assertion(accountA, { scope, aud: oauth.tokenUrl }, header)));
    expect(res.status).toBe(200);
    const record = oauth.accessTokens.lookup(JSON.parse(res.text).access_token);
    expect(record?.scopes).toEqual([SCOPE, 'https://www.googleapis.com/auth/cloud-platform']);
  });

  const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  const now = () => Math.floor(clockMs / 1000);
  const cases: [string, () => Record<string, string>, string, string][] = [
    [
      'another grant_type',
      () => ({ grant_type: 'client_credentials' }),
      'unsupported_grant_type',
      'Invalid grant_type: client_credentials',
    ],
    [
      'no grant_type',
      () => ({ assertion: assertion(accountA) }),
      'unsupported_grant_type',
      'Invalid grant_type: ',
    ],
    [
      'no assertion',
      () => ({ grant_type: JWT_BEARER_GRANT_TYPE }),
      'invalid_request',
      'Missing required parameter: assertion',
    ],
    ['an assertion that is not a JWT', () => grant('not.a-jwt'), 'invalid_grant', 'Invalid JWT Signature.'],
    [
      'alg HS256',
      () => grant(assertion(accountA, {}, { alg: 'HS256' })),
      'invalid_grant',
      'Invalid JWT Signature.',
    ],
    [
      'a signature by another key',
      () => grant(assertion({ clientEmail: accountA.clientEmail, privateKeyPem: otherKey })),
      'invalid_grant',
      'Invalid JWT Signature.',
    ],
    [
      'a kid of another key',
      () => grant(assertion(accountA, {}, { alg: 'RS256', kid: accountB.privateKeyId })),
      'invalid_grant',
      'Invalid JWT Signature.',
    ],
    [
      'an unknown iss',
      () => grant(assertion({ clientEmail: 'nobody@x.iam.gserviceaccount.com', privateKeyPem: otherKey })),
      'invalid_grant',
      'Invalid grant: account not found',
    ],
    [
      'another aud',
      () => grant(assertion(accountA, { aud: 'https://example.com/token' })),
      'invalid_grant',
      `Invalid JWT: Failed audience check. The right audience is ${GOOGLE_TOKEN_URL}`,
    ],
    [
      'exp - iat over 3600 s',
      () => grant(assertion(accountA, { exp: now() + 3601 })),
      'invalid_grant',
      SHORT_LIVED,
    ],
    [
      'iat beyond the skew in the future',
      () => grant(assertion(accountA, { iat: now() + 301, exp: now() + 3600 })),
      'invalid_grant',
      SHORT_LIVED,
    ],
    [
      'exp in the past',
      () => grant(assertion(accountA, { iat: now() - 7200, exp: now() - 3600 })),
      'invalid_grant',
      SHORT_LIVED,
    ],
    ['no iat', () => grant(assertion(accountA, { iat: undefined })), 'invalid_grant', SHORT_LIVED],
    [
      'no scope',
      () => grant(assertion(accountA, { scope: undefined })),
      'invalid_scope',
      'Invalid OAuth scope or ID token audience provided.',
    ],
  ];

  it.each(cases)('answers 400 with the exact error body for %s', async (_name, form, error, description) => {
    const res = await postToken(form());
    expect(res.status).toBe(400);
    expect(res.text).toBe(JSON.stringify({ error, error_description: description }));
    expect(oauth.counters()).toMatchObject({ mints: 0, byError: { [error]: 1 } });
  });

  it('counts mints per service account', async () => {
    await postToken(grant(assertion(accountA)));
    await postToken(grant(assertion(accountA)));
    await postToken(grant(assertion(accountB)));
    expect(oauth.counters()).toMatchObject({
      mints: 3,
      mintsByAccount: { [accountA.clientEmail]: 2, [accountB.clientEmail]: 1 },
      byStatus: { '200': 3 },
    });
  });

  it('serves HTTP/2 clients as well as HTTP/1.1', async () => {
    const h2 = new Client(oauth.url, { connect: { ca: ca.caPem }, allowH2: true });
    try {
      expect((await postToken(grant(assertion(accountA)), h2)).status).toBe(200);
      expect((await postToken(grant(assertion(accountA)))).status).toBe(200);
    } finally {
      await h2.close();
    }
    // The h1 pool's connection predates the reset in beforeEach, so only the new h2 one is counted.
    expect(oauth.counters().connections).toMatchObject({ total: 1, h2: 1, h1: 0 });
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    const notFound = await pool.request({ path: '/oauth2/v4/token', method: 'POST', body: '' });
    expect(notFound.statusCode).toBe(404);
    await notFound.body.dump();
    const wrongMethod = await pool.request({ path: '/token', method: 'GET' });
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers.allow).toBe('POST');
    await wrongMethod.body.dump();
  });

  it('mints with the configured expires_in, e.g. 30 s to exercise eager refresh', async () => {
    oauth.setExpiresIn(30);
    const body = JSON.parse((await postToken(grant(assertion(accountA)))).text);
    expect(body.expires_in).toBe(30);
    expect(oauth.accessTokens.lookup(body.access_token)?.expiresAtMs).toBe(clockMs + 30_000);
  });

  it('revokes a token', async () => {
    const token = JSON.parse((await postToken(grant(assertion(accountA)))).text).access_token;
    expect(oauth.revoke(token)).toBe(true);
    expect(oauth.accessTokens.lookup(token)).toBeUndefined();
    expect(oauth.revoke(token)).toBe(false);
  });

  it('reset forgets tokens, counts, faults and runtime accounts but keeps the accounts of its options', async () => {
    const extra = generateServiceAccount({ projectId: 'hpns-c', tokenUri: oauth.tokenUrl });
    oauth.registerServiceAccount(extra);
    const token = JSON.parse((await postToken(grant(assertion(extra)))).text).access_token;
    oauth.injectFault({ kind: 'internal' }, 5);
    oauth.reset();
    expect(oauth.accessTokens.lookup(token)).toBeUndefined();
    expect(oauth.counters()).toMatchObject({ mints: 0, requests: 0, faults: {} });
    expect((await postToken(grant(assertion(extra)))).status).toBe(400);
    expect((await postToken(grant(assertion(accountA)))).status).toBe(200);
  });
});

describe('OAuthSimulator faults and latency', () => {
  it('fails the next K requests with 503 then 500, then mints again', async () => {
    oauth.injectFault({ kind: 'unavailable' }, 2);
    oauth.injectFault({ kind: 'internal' });
    const responses = [];
    for (let i = 0; i < 4; i += 1) responses.push(await postToken(grant(assertion(accountA))));
    expect(responses.map((r) => r.status)).toEqual([503, 503, 500, 200]);
    expect(JSON.parse(responses[0]?.text ?? '')).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'The service is currently unavailable.',
    });
    expect(JSON.parse(responses[2]?.text ?? '')).toEqual({
      error: 'internal_failure',
      error_description: 'Backend Error',
    });
    expect(oauth.counters()).toMatchObject({ mints: 1, faults: { unavailable: 2, internal: 1 } });
  });

  it('stalls a request until the client gives up', async () => {
    oauth.injectFault({ kind: 'stall' });
    const impatient = new Client(oauth.url, { connect: { ca: ca.caPem }, headersTimeout: 200 });
    try {
      await expect(postToken(grant(assertion(accountA)), impatient)).rejects.toMatchObject({
        code: 'UND_ERR_HEADERS_TIMEOUT',
      });
    } finally {
      await impatient.destroy();
    }
    expect(oauth.counters()).toMatchObject({ mints: 0, faults: { stall: 1 } });
  });

  it('draws random faults from the seed, the same sequence on every run', async () => {
    const run = async (): Promise<number[]> => {
      const sim = await createOAuthSimulator({
        ca,
        serviceAccounts: [accountA],
        seed: 7,
        now: () => clockMs,
      });
      const client = new Pool(sim.url, { connect: { ca: ca.caPem } });
      try {
        sim.setFaultRates([{ kind: 'unavailable', rate: 0.5 }]);
        const statuses = [];
        for (let i = 0; i < 12; i += 1)
          statuses.push((await postToken(grant(assertion(accountA)), client)).status);
        return statuses;
      } finally {
        await client.close();
        await sim.close();
      }
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(first).toEqual(expect.arrayContaining([200, 503]));
  });

  it('delays responses by the configured latency', async () => {
    oauth.setLatency({ p50Ms: 40 });
    const started = performance.now();
    expect((await postToken(grant(assertion(accountA)))).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(39);
  });
});
