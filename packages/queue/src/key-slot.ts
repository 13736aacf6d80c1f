/**
 * Redis Cluster's key slot: CRC16 (XMODEM: polynomial 0x1021, initial 0, no reflection) of the key's hash tag
 * (the text between its first `{` and the next `}`, when that is not empty) or of the whole key, modulo 16384.
 * HPNS computes it to place queue shards (names.ts); `CLUSTER KEYSLOT` gives the same (key-slot test).
 */

export const CLUSTER_SLOTS = 16384;

const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ byte) & 0xff] as number);
  return crc;
}

/** The part of `key` that decides its slot. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  return close === -1 || close === open + 1 ? key : key.slice(open + 1, close);
}

/** The cluster slot of `key` (0–16383). */
export function keySlot(key: string): number {
  return crc16(Buffer.from(hashTagOf(key), 'utf8')) % CLUSTER_SLOTS;
}
