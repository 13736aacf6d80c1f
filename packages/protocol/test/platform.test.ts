import { parsePlatform, voipAliasTarget } from '@hpns/protocol';

// decodeSendPush's routing tests cover the resulting target and app version; these cover parsePlatform itself.
describe('parsePlatform', () => {
  it('keeps a platform without "-v" as the type, app version 1', () => {
    expect(parsePlatform('apple_rn')).toEqual({ type: 'apple_rn', appVersion: 1, suffixValid: true });
    expect(parsePlatform('')).toEqual({ type: '', appVersion: 1, suffixValid: true });
  });

  it.each([
    ['android_rn-v2', 'android_rn', 2],
    ['apple_rn-v02', 'apple_rn', 2],
    ['apple_rn-v+4', 'apple_rn', 4],
    ['apple_rn-v-3', 'apple_rn', -3],
    ['apple_rn-v-0', 'apple_rn', 0],
    ['apple_rn-v9223372036854775807', 'apple_rn', Number(2n ** 63n - 1n)],
    ['apple_rn-v-9223372036854775808', 'apple_rn', -9223372036854775808],
    ['-v2', '', 2],
  ])('reads %j as type %j, app version %d (Go strconv.Atoi)', (platform, type, appVersion) => {
    expect(parsePlatform(platform)).toEqual({ type, appVersion, suffixValid: true });
  });

  it.each([
    ['empty suffix', 'apple_rn-v'],
    ['sign only', 'apple_rn-v+'],
    ['letters', 'apple_rn-vx'],
    ['trailing letters', 'apple_rn-v2x'],
    ['a space', 'apple_rn-v 2'],
    ['a trailing newline', 'apple_rn-v2\n'],
    ['a decimal', 'apple_rn-v2.0'],
    ['an underscore', 'apple_rn-v1_000'],
    ['hexadecimal', 'apple_rn-v0x10'],
    ['a non-ASCII digit', 'apple_rn-v٢'],
    ['a second suffix', 'apple_rn-v2-v3'],
    ['beyond int64', 'apple_rn-v9223372036854775808'],
    ['below int64', 'apple_rn-v-9223372036854775809'],
  ])('cuts the platform but keeps app version 1 and flags the suffix for %s', (_name, platform) => {
    expect(parsePlatform(platform)).toEqual({ type: 'apple_rn', appVersion: 1, suffixValid: false });
  });

  it('cuts at the first "-v" even inside a name', () => {
    expect(parsePlatform('apple-vendor_rn-v2')).toEqual({ type: 'apple', appVersion: 1, suffixValid: false });
  });

  it('matches "-v" case-sensitively', () => {
    expect(parsePlatform('apple_rn-V2')).toEqual({ type: 'apple_rn-V2', appVersion: 1, suffixValid: true });
  });
});

describe('voipAliasTarget', () => {
  it.each([
    ['apple_voip_rn', 'apple_rn'],
    ['apple_voip_rnbeta', 'apple_rnbeta'],
    ['apple_voip_x_y', 'apple_x_y'],
  ])('maps %s to %s', (type, target) => {
    expect(voipAliasTarget(type)).toBe(target);
  });

  it.each([
    'apple_rn',
    'apple_voip_',
    'android_voip_rn',
    'x_apple_voip_rn',
    'Apple_voip_rn',
    'apple_voiprn',
    '',
  ])('is undefined for %j', (type) => {
    expect(voipAliasTarget(type)).toBeUndefined();
  });
});
