/**
 * A reader for the first JSON value of a text, with the semantics and error wording of Go's
 * `json.NewDecoder(r).Decode(&v)`, which the Mattermost push proxy uses for its request bodies:
 *
 * - only the first value is read; anything after a complete object, array, string or literal is ignored;
 * - an empty (or all-whitespace) input is the error `EOF`, an input that ends inside a value `unexpected EOF`;
 * - syntax errors read like Go's `invalid character 'x' looking for beginning of value`;
 * - objects keep every key in document order, duplicates included, so a decoder can apply Go's
 *   "last assignment wins, null assigns nothing" rules;
 * - numbers keep their literal text, so an `int` field can refuse `1.0` and `1e2` as Go does;
 * - strings are made well formed: lone surrogates become U+FFFD, as Go's decoder does.
 *
 * The reader is iterative: nesting deeper than Go's limit (10000) is Go's `exceeded max depth` error, and no
 * input can overflow the call stack.
 */

/** A JSON number, kept as its literal text. */
export interface GoJsonNumber {
  readonly kind: 'number';
  readonly text: string;
}

/** A JSON object with its members in document order (duplicate keys kept). */
export interface GoJsonObject {
  readonly kind: 'object';
  readonly keys: string[];
  readonly values: GoJsonValue[];
}

export interface GoJsonArray {
  readonly kind: 'array';
  readonly items: GoJsonValue[];
}

export type GoJsonValue = GoJsonObject | GoJsonArray | GoJsonNumber | string | boolean | null;

export type GoJsonReadResult = { ok: true; value: GoJsonValue } | { ok: false; error: string };

/** Go's `maxNestingDepth` in encoding/json. */
const MAX_DEPTH = 10000;

const enum Ch {
  Tab = 0x09,
  Lf = 0x0a,
  Cr = 0x0d,
  Space = 0x20,
  Quote = 0x22,
  Plus = 0x2b,
  Comma = 0x2c,
  Minus = 0x2d,
  Dot = 0x2e,
  Slash = 0x2f,
  Zero = 0x30,
  Nine = 0x39,
  Colon = 0x3a,
  UpperE = 0x45,
  OpenBracket = 0x5b,
  Backslash = 0x5c,
  CloseBracket = 0x5d,
  LowerE = 0x65,
  OpenBrace = 0x7b,
  CloseBrace = 0x7d,
}

class GoJsonSyntaxError {
  constructor(readonly message: string) {}
}

interface ObjectFrame {
  node: GoJsonObject;
}
interface ArrayFrame {
  node: GoJsonArray;
}
type Frame = ObjectFrame | ArrayFrame;

const LITERALS: ReadonlyArray<[string, GoJsonValue]> = [
  ['true', true],
  ['false', false],
  ['null', null],
];

/** Reads the first JSON value of `text` as Go's json.Decoder would. Never throws. */
export function readFirstGoJsonValue(text: string): GoJsonReadResult {
  try {
    return { ok: true, value: new Reader(text).readTopLevel() };
  } catch (error) {
    if (error instanceof GoJsonSyntaxError) return { ok: false, error: error.message };
    throw error;
  }
}

function isSpace(c: number): boolean {
  return c === Ch.Space || c === Ch.Tab || c === Ch.Lf || c === Ch.Cr;
}

function isDigit(c: number): boolean {
  return c >= Ch.Zero && c <= Ch.Nine;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/**
 * Go's scanner works on bytes and quotes the offending byte as a rune (so the first byte of a multi-byte UTF-8
 * sequence shows as a Latin-1 character). This reproduces `quoteChar` for the byte a character starts with.
 */
function quoteChar(text: string, index: number): string {
  const codePoint = text.codePointAt(index) ?? 0;
  let byte = codePoint;
  if (codePoint >= 0x80) {
    byte = Buffer.from(String.fromCodePoint(codePoint), 'utf8')[0] ?? 0;
  }
  if (byte === 0x27) return "'\\''";
  if (byte === Ch.Quote) return `'"'`;
  return `'${goQuoteRune(byte)}'`;
}

/** The inside of Go's strconv.Quote for one rune in U+0000..U+00FF. */
function goQuoteRune(rune: number): string {
  switch (rune) {
    case 0x07:
      return '\\a';
    case 0x08:
      return '\\b';
    case 0x0c:
      return '\\f';
    case 0x0a:
      return '\\n';
    case 0x0d:
      return '\\r';
    case 0x09:
      return '\\t';
    case 0x0b:
      return '\\v';
    case 0x5c:
      return '\\\\';
    default:
      break;
  }
  if (rune < 0x20 || rune === 0x7f) return `\\x${rune.toString(16).padStart(2, '0')}`;
  // U+0080..U+009F are controls, U+00A0 (no-break space) and U+00AD (soft hyphen) are not printable in Go.
  if ((rune >= 0x80 && rune <= 0xa0) || rune === 0xad) return `\\u${rune.toString(16).padStart(4, '0')}`;
  return String.fromCharCode(rune);
}

class Reader {
  private pos = 0;
  private readonly stack: Frame[] = [];

  constructor(private readonly text: string) {}

  readTopLevel(): GoJsonValue {
    this.skipSpace();
    if (this.pos >= this.text.length) throw new GoJsonSyntaxError('EOF');
    let value = this.readValueStart();
    // Iterate: `value` is undefined while a container is open and waiting for members.
    for (;;) {
      if (value !== undefined) {
        const frame = this.stack[this.stack.length - 1];
        if (frame === undefined) return value;
        if ('items' in frame.node) frame.node.items.push(value);
        else frame.node.values.push(value);
        value = this.afterMember(frame);
      } else {
        value = this.continueOpenContainer();
      }
    }
  }

  /**
   * Reads the start of a value at `pos` (whitespace already skipped). Returns the value when it is a scalar or
   * an empty container, or undefined after pushing a frame for a non-empty container.
   */
  private readValueStart(): GoJsonValue | undefined {
    const c = this.text.charCodeAt(this.pos);
    if (c === Ch.OpenBrace) {
      this.pos++;
      return this.openObject();
    }
    if (c === Ch.OpenBracket) {
      this.pos++;
      return this.openArray();
    }
    if (c === Ch.Quote) return this.readString();
    if (c === Ch.Minus || isDigit(c)) return this.readNumber();
    for (const [literal, literalValue] of LITERALS) {
      if (c === literal.charCodeAt(0)) {
        this.readLiteral(literal);
        return literalValue;
      }
    }
    throw this.invalid('looking for beginning of value');
  }

  /** Go counts a container's depth when it opens, empty or not; `pos` is just past the bracket. */
  private checkDepth(): void {
    if (this.stack.length >= MAX_DEPTH) {
      this.pos--;
      throw this.invalid('exceeded max depth');
    }
  }

  private openObject(): GoJsonValue | undefined {
    this.checkDepth();
    const node: GoJsonObject = { kind: 'object', keys: [], values: [] };
    this.skipSpace();
    this.requireMore();
    if (this.text.charCodeAt(this.pos) === Ch.CloseBrace) {
      this.pos++;
      return node;
    }
    this.stack.push({ node });
    this.readObjectKey(node);
    return undefined;
  }

  private openArray(): GoJsonValue | undefined {
    this.checkDepth();
    const node: GoJsonArray = { kind: 'array', items: [] };
    this.skipSpace();
    this.requireMore();
    if (this.text.charCodeAt(this.pos) === Ch.CloseBracket) {
      this.pos++;
      return node;
    }
    this.stack.push({ node });
    return undefined;
  }

  /** Reads `"key" :` of an object member, leaving `pos` at the start of the member's value. */
  private readObjectKey(node: GoJsonObject): void {
    this.skipSpace();
    this.requireMore();
    if (this.text.charCodeAt(this.pos) !== Ch.Quote)
      throw this.invalid('looking for beginning of object key string');
    node.keys.push(this.readString());
    this.skipSpace();
    this.requireMore();
    if (this.text.charCodeAt(this.pos) !== Ch.Colon) throw this.invalid('after object key');
    this.pos++;
  }

  /** With a container open and its next member's value due, reads that value's start. */
  private continueOpenContainer(): GoJsonValue | undefined {
    this.skipSpace();
    this.requireMore();
    return this.readValueStart();
  }

  /** After a member: `,` continues the container, the closer completes it (and returns it). */
  private afterMember(frame: Frame): GoJsonValue | undefined {
    this.skipSpace();
    this.requireMore();
    const c = this.text.charCodeAt(this.pos);
    const isObject = 'keys' in frame.node;
    if (c === Ch.Comma) {
      this.pos++;
      if (isObject) this.readObjectKey(frame.node as GoJsonObject);
      return undefined;
    }
    if (c === (isObject ? Ch.CloseBrace : Ch.CloseBracket)) {
      this.pos++;
      this.stack.pop();
      return frame.node;
    }
    throw this.invalid(isObject ? 'after object key:value pair' : 'after array element');
  }

  private readString(): string {
    const text = this.text;
    let pos = this.pos + 1;
    let out = '';
    let chunkStart = pos;
    let hasSurrogates = false;
    for (;;) {
      if (pos >= text.length) throw new GoJsonSyntaxError('unexpected EOF');
      const c = text.charCodeAt(pos);
      if (c === Ch.Quote) {
        out += text.slice(chunkStart, pos);
        this.pos = pos + 1;
        return hasSurrogates ? out.toWellFormed() : out;
      }
      if (c < 0x20) {
        this.pos = pos;
        throw this.invalid('in string literal');
      }
      if (c >= 0xd800 && c <= 0xdfff) hasSurrogates = true;
      if (c !== Ch.Backslash) {
        pos++;
        continue;
      }
      out += text.slice(chunkStart, pos);
      pos++;
      if (pos >= text.length) throw new GoJsonSyntaxError('unexpected EOF');
      const e = text.charCodeAt(pos);
      switch (e) {
        case Ch.Quote:
        case Ch.Backslash:
        case Ch.Slash:
          out += String.fromCharCode(e);
          break;
        case 0x62:
          out += '\b';
          break;
        case 0x66:
          out += '\f';
          break;
        case 0x6e:
          out += '\n';
          break;
        case 0x72:
          out += '\r';
          break;
        case 0x74:
          out += '\t';
          break;
        case 0x75: {
          for (let i = 1; i <= 4; i++) {
            if (pos + i >= text.length) throw new GoJsonSyntaxError('unexpected EOF');
            if (!isHex(text.charCodeAt(pos + i))) {
              this.pos = pos + i;
              throw this.invalid('in \\u hexadecimal character escape');
            }
          }
          const unit = parseInt(text.slice(pos + 1, pos + 5), 16);
          if (unit >= 0xd800 && unit <= 0xdfff) hasSurrogates = true;
          out += String.fromCharCode(unit);
          pos += 4;
          break;
        }
        default:
          this.pos = pos;
          throw this.invalid('in string escape code');
      }
      pos++;
      chunkStart = pos;
    }
  }

  private readNumber(): GoJsonNumber {
    const text = this.text;
    const start = this.pos;
    let pos = start;
    if (text.charCodeAt(pos) === Ch.Minus) {
      pos++;
      this.requireDigitAt(pos, 'in numeric literal');
    }
    if (text.charCodeAt(pos) === Ch.Zero) pos++;
    else while (isDigit(text.charCodeAt(pos))) pos++;
    if (text.charCodeAt(pos) === Ch.Dot) {
      pos++;
      this.requireDigitAt(pos, 'after decimal point in numeric literal');
      while (isDigit(text.charCodeAt(pos))) pos++;
    }
    const e = text.charCodeAt(pos);
    if (e === Ch.LowerE || e === Ch.UpperE) {
      pos++;
      const sign = text.charCodeAt(pos);
      if (sign === Ch.Plus || sign === Ch.Minus) pos++;
      this.requireDigitAt(pos, 'in exponent of numeric literal');
      while (isDigit(text.charCodeAt(pos))) pos++;
    }
    this.pos = pos;
    return { kind: 'number', text: text.slice(start, pos) };
  }

  private requireDigitAt(pos: number, context: string): void {
    if (pos >= this.text.length) throw new GoJsonSyntaxError('unexpected EOF');
    if (!isDigit(this.text.charCodeAt(pos))) {
      this.pos = pos;
      throw this.invalid(context);
    }
  }

  private readLiteral(literal: string): void {
    for (let i = 1; i < literal.length; i++) {
      const pos = this.pos + i;
      if (pos >= this.text.length) throw new GoJsonSyntaxError('unexpected EOF');
      if (this.text.charCodeAt(pos) !== literal.charCodeAt(i)) {
        this.pos = pos;
        throw this.invalid(`in literal ${literal} (expecting '${literal[i]}')`);
      }
    }
    this.pos += literal.length;
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && isSpace(this.text.charCodeAt(this.pos))) this.pos++;
  }

  private requireMore(): void {
    if (this.pos >= this.text.length) throw new GoJsonSyntaxError('unexpected EOF');
  }

  private invalid(context: string): GoJsonSyntaxError {
    return new GoJsonSyntaxError(`invalid character ${quoteChar(this.text, this.pos)} ${context}`);
  }
}
