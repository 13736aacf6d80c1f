import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { emojize } from '@hpns/protocol';

const TABLE: Record<string, unknown> = JSON.parse(
  readFileSync(resolve(__dirname, '../src/emoji/shortcodes.json'), 'utf8'),
);
const TABLE_KEYS = Object.keys(TABLE);

/** Go's unicode.IsSpace: Latin-1 \t \n \v \f \r space U+0085 U+00A0, plus the Unicode White_Space characters. */
const GO_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u;

/**
 * A line-by-line port of kyokomi/emoji v2.2.x `compile` / `replaseEmoji` / `emojize` (the library the Go push
 * proxy calls), over the committed table: the oracle for the scanning quirks.
 */
function kyokomiSprint(text: string): string {
  const runes = [...text];
  let pos = 0;
  const readRune = (): string | undefined => (pos < runes.length ? runes[pos++] : undefined);
  const emojizeCandidate = (x: string): string => {
    const name = x.slice(1, -1);
    if (Object.hasOwn(TABLE, name)) return `${TABLE[name] as string} `;
    const match = /:flag-([a-z]{2}):/.exec(x);
    if (match) {
      const letters = match[1] as string;
      return String.fromCodePoint(
        0x1f1e6 + (letters.charCodeAt(0) - 0x61),
        0x1f1e6 + (letters.charCodeAt(1) - 0x61),
      );
    }
    return x;
  };
  const replaseEmoji = (): string => {
    let emoji = ':';
    for (;;) {
      const r = readRune();
      if (r === undefined) return emoji;
      if (r === ':' && emoji.length === 1) return emoji + replaseEmoji();
      emoji += r;
      if (GO_SPACE.test(r)) return emoji;
      if (r === ':') return emojizeCandidate(emoji);
    }
  };
  let out = '';
  for (let r = readRune(); r !== undefined; r = readRune()) out += r === ':' ? replaseEmoji() : r;
  return out;
}

describe('emojize', () => {
  describe('known shortcodes (reference §2.3: emoji followed by one space)', () => {
    it('replaces a shortcode by the emoji and one space, keeping the original space after it', () => {
      expect(emojize('hello :smile: world')).toBe('hello 😄  world');
    });

    it('pads a shortcode at the end of the text too', () => {
      expect(emojize('alice: hello :smile:')).toBe('alice: hello 😄 ');
      expect(emojize(':tada:')).toBe('🎉 ');
    });

    it('replaces every shortcode of a text', () => {
      expect(emojize(':smile: and :heart: and :tada:')).toBe('😄  and ❤️  and 🎉 ');
    });

    it('replaces shortcodes that touch each other, each with its own space', () => {
      expect(emojize(':smile::heart:')).toBe('😄 ❤️ ');
      expect(emojize(':fire::fire::fire:')).toBe('🔥 🔥 🔥 ');
    });

    it('replaces a shortcode glued to surrounding words', () => {
      expect(emojize('x:smile:y')).toBe('x😄 y');
    });

    it('converts :+1: and :-1: and their word aliases', () => {
      expect(emojize(':+1:')).toBe('👍 ');
      expect(emojize(':-1:')).toBe('👎 ');
      expect(emojize(':thumbsup: :thumbsdown:')).toBe('👍  👎 ');
    });

    it('converts CLDR skin-tone names and leaves a Mattermost-style tone suffix as a separate emoji', () => {
      expect(emojize(':thumbs_up_medium_skin_tone:')).toBe('👍🏽 ');
      expect(emojize(':+1::skin-tone-3:')).toBe('👍 🏼 ');
    });

    it('matches shortcodes case-sensitively', () => {
      expect(emojize(':SMILE: :Smile:')).toBe(':SMILE: :Smile:');
    });
  });

  describe('flags', () => {
    it('turns :flag-xx: that is not in the table into two regional indicators with no space', () => {
      expect(emojize(':flag-de:')).toBe('\u{1F1E9}\u{1F1EA}');
      expect(emojize('go :flag-us: go')).toBe('go \u{1F1FA}\u{1F1F8} go');
      expect(emojize(':flag-zz:')).toBe('\u{1F1FF}\u{1F1FF}');
    });

    it('pads :flag-xx: names the table has (emoji-data short names), as kyokomi’s table lookup comes first', () => {
      expect(Object.hasOwn(TABLE, 'flag-ac')).toBe(true);
      expect(emojize(':flag-ac:')).toBe('\u{1F1E6}\u{1F1E8} ');
      expect(emojize(':flag-england:')).toBe(`${TABLE['flag-england'] as string} `);
    });

    it('converts bare country-code shortcodes from the table', () => {
      expect(emojize(':us: :de:')).toBe('\u{1F1FA}\u{1F1F8}  \u{1F1E9}\u{1F1EA} ');
    });

    it('leaves flags with upper-case or more than two letters alone', () => {
      expect(emojize(':flag-DE: :flag-usa: :flag-d:')).toBe(':flag-DE: :flag-usa: :flag-d:');
    });
  });

  describe('text left untouched', () => {
    it('returns text without colons as it is', () => {
      expect(emojize('')).toBe('');
      expect(emojize('no codes here')).toBe('no codes here');
    });

    it('leaves unknown shortcodes as they are', () => {
      expect(emojize('a :notanemoji: b')).toBe('a :notanemoji: b');
      expect(emojize(':smile_:')).toBe(':smile_:');
    });

    it('leaves times and ratios alone', () => {
      expect(emojize('10:30 ok')).toBe('10:30 ok');
      expect(emojize('10:30:45')).toBe('10:30:45');
      expect(emojize('ratio 3:2')).toBe('ratio 3:2');
    });

    it('converts a known numeric code between colons, as the Go proxy does', () => {
      expect(emojize('score 1:100:5')).toBe('score 1💯 5');
    });

    it('leaves a colon followed by a space alone', () => {
      expect(emojize('Session Expired: Please log in')).toBe('Session Expired: Please log in');
    });

    it('leaves an unterminated candidate at the end of the text alone', () => {
      expect(emojize('see :smile')).toBe('see :smile');
      expect(emojize('trailing:')).toBe('trailing:');
      expect(emojize('http://example.com/a:b')).toBe('http://example.com/a:b');
    });

    it('does not treat Object.prototype names as shortcodes', () => {
      expect(emojize(':__proto__: :constructor: :toString: :hasOwnProperty:')).toBe(
        ':__proto__: :constructor: :toString: :hasOwnProperty:',
      );
    });

    it('leaves emoji and non-ASCII candidates alone', () => {
      expect(emojize(':😄: :café:')).toBe(':😄: :café:');
    });
  });

  describe('scanning quirks of the Go library', () => {
    it('emits the first colon of "::" literally and starts the candidate at the second', () => {
      expect(emojize('::smile:')).toBe(':😄 ');
      expect(emojize(':::smile:')).toBe('::😄 ');
      expect(emojize('::')).toBe('::');
      expect(emojize(':smile:::')).toBe('😄 ::');
    });

    it('consumes both colons of an unknown code, so a following code loses its opening colon', () => {
      expect(emojize('x :nope:smile:')).toBe('x :nope:smile:');
      expect(emojize('x :nope::smile:')).toBe('x :nope:😄 ');
    });

    it('ends a candidate at white space and rescans from the character after it', () => {
      expect(emojize('x :b c:smile:')).toBe('x :b c😄 ');
      expect(emojize('a:\n:smile:')).toBe('a:\n😄 ');
      expect(emojize(':smile :')).toBe(':smile :');
    });

    it.each([
      ['tab', '\t'],
      ['vertical tab', '\v'],
      ['NEL U+0085', '\u0085'],
      ['no-break space U+00A0', '\u00a0'],
      ['ogham space U+1680', '\u1680'],
      ['em space U+2003', '\u2003'],
      ['line separator U+2028', '\u2028'],
      ['narrow no-break space U+202F', '\u202f'],
      ['ideographic space U+3000', '\u3000'],
    ])('treats %s as white space that ends a candidate', (_name, space) => {
      expect(emojize(`:smile${space}:smile:`)).toBe(`:smile${space}😄 `);
      expect(emojize(`:smile:${space}`)).toBe(`😄 ${space}`);
    });

    it.each([
      ['zero-width space U+200B', '\u200b'],
      ['BOM U+FEFF', '\ufeff'],
      ['U+001C (space in other languages, not in Go)', '\u001c'],
      ['Mongolian vowel separator U+180E', '\u180e'],
    ])('does not treat %s as white space', (_name, char) => {
      expect(emojize(`:smile${char}:smile:`)).toBe(`:smile${char}:smile:`);
    });

    it('behaves like a port of kyokomi/emoji on texts made of colons, spaces and shortcode parts', () => {
      const token = fc.constantFrom(
        ':',
        ':',
        ' ',
        '\u00a0',
        '\n',
        'smile',
        '+1',
        '100',
        'flag-de',
        'flag-ac',
        'flag-',
        'DE',
        'x',
        '1',
        'é',
        '😄',
        '\u200b',
        '\u3000',
      );
      fc.assert(
        fc.property(fc.array(token, { maxLength: 30 }), (tokens) => {
          const text = tokens.join('');
          expect(emojize(text)).toBe(kyokomiSprint(text));
        }),
        { numRuns: 3_000 },
      );
    });

    it('behaves like a port of kyokomi/emoji on arbitrary text', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (text) => {
          expect(emojize(text)).toBe(kyokomiSprint(text));
        }),
        { numRuns: 2_000 },
      );
    });
  });
});

describe('shortcodes.json', () => {
  it('has more than 4000 shortcodes', () => {
    expect(TABLE_KEYS.length).toBeGreaterThan(4000);
  });

  it('maps every shortcode to a non-empty string', () => {
    const bad = TABLE_KEYS.filter((key) => typeof TABLE[key] !== 'string' || TABLE[key] === '');
    expect(bad).toEqual([]);
  });

  it('has only names the scanner can reach (no colon, no white space, not empty)', () => {
    const unreachable = TABLE_KEYS.filter((key) => key === '' || /[:\s\u0085]/u.test(key));
    expect(unreachable).toEqual([]);
  });

  it.each([
    ['smile', '\u{1F604}'],
    ['heart', '\u2764\ufe0f'],
    ['thumbsup', '\u{1F44D}'],
    ['+1', '\u{1F44D}'],
    ['-1', '\u{1F44E}'],
    ['tada', '\u{1F389}'],
    ['joy', '\u{1F602}'],
    ['fire', '\u{1F525}'],
    ['rocket', '\u{1F680}'],
    ['100', '\u{1F4AF}'],
    ['white_check_mark', '\u2705'],
    ['us', '\u{1F1FA}\u{1F1F8}'],
    ['flag_United_States', '\u{1F1FA}\u{1F1F8}'],
    ['grinning_face', '\u{1F600}'],
    ['thumbs_up_medium_skin_tone', '\u{1F44D}\u{1F3FD}'],
    ['skin-tone-3', '\u{1F3FC}'],
  ])('maps %s to the right emoji', (name, emoji) => {
    expect(TABLE[name]).toBe(emoji);
  });

  it('has no flag-us entry, so :flag-us: goes through the regional-indicator rule', () => {
    expect(Object.hasOwn(TABLE, 'flag-us')).toBe(false);
  });
});
