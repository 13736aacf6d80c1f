import fc from 'fast-check';
import { PUSH_NOTIFICATION_SCHEMA } from '@hpns/protocol';

/**
 * Generators of send_push bodies for property tests: well-formed objects whose keys vary in case, repeat, or
 * are unknown, with values of every JSON type; the same texts mutated (cut, spliced, garbage appended); and
 * arbitrary text.
 */

export const FIELD_NAMES = Object.keys(PUSH_NOTIFICATION_SCHEMA.fields);
export const PLATFORMS = [
  'apple_rn',
  'apple_rn-v2',
  'android_rn',
  'android_rn-v2',
  'apple_voip_rn',
  'apple_rn-vx',
  'nope',
];

/** A key that Go would match to `name`: random letter case, sometimes the Kelvin sign or long s. */
const keyVariant = (name: string): fc.Arbitrary<string> =>
  fc.array(fc.nat(5), { minLength: name.length, maxLength: name.length }).map((choices) =>
    [...name]
      .map((ch, i) => {
        const choice = choices[i] as number;
        if (ch === 'k' && choice === 5) return '\u212a';
        if (ch === 's' && choice === 5) return '\u017f';
        return choice % 2 === 0 ? ch : ch.toUpperCase();
      })
      .join(''),
  );

const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('hello :smile:', '::+1:', ':flag-de: hi', 'é€😀', '<a&b>', '\u2028', ''),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

export const jsonScalar: fc.Arbitrary<unknown> = fc.oneof(
  text,
  fc.integer({ min: -5, max: 100 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);

export const jsonAny: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: jsonScalar },
  { weight: 1, arbitrary: fc.array(jsonScalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 5 }), jsonScalar, { maxKeys: 3 }) },
);

/** A value that has the right type for the field most of the time. */
const fieldValue = (name: string): fc.Arbitrary<unknown> => {
  if (name === 'platform')
    return fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...PLATFORMS) },
      { weight: 1, arbitrary: jsonAny },
    );
  if (name === 'server_id' || name === 'device_id') {
    return fc.oneof(
      { weight: 10, arbitrary: fc.string({ minLength: 1, maxLength: 30 }) },
      { weight: 1, arbitrary: jsonAny },
    );
  }
  const kind = PUSH_NOTIFICATION_SCHEMA.fields[name];
  const typed = kind === 'bool' ? fc.boolean() : kind === 'int' ? fc.integer({ min: -1, max: 500 }) : text;
  return fc.oneof({ weight: 20, arbitrary: typed }, { weight: 1, arbitrary: jsonAny });
};

export type Member = [key: string, value: unknown];

const member: fc.Arbitrary<Member> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .constantFrom(...FIELD_NAMES)
      .chain((name) => fc.tuple(fc.oneof(fc.constant(name), keyVariant(name)), fieldValue(name))),
  },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('id', 'app_version', 'extra', 'serverid', ''), jsonAny) },
);

const required: fc.Arbitrary<Member[]> = fc
  .tuple(
    fc.tuple(fc.constant('server_id'), fieldValue('server_id')),
    fc.tuple(fc.constant('device_id'), fieldValue('device_id')),
    fc.tuple(fc.constant('platform'), fieldValue('platform')),
  )
  .map((members) => members as Member[]);

/** Object members in document order, duplicates possible. */
export const members: fc.Arbitrary<Member[]> = fc
  .tuple(fc.boolean(), required, fc.array(member, { maxLength: 12 }))
  .chain(([withRequired, req, rest]) => {
    const all = withRequired ? [...req, ...rest] : rest;
    return fc.shuffledSubarray(all, { minLength: all.length });
  });

const space = fc.constantFrom('', '', '', ' ', '\n', '\t', '\r\n  ');

/** Serialises members as a JSON object text, with random whitespace. */
export const objectText: fc.Arbitrary<{ members: Member[]; text: string }> = fc
  .tuple(members, space, space)
  .map(([m, s1, s2]) => ({
    members: m,
    text: `${s1}{${m.map(([k, v]) => `${JSON.stringify(k)}${s2}:${s1}${JSON.stringify(v)}`).join(`,${s2}`)}}${s2}`,
  }));

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    what: fc.constantFrom(
      '"',
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      '\\',
      'x',
      '0',
      '-',
      '.',
      'e',
      'n',
      '\u0000',
      '\n',
      'é',
      ' ',
    ),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), what: fc.string({ maxLength: 8 }) }),
);

function mutate(text: string, m: { kind: string; at?: number; what?: string }): string {
  const at = text.length === 0 ? 0 : (m.at ?? 0) % text.length;
  switch (m.kind) {
    case 'cut':
      return text.slice(0, at);
    case 'insert':
      return text.slice(0, at) + (m.what as string) + text.slice(at);
    case 'delete':
      return text.slice(0, at) + text.slice(at + 1);
    default:
      return text + (m.what as string);
  }
}

/** Any send_push body text: valid objects, mutated objects, other JSON values, arbitrary text. */
export const anyBody: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: objectText.map((o) => o.text) },
  { weight: 4, arbitrary: fc.tuple(objectText, mutation).map(([o, m]) => mutate(o.text, m)) },
  { weight: 1, arbitrary: jsonAny.map((v) => JSON.stringify(v) ?? '') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
);
