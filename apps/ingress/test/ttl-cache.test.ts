import { TtlCache } from '../src/ttl-cache';

function cache(options: { ttlMs?: number; maxEntries?: number; maxBytes?: number } = {}) {
  let now = 1_000;
  const c = new TtlCache<string>({
    ttlMs: options.ttlMs ?? 100,
    maxEntries: options.maxEntries ?? 1000,
    maxBytes: options.maxBytes ?? 1_000_000,
    sizeOf: (value) => value.length,
    now: () => now,
  });
  return { c, advance: (ms: number) => (now += ms) };
}

describe('TtlCache', () => {
  it('serves an entry until its time to live ends, then forgets it', () => {
    const { c, advance } = cache();
    c.set('a', 'x');
    advance(99);
    expect(c.get('a')).toBe('x');
    advance(1);
    expect(c.get('a')).toBeUndefined();
    expect(c.stats).toEqual({ entries: 0, bytes: 0 });
  });

  it('frees expired entries as new ones come, without waiting for an overflow', () => {
    const { c, advance } = cache({ ttlMs: 100 });
    for (let i = 0; i < 50; i++) c.set(`old${i}`, 'x');
    advance(150);
    c.set('new', 'x');
    // Every old entry expired and left when `new` was set; nothing read them.
    expect(c.stats.entries).toBe(1);
  });

  it('keeps at most maxEntries, dropping the oldest', () => {
    const { c } = cache({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c', 'd']) c.set(key, 'v');
    expect(c.stats.entries).toBe(3);
    expect(c.get('a')).toBeUndefined();
    expect(c.get('d')).toBe('v');
  });

  it('keeps at most maxBytes of estimated size, dropping the oldest, and refuses an entry larger than that', () => {
    const { c } = cache({ maxBytes: 1_000 });
    for (let i = 0; i < 20; i++) c.set(`k${i}`, 'v'.repeat(100));
    expect(c.stats.bytes).toBeLessThanOrEqual(1_000);
    expect(c.stats.entries).toBeGreaterThan(0);
    expect(c.get('k19')).toBe('v'.repeat(100));
    c.set('huge', 'v'.repeat(2_000));
    expect(c.get('huge')).toBeUndefined();
    expect(c.stats.bytes).toBeLessThanOrEqual(1_000);
  });

  it('moves a replaced entry to the back with a new time to live, and counts its bytes once', () => {
    const { c, advance } = cache({ ttlMs: 100 });
    c.set('a', 'one');
    const bytesOfOne = c.stats.bytes;
    advance(60);
    c.set('b', 'x');
    const bytesOfBoth = c.stats.bytes;
    c.set('a', 'one');
    expect(c.stats).toEqual({ entries: 2, bytes: bytesOfBoth });
    expect(bytesOfBoth).toBeGreaterThan(bytesOfOne);
    advance(50);
    // b (set at 60) and a (reset at 60) both live until 160.
    expect(c.get('a')).toBe('one');
    c.delete('a');
    expect(c.get('a')).toBeUndefined();
    expect(c.stats.entries).toBe(1);
  });

  it('stores nothing with a time to live of 0', () => {
    const { c } = cache({ ttlMs: 0 });
    c.set('a', 'x');
    expect(c.get('a')).toBeUndefined();
    expect(c.stats).toEqual({ entries: 0, bytes: 0 });
  });
});
