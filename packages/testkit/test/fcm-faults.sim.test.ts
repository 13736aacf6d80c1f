import { connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';
import { Client } from 'undici';
import {
  createFcmSimulator,
  createOAuthSimulator,
  createTestCa,
  type FcmSimulator,
  type FcmSimulatorOptions,
  type OAuthSimulator,
} from '@hpns/testkit';

/** Quota, faults and latency of the FCM simulator (reference/apns-fcm.md §2.5, §2.6, §7.2). */

const ca = createTestCa();
const FCM = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
let clockMs = Date.now();
let oauth: OAuthSimulator;
let fcm: FcmSimulator;
let client: Client;

function accessToken(project = 'hpns-a'): string {
  return oauth.accessTokens.issue({
    clientEmail: `sa@${project}.iam.gserviceaccount.com`,
    projectId: project,
    scopes: ['https://www.googleapis.com/auth/firebase.messaging'],
    issuedAtMs: clockMs,
    expiresAtMs: clockMs + 3_599_000,
  });
}

const body = (token = 'device-1') => JSON.stringify({ message: { token, data: { k: 'v' } } });

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: { error?: { code: number; status: string; message: string; details?: unknown[] } };
}

async function send(options: { project?: string; via?: Client; payload?: string } = {}): Promise<Answer> {
  const project = options.project ?? 'hpns-a';
  const res = await (options.via ?? client).request({
    path: `/v1/projects/${project}/messages:send`,
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken(project)}`, 'content-type': 'application/json' },
    body: options.payload ?? body(),
  });
  return { status: res.statusCode, headers: res.headers, json: (await res.body.json()) as Answer['json'] };
}

/** A second simulator for one test, with its own client; both closed afterwards. */
async function withSimulator<T>(
  options: Omit<FcmSimulatorOptions, 'accessTokens'>,
  run: (sim: FcmSimulator, via: Client) => Promise<T>,
): Promise<T> {
  const sim = await createFcmSimulator({ ca, accessTokens: oauth.accessTokens, ...options });
  const via = new Client(sim.url, { connect: { ca: ca.caPem }, allowH2: true });
  try {
    return await run(sim, via);
  } finally {
    await via.close();
    await sim.close();
  }
}

beforeAll(async () => {
  oauth = await createOAuthSimulator({ ca });
  fcm = await createFcmSimulator({ ca, accessTokens: oauth.accessTokens, now: () => clockMs });
  client = new Client(fcm.url, { connect: { ca: ca.caPem }, allowH2: true });
});

beforeEach(() => {
  clockMs = Date.now();
  fcm.reset();
});

afterAll(async () => {
  await client.close();
  await fcm.close();
  await oauth.close();
});

describe('FcmSimulator project quota', () => {
  it('answers 429 RESOURCE_EXHAUSTED with QUOTA_EXCEEDED, QuotaFailure and Retry-After over a sliding minute', async () => {
    fcm.setQuota({ limitPerMinute: 3 });
    expect((await send()).status).toBe(200);
    clockMs += 10_000;
    // Client errors count too (§2.6).
    expect((await send({ payload: '{"message":{}}' })).status).toBe(400);
    expect((await send()).status).toBe(200);

    const refused = await send();
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('50');
    expect(refused.json).toEqual({
      error: {
        code: 429,
        message:
          "Quota exceeded for quota metric 'Send requests' and limit 'Send requests per minute' of service 'fcm.googleapis.com' for consumer 'project_number:hpns-a'.",
        status: 'RESOURCE_EXHAUSTED',
        details: [
          { '@type': FCM, errorCode: 'QUOTA_EXCEEDED' },
          {
            '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
            violations: [
              { subject: 'project_number:hpns-a', description: 'Send requests per minute per project' },
            ],
          },
        ],
      },
    });

    // The window slides: the first message leaves it 60 s after it arrived; 429s are not counted.
    clockMs += 49_999;
    expect((await send()).status).toBe(429);
    clockMs += 1;
    expect((await send()).status).toBe(200);
    expect((await send()).status).toBe(429);
    expect(fcm.counters().byCode).toMatchObject({ OK: 3, INVALID_ARGUMENT: 1, QUOTA_EXCEEDED: 3 });
  });

  it('keeps projects apart and can leave Retry-After out', async () => {
    fcm.setQuota({ limitPerMinute: 1, retryAfter: false }, 'hpns-a');
    expect((await send()).status).toBe(200);
    const refused = await send();
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBeUndefined();
    expect((await send({ project: 'hpns-b' })).status).toBe(200);
    expect((await send({ project: 'hpns-b' })).status).toBe(200);
  });

  it('answers 429 in overload mode although the quota has room', async () => {
    fcm.injectFault({ kind: 'overload', retryAfterSeconds: 30 });
    const res = await send();
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('30');
    expect(res.json.error?.details?.[0]).toEqual({ '@type': FCM, errorCode: 'QUOTA_EXCEEDED' });
    expect((await send()).status).toBe(200);
  });
});

describe('FcmSimulator faults', () => {
  it('answers 503 UNAVAILABLE with Retry-After, and 500 INTERNAL, with exact bodies', async () => {
    fcm.injectFault({ kind: 'unavailable', retryAfterSeconds: 7 });
    fcm.injectFault({ kind: 'unavailable' });
    fcm.injectFault({ kind: 'internal' }, 2);
    const answers = [];
    for (let i = 0; i < 5; i += 1) answers.push(await send());
    expect(answers.map((a) => a.status)).toEqual([503, 503, 500, 500, 200]);
    expect(answers[0]?.headers['retry-after']).toBe('7');
    expect(answers[1]?.headers['retry-after']).toBeUndefined();
    expect(answers[0]?.json).toEqual({
      error: {
        code: 503,
        message: 'The service is currently unavailable.',
        status: 'UNAVAILABLE',
        details: [{ '@type': FCM, errorCode: 'UNAVAILABLE' }],
      },
    });
    expect(answers[2]?.json).toEqual({
      error: {
        code: 500,
        message: 'Internal error encountered.',
        status: 'INTERNAL',
        details: [{ '@type': FCM, errorCode: 'INTERNAL' }],
      },
    });
    expect(fcm.counters().faults).toEqual({ unavailable: 2, internal: 2 });
  });

  it('sends GOAWAY on h2 and refuses the stream, so a node:http2 client knows it was not processed', async () => {
    const session = connect(fcm.url, { ca: ca.caPem });
    try {
      // A first request, so the faulted one is stream 3 and the GOAWAY's last stream id (1) excludes it.
      const ok = session.request({
        ':method': 'POST',
        ':path': '/v1/projects/hpns-a/messages:send',
        authorization: `Bearer ${accessToken()}`,
      });
      ok.end(body());
      await new Promise((resolve) => ok.on('response', resolve));
      ok.resume();
      fcm.injectFault({ kind: 'goaway' });
      const goaway = new Promise<[number, number, string]>((resolve) =>
        session.once('goaway', (code, lastStreamId, opaque) => resolve([code, lastStreamId, String(opaque)])),
      );
      const req = session.request({
        ':method': 'POST',
        ':path': '/v1/projects/hpns-a/messages:send',
        authorization: `Bearer ${accessToken()}`,
      });
      const failed = new Promise<unknown>((resolve) => req.on('error', resolve));
      req.end(body());
      expect(await goaway).toEqual([0, 1, '{"reason":"fault"}']);
      expect(await failed).toMatchObject({ code: 'ERR_HTTP2_STREAM_ERROR' });
      expect(req.rstCode).toBe(7); // REFUSED_STREAM: safe to resend
    } finally {
      session.destroy();
    }
    expect(fcm.counters()).toMatchObject({ delivered: 1, faults: { goaway: 1 } });
  });

  it('makes undici fail the request on GOAWAY and succeed on its next connection', async () => {
    fcm.injectFault({ kind: 'goaway' });
    await expect(send()).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    expect((await send()).status).toBe(200);
    expect(fcm.counters().connections.h2).toBeGreaterThanOrEqual(1);
  });

  it('on HTTP/1.1, destroys the socket mid-response after processing the message', async () => {
    fcm.injectFault({ kind: 'destroy' });
    const outcome = await new Promise<{ status?: number; partial: string; aborted: boolean }>((resolve) => {
      const req = httpsRequest(
        `${fcm.url}/v1/projects/hpns-a/messages:send`,
        { method: 'POST', ca: ca.caPem, agent: false, headers: { authorization: `Bearer ${accessToken()}` } },
        (res) => {
          let partial = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (partial += chunk));
          res.on('error', () => undefined);
          res.on('close', () => resolve({ status: res.statusCode, partial, aborted: !res.complete }));
        },
      );
      req.on('error', () => undefined);
      req.end(body());
    });
    expect(outcome.status).toBe(200);
    expect(outcome.aborted).toBe(true);
    expect(outcome.partial).toMatch(/^\{"name":"projects\/hpns-a\/messages\//);
    // The send happened although the client never learned it: a resend would deliver twice (§2.5).
    expect(fcm.counters()).toMatchObject({ delivered: 1, faults: { destroy: 1 } });
    expect(fcm.requests()[0]).toMatchObject({ protocol: 'h1', status: 200, fault: 'destroy' });
  });

  it('on h2, drops the connection mid-response', async () => {
    fcm.injectFault({ kind: 'destroy' });
    const res = await client.request({
      path: '/v1/projects/hpns-a/messages:send',
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken()}` },
      body: body(),
    });
    expect(res.statusCode).toBe(200);
    await expect(res.body.text()).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    expect((await send()).status).toBe(200);
  });

  it('on HTTP/1.1, closes the connection without an answer for a goaway fault', async () => {
    fcm.injectFault({ kind: 'goaway' });
    const error = await new Promise<unknown>((resolve) => {
      const req = httpsRequest(
        `${fcm.url}/v1/projects/hpns-a/messages:send`,
        { method: 'POST', ca: ca.caPem, agent: false, headers: { authorization: `Bearer ${accessToken()}` } },
        () => resolve(new Error('unexpected response')),
      );
      req.on('error', resolve);
      req.end(body());
    });
    expect(error).toMatchObject({ code: 'ECONNRESET' });
    expect(fcm.counters().delivered).toBe(0);
  });

  it('stalls a request until the client gives up, and captures it without a status', async () => {
    fcm.injectFault({ kind: 'stall' });
    const impatient = new Client(fcm.url, { connect: { ca: ca.caPem }, allowH2: true, headersTimeout: 200 });
    try {
      await expect(send({ via: impatient })).rejects.toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });
    } finally {
      await impatient.destroy();
    }
    expect(fcm.requests()[0]).toMatchObject({ fault: 'stall' });
    expect(fcm.requests()[0]?.status).toBeUndefined();
    expect(fcm.counters()).toMatchObject({ requests: 1, byStatus: {}, faults: { stall: 1 } });
  });

  it('draws random faults from the seed, the same sequence on every run', async () => {
    const run = () =>
      withSimulator({ seed: 99 }, async (sim, via) => {
        sim.setFaultRates([
          { kind: 'unavailable', rate: 0.3, retryAfterSeconds: 1 },
          { kind: 'internal', rate: 0.2 },
        ]);
        const statuses = [];
        for (let i = 0; i < 20; i += 1) statuses.push((await send({ via })).status);
        return statuses;
      });
    const first = await run();
    expect(await run()).toEqual(first);
    expect(new Set(first)).toEqual(new Set([200, 500, 503]));
  });

  it('rejects fault rates outside 0..1 or summing over 1', () => {
    expect(() => fcm.setFaultRates([{ kind: 'internal', rate: 1.5 }])).toThrow('within 0..1');
    expect(() =>
      fcm.setFaultRates([
        { kind: 'internal', rate: 0.6 },
        { kind: 'stall', rate: 0.6 },
      ]),
    ).toThrow('sum to at most 1');
  });
});

describe('FcmSimulator latency', () => {
  it('adds no delay by default', async () => {
    await send();
    expect(fcm.requests()[0]?.latencyMs).toBe(0);
  });

  it('delays answers by a seeded distribution that repeats from the same seed', async () => {
    const run = () =>
      withSimulator({ seed: 42, latency: { p50Ms: 15, p99Ms: 60 } }, async (sim, via) => {
        const elapsed: number[] = [];
        for (let i = 0; i < 5; i += 1) {
          const started = performance.now();
          await send({ via });
          elapsed.push(performance.now() - started);
        }
        const latencies = sim.requests().map((r) => r.latencyMs);
        latencies.forEach((ms, i) => expect(elapsed[i]).toBeGreaterThanOrEqual(ms - 1));
        return latencies;
      });
    const first = await run();
    expect(first.every((ms) => ms > 0)).toBe(true);
    expect(new Set(first).size).toBeGreaterThan(1);
    expect(await run()).toEqual(first);
  });
});
