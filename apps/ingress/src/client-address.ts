import { isIP } from 'node:net';

export interface ClientAddressOptions {
  /**
   * The header a trusted proxy or load balancer in front of the ingress writes the client's address into
   * (`X-Forwarded-For`, `X-Real-IP`, …; any case). Unset: the socket peer is the caller (no proxy, or one that
   * passes the connection through). Set it only where every request comes through that proxy: a client that
   * can reach the ingress directly could otherwise write the header itself.
   */
  header?: string;
  /**
   * Which entry of a comma-separated header counts, from the right: 1 (default) is the address the nearest
   * proxy appended; 2 skips one more proxy of ours. Entries further left are what the client itself sent, and
   * are never trusted.
   */
  hops?: number;
}

/** Where a caller address came from (a metric label). */
export type ClientAddressSource = 'socket' | 'header' | 'header_invalid';

export interface ClientAddress {
  /** The address as counted: IPv4 dotted, IPv6 folded to its /64 (`2001:db8:1:2::/64`), or `unknown`. */
  address: string;
  source: ClientAddressSource;
}

/** Longest header value read; a longer one is not an address list a proxy of ours wrote. */
const HEADER_MAX_LENGTH = 2048;

/**
 * The caller's address for rate limits. An IPv6 host usually holds a whole /64 and can pick a new address in it
 * for every request, so IPv6 callers are counted per /64; IPv4-mapped IPv6 (`::ffff:192.0.2.1`) counts as the
 * IPv4 address.
 */
export function clientAddress(
  socketAddress: string | undefined,
  headerValue: string | string[] | undefined,
  options: ClientAddressOptions,
): ClientAddress {
  if (options.header !== undefined) {
    const fromHeader = headerAddress(headerValue, options.hops ?? 1);
    if (fromHeader !== undefined) return { address: fromHeader, source: 'header' };
    return { address: normalizeAddress(socketAddress), source: 'header_invalid' };
  }
  return { address: normalizeAddress(socketAddress), source: 'socket' };
}

function headerAddress(value: string | string[] | undefined, hops: number): string | undefined {
  // Node joins repeated headers with ", " (one list, as RFC 9110 reads them).
  const text = Array.isArray(value) ? value.join(',') : value;
  if (text === undefined || text.length > HEADER_MAX_LENGTH) return undefined;
  const entries = text.split(',');
  const entry = entries[entries.length - hops]?.trim();
  if (entry === undefined) return undefined;
  const address = stripPort(entry);
  return isIP(address) === 0 ? undefined : normalizeAddress(address);
}

/** `[2001:db8::1]:443` → `2001:db8::1`; `192.0.2.1:443` → `192.0.2.1`; anything else as it is. */
function stripPort(entry: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(entry);
  if (bracketed !== null) return bracketed[1] as string;
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(entry);
  return v4WithPort === null ? entry : (v4WithPort[1] as string);
}

/** The counted form of an address (see clientAddress). */
export function normalizeAddress(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  const kind = isIP(address);
  if (kind === 4) return address;
  if (kind !== 6) return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped !== null) return mapped[1] as string;
  return `${ipv6Groups(address).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, in lower-case hex without leading zeros. */
function ipv6Groups(address: string): string[] {
  const zone = address.indexOf('%');
  let text = (zone < 0 ? address : address.slice(0, zone)).toLowerCase();
  // An embedded IPv4 tail (`::1.2.3.4`) is two groups.
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => parseInt(group, 16).toString(16));
}
