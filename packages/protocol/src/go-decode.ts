import { type GoJsonObject, type GoJsonValue } from './go-json';

/**
 * Decoding of a JSON value (from readFirstGoJsonValue) into a flat record, with Go encoding/json's rules for
 * struct fields:
 *
 * - a key matches a field by exact name first, then case-insensitively (Go's `bytes.EqualFold`, under which the
 *   Kelvin sign folds to `k` and the long s to `s`);
 * - unknown keys are ignored (and reported, for callers that warn about them);
 * - `null` leaves the field as it is; a later duplicate key overwrites an earlier one;
 * - a value of the wrong type is an error, but decoding goes on, and the first such error is the one Go returns;
 * - an `int` takes only an integer literal in the int64 range (`1.0`, `1e2` and `"1"` are errors).
 */

export type GoFieldKind = 'string' | 'bool' | 'int' | 'int64';

/** A Go struct: its type name (for error texts) and its fields by JSON name. */
export interface GoStructSchema {
  /** Type name as Go prints it in a top-level error, e.g. `model.PushNotification`. */
  readonly qualifiedName: string;
  /** Type name as Go prints it for a field error, e.g. `PushNotification`. */
  readonly name: string;
  readonly fields: Readonly<Record<string, GoFieldKind>>;
}

export interface GoDecodeResult<T> {
  readonly value: T;
  /** Go-worded type errors, first one first (Go reports only the first). */
  readonly typeErrors: string[];
  /** Keys that matched no field, as written in the input. */
  readonly unknownKeys: string[];
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INTEGER_LITERAL = /^-?(?:0|[1-9][0-9]*)$/;

/** Folds a key the way Go's case-insensitive field match does, for ASCII field names. */
export function foldGoKey(key: string): string {
  let folded = '';
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) folded += String.fromCharCode(c + 0x20);
    else if (c === 0x212a) folded += 'k';
    else if (c === 0x017f) folded += 's';
    else folded += key[i];
  }
  return folded;
}

function zeroValue(kind: GoFieldKind): string | boolean | number {
  if (kind === 'string') return '';
  if (kind === 'bool') return false;
  return 0;
}

/** Go's name for the JSON type of a value, as it appears in UnmarshalTypeError texts. */
function goValueName(value: Exclude<GoJsonValue, null>): string {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  return value.kind;
}

interface CompiledSchema {
  readonly schema: GoStructSchema;
  readonly names: string[];
  readonly byFoldedName: Map<string, string>;
}

const compiled = new WeakMap<GoStructSchema, CompiledSchema>();

function compile(schema: GoStructSchema): CompiledSchema {
  let entry = compiled.get(schema);
  if (entry === undefined) {
    const names = Object.keys(schema.fields);
    entry = { schema, names, byFoldedName: new Map(names.map((name) => [foldGoKey(name), name])) };
    compiled.set(schema, entry);
  }
  return entry;
}

function matchField(entry: CompiledSchema, key: string): string | undefined {
  if (Object.prototype.hasOwnProperty.call(entry.schema.fields, key)) return key;
  return entry.byFoldedName.get(foldGoKey(key));
}

/**
 * Converts one member value to the field's kind, or returns the Go type error text.
 * `undefined` means "assign nothing" (JSON null).
 */
function convert(
  schema: GoStructSchema,
  field: string,
  kind: GoFieldKind,
  value: GoJsonValue,
): { ok: true; value: string | boolean | number | undefined } | { ok: false; error: string } {
  if (value === null) return { ok: true, value: undefined };
  const mismatch = (valueName: string) => ({
    ok: false as const,
    error: `json: cannot unmarshal ${valueName} into Go struct field ${schema.name}.${field} of type ${kind}`,
  });
  switch (kind) {
    case 'string':
      return typeof value === 'string' ? { ok: true, value } : mismatch(goValueName(value));
    case 'bool':
      return typeof value === 'boolean' ? { ok: true, value } : mismatch(goValueName(value));
    case 'int':
    case 'int64': {
      if (typeof value !== 'object' || value.kind !== 'number') return mismatch(goValueName(value));
      const text = value.text;
      if (!INTEGER_LITERAL.test(text)) return mismatch(`number ${text}`);
      if (text.length > 15) {
        const big = BigInt(text);
        if (big < INT64_MIN || big > INT64_MAX) return mismatch(`number ${text}`);
      }
      // Values past 2^53 lose precision here; no field of the wire protocol carries such numbers.
      // `|| 0` turns -0 into Go's 0.
      return { ok: true, value: Number(text) || 0 };
    }
  }
}

/** Decodes `value` into a record of `schema`'s fields (zero values where absent). */
export function decodeGoStruct<T>(value: GoJsonValue, schema: GoStructSchema): GoDecodeResult<T> {
  const entry = compile(schema);
  const out: Record<string, string | boolean | number> = {};
  for (const name of entry.names) out[name] = zeroValue(schema.fields[name] as GoFieldKind);
  const typeErrors: string[] = [];
  const unknownKeys: string[] = [];
  if (value === null) return { value: out as T, typeErrors, unknownKeys };
  if (typeof value !== 'object' || value.kind !== 'object') {
    typeErrors.push(
      `json: cannot unmarshal ${goValueName(value)} into Go value of type ${schema.qualifiedName}`,
    );
    return { value: out as T, typeErrors, unknownKeys };
  }
  const object: GoJsonObject = value;
  for (let i = 0; i < object.keys.length; i++) {
    const key = object.keys[i] as string;
    const field = matchField(entry, key);
    if (field === undefined) {
      unknownKeys.push(key);
      continue;
    }
    const converted = convert(
      schema,
      field,
      schema.fields[field] as GoFieldKind,
      object.values[i] as GoJsonValue,
    );
    if (!converted.ok) typeErrors.push(converted.error);
    else if (converted.value !== undefined) out[field] = converted.value;
  }
  return { value: out as T, typeErrors, unknownKeys };
}
