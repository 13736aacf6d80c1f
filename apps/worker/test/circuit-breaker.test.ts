import { CircuitBreaker, type CircuitState } from '../src/circuit-breaker';

function setup(options = {}) {
  let now = 1_000_000;
  const states: CircuitState[] = [];
  const breaker = new CircuitBreaker({
    windowMs: 10_000,
    minimumAttempts: 10,
    failureRatio: 0.5,
    openMs: 5000,
    now: () => now,
    onStateChange: (state) => states.push(state),
    ...options,
  });
  return { breaker, states, advance: (ms: number) => (now += ms) };
}

describe('CircuitBreaker', () => {
  it('stays closed below the minimum number of attempts, even if all fail', () => {
    const { breaker } = setup();
    for (let i = 0; i < 9; i++) breaker.record(false);
    expect(breaker.state).toBe('closed');
    expect(breaker.acquire()).toBe(0);
  });

  it('opens when most attempts in the window fail, and tells callers how long to wait', () => {
    const { breaker, states, advance } = setup();
    for (let i = 0; i < 5; i++) breaker.record(true);
    for (let i = 0; i < 5; i++) breaker.record(false);
    expect(breaker.state).toBe('open');
    expect(states).toEqual(['open']);
    expect(breaker.acquire()).toBe(5000);
    advance(2000);
    expect(breaker.acquire()).toBe(3000);
  });

  it('forgets failures older than the window', () => {
    const { breaker, advance } = setup();
    for (let i = 0; i < 9; i++) breaker.record(false);
    advance(11_000);
    for (let i = 0; i < 9; i++) breaker.record(true);
    breaker.record(false);
    expect(breaker.state).toBe('closed');
  });

  it('lets exactly one probe through when half-open, and closes on its success', () => {
    const { breaker, states, advance } = setup();
    for (let i = 0; i < 10; i++) breaker.record(false);
    advance(5000);
    expect(breaker.state).toBe('half_open');
    expect(breaker.acquire()).toBe(0);
    expect(breaker.acquire()).toBeGreaterThan(0);
    breaker.record(true);
    expect(breaker.state).toBe('closed');
    expect(states).toEqual(['open', 'half_open', 'closed']);
    expect(breaker.acquire()).toBe(0);
  });

  it('opens again when the probe fails', () => {
    const { breaker, states, advance } = setup();
    for (let i = 0; i < 10; i++) breaker.record(false);
    advance(5000);
    expect(breaker.acquire()).toBe(0);
    breaker.record(false);
    expect(breaker.state).toBe('open');
    expect(breaker.acquire()).toBe(5000);
    expect(states).toEqual(['open', 'half_open', 'open']);
  });
});
