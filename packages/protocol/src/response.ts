/**
 * The send_push / ack answer the Mattermost server reads: HTTP 200 and a JSON object whose values are all
 * strings (the server decodes into `map[string]string`; any other value type makes it treat the send as an
 * error). Encoded byte for byte as the Go proxy does: keys sorted, Go's escaping of `<`, `>`, `&`, U+2028 and
 * U+2029, and a trailing newline (reference/mattermost-wire.md §1.6).
 */

export type PushStatus = 'OK' | 'REMOVE' | 'FAIL';

export type PushResponse = { status: 'OK' } | { status: 'REMOVE' } | { status: 'FAIL'; error: string };

const GO_ESCAPES: Readonly<Record<string, string>> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** A JSON string literal as Go's encoding/json writes it (HTML-safe escaping). */
export function goJsonString(value: string): string {
  if (!value.isWellFormed()) {
    // Go holds no lone surrogates; its encoder writes invalid UTF-8 as the escape \ufffd, so a JS lone
    // surrogate (the nearest thing) is written the same way.
    const parts = value.split(LONE_SURROGATE).map((part) => goJsonString(part).slice(1, -1));
    return `"${parts.join('\\ufffd')}"`;
  }
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c] as string);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Encodes any string map as Go does: keys sorted by their UTF-8 bytes, string values, newline at the end. */
export function encodeStringMap(map: Readonly<Record<string, string>>): string {
  // Go sorts map keys as UTF-8 byte strings; JS's default sort compares UTF-16 units, which differs for
  // U+E000–U+FFFF against astral characters.
  const keys = Object.keys(map).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const members = keys.map((key) => `${goJsonString(key)}:${goJsonString(map[key] as string)}`);
  return `{${members.join(',')}}\n`;
}

const OK_BODY = encodeStringMap({ status: 'OK' });
const REMOVE_BODY = encodeStringMap({ status: 'REMOVE' });

/** The response body for a send_push or ack outcome. */
export function encodePushResponse(response: PushResponse): string {
  switch (response.status) {
    case 'OK':
      return OK_BODY;
    case 'REMOVE':
      return REMOVE_BODY;
    case 'FAIL':
      return encodeStringMap({ status: 'FAIL', error: response.error });
  }
}

/**
 * Reads back a PushResponse that HPNS wrote as JSON (an outcome message, a remembered final outcome): the status
 * is one of the three, and a FAIL carries a string error and nothing else carries one (the Mattermost server
 * decodes the answer as map[string]string, §1.6). Undefined for anything else.
 */
export function parsePushResponse(value: unknown): PushResponse | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { status, error } = value as { status?: unknown; error?: unknown };
  if (status === 'FAIL') return typeof error === 'string' ? { status, error } : undefined;
  if ((status === 'OK' || status === 'REMOVE') && error === undefined) return { status };
  return undefined;
}

/** Shorthand for a FAIL answer. */
export function failResponse(error: string): PushResponse {
  return { status: 'FAIL', error };
}
