import { CallerThrottle } from '../src/throttle';

describe('CallerThrottle (ThrottlePerSec)', () => {
  let now = 1_000_000;
  const clock = () => now;

  it('lets perSec requests through in each one-second window, then refuses until the window ends', () => {
    const throttle = new CallerThrottle({ perSec: 3, storeSize: 10, varyByHeaders: [], now: clock });
    const seen = Array.from({ length: 5 }, () => throttle.take('a'));
    expect(seen.map((d) => d.allowed)).toEqual([true, true, true, false, false]);
    expect(seen.map((d) => d.remaining)).toEqual([2, 1, 0, 0, 0]);
    expect(seen[3]).toMatchObject({ limit: 3, resetSec: 1 });
    now += 999;
    expect(throttle.take('a').allowed).toBe(false);
    now += 1;
    expect(throttle.take('a')).toMatchObject({ allowed: true, remaining: 2 });
    expect(throttle.take('b').allowed).toBe(true);
  });

  it('remembers at most storeSize callers, forgetting the least recently seen first', () => {
    const throttle = new CallerThrottle({ perSec: 1, storeSize: 2, varyByHeaders: [], now: clock });
    throttle.take('a');
    throttle.take('b');
    throttle.take('a'); // a is now the most recent (and refused)
    throttle.take('c'); // b is forgotten
    expect(throttle.size).toBe(2);
    expect(throttle.take('a').allowed).toBe(false); // still remembered: its window holds
    expect(throttle.take('b').allowed).toBe(true); // forgotten: a new window
  });

  it('keys a caller by the configured headers, lower-cased, else by its address', () => {
    const throttle = new CallerThrottle({
      perSec: 1,
      storeSize: 10,
      varyByHeaders: ['X-Forwarded-For', 'X-Real-IP'],
    });
    expect(throttle.keyOf({ 'x-forwarded-for': '198.51.100.7' }, '10.0.0.1')).toBe('h:198.51.100.7\n');
    expect(throttle.keyOf({ 'x-forwarded-for': 'ABC', 'x-real-ip': 'Def' }, '10.0.0.1')).toBe('h:abc\ndef');
    expect(throttle.keyOf({}, '10.0.0.1')).toBe('a:10.0.0.1');
    expect(
      new CallerThrottle({ perSec: 1, storeSize: 1, varyByHeaders: [] }).keyOf(
        { 'x-forwarded-for': 'x' },
        '::1',
      ),
    ).toBe('a:::1');
  });
});
