import { connect } from 'node:net';
import { startTestRedis } from '@hpns/testkit';

function command(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString());
    });
    socket.once('error', reject);
  });
}

describe('startTestRedis', () => {
  it('starts a private redis-server, survives a SIGKILL restart with AOF, and cleans up', async () => {
    const redis = await startTestRedis({ appendOnly: true });
    try {
      expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
      expect(await command(redis.port, 'CONFIG GET maxmemory-policy\r\n')).toContain('noeviction');
      expect(await command(redis.port, 'SET k v\r\n')).toBe('+OK\r\n');
      // everysec fsync: wait for the AOF to be written before the crash, so the key must survive it.
      await command(redis.port, 'BGREWRITEAOF\r\n');
      for (
        let i = 0;
        i < 100 && !(await command(redis.port, 'INFO persistence\r\n')).includes('aof_rewrite_in_progress:0');
        i++
      ) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const pid = redis.pid;
      await redis.restart('SIGKILL');
      expect(redis.pid).not.toBe(pid);
      expect(await command(redis.port, 'GET k\r\n')).toBe('$1\r\nv\r\n');
    } finally {
      await redis.stop();
    }
    expect(redis.pid).toBeUndefined();
  });
});
