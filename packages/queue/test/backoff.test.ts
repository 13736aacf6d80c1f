import { reconnectDelayMs, retryDelayMs } from '@hpns/queue';

describe('retryDelayMs', () => {
  it('draws uniformly below an exponential cap (full jitter)', () => {
    expect(retryDelayMs(1, {}, () => 0.999)).toBe(999);
    expect(retryDelayMs(2, {}, () => 0.5)).toBe(1000);
    expect(retryDelayMs(4, {}, () => 0.999)).toBe(7992);
    expect(retryDelayMs(1, {}, () => 0)).toBe(0);
  });

  it('never exceeds the maximum delay, however many attempts', () => {
    expect(retryDelayMs(200, { maxDelayMs: 60_000 }, () => 0.999_999)).toBeLessThanOrEqual(60_000);
  });

  it('never retries sooner than Retry-After', () => {
    expect(retryDelayMs(1, {}, () => 0.1, 30_000)).toBe(30_000);
    expect(retryDelayMs(10, { baseDelayMs: 1000 }, () => 0.9, 2_000)).toBeGreaterThan(2_000);
  });
});

describe('reconnectDelayMs', () => {
  it('backs off from 1 s to 20 s', () => {
    expect(reconnectDelayMs(1)).toBe(1000);
    expect(reconnectDelayMs(8)).toBeCloseTo(Math.exp(8));
    expect(reconnectDelayMs(50)).toBe(20_000);
  });
});
