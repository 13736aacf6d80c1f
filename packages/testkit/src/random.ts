/**
 * Seeded randomness for the simulators: faults and latencies must be repeatable from a seed, so that a failing
 * test or a load-test report can be reproduced.
 */

/** A uniform random number generator on [0, 1). */
export type Rng = () => number;

/** A small, fast seeded generator (mulberry32). Not for cryptography. */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Response latency: a log-normal distribution given by its median and 99th percentile. */
export interface LatencyProfile {
  /** Median delay in ms; 0 means no added delay at all. */
  p50Ms: number;
  /** 99th percentile in ms (≥ p50Ms). Default: p50Ms (a fixed delay). */
  p99Ms?: number;
}

/** z of the standard normal's 99th percentile. */
const Z99 = 2.3263478740408408;

/** Returns a sampler of delays in ms, drawn from `profile` with `rng`. */
export function createLatencySampler(profile: LatencyProfile, rng: Rng): () => number {
  const { p50Ms } = profile;
  const p99Ms = Math.max(profile.p99Ms ?? p50Ms, p50Ms);
  if (p50Ms <= 0) return () => 0;
  const mu = Math.log(p50Ms);
  const sigma = (Math.log(p99Ms) - mu) / Z99;
  return () => {
    if (sigma === 0) return p50Ms;
    // Box–Muller: two uniforms → one standard normal.
    const u1 = Math.max(rng(), Number.EPSILON);
    const u2 = rng();
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    return Math.exp(mu + sigma * z);
  };
}
