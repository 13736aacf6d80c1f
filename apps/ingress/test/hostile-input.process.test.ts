import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { FAIL_TEXTS } from '@hpns/protocol';
import { freePort, startTestRedis, type TestRedis } from '@hpns/testkit';
import { writeProxyConfigWithoutKeys } from './proxy-config-fixture';

/**
 * The reproductions of issue 14 against the ingress process as deployed (apps/ingress/dist/main.js, built by the
 * jest global setup), serving two regions, with an `hpns` listener (paid tier), a `tpns` listener (free tier)
 * and an `open` one, a trusted X-Forwarded-For header, and a V8 heap limit of 160 MB: an ingress that kept what
 * a flood sends would die here within a few thousand requests, as it died at ~65,000 ids with the default limit.
 * Each test prints its figures.
 */
const MAIN = resolve(__dirname, '../dist/main.js');
const HEAP_LIMIT_MB = 160;

interface Tally {
  answers: Map<string, number>;
  seconds: number;
}

describe('the ingress process under hostile input (issue 14)', () => {
  let dir: string;
  const redis: Record<'us' | 'de', TestRedis> = {} as never;
  const admin: Record<'us' | 'de', Redis> = {} as never;
  // A fresh ingress for each test, so that one that dies fails its own test only.
  let child: ChildProcess;
  let output: string[] = [];
  let ports: { hpns: number; tpns: number; open: number; admin: number };
  let agent: Agent;
  const alive = () => child.exitCode === null && child.signalCode === null;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hpns-hostile-'));
    for (const region of ['us', 'de'] as const) {
      redis[region] = await startTestRedis();
      admin[region] = new Redis(redis[region].url);
    }
    writeProxyConfigWithoutKeys(dir);
  });

  beforeEach(async () => {
    agent = new Agent({ keepAlive: true, maxSockets: 16 });
    output = [];
    ports = {
      hpns: await freePort(),
      tpns: await freePort(),
      open: await freePort(),
      admin: await freePort(),
    };
    child = spawn(process.execPath, [`--max-old-space-size=${HEAP_LIMIT_MB}`, MAIN], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HPNS_CONFIG_FILE: join(dir, 'push.json'),
        HPNS_REGIONS: 'us,de',
        HPNS_REDIS_URL_US: redis.us.url,
        HPNS_REDIS_URL_DE: redis.de.url,
        HPNS_LISTEN_ADDRESS: `127.0.0.1:${ports.hpns}`,
        HPNS_LISTEN_MODE: 'hpns',
        HPNS_EXTRA_LISTENERS: `tpns@127.0.0.1:${ports.tpns},open@127.0.0.1:${ports.open}`,
        HPNS_ADMIN_LISTEN_ADDRESS: `127.0.0.1:${ports.admin}`,
        HPNS_PAYLOAD_KEYS: `k1:${randomBytes(32).toString('base64')}`,
        HPNS_TOKEN_HASH_KEY: randomBytes(32).toString('base64'),
        HPNS_CLIENT_ADDRESS_HEADER: 'X-Forwarded-For',
        HPNS_TPNS_RATE_PER_SEC: '10',
        HPNS_TPNS_CALLER_RATE_PER_SEC: '10',
        // No worker runs: an accepted push is answered OK as soon as it is queued.
        HPNS_WAIT_MS: '0',
        HPNS_LOG_LEVEL: 'warn',
      },
    });
    child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
    const deadline = Date.now() + 30_000;
    let ready = false;
    while (!ready && Date.now() < deadline && alive()) {
      ready = await fetch(`http://127.0.0.1:${ports.admin}/readyz`).then(
        (res) => res.ok,
        () => false,
      );
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }
    if (!ready) throw new Error(`ingress did not become ready:\n${output.join('')}`);
  }, 60_000);

  afterEach(async () => {
    agent.destroy();
    if (alive()) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    } else {
      const how = child.exitCode ?? child.signalCode;
      process.stdout.write(`hostile input: the ingress died (${how}):\n${output.join('').slice(-1500)}\n`);
    }
  }, 30_000);

  afterAll(async () => {
    for (const region of ['us', 'de'] as const) {
      admin[region]?.disconnect();
      await redis[region]?.stop();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  function post(
    port: number,
    path: string,
    body: string,
    headers: Record<string, string> = {},
  ): Promise<string> {
    return new Promise((resolvePost, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolvePost(text));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Sends `count` requests, 16 at a time (or for `forMs`), and tallies the answers by body. */
  async function flood(
    count: number,
    make: (i: number) => { port: number; path: string; body: string; headers?: Record<string, string> },
    forMs = Infinity,
  ): Promise<Tally> {
    const answers = new Map<string, number>();
    const started = Date.now();
    let next = 0;
    const lanes = Array.from({ length: 16 }, async () => {
      while (next < count && Date.now() - started < forMs) {
        const { port, path, body, headers } = make(next++);
        const text = await post(port, path, body, headers);
        answers.set(text, (answers.get(text) ?? 0) + 1);
      }
    });
    await Promise.all(lanes);
    return { answers, seconds: (Date.now() - started) / 1000 };
  }

  /** A sample of the ingress's /metrics: the first series of `name` whose labels include `labels`. */
  async function metric(name: string, labels = ''): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${ports.admin}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => (l.startsWith(`${name} `) || l.startsWith(`${name}{`)) && l.includes(labels));
    return Number(line?.split(' ').pop());
  }

  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  const redisMemory = async (region: 'us' | 'de') =>
    Number(/used_memory:(\d+)/.exec(await admin[region].info('memory'))?.[1]);
  const failBody = (error: string) => `${JSON.stringify({ error, status: 'FAIL' })}\n`;
  const token = () => randomBytes(32).toString('hex');
  const push = (serverId: string) =>
    JSON.stringify({
      platform: 'apple_rn-v2',
      server_id: serverId,
      device_id: token(),
      type: 'message',
      message: 'm',
      ack_id: randomBytes(8).toString('hex'),
    });
  const longId = (i: number) => `${i}-${'S'.repeat(60_000)}`;

  it('D1: distinct 60 KB server ids, then distinct unregistered ids, on the hpns listener leave the heap flat', async () => {
    // Warm up, so that the baseline includes the code paths' own allocations.
    await flood(500, (i) => ({ port: ports.hpns, path: '/api/v1/send_push', body: push(`warm-${i}`) }));
    const heapBefore = await metric('nodejs_heap_size_used_bytes');
    const long = await flood(20_000, (i) => ({
      port: ports.hpns,
      path: '/api/v1/send_push',
      body: push(longId(i)),
    }));
    const heapAfterLong = await metric('nodejs_heap_size_used_bytes');
    expect([...long.answers]).toEqual([[failBody(FAIL_TEXTS.invalidServerId), 20_000]]);

    // Ids within the bound, each new: "not registered", cached by hash under the cache's byte bound.
    const normal: number[] = [];
    const sampling = (async () => {
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        await post(ports.open, '/us/api/v1/send_push', push('ordinary-server'));
        normal.push(performance.now() - started);
      }
    })();
    const unregistered = await flood(30_000, (i) => ({
      port: ports.hpns,
      path: '/api/v1/send_push',
      body: push(`stranger-${i}-${'x'.repeat(40)}`),
    }));
    await sampling;
    const heapAfter = await metric('nodejs_heap_size_used_bytes');
    const rss = await metric('process_resident_memory_bytes');
    const cacheBytes = await metric('hpns_ingress_tenant_cache_bytes');
    const notRegistered = [...unregistered.answers].filter(([body]) => body.includes('is not registered'));
    normal.sort((a, b) => a - b);
    process.stdout.write(
      `hostile input D1: heap ${mib(heapBefore)} → ${mib(heapAfterLong)} after 20,000 distinct 60 KB ids ` +
        `(${(20_000 / long.seconds).toFixed(0)}/s) → ${mib(heapAfter)} after 30,000 distinct unregistered ids ` +
        `(${(30_000 / unregistered.seconds).toFixed(0)}/s); RSS ${mib(rss)}; tenant cache ${mib(cacheBytes)}; ` +
        `heap limit ${HEAP_LIMIT_MB} MB; ordinary pushes meanwhile p50 ${normal[10]?.toFixed(1)} ms, ` +
        `max ${normal[19]?.toFixed(1)} ms\n`,
    );
    expect(notRegistered.reduce((sum, [, n]) => sum + n, 0)).toBe(30_000);
    expect(alive()).toBe(true);
    expect((await fetch(`http://127.0.0.1:${ports.admin}/readyz`)).status).toBe(200);
    // Stated bound: the floods add less than 48 MiB to the heap (the cache's own bound is 2 × 16 MiB).
    expect(heapAfterLong - heapBefore).toBeLessThan(48 * 1024 * 1024);
    expect(heapAfter - heapBefore).toBeLessThan(48 * 1024 * 1024);
  }, 180_000);

  it('D2: the same flood on the tpns listener leaves Redis memory flat', async () => {
    const before = { us: await redisMemory('us'), de: await redisMemory('de') };
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, (await redisMemory('us')) - before.us, (await redisMemory('de')) - before.de);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const long = await flood(20_000, (i) => ({
      port: ports.tpns,
      path: i % 2 === 0 ? '/us/api/v1/send_push' : '/de/api/v1/send_push',
      body: push(longId(i)),
    }));
    // Valid ids, each new, from one caller: its allowance is queued, the rest refused before any server bucket.
    const rotating = await flood(20_000, (i) => ({
      port: ports.tpns,
      path: i % 2 === 0 ? '/us/api/v1/send_push' : '/de/api/v1/send_push',
      body: push(`free-${i}-${'x'.repeat(40)}`),
      headers: { 'x-forwarded-for': '198.51.100.20' },
    }));
    sampling = false;
    await sampler;
    const after = { us: await redisMemory('us'), de: await redisMemory('de') };
    const accepted = rotating.answers.get('{"status":"OK"}\n') ?? 0;
    process.stdout.write(
      `hostile input D2: Redis us ${mib(before.us)} → ${mib(after.us)}, de ${mib(before.de)} → ${mib(after.de)} ` +
        `(peak growth ${mib(peak)}) after 20,000 distinct 60 KB ids and 20,000 distinct valid ids from one caller ` +
        `(${accepted} accepted and queued, in ${rotating.seconds.toFixed(1)} s)\n`,
    );
    expect([...long.answers]).toEqual([[failBody(FAIL_TEXTS.invalidServerId), 20_000]]);
    // Stated bound: the 60 KB flood writes nothing; the accepted pushes cost their queued jobs (~1.3 KB each)
    // and two buckets each that expire: growth under 2 KiB per accepted push plus 4 MiB. (On the landed main the
    // 60 KB flood alone took Redis from 21 to 390 MB.)
    const bound = accepted * 2048 + 4 * 1024 * 1024;
    expect(after.us - before.us + (after.de - before.de)).toBeLessThan(bound);
    expect(peak).toBeLessThan(bound);
  }, 180_000);

  it('D3: one caller rotating server ids and regions gets the per-caller limit; a 10× burst is contained', async () => {
    const caller = { 'x-forwarded-for': '198.51.100.10' };
    const rotating = await flood(
      1_000_000,
      (i) => ({
        port: ports.tpns,
        path: i % 2 === 0 ? '/us/api/v1/send_push' : '/de/api/v1/send_push',
        body: push(`rotating-${i}`),
        headers: caller,
      }),
      4_000,
    );
    const ok = rotating.answers.get('{"status":"OK"}\n') ?? 0;
    const sent = [...rotating.answers.values()].reduce((a, b) => a + b, 0);
    const refused = [...rotating.answers].filter(([body]) =>
      body.includes('Rate limit exceeded for the address'),
    );
    // 10× a fresh caller's allowance at once: one second's worth (10) goes through.
    const burst = await flood(100, (i) => ({
      port: ports.tpns,
      path: '/us/api/v1/send_push',
      body: push(`burst-${i}`),
      headers: { 'x-forwarded-for': '198.51.100.11' },
    }));
    const burstOk = burst.answers.get('{"status":"OK"}\n') ?? 0;
    // Another caller behind the same proxy is not held back by the first.
    const other = await post(ports.tpns, '/de/api/v1/send_push', push('neighbour'), {
      'x-forwarded-for': '198.51.100.12',
    });
    process.stdout.write(
      `hostile input D3: one caller, ${sent} pushes in ${rotating.seconds.toFixed(1)} s ` +
        `(${(sent / rotating.seconds).toFixed(0)}/s) over rotating server ids and both regions: ${ok} accepted ` +
        `(limit 10/s + burst 10 → at most ${10 + Math.ceil(10 * rotating.seconds)}); 10× burst of a fresh caller: ` +
        `${burstOk} of 100 accepted\n`,
    );
    expect(ok).toBeGreaterThanOrEqual(10);
    expect(ok).toBeLessThanOrEqual(10 + Math.ceil(10 * rotating.seconds) + 1);
    expect(refused.reduce((sum, [, n]) => sum + n, 0)).toBe(sent - ok);
    expect(burstOk).toBeGreaterThanOrEqual(10);
    expect(burstOk).toBeLessThanOrEqual(11);
    expect(other).toBe('{"status":"OK"}\n');
    expect(await metric('hpns_ingress_rate_limited_total', 'scope="tpns-caller"')).toBeGreaterThan(0);
  }, 60_000);
});
