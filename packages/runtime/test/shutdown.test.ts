import { EventEmitter } from 'node:events';
import { createLogger, GracefulShutdown } from '@hpns/runtime';

function setup(timeoutMs = 1000) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
  });
  const exits: number[] = [];
  const shutdown = new GracefulShutdown({ logger, timeoutMs, exit: (code) => exits.push(code) });
  return { lines, exits, shutdown };
}

describe('GracefulShutdown', () => {
  it('runs the steps once, in order, and reports each', async () => {
    const { shutdown } = setup();
    const order: string[] = [];
    shutdown
      .add('readiness', () => void order.push('readiness'))
      .add('http', async () => {
        await new Promise((resolve) => setImmediate(resolve));
        order.push('http');
      })
      .add('redis', () => void order.push('redis'));
    const report = await shutdown.run('test');
    expect(order).toEqual(['readiness', 'http', 'redis']);
    expect(report).toMatchObject({ reason: 'test', ok: true, timedOut: false });
    expect(report.steps.map((s) => [s.name, s.outcome])).toEqual([
      ['readiness', 'done'],
      ['http', 'done'],
      ['redis', 'done'],
    ]);
    expect(await shutdown.run('again')).toBe(report);
    expect(order).toHaveLength(3);
    expect(() => shutdown.add('late', () => undefined)).toThrow(/after shutdown started/);
  });

  it('goes on after a failing step and reports it', async () => {
    const { shutdown, lines } = setup();
    const ran: string[] = [];
    shutdown
      .add('providers', () => Promise.reject(new Error('socket hang up')))
      .add('redis', () => void ran.push('redis'));
    const report = await shutdown.run('test');
    expect(ran).toEqual(['redis']);
    expect(report.ok).toBe(false);
    expect(report.steps[0]).toMatchObject({ name: 'providers', outcome: 'failed', error: 'socket hang up' });
    expect(lines.some((l) => l['event'] === 'shutdown.step_failed' && l['step'] === 'providers')).toBe(true);
  });

  it('abandons the remaining steps when the deadline passes', async () => {
    const { shutdown, lines } = setup(50);
    const ran: string[] = [];
    shutdown.add('workers', () => new Promise(() => undefined)).add('redis', () => void ran.push('redis'));
    const report = await shutdown.run('test');
    expect(ran).toEqual([]);
    expect(report).toMatchObject({ ok: false, timedOut: true });
    expect(report.steps.map((s) => [s.name, s.outcome])).toEqual([
      ['workers', 'abandoned'],
      ['redis', 'abandoned'],
    ]);
    const timeout = lines.find((l) => l['event'] === 'shutdown.timeout');
    expect(timeout?.['err']).toMatchObject({ code: 'HPNS_SHUTDOWN_TIMEOUT' });
  });

  it('shuts down on SIGTERM and exits 0, or 1 when a step failed', async () => {
    const signals = new EventEmitter();
    const { shutdown, exits } = setup();
    let closed = false;
    shutdown.add('http', () => void (closed = true)).listen(signals);
    signals.emit('SIGTERM');
    await shutdown.run('ignored');
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(true);
    expect(exits).toEqual([0]);
    expect(signals.listenerCount('SIGTERM')).toBe(0);

    const failing = setup();
    failing.shutdown.add('redis', () => Promise.reject(new Error('x'))).listen(signals);
    signals.emit('SIGINT');
    await failing.shutdown.run('ignored');
    await new Promise((resolve) => setImmediate(resolve));
    expect(failing.exits).toEqual([1]);
  });

  it('exits 1 at once on a second signal during shutdown', async () => {
    const signals = new EventEmitter();
    const { shutdown, exits } = setup();
    let release: () => void = () => undefined;
    shutdown.add('workers', () => new Promise<void>((resolve) => (release = resolve))).listen(signals);
    signals.emit('SIGTERM');
    signals.emit('SIGINT');
    expect(exits).toEqual([1]);
    release();
    await shutdown.run('ignored');
  });

  it('stops listening on close()', async () => {
    const signals = new EventEmitter();
    const { shutdown } = setup();
    shutdown.listen(signals);
    expect(signals.listenerCount('SIGINT')).toBe(1);
    await shutdown.close();
    expect(signals.listenerCount('SIGINT')).toBe(0);
    expect(shutdown.started).toBe(false);
  });
});
