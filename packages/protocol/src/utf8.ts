/**
 * UTF-8 helpers. The push proxy truncates `message` and `channel_name` by bytes (Go slicing), which can split
 * a character; we cut at the last character boundary that fits instead (docs/compatibility.md).
 */

/** Byte length of `text` in UTF-8. */
export function utf8ByteLength(text: string): number {
  // Fast path: ASCII-only strings are as long in bytes as in UTF-16 code units.
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return Buffer.byteLength(text, 'utf8');
  }
  return text.length;
}

/**
 * The longest prefix of `text` whose UTF-8 encoding is at most `maxBytes` long, never splitting a character
 * (a surrogate pair counts as one four-byte character).
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length <= maxBytes && utf8ByteLength(text) <= maxBytes) return text;
  let bytes = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    let width: number;
    let units = 1;
    if (c < 0x80) width = 1;
    else if (c < 0x800) width = 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        width = 4;
        units = 2;
      } else width = 3;
    } else width = 3;
    if (bytes + width > maxBytes) break;
    bytes += width;
    i += units;
  }
  return text.slice(0, i);
}
