import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startTestRedis, TestRedis } from '@hpns/testkit';

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

describe('ports of test servers', () => {
  it('refuses to start on a port another server already answers on (its PONG is not ours)', async () => {
    const holder = await startTestRedis();
    const dir = mkdtempSync(join(tmpdir(), 'hpns-redis-stolen-'));
    try {
      const latecomer = new TestRedis(holder.port, dir, {});
      await expect(latecomer.start()).rejects.toThrow(/is held by another server/);
      expect(latecomer.pid).toBeUndefined();
    } finally {
      await holder.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hands out each port once, marked for the other test processes of the machine', async () => {
    const ports = await Promise.all(Array.from({ length: 40 }, () => freePort()));
    expect(new Set(ports).size).toBe(40);
    for (const port of ports) {
      expect(readFileSync(join(tmpdir(), 'hpns-test-ports', String(port)), 'utf8')).toBe(String(process.pid));
    }
  });
});
