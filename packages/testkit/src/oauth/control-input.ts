import { type LatencyProfile } from '../random';

/**
 * Checks of control-API request bodies. A failed check throws; ControlRouter turns that into a 400 with the
 * message, so a test that sends a bad body learns why at once.
 */

export type JsonObject = Record<string, unknown>;

export function asObject(value: unknown, what = 'body'): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${what} must be a JSON object`);
  }
  return value as JsonObject;
}

/** A string field under its snake_case or camelCase name. */
export function stringField(object: JsonObject, snake: string, required: true): string;
export function stringField(object: JsonObject, snake: string, required?: false): string | undefined;
export function stringField(object: JsonObject, snake: string, required = false): string | undefined {
  const camel = snake.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
  const value = object[snake] ?? object[camel];
  if (value === undefined || value === null) {
    if (required) throw new Error(`${snake} is required`);
    return undefined;
  }
  if (typeof value !== 'string') throw new Error(`${snake} must be a string`);
  return value;
}

export function optionalNumber(object: JsonObject, name: string): number | undefined {
  const value = object[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${name} must be a number`);
  return value;
}

export function optionalBoolean(object: JsonObject, name: string): boolean | undefined {
  const value = object[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new Error(`${name} must be a boolean`);
  return value;
}

export function oneOf<T extends string>(value: unknown, allowed: readonly T[], name: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new Error(`${name} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

export function parseLatency(value: unknown): LatencyProfile {
  const object = asObject(value, 'latency');
  const p50Ms = optionalNumber(object, 'p50Ms');
  const p99Ms = optionalNumber(object, 'p99Ms');
  if (p50Ms === undefined || p50Ms < 0) throw new Error('latency.p50Ms must be a number ≥ 0');
  return p99Ms === undefined ? { p50Ms } : { p50Ms, p99Ms };
}

/** `{ "fault": {...}, "count": 3 }` → the fault (checked by `parseFault`) and its count (default 1). */
export function parseInjection<F>(
  body: unknown,
  parseFault: (value: unknown) => F,
): { fault: F; count: number } {
  const object = asObject(body);
  const count = optionalNumber(object, 'count') ?? 1;
  return { fault: parseFault(object.fault), count };
}

/** `{ "rates": [{ "kind": "...", "rate": 0.1, ... }] }`. */
export function parseRates<F>(body: unknown, parseFault: (value: unknown) => F): (F & { rate: number })[] {
  const rates = asObject(body).rates;
  if (!Array.isArray(rates)) throw new Error('rates must be an array');
  return rates.map((entry: unknown) => {
    const rate = optionalNumber(asObject(entry, 'rate entry'), 'rate');
    if (rate === undefined) throw new Error('rate is required');
    return { ...parseFault(entry), rate };
  });
}
