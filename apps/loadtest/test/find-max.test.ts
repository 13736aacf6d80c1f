import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { checkProfile, Fleet } from '../src/fleet';
import { findMax } from '../src/find-max';
import { buildResult } from '../src/result';

test('find-max steps the rate until the SLO breaks and reports the last rate that held', async () => {
  // A server that answers one request at a time in 4 ms: about 250/s at most, queueing beyond.
  let busyUntil = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const now = Date.now();
      busyUntil = Math.max(busyUntil, now) + 4;
      setTimeout(() => res.end('{"status":"OK"}\n'), busyUntil - now);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const fleet = new Fleet(checkProfile({}), 'findmaxx');
  const profile = fleet.profile;
  const steps: number[] = [];
  const { findMax: found, best } = await findMax({
    target: { endpoint: { host: '127.0.0.1', port, tls: false }, host: `127.0.0.1:${port}`, basePath: '' },
    next: () => fleet.next(),
    slo: 'p99<150ms,fail<1%',
    startRate: 50,
    factor: 2,
    stepMs: 2000,
    maxRate: 3200,
    maxConnections: 500,
    timeoutMs: 10_000,
    onStep: (step) => steps.push(step.rate),
    result: (rate, run) =>
      buildResult({
        label: 'find-max test',
        startedAt: new Date(),
        target: 'http://127.0.0.1/',
        model: { kind: 'open', stages: [{ durationMs: 2000, rate }], startRate: rate, maxConnections: 500 },
        profile,
        timeoutMs: 10_000,
        warmupMs: 0,
        run,
        slo: 'p99<150ms,fail<1%',
      }),
  });
  server.close();
  // 50/s holds; far past the capacity (800/s) it breaks; the answer lies in between.
  expect(found.steps[0]).toMatchObject({ rate: 50, pass: true });
  expect(found.steps.at(-1)!.pass).toBe(false);
  expect(found.maxRate).toBeGreaterThanOrEqual(50);
  expect(found.maxRate).toBeLessThan(800);
  expect(best.findMax).toBe(found);
  expect(best.slo!.pass).toBe(true);
  expect(steps.length).toBeGreaterThanOrEqual(3);
}, 60_000);
