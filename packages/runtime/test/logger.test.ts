import { createLogger, redactToken } from '@hpns/runtime';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = {
    write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
  };
  return { lines, destination };
}

const TOKEN = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2';

describe('createLogger', () => {
  it('writes JSON lines with the level label, an ISO time and the base fields', () => {
    const { lines, destination } = capture();
    createLogger({ destination, base: { service: 'ingress', region: 'us' } }).info(
      { event: 'push.accepted' },
      'accepted',
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      service: 'ingress',
      region: 'us',
      event: 'push.accepted',
      msg: 'accepted',
    });
    expect(lines[0]?.['time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('cuts device tokens to 8 characters wherever they sit, up to two levels down', () => {
    const { lines, destination } = capture();
    createLogger({ destination }).warn(
      { device_id: TOKEN, job: { deviceId: TOKEN, routing: { token: TOKEN } } },
      'x',
    );
    const line = JSON.stringify(lines[0]);
    expect(line).not.toContain(TOKEN.slice(0, 9));
    expect(lines[0]).toMatchObject({
      device_id: 'a1b2c3d4…',
      job: { deviceId: 'a1b2c3d4…', routing: { token: 'a1b2c3d4…' } },
    });
  });

  it('drops message content and whole pushes, and replaces credentials', () => {
    const { lines, destination } = capture();
    createLogger({ destination }).error(
      {
        message: 'secret plans',
        notification: { message: 'secret plans', channel_name: 'x' },
        job: { sender_name: 'alice', payload: { aps: {} }, signature: 'sig', id: 'job-1' },
        authorization: 'Bearer eyJhbGciOi',
      },
      'delivery failed',
    );
    const line = JSON.stringify(lines[0]);
    for (const secret of ['secret plans', 'alice', 'eyJhbGciOi', '"sig"']) expect(line).not.toContain(secret);
    expect(lines[0]).toMatchObject({
      job: { id: 'job-1', signature: '[redacted]' },
      authorization: '[redacted]',
    });
    expect(lines[0]).not.toHaveProperty('message');
    expect(lines[0]).not.toHaveProperty('notification');
    expect(lines[0]?.['msg']).toBe('delivery failed');
  });

  it('respects the level and serializes errors', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ destination, level: 'warn' });
    logger.info('not written');
    logger.error({ err: new Error('boom') }, 'failed');
    expect(lines).toHaveLength(1);
    expect(lines[0]?.['err']).toMatchObject({ type: 'Error', message: 'boom' });
  });

  it('redacts in child loggers too', () => {
    const { lines, destination } = capture();
    createLogger({ destination }).child({ component: 'worker' }).info({ device_id: TOKEN }, 'x');
    expect(lines[0]).toMatchObject({ component: 'worker', device_id: 'a1b2c3d4…' });
  });
});

describe('redactToken', () => {
  it('keeps the first 8 characters and leaves short values alone', () => {
    expect(redactToken(TOKEN)).toBe('a1b2c3d4…');
    expect(redactToken('abc')).toBe('abc');
    expect(redactToken('12345678')).toBe('12345678');
  });
});
