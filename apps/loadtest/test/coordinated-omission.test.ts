import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo } from 'node:net';
import { createTestCa } from '@hpns/testkit';
import { checkProfile, Fleet } from '../src/fleet';
import { runLoad } from '../src/runner';
import { ArrivalSchedule } from '../src/schedule';

/** A push proxy stand-in that answers OK, and holds every answer while `stalled` is true. */
function stallingServer(): { server: Server; stall: (ms: number) => void } {
  let stalledUntil = 0;
  const held: (() => void)[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const answer = () => res.end('{"status":"OK"}\n');
      const wait = stalledUntil - Date.now();
      if (wait > 0) {
        held.push(answer);
        setTimeout(() => held.shift()?.(), wait);
      } else answer();
    });
  });
  return { server, stall: (ms) => (stalledUntil = Date.now() + ms) };
}

const listen = (server: Server) =>
  new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );

describe('open model', () => {
  test('a 1 s stall at 1,000/s shows in the corrected p99 and hides from the uncorrected one', async () => {
    const { server, stall } = stallingServer();
    const port = await listen(server);
    const fleet = new Fleet(checkProfile({}), 'stalltst');
    // 20 connections: during the stall they are all held, and the requests due meanwhile wait in the generator.
    const stallTimer = setTimeout(() => stall(1000), 1500);
    const run = await runLoad({
      target: { endpoint: { host: '127.0.0.1', port, tls: false }, host: `127.0.0.1:${port}`, basePath: '' },
      model: { kind: 'open', schedule: ArrivalSchedule.constant(1000, 4000), maxConnections: 20 },
      next: () => fleet.next(),
    });
    clearTimeout(stallTimer);
    server.close();
    const r = run.recorder;
    expect(r.counts.ok).toBe(4000);
    // About 1,000 of 4,000 requests were due during the stall: a quarter of the corrected latencies are long.
    const corrected = r.corrected.getValueAtPercentile(99) / 1000;
    const uncorrected = r.uncorrected.getValueAtPercentile(99) / 1000;
    expect(corrected).toBeGreaterThan(700);
    // Timed from their own send, only the ≤ 20 requests out when the stall began look slow (0.5 %).
    expect(uncorrected).toBeLessThan(100);
    expect(r.corrected.getValueAtPercentile(50) / 1000).toBeLessThan(100);
  }, 20_000);

  test('requests leave at their scheduled times (send lag small against an idle server)', async () => {
    const { server } = stallingServer();
    const port = await listen(server);
    const fleet = new Fleet(checkProfile({}), 'schedtst');
    const sends: number[] = [];
    let start = 0;
    const run = await runLoad({
      target: { endpoint: { host: '127.0.0.1', port, tls: false }, host: `127.0.0.1:${port}`, basePath: '' },
      model: { kind: 'open', schedule: ArrivalSchedule.constant(200, 2000), maxConnections: 50 },
      next: () => fleet.next(),
      onAnswer: (e) => {
        if (start === 0) start = e.scheduledAt;
        sends.push(e.scheduledAt - start);
      },
    });
    server.close();
    expect(run.recorder.counts.ok).toBe(400);
    sends.sort((a, b) => a - b);
    // Scheduled times are exactly 5 ms apart; the generator wrote each within a few ms of it.
    for (let i = 1; i < sends.length; i += 1) expect(sends[i]! - sends[i - 1]!).toBeCloseTo(5, 6);
    expect(run.sendLag.p99).toBeLessThan(25);
  }, 20_000);

  test('an HTTPS target with a private CA: trusted with the CA, refused without it', async () => {
    const ca = createTestCa();
    const server = createHttpsServer({ key: ca.serverKeyPem, cert: ca.serverCertPem }, (req, res) => {
      req.resume();
      req.on('end', () => res.end('{"status":"OK"}\n'));
    });
    const port = await listen(server as unknown as Server);
    const fleet = new Fleet(checkProfile({}), 'tlstestx');
    const target = (trusted: boolean) => ({
      endpoint: { host: '127.0.0.1', port, tls: true, ...(trusted ? { ca: ca.caPem } : {}) },
      host: `localhost:${port}`,
      basePath: '',
    });
    const model = { kind: 'closed' as const, connections: 2, durationMs: 500 };
    const good = await runLoad({ target: target(true), model, next: () => fleet.next() });
    const bad = await runLoad({
      target: target(false),
      model: { ...model, durationMs: 200 },
      next: () => fleet.next(),
    });
    server.close();
    expect(good.recorder.counts.ok).toBeGreaterThan(10);
    expect(good.recorder.counts.transport).toBe(0);
    expect(bad.recorder.counts.ok).toBe(0);
    expect([...bad.recorder.texts.keys()].join()).toMatch(/certificate/i);
  }, 20_000);
});
