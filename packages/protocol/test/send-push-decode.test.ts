import { decodeAck, decodeSendPush, type ProviderKind } from '@hpns/protocol';

const TARGETS: Record<string, ProviderKind> = { apple_rn: 'apns', android_rn: 'fcm' };
const lookup = (type: string) => TARGETS[type];

function failText(body: string): string {
  const result = decodeSendPush(body, lookup);
  if (result.ok) throw new Error('expected FAIL');
  return result.error;
}

function okNotification(body: string) {
  const result = decodeSendPush(body, lookup);
  if (!result.ok) throw new Error(`unexpected FAIL: ${result.error}`);
  return result.request;
}

const VALID = '{"server_id":"s","device_id":"d","platform":"apple_rn"';

describe('decodeSendPush', () => {
  describe('Go json.Decoder syntax errors, in the proxy FAIL text', () => {
    it.each([
      ['', 'EOF'],
      [' \n\t ', 'EOF'],
      ['{', 'unexpected EOF'],
      ['{"server_id":"s"', 'unexpected EOF'],
      ['{"server_id":"s', 'unexpected EOF'],
      ['{"badge":-', 'unexpected EOF'],
      ['{"is_id_loaded":tr', 'unexpected EOF'],
      ['x', "invalid character 'x' looking for beginning of value"],
      ['{x}', "invalid character 'x' looking for beginning of object key string"],
      ['{"a" 1}', "invalid character '1' after object key"],
      ['{"a":1 "b":2}', `invalid character '"' after object key:value pair`],
      ['{"a":1,}', "invalid character '}' looking for beginning of object key string"],
      ['{"a":[1 2]}', "invalid character '2' after array element"],
      ['{"a":[1,]}', "invalid character ']' looking for beginning of value"],
      ['{"a":tru}', "invalid character '}' in literal true (expecting 'e')"],
      ['{"a":nul!}', "invalid character '!' in literal null (expecting 'l')"],
      ['{"a":"\\x"}', "invalid character 'x' in string escape code"],
      ['{"a":"\\u12g4"}', "invalid character 'g' in \\u hexadecimal character escape"],
      ['{"a":"line\nbreak"}', "invalid character '\\n' in string literal"],
      ['{"a":"nul\u0000"}', "invalid character '\\x00' in string literal"],
      ['{"a":-x}', "invalid character 'x' in numeric literal"],
      ['{"a":1.x}', "invalid character 'x' after decimal point in numeric literal"],
      ['{"a":1ex}', "invalid character 'x' in exponent of numeric literal"],
      ['{"a":01}', "invalid character '1' after object key:value pair"],
      ["{'a':1}", "invalid character '\\'' looking for beginning of object key string"],
      ['{"a":é}', "invalid character 'Ã' looking for beginning of value"],
      ['\u00a0{}', "invalid character 'Â' looking for beginning of value"],
    ])('%j → %s', (body, goError) => {
      expect(failText(body)).toBe(`Failed to read message body: ${goError}`);
    });

    it('refuses nesting deeper than Go’s 10000 levels without overflowing the stack', () => {
      const deep = `{"a":${'['.repeat(20000)}`;
      expect(failText(deep)).toBe("Failed to read message body: invalid character '[' exceeded max depth");
      const deepEmpty = `{"a":${'['.repeat(9999)}{}${']'.repeat(9999)},"server_id":""}`;
      expect(failText(deepEmpty)).toBe(
        "Failed to read message body: invalid character '{' exceeded max depth",
      );
      const allowed = `{"a":${'['.repeat(9998)}{}${']'.repeat(9998)}}`;
      expect(failText(allowed)).toBe('Failed because of missing server Id');
    });
  });

  describe('Go type errors', () => {
    it.each([
      ['{"badge":"2"}', 'string into Go struct field PushNotification.badge of type int'],
      ['{"badge":1.5}', 'number 1.5 into Go struct field PushNotification.badge of type int'],
      ['{"badge":1e2}', 'number 1e2 into Go struct field PushNotification.badge of type int'],
      ['{"badge":1.0}', 'number 1.0 into Go struct field PushNotification.badge of type int'],
      ['{"badge":true}', 'bool into Go struct field PushNotification.badge of type int'],
      [
        '{"badge":9223372036854775808}',
        'number 9223372036854775808 into Go struct field PushNotification.badge of type int',
      ],
      ['{"cont_ava":[]}', 'array into Go struct field PushNotification.cont_ava of type int'],
      ['{"is_id_loaded":"true"}', 'string into Go struct field PushNotification.is_id_loaded of type bool'],
      ['{"is_crt_enabled":1}', 'number into Go struct field PushNotification.is_crt_enabled of type bool'],
      ['{"server_id":1}', 'number into Go struct field PushNotification.server_id of type string'],
      ['{"message":{"a":1}}', 'object into Go struct field PushNotification.message of type string'],
      ['{"Device_ID":false}', 'bool into Go struct field PushNotification.device_id of type string'],
      ['[]', 'array into Go value of type model.PushNotification'],
      ['"x"', 'string into Go value of type model.PushNotification'],
      ['12', 'number into Go value of type model.PushNotification'],
      ['true', 'bool into Go value of type model.PushNotification'],
    ])('%s → cannot unmarshal %s', (body, goError) => {
      expect(failText(body)).toBe(`Failed to read message body: json: cannot unmarshal ${goError}`);
    });

    it('reports the first type error and fails even when a later duplicate is valid', () => {
      expect(failText('{"badge":"x","is_crt_enabled":1,"badge":2}')).toBe(
        'Failed to read message body: json: cannot unmarshal string into Go struct field PushNotification.badge of type int',
      );
    });

    it('checks types before the required fields', () => {
      expect(failText('{"badge":"x"}')).toMatch(/^Failed to read message body: json: cannot unmarshal/);
    });
  });

  describe('Go decoding rules that accept', () => {
    it('reads only the first JSON value and ignores what follows', () => {
      expect(okNotification(`${VALID}} trailing {garbage`).notification.server_id).toBe('s');
      expect(okNotification(`${VALID}}{"server_id":"other"}`).notification.server_id).toBe('s');
    });

    it('matches keys case-insensitively, including Go’s Kelvin-sign and long-s folding', () => {
      const n = okNotification(
        '{"SERVER_ID":"s","Device_Id":"d","PLATFORM":"apple_rn","ac\u212a_id":"k","ſub_type":"x"}',
      );
      expect(n.notification).toMatchObject({ server_id: 's', device_id: 'd', ack_id: 'k', sub_type: 'x' });
    });

    it('lets a later duplicate win and treats null as "assign nothing"', () => {
      const n = okNotification(`${VALID},"message":"a","MESSAGE":"b","badge":3,"badge":null,"type":null}`);
      expect(n.notification).toMatchObject({ message: 'b', badge: 3, type: '' });
    });

    it('ignores unknown keys of any type', () => {
      const n = okNotification(`${VALID},"id":1,"app_version":{"x":[1,2]},"extra":null}`);
      expect(n.notification.server_id).toBe('s');
    });

    it('decodes escapes and turns lone surrogates into U+FFFD', () => {
      const n = okNotification(
        `${VALID},"message":"a\\u00e9\\ud83d\\ude00\\n\\/\\ud800x","sender_name":"\\u0041"}`,
      );
      expect(n.notification.message).toBe('aé😀\n/\ufffdx');
      expect(n.notification.sender_name).toBe('A');
    });

    it('accepts int64 bounds and -0 for int fields', () => {
      expect(okNotification(`${VALID},"badge":-0}`).notification.badge).toBe(0);
      expect(okNotification(`${VALID},"badge":-1}`).notification.badge).toBe(-1);
      expect(
        okNotification(`${VALID},"cont_ava":9223372036854775807}`).notification.cont_ava,
      ).toBeGreaterThan(9e18);
    });

    it('gives absent fields Go’s zero values', () => {
      const n = okNotification(`${VALID}}`).notification;
      expect(n).toMatchObject({
        badge: 0,
        message: '',
        is_id_loaded: false,
        is_crt_enabled: false,
        signature: '',
      });
    });

    it('treats a null body as an empty notification', () => {
      expect(failText('null')).toBe('Failed because of missing server Id');
    });
  });

  describe('validation order and FAIL texts (reference §1.5)', () => {
    it('requires server_id, then device_id, then a known platform', () => {
      expect(failText('{}')).toBe('Failed because of missing server Id');
      expect(failText('{"device_id":"d","platform":"nope"}')).toBe('Failed because of missing server Id');
      expect(failText('{"server_id":"srv1","platform":"nope"}')).toBe(
        'Failed because of missing device Id serverId=srv1',
      );
      expect(failText('{"server_id":"srv1","device_id":"d","platform":"apple_rnx-v2"}')).toBe(
        'Did not send message because of missing platform property type=apple_rnx serverId=srv1',
      );
      expect(failText('{"server_id":"srv1","device_id":"d"}')).toBe(
        'Did not send message because of missing platform property type= serverId=srv1',
      );
    });

    it('looks platforms up exactly and case-sensitively', () => {
      expect(failText('{"server_id":"s","device_id":"d","platform":"APPLE_RN"}')).toMatch(
        /missing platform property/,
      );
    });

    it('names the failed check', () => {
      const failures = ['', '{}', '{"server_id":"s"}', '{"server_id":"s","device_id":"d"}'].map((body) => {
        const result = decodeSendPush(body, lookup);
        return result.ok ? 'ok' : result.failure;
      });
      expect(failures).toEqual(['decode', 'server_id', 'device_id', 'platform']);
    });

    it('does not validate type (any string is passed through)', () => {
      expect(okNotification(`${VALID},"type":"future_kind"}`).notification.type).toBe('future_kind');
    });
  });

  describe('platform suffix and routing', () => {
    it.each([
      ['apple_rn-v2', 'apple_rn', 2],
      ['apple_rn-v3', 'apple_rn', 3],
      ['apple_rn-v+4', 'apple_rn', 4],
      ['apple_rn-v', 'apple_rn', 1],
      ['apple_rn-vx', 'apple_rn', 1],
      ['apple_rn-v99999999999999999999', 'apple_rn', 1],
      ['apple_rn', 'apple_rn', 1],
    ])('%s → target %s, app version %d', (platform, target, appVersion) => {
      const request = okNotification(`{"server_id":"s","device_id":"d","platform":"${platform}"}`);
      expect(request).toMatchObject({ targetType: target, appVersion });
    });

    it('cuts at the first "-v", as the proxy does', () => {
      expect(failText('{"server_id":"s","device_id":"d","platform":"apple-vendor_rn"}')).toMatch(
        /type=apple serverId/,
      );
    });

    it('routes transport "voip" through APNs only', () => {
      expect(okNotification(`${VALID},"transport":"voip"}`).transport).toBe('voip');
      expect(
        okNotification('{"server_id":"s","device_id":"d","platform":"android_rn","transport":"voip"}')
          .transport,
      ).toBe('standard');
      expect(okNotification(`${VALID},"transport":"VOIP"}`).transport).toBe('standard');
    });

    it('does not alias apple_voip_* onto an Android or unknown target', () => {
      const lookupWithAndroidApple = (type: string) => (type === 'apple_x' ? ('fcm' as const) : undefined);
      const result = decodeSendPush(
        '{"server_id":"s","device_id":"d","platform":"apple_voip_x"}',
        lookupWithAndroidApple,
      );
      expect(result.ok).toBe(false);
    });

    it('prefers a configured apple_voip_* target over the alias', () => {
      const result = decodeSendPush('{"server_id":"s","device_id":"d","platform":"apple_voip_rn"}', (type) =>
        type === 'apple_voip_rn' || type === 'apple_rn' ? 'apns' : undefined,
      );
      expect(result.ok && result.request).toMatchObject({
        targetType: 'apple_voip_rn',
        transport: 'standard',
      });
    });
  });

  describe('truncation at UTF-8 character boundaries', () => {
    const withMessage = (message: string, channel = '') =>
      okNotification(
        JSON.stringify({
          server_id: 's',
          device_id: 'd',
          platform: 'apple_rn',
          message,
          channel_name: channel,
        }),
      ).notification;

    it('keeps a 2047-byte message and cuts a longer one to 2046 bytes', () => {
      expect(withMessage('x'.repeat(2047)).message).toHaveLength(2047);
      expect(withMessage('x'.repeat(2048)).message).toHaveLength(2046);
    });

    it('never splits a multi-byte character', () => {
      expect(withMessage('é'.repeat(1024)).message).toBe('é'.repeat(1023));
      expect(withMessage(`x${'€'.repeat(683)}`).message).toBe(`x${'€'.repeat(681)}`);
      const emoji = withMessage(`${'x'.repeat(2044)}😀`).message;
      expect(emoji).toBe('x'.repeat(2044));
    });

    it('cuts channel_name to 64 bytes', () => {
      expect(withMessage('', 'c'.repeat(64)).channel_name).toHaveLength(64);
      expect(withMessage('', 'c'.repeat(65)).channel_name).toHaveLength(64);
      expect(withMessage('', `${'a'.repeat(62)}😀`).channel_name).toBe('a'.repeat(62));
    });
  });
});

describe('decodeAck', () => {
  it('accepts a complete ack', () => {
    const result = decodeAck(
      '{"id":"a1","received_at":1700000000123,"platform":"ios","type":"message","post_id":"p","is_id_loaded":true}',
    );
    expect(result).toEqual({
      ok: true,
      ack: {
        id: 'a1',
        received_at: 1700000000123,
        platform: 'ios',
        type: 'message',
        post_id: 'p',
        is_id_loaded: true,
      },
    });
  });

  it.each([
    ['', 'Failed to read ack body: EOF'],
    ['{"id":', 'Failed to read ack body: unexpected EOF'],
    [
      '{"id":"a","received_at":"now"}',
      'Failed to read ack body: json: cannot unmarshal string into Go struct field PushNotificationAck.received_at of type int64',
    ],
    [
      '[1]',
      'Failed to read ack body: json: cannot unmarshal array into Go value of type model.PushNotificationAck',
    ],
    ['{}', 'Failed because of missing ack Id'],
    ['{"id":"a"}', 'Failed because of missing ack platform'],
    ['{"id":"a","platform":"android"}', 'Failed because of missing ack type'],
  ])('%j → %s', (body, error) => {
    const result = decodeAck(body);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toBe(error);
  });

  it('matches ack keys case-insensitively', () => {
    expect(decodeAck('{"ID":"a","Platform":"ios","TYPE":"clear"}').ok).toBe(true);
  });
});
