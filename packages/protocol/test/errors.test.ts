import { ERROR_CATALOG, ERROR_CODES, HpnsError, isHpnsError, type HpnsErrorCode } from '@hpns/protocol';

describe('ERROR_CATALOG', () => {
  it('names every code HPNS_ followed by upper-case words', () => {
    for (const code of Object.keys(ERROR_CATALOG)) expect(code).toMatch(/^HPNS_[A-Z_]+$/);
  });

  it('describes every code with a non-empty sentence and a boolean retryable', () => {
    for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
      expect({ code, description: entry.description.trim().length > 0 }).toEqual({ code, description: true });
      expect(typeof entry.retryable).toBe('boolean');
    }
  });

  it('marks only rate limiting, Redis trouble and a job format from a newer release as retryable', () => {
    const retryable = ERROR_CODES.filter((code) => ERROR_CATALOG[code].retryable).sort();
    expect(retryable).toEqual(['HPNS_PAYLOAD_FORMAT_UNKNOWN', 'HPNS_RATE_LIMITED', 'HPNS_REDIS_UNAVAILABLE']);
  });

  it('is listed in ERROR_CODES, once per code', () => {
    expect([...ERROR_CODES].sort()).toEqual(Object.keys(ERROR_CATALOG).sort());
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });
});

describe('HpnsError', () => {
  it('carries its code, message and name, and is an Error', () => {
    const error = new HpnsError('HPNS_BAD_REQUEST', 'bad body');
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(HpnsError);
    expect(error.code).toBe('HPNS_BAD_REQUEST');
    expect(error.message).toBe('bad body');
    expect(error.name).toBe('HpnsError');
    expect(String(error)).toBe('HpnsError: bad body');
    expect(error.stack).toContain('bad body');
  });

  it.each(ERROR_CODES.map((code) => [code]))('takes retryable for %s from the catalog', (code) => {
    expect(new HpnsError(code, 'm').retryable).toBe(ERROR_CATALOG[code].retryable);
  });

  it('lets options override retryable either way', () => {
    expect(new HpnsError('HPNS_BAD_REQUEST', 'm', { retryable: true }).retryable).toBe(true);
    expect(new HpnsError('HPNS_REDIS_UNAVAILABLE', 'm', { retryable: false }).retryable).toBe(false);
  });

  it('keeps the cause as the standard Error cause', () => {
    const cause = new Error('ECONNREFUSED');
    const error = new HpnsError('HPNS_REDIS_UNAVAILABLE', 'redis down', { cause });
    expect(error.cause).toBe(cause);
  });

  it('keeps a non-Error cause, including falsy ones', () => {
    expect(new HpnsError('HPNS_INTERNAL', 'm', { cause: 'text' }).cause).toBe('text');
    expect(new HpnsError('HPNS_INTERNAL', 'm', { cause: 0 }).cause).toBe(0);
    expect(new HpnsError('HPNS_INTERNAL', 'm', { cause: null }).cause).toBeNull();
  });

  it('has no cause property when none is given', () => {
    expect('cause' in new HpnsError('HPNS_INTERNAL', 'm')).toBe(false);
    expect('cause' in new HpnsError('HPNS_INTERNAL', 'm', { cause: undefined })).toBe(false);
  });

  it('keeps details, undefined when none are given', () => {
    expect(new HpnsError('HPNS_CONFIG_INVALID', 'm', { details: { problems: 2 } }).details).toEqual({
      problems: 2,
    });
    expect(new HpnsError('HPNS_CONFIG_INVALID', 'm').details).toBeUndefined();
  });
});

describe('isHpnsError', () => {
  it('is true for an HpnsError, with or without a matching code', () => {
    const error = new HpnsError('HPNS_PUSH_EXPIRED', 'too late');
    expect(isHpnsError(error)).toBe(true);
    expect(isHpnsError(error, 'HPNS_PUSH_EXPIRED')).toBe(true);
    expect(isHpnsError(error, 'HPNS_INTERNAL')).toBe(false);
  });

  it('narrows to HpnsError', () => {
    const value: unknown = new HpnsError('HPNS_RATE_LIMITED', 'slow down');
    if (!isHpnsError(value)) throw new Error('expected an HpnsError');
    const code: HpnsErrorCode = value.code;
    expect([code, value.retryable]).toEqual(['HPNS_RATE_LIMITED', true]);
  });

  it('recognises an HpnsError from another copy of the module by its name and code', () => {
    const foreign = Object.assign(new Error('x'), {
      name: 'HpnsError',
      code: 'HPNS_INTERNAL',
      retryable: false,
    });
    expect(isHpnsError(foreign)).toBe(true);
    expect(isHpnsError(foreign, 'HPNS_INTERNAL')).toBe(true);
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'HPNS_INTERNAL'],
    ['a number', 42],
    ['a plain Error', new Error('x')],
    [
      'an Error with a catalog code but another name',
      Object.assign(new Error('x'), { code: 'HPNS_INTERNAL' }),
    ],
    ['an HpnsError-named object with an unknown code', { name: 'HpnsError', code: 'HPNS_NOPE' }],
    ['an HpnsError-named object with a non-string code', { name: 'HpnsError', code: 1 }],
    ['an HpnsError-named object without a code', { name: 'HpnsError' }],
  ])('is false for %s', (_name, value) => {
    expect(isHpnsError(value)).toBe(false);
  });

  it.each(['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'])(
    'is false for an HpnsError-named object whose code is the Object.prototype name %s',
    (code) => {
      expect(isHpnsError({ name: 'HpnsError', code })).toBe(false);
    },
  );
});
