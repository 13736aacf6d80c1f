import { ackIdOf, ReceiptLog } from '../src/receipt-log';

describe('ReceiptLog', () => {
  test('pages from a cursor, and a reader that fell behind the ring learns how much it lost', () => {
    const log = new ReceiptLog(4);
    for (let i = 1; i <= 3; i += 1) log.add(`t${i}`, `a${i}`, 200);
    expect(log.since(0)).toEqual({
      first: 1,
      next: 3,
      latest: 3,
      items: [
        [1, 't1', 'a1', 200],
        [2, 't2', 'a2', 200],
        [3, 't3', 'a3', 200],
      ],
    });
    expect(log.since(3)).toEqual({ first: 1, next: 3, latest: 3, items: [] });
    for (let i = 4; i <= 9; i += 1) log.add(`t${i}`, '', 410);
    const page = log.since(3, 2);
    // Receipts 4 and 5 fell out of the ring: first = 6 tells the reader.
    expect(page.first).toBe(6);
    expect(page.items.map((i) => i[0])).toEqual([6, 7]);
    expect(page.next).toBe(7);
    log.clear();
    expect(log.since(7)).toEqual({ first: 10, next: 9, latest: 9, items: [] });
    log.add('t10', 'a10', 200);
    expect(log.since(7).items).toEqual([[10, 't10', 'a10', 200]]);
  });

  test('ackIdOf reads ack_id from an APNs or FCM body without parsing it', () => {
    expect(ackIdOf('{"aps":{},"ack_id":"abc123","x":1}')).toBe('abc123');
    expect(ackIdOf('{"message":{"data":{"ack_id":"zz"}}}')).toBe('zz');
    expect(ackIdOf('{"aps":{}}')).toBe('');
  });
});
