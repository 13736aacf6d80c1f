import { decodeAck } from '@hpns/protocol';

// send-push-decode.test.ts covers a complete ack, the FAIL texts and key case; these cover the rest.
describe('decodeAck', () => {
  it.each([
    ['', 'decode'],
    ['{"id":1}', 'decode'],
    ['{}', 'id'],
    ['{"id":"a"}', 'platform'],
    ['{"id":"a","platform":"ios"}', 'type'],
  ])('classifies %j as a %s failure', (body, failure) => {
    expect(decodeAck(body)).toMatchObject({ ok: false, failure });
  });

  it('checks id, then platform, then type', () => {
    expect(decodeAck('{"id":"","platform":"","type":""}')).toMatchObject({ failure: 'id' });
    expect(decodeAck('{"id":"a","platform":"","type":""}')).toMatchObject({ failure: 'platform' });
  });

  it('reports a type error before a missing field', () => {
    expect(decodeAck('{"is_id_loaded":"yes"}')).toEqual({
      ok: false,
      failure: 'decode',
      error:
        'Failed to read ack body: json: cannot unmarshal string into Go struct field PushNotificationAck.is_id_loaded of type bool',
    });
  });

  it('gives absent and null fields Go’s zero values', () => {
    expect(
      decodeAck('{"id":"a","platform":"android","type":"clear","received_at":null,"post_id":null}'),
    ).toEqual({
      ok: true,
      ack: { id: 'a', received_at: 0, platform: 'android', type: 'clear', post_id: '', is_id_loaded: false },
    });
  });

  it('does not validate platform or type values', () => {
    expect(decodeAck('{"id":"a","platform":"apple_rn-v2","type":"anything"}')).toMatchObject({
      ok: true,
      ack: { platform: 'apple_rn-v2', type: 'anything' },
    });
  });

  it('accepts a negative received_at', () => {
    expect(decodeAck('{"id":"a","platform":"ios","type":"t","received_at":-5}')).toMatchObject({
      ok: true,
      ack: { received_at: -5 },
    });
  });

  it('refuses a fractional received_at (int64)', () => {
    expect(decodeAck('{"id":"a","platform":"ios","type":"t","received_at":1.5}')).toEqual({
      ok: false,
      failure: 'decode',
      error:
        'Failed to read ack body: json: cannot unmarshal number 1.5 into Go struct field PushNotificationAck.received_at of type int64',
    });
  });

  it('ignores unknown keys and anything after the first JSON value', () => {
    expect(decodeAck('{"id":"a","platform":"ios","type":"t","extra":{"x":[1]}} {garbage')).toMatchObject({
      ok: true,
      ack: { id: 'a' },
    });
  });

  it('treats a null body as an empty ack (missing id)', () => {
    expect(decodeAck('null')).toEqual({
      ok: false,
      failure: 'id',
      error: 'Failed because of missing ack Id',
    });
  });
});
