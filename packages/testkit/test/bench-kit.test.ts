import { createServer } from 'node:net';
import { CpuMeter, formatCpuReport, freePort, parseStatCpu, processCpu } from '@hpns/testkit';

describe('bench kit', () => {
  it('reads utime and stime from a /proc stat line whose command name holds spaces and parentheses', () => {
    // pid (comm) state ppid … field 14 utime = 250 ticks, field 15 stime = 50 ticks (USER_HZ 100).
    const fields = ['S', ...Array.from({ length: 10 }, (_, i) => String(i + 1)), '250', '50', '0', '0'];
    const line = `4242 (node (worker) x) ${fields.join(' ')}`;
    expect(parseStatCpu(line)).toEqual({ total: 3_000_000, sys: 500_000 });
  });

  it('measures this process: CPU per operation of a busy loop, NaN for a process that is gone', () => {
    const meter = new CpuMeter({ self: 'self' });
    meter.start();
    const until = performance.now() + 200;
    let spins = 0;
    while (performance.now() < until) spins++;
    const report = meter.stop(1000);
    expect(spins).toBeGreaterThan(0);
    // 200 ms of wall clock spent spinning: well over 50 ms of CPU even on a busy machine (ticks are 10 ms).
    expect(report.per.self!.usPerOp).toBeGreaterThan(50);
    expect(report.usPerOp).toBe(report.per.self!.usPerOp);
    expect(formatCpuReport('spin', report)).toMatch(/^spin CPU-µs per op: self \d+ \(/);
    expect(processCpu(2 ** 22 + 12345).total).toBeNaN();
  });

  it('finds a port nobody listens on', async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
