import { isHpnsError, isRegionName, parseRegion, REGION_PATTERN } from '@hpns/protocol';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('isRegionName', () => {
  it.each(['us', 'de', 'eu1', 'apac2', 'a1', 'abcdefghijklmnop'])('accepts %j', (name) => {
    expect(isRegionName(name)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['one letter', 'u'],
    ['17 characters', 'abcdefghijklmnopq'],
    ['upper case', 'US'],
    ['mixed case', 'Us'],
    ['leading digit', '1us'],
    ['dash', 'us-east'],
    ['underscore', 'us_east'],
    ['dot', 'us.east'],
    ['leading space', ' us'],
    ['trailing newline', 'us\n'],
    ['non-ASCII letter', 'dé'],
  ])('refuses %s (%j)', (_name, name) => {
    expect(isRegionName(name)).toBe(false);
  });

  it('is REGION_PATTERN', () => {
    expect(REGION_PATTERN.test('eu')).toBe(true);
    expect(REGION_PATTERN.flags).toBe('');
  });
});

describe('parseRegion', () => {
  it('returns a well-formed name unchanged', () => {
    const region: string = parseRegion('us');
    expect(region).toBe('us');
  });

  it('returns a configured name unchanged', () => {
    expect(parseRegion('de', ['us', 'de'])).toBe('de');
  });

  it('throws HPNS_REGION_INVALID for a malformed name, quoting it', () => {
    const error = thrown(() => parseRegion('US-East'));
    expect(isHpnsError(error, 'HPNS_REGION_INVALID')).toBe(true);
    expect((error as Error).message).toBe(
      'region "US-East" is not a valid region name (lower-case letters and digits, 2-16 characters)',
    );
    expect(isHpnsError(error) && error.retryable).toBe(false);
  });

  it('checks the shape before the configured list', () => {
    const error = thrown(() => parseRegion('X', ['X']));
    expect((error as Error).message).toMatch(/is not a valid region name/);
  });

  it('throws HPNS_REGION_INVALID for a name that is not configured, listing the configured ones', () => {
    const error = thrown(() => parseRegion('eu', ['us', 'de']));
    expect(isHpnsError(error, 'HPNS_REGION_INVALID')).toBe(true);
    expect((error as Error).message).toBe('region "eu" is not configured (configured: us, de)');
  });

  it('says "none" when no region is configured', () => {
    expect((thrown(() => parseRegion('us', [])) as Error).message).toBe(
      'region "us" is not configured (configured: none)',
    );
  });

  it('escapes control characters in the quoted name', () => {
    expect((thrown(() => parseRegion('us\n')) as Error).message).toMatch(/^region "us\\n" is not/);
  });
});
