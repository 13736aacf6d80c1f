import { clientAddress, normalizeAddress } from '../src/client-address';

describe('clientAddress', () => {
  it('is the socket peer when no proxy header is configured, whatever headers the client sends', () => {
    expect(clientAddress('192.0.2.7', '203.0.113.9', {})).toEqual({ address: '192.0.2.7', source: 'socket' });
  });

  it('takes the entry the nearest trusted proxy appended (the rightmost), never what the client wrote', () => {
    const spoofed = '10.9.9.9, 198.51.100.1, 203.0.113.5';
    expect(clientAddress('10.0.0.2', spoofed, { header: 'x-forwarded-for' })).toEqual({
      address: '203.0.113.5',
      source: 'header',
    });
    // Two proxies of ours: the one before the last.
    expect(clientAddress('10.0.0.2', spoofed, { header: 'x-forwarded-for', hops: 2 }).address).toBe(
      '198.51.100.1',
    );
    // Repeated headers are one list.
    expect(clientAddress('10.0.0.2', ['1.1.1.1', '2.2.2.2'], { header: 'x-real-ip' }).address).toBe(
      '2.2.2.2',
    );
  });

  it('falls back to the socket peer when the configured header is missing, garbled, too long or too short', () => {
    for (const value of [undefined, 'not-an-address', '', `${'1.2.3.4,'.repeat(400)}5.6.7.8`, '1.2.3.4']) {
      const hops = value === '1.2.3.4' ? 2 : 1;
      expect(clientAddress('192.0.2.7', value, { header: 'x-forwarded-for', hops })).toEqual({
        address: '192.0.2.7',
        source: 'header_invalid',
      });
    }
  });

  it('accepts an address with a port, bracketed or not', () => {
    const options = { header: 'forwarded-for' };
    expect(clientAddress(undefined, '203.0.113.5:4711', options).address).toBe('203.0.113.5');
    expect(clientAddress(undefined, '[2001:db8::1]:443', options).address).toBe('2001:db8:0:0::/64');
  });
});

describe('normalizeAddress', () => {
  it('counts an IPv6 caller per /64, and an IPv4-mapped address as IPv4', () => {
    expect(normalizeAddress('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(normalizeAddress('2001:0DB8:0001:0002::1')).toBe('2001:db8:1:2::/64');
    expect(normalizeAddress('2001:db8:1:2::ffff')).toBe(normalizeAddress('2001:db8:1:2:9:8:7:6'));
    expect(normalizeAddress('::1')).toBe('0:0:0:0::/64');
    expect(normalizeAddress('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(normalizeAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(normalizeAddress('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
  });

  it('is `unknown` for anything that is not an address', () => {
    expect(normalizeAddress(undefined)).toBe('unknown');
    expect(normalizeAddress('localhost')).toBe('unknown');
  });
});
