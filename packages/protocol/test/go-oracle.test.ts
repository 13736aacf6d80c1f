import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  decodeGoStruct,
  PUSH_NOTIFICATION_ACK_SCHEMA,
  PUSH_NOTIFICATION_SCHEMA,
  readFirstGoJsonValue,
  type GoStructSchema,
} from '@hpns/protocol';
import { anyBody } from './support/bodies';

/**
 * Differential test against Go itself: the same bodies go through Go's encoding/json (test/go-oracle, the
 * structs of the Mattermost model with their JSON tags, decoded as the proxy decodes them) and through our
 * reader + struct decoder; the error text or the decoded fields must be identical. CI installs Go
 * (.ci/run sets HPNS_REQUIRE_GO_ORACLE=1, so a missing toolchain fails there); locally it is skipped without Go.
 */

const hasGo = spawnSync('go', ['version']).status === 0;
if (!hasGo && process.env['HPNS_REQUIRE_GO_ORACLE'] === '1') {
  throw new Error('HPNS_REQUIRE_GO_ORACLE=1 but the go toolchain is not on PATH');
}
const describeWithGo = hasGo ? describe : describe.skip;

type Kind = 'push' | 'ack';
type OracleAnswer = { error: string } | { value: Record<string, unknown> };

function buildOracle(): string {
  const dir = join(tmpdir(), 'hpns-go-oracle');
  mkdirSync(dir, { recursive: true });
  const binary = join(dir, 'gooracle');
  const built = spawnSync('go', ['build', '-o', binary, '.'], {
    cwd: join(__dirname, 'go-oracle'),
    env: {
      ...process.env,
      GOCACHE: join(dir, 'cache'),
      GOFLAGS: '-mod=mod',
      GOPROXY: 'off',
      GOTOOLCHAIN: 'local',
    },
    encoding: 'utf8',
  });
  if (built.status !== 0) throw new Error(`go build failed: ${built.stderr}`);
  return binary;
}

function askGo(binary: string, inputs: readonly [Kind, string][]): OracleAnswer[] {
  const lines = inputs
    .map(([kind, body]) => `${kind} ${Buffer.from(body, 'utf8').toString('base64')}\n`)
    .join('');
  const run = spawnSync(binary, { input: lines, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`oracle failed: ${run.stderr}`);
  return run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as OracleAnswer);
}

function decodeLikeGo(body: string, schema: GoStructSchema): OracleAnswer {
  const read = readFirstGoJsonValue(body);
  if (!read.ok) return { error: read.error };
  const decoded = decodeGoStruct<Record<string, unknown>>(read.value, schema);
  const typeError = decoded.typeErrors[0];
  return typeError === undefined ? { value: decoded.value } : { error: typeError };
}

describeWithGo('Go-semantics decoding, compared with Go encoding/json', () => {
  let binary = '';
  beforeAll(() => {
    binary = buildOracle();
  }, 120_000);

  const compare = (kind: Kind, bodies: string[]) => {
    // Go reads bytes; a JS lone surrogate has no byte form, so both sides get the well-formed text.
    const wellFormed = bodies.map((body) => body.toWellFormed());
    const answers = askGo(
      binary,
      wellFormed.map((body) => [kind, body]),
    );
    const schema = kind === 'push' ? PUSH_NOTIFICATION_SCHEMA : PUSH_NOTIFICATION_ACK_SCHEMA;
    const mismatches = wellFormed
      .map((body, i) => ({ body, go: answers[i], ours: decodeLikeGo(body, schema) }))
      .filter(
        ({ go, ours }) => JSON.stringify(go) !== JSON.stringify(ours === undefined ? ours : normalise(ours)),
      );
    expect(mismatches.slice(0, 5)).toEqual([]);
    return answers;
  };

  /** Go prints structs with its own key order; compare field by field through sorted keys. */
  const normalise = (answer: OracleAnswer): OracleAnswer =>
    'value' in answer
      ? { value: Object.fromEntries(Object.entries(answer.value).sort(([a], [b]) => (a < b ? -1 : 1))) }
      : answer;

  it('agrees on 5,000 generated send_push bodies (errors word for word, values field by field)', () => {
    const bodies = fc.sample(anyBody, { numRuns: 5_000, seed: Date.now() >>> 0 });
    const answers = compare('push', bodies);
    // Both outcomes must be well represented for the comparison to mean something.
    expect(answers.filter((a) => 'value' in a).length).toBeGreaterThan(1_000);
    expect(answers.filter((a) => 'error' in a).length).toBeGreaterThan(1_000);
  });

  it('agrees on hand-picked edge cases', () => {
    compare('push', [
      '',
      ' \n',
      '{',
      '{"badge":1.0}',
      '{"badge":1e2}',
      '{"badge":-0}',
      '{"badge":7}',
      '{"badge":9223372036854775807}',
      '{"badge":9223372036854775808}',
      '{"badge":"1"}',
      '{"BADGE":2,"badge":null}',
      '{"\u212aey":1,"Device_ID":"d","ſerver_id":"s"}',
      '{"is_crt_enabled":1,"badge":"x"}',
      '{"message":"\\ud800\\udc00 \\ud800 x"}',
      '[1,2]',
      '"str"',
      '123abc',
      'nul',
      '{"a":[' + '['.repeat(10_001) + ']'.repeat(10_001) + ']}',
      '{"server_id":"s"} trailing garbage {',
      '{"é":1}',
      '\u00e9',
      '{"message":"\u0001"}',
      '{"x":tru}',
      '{"x":-}',
      '{"x":01}',
      '{"x":1.}',
      '{"x":1e}',
      '{"x":"\\x"}',
      '{"x":"\\u12"}',
    ]);
  });

  it('agrees on 2,000 generated ack bodies', () => {
    compare('ack', fc.sample(anyBody, { numRuns: 2_000, seed: (Date.now() >>> 0) + 1 }));
  });
});
