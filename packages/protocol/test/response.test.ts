import fc from 'fast-check';
import {
  decodeSendPush,
  encodePushResponse,
  encodeStringMap,
  failResponse,
  goJsonString,
  readFirstGoJsonValue,
} from '@hpns/protocol';

const bytes = (text: string) => [...Buffer.from(text, 'utf8')];

describe('encodePushResponse', () => {
  it('writes OK as {"status":"OK"} and a newline (reference §1.6)', () => {
    expect(encodePushResponse({ status: 'OK' })).toBe('{"status":"OK"}\n');
    expect(bytes(encodePushResponse({ status: 'OK' }))).toEqual(bytes('{"status":"OK"}\n'));
  });

  it('writes REMOVE as {"status":"REMOVE"} and a newline', () => {
    expect(encodePushResponse({ status: 'REMOVE' })).toBe('{"status":"REMOVE"}\n');
  });

  it('writes FAIL with the error key first (Go sorts map keys) and a newline', () => {
    expect(encodePushResponse({ status: 'FAIL', error: 'boom' })).toBe('{"error":"boom","status":"FAIL"}\n');
    expect(encodePushResponse(failResponse('Failed because of missing server Id'))).toBe(
      '{"error":"Failed because of missing server Id","status":"FAIL"}\n',
    );
  });

  it('writes an empty error text as an empty string', () => {
    expect(encodePushResponse(failResponse(''))).toBe('{"error":"","status":"FAIL"}\n');
  });

  it('escapes a decoder error text the way the Go proxy does', () => {
    const result = decodeSendPush('<html>', () => 'apns');
    expect(result.ok).toBe(false);
    const error = result.ok ? '' : result.error;
    expect(encodePushResponse(failResponse(error))).toBe(
      '{"error":"Failed to read message body: invalid character \'\\u003c\' looking for beginning of value","status":"FAIL"}\n',
    );
  });

  it('writes non-ASCII text as raw UTF-8', () => {
    const body = encodePushResponse(failResponse('café 😄'));
    expect(body).toBe('{"error":"café 😄","status":"FAIL"}\n');
    expect(Buffer.from(body, 'utf8').toString('utf8')).toBe(body);
  });

  it('answers only string values, which the server reads into map[string]string', () => {
    for (const response of [{ status: 'OK' }, { status: 'REMOVE' }, failResponse('x')] as const) {
      const parsed: Record<string, unknown> = JSON.parse(encodePushResponse(response));
      expect(Object.values(parsed).every((value) => typeof value === 'string')).toBe(true);
      expect(parsed).toEqual(response);
    }
  });
});

describe('failResponse', () => {
  it('builds a FAIL answer with the error text', () => {
    expect(failResponse('expired')).toEqual({ status: 'FAIL', error: 'expired' });
  });
});

describe('goJsonString', () => {
  it.each([
    ['<', '"\\u003c"'],
    ['>', '"\\u003e"'],
    ['&', '"\\u0026"'],
    ['\u2028', '"\\u2028"'],
    ['\u2029', '"\\u2029"'],
    ['"', '"\\""'],
    ['\\', '"\\\\"'],
    ['\n', '"\\n"'],
    ['\r', '"\\r"'],
    ['\t', '"\\t"'],
    ['\b', '"\\b"'],
    ['\f', '"\\f"'],
    ['\u0000', '"\\u0000"'],
    ['\u001f', '"\\u001f"'],
  ])('escapes %j as %s', (input, expected) => {
    expect(goJsonString(input)).toBe(expected);
  });

  it('escapes every control character as Go 1.22+ does (\\b \\f \\n \\r \\t short, others \\u00xx in lower case)', () => {
    const short: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r' };
    for (let c = 0; c < 0x20; c++) {
      const expected = short[c] ?? `\\u00${c.toString(16).padStart(2, '0')}`;
      expect(goJsonString(String.fromCharCode(c))).toBe(`"${expected}"`);
    }
  });

  it.each([
    ['slash', '/'],
    ['DEL U+007F', '\u007f'],
    ['no-break space', '\u00a0'],
    ['BOM', '\ufeff'],
    ['accented letter', 'é'],
    ['astral emoji', '😄'],
    ['single quote', "'"],
  ])('leaves %s unescaped, as Go does', (_name, input) => {
    expect(goJsonString(input)).toBe(`"${input}"`);
  });

  it('escapes HTML characters inside longer text', () => {
    expect(goJsonString('a<b>&c "d"')).toBe('"a\\u003cb\\u003e\\u0026c \\"d\\""');
  });

  it('writes lone surrogates as \\ufffd escapes, so the output is well-formed and Go reads U+FFFD', () => {
    for (const input of ['\ud800', '\udfff', 'a\ud83dz', '\ude00\ud83d']) {
      const encoded = goJsonString(input);
      expect(encoded.isWellFormed()).toBe(true);
      expect(JSON.parse(encoded)).toBe(input.toWellFormed());
      expect(readFirstGoJsonValue(encoded)).toEqual({
        ok: true,
        value: input.replace(/[\ud800-\udfff]/g, '\ufffd'),
      });
    }
  });

  it('round-trips any string through JSON.parse and never leaves <, >, &, U+2028, U+2029 or a control character raw', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (input) => {
        const encoded = goJsonString(input);
        expect(JSON.parse(encoded)).toBe(input.toWellFormed());
        expect(encoded.isWellFormed()).toBe(true);
        expect(encoded).not.toMatch(/[<>&\u2028\u2029]/);
        expect([...encoded].filter((c) => c < ' ')).toEqual([]);
      }),
      { numRuns: 3_000 },
    );
  });
});

describe('encodeStringMap', () => {
  it('sorts keys by byte order and ends with a newline', () => {
    expect(encodeStringMap({ status: 'OK', hash: 'abc', version: '1.0.0' })).toBe(
      '{"hash":"abc","status":"OK","version":"1.0.0"}\n',
    );
    expect(encodeStringMap({ b: '', a: '', _: '', B: '' })).toBe('{"B":"","_":"","a":"","b":""}\n');
  });

  it('writes an empty map as {} and a newline', () => {
    expect(encodeStringMap({})).toBe('{}\n');
  });

  it('escapes keys as well as values', () => {
    expect(encodeStringMap({ '<k>': '&v' })).toBe('{"\\u003ck\\u003e":"\\u0026v"}\n');
  });

  it('sorts keys by UTF-8 bytes, as Go does, also for keys mixing U+E000–U+FFFF and astral characters', () => {
    expect(encodeStringMap({ '\u{10000}': 'b', '\uffff': 'a' })).toBe('{"\uffff":"a","\u{10000}":"b"}\n');
  });

  it('writes a lone surrogate as the escape \\ufffd, as Go writes invalid UTF-8', () => {
    expect(goJsonString('a\ud800b\udc00')).toBe('"a\\ufffdb\\ufffd"');
    expect(goJsonString('\\ud800')).toBe('"\\\\ud800"');
  });

  it('round-trips any string map through JSON.parse', () => {
    const key = fc.string({ unit: 'binary', maxLength: 12 }).filter((k) => k !== '__proto__');
    fc.assert(
      fc.property(fc.dictionary(key, fc.string({ unit: 'binary', maxLength: 30 })), (map) => {
        const encoded = encodeStringMap(map);
        expect(encoded.endsWith('}\n')).toBe(true);
        expect(JSON.parse(encoded)).toEqual(map);
      }),
      { numRuns: 1_000 },
    );
  });
});
