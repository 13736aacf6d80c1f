import { ArrivalSchedule, parseDuration, parseStages } from '../src/schedule';

describe('ArrivalSchedule', () => {
  test('a constant rate spaces requests 1/rate apart from 0', () => {
    const s = ArrivalSchedule.constant(1000, 2000);
    expect(s.total).toBe(2000);
    expect(s.timeOf(0)).toBe(0);
    expect(s.timeOf(1)).toBeCloseTo(1, 9);
    expect(s.timeOf(1999)).toBeCloseTo(1999, 6);
  });

  test('a ramp puts request n where the integral of the rate reaches n', () => {
    // 0 → 1000/s over 10 s: A(t) = 50·t² arrivals, 5,000 in all.
    const s = new ArrivalSchedule([{ durationMs: 10_000, rate: 1000 }]);
    expect(s.total).toBe(5000);
    for (const n of [1, 50, 200, 1250, 4999]) expect(s.timeOf(n)).toBeCloseTo(Math.sqrt(n / 50) * 1000, 6);
    // Times never go backwards, and each lies within its stage.
    let previous = -1;
    for (let n = 0; n < s.total; n += 1) {
      const t = s.timeOf(n);
      expect(t).toBeGreaterThanOrEqual(previous);
      previous = t;
    }
    expect(previous).toBeLessThan(10_000);
  });

  test('stages ramp from the previous rate, hold, ramp down, and a zero stage sends nothing', () => {
    const s = new ArrivalSchedule(parseStages('2s:100,2s:100,1s:0,1s:0,1s:100'));
    // 100 + 200 + 50 + 0 + 50
    expect(s.total).toBe(400);
    expect(s.arrivalsBefore(2000)).toBeCloseTo(100, 9);
    expect(s.timeOf(150)).toBeCloseTo(2500, 6);
    // The last request before the silence is in the ramp down; the next one comes after the zero stage.
    expect(s.timeOf(349)).toBeLessThan(5000);
    expect(s.timeOf(350)).toBeCloseTo(5000, 6);
    expect(s.timeOf(351)).toBeCloseTo(6000 + Math.sqrt(1 / 50) * 1000, 6);
    expect(s.rateAt(4500)).toBeCloseTo(50, 9);
  });

  test('bad stages and durations get errors that say what is wrong', () => {
    expect(() => parseStages('30s')).toThrow(/"30s" is not DURATION:RATE/);
    expect(() => parseStages('')).toThrow(/no stage/);
    expect(() => parseDuration('fast', '--duration')).toThrow(/--duration: "fast" is not a duration/);
    expect(() => parseDuration('0s', '--duration')).toThrow(/longer than 0/);
    expect(parseDuration('1.5m', '--duration')).toBe(90_000);
    expect(() => s0()).toThrow(/outside the schedule/);
  });
});

function s0(): number {
  return ArrivalSchedule.constant(10, 1000).timeOf(10);
}
