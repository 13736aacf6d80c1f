import { type Region } from '@hpns/protocol';
import { pushQueueShards, TENANTS_KEY } from '@hpns/queue';
import { REDIS_BACKEND_KINDS, type CommandMonitor } from '@hpns/testkit';
import { registerTenant } from '../src/tenant-registry';
import { HarnessRedis, post, pushBody, send, startHarness, type Harness } from './harness';

/** send_push answers counted by result so far (hpns_ingress_requests_total). */
async function sendPushResults(h: Harness): Promise<Record<string, number>> {
  const samples = (await h.registry.getSingleMetric('hpns_ingress_requests_total')?.get())?.values ?? [];
  const counts: Record<string, number> = {};
  for (const sample of samples) {
    if (sample.labels.endpoint !== 'send_push') continue;
    const result = String(sample.labels.result);
    counts[result] = (counts[result] ?? 0) + sample.value;
  }
  return counts;
}

/**
 * Every suite below runs on a single Redis per region and again on a 3+3 test cluster per region with queue
 * shards (TEST_CLUSTER_SHARDS): keys are read off every master, INFO counters summed over them.
 */
describe.each(REDIS_BACKEND_KINDS)('on %s Redis', (kind) => {
  const redis = new HarnessRedis(kind);
  afterAll(() => redis.stop(), 30_000);
  // Killing the Redis of a region: on a cluster, killing one node fails it over to its replica rather than
  // making the region's Redis unavailable (packages/queue's cluster tests and the tools' failover test cover
  // that), so these run on a single server only.
  const itSingleServer = kind === 'single' ? it : it.skip;

  describe('ingress send_push (one region, open listener)', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({
        api: { waitMs: 300, testWaitMs: 1500 },
        bodyLimitBytes: 4096,
        backends: await redis.take(['us']),
      });
    }, 60_000);
    afterAll(() => h?.close(), 30_000);
    beforeEach(() => {
      h.answer = () => ({ status: 'OK' });
      h.regions.get('us')?.received.splice(0);
    });

    it.each([
      ['an empty body', '', 'Failed to read message body: EOF'],
      [
        'a wrong type',
        '{"badge":"2"}',
        'Failed to read message body: json: cannot unmarshal string into Go struct field PushNotification.badge of type int',
      ],
      ['no server id', '{"device_id":"d","platform":"apple_rn"}', 'Failed because of missing server Id'],
      [
        'no device id',
        '{"server_id":"s1","platform":"apple_rn"}',
        'Failed because of missing device Id serverId=s1',
      ],
      [
        'an unknown platform',
        '{"server_id":"s1","device_id":"d","platform":"winphone-v2"}',
        'Did not send message because of missing platform property type=winphone serverId=s1',
      ],
    ])('answers 200 with the proxy’s FAIL text for %s', async (_name, body, error) => {
      const res = await post(`${h.url()}/api/v1/send_push`, body);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(res.body).toBe(`${JSON.stringify({ error, status: 'FAIL' })}\n`);
    });

    it('queues a valid push, sealed, and answers with the worker’s outcome', async () => {
      const res = await post(`${h.url()}/api/v1/send_push`, pushBody({ device_id: 'tok1' }));
      expect(res).toMatchObject({ status: 200, body: '{"status":"OK"}\n' });
      const received = h.regions.get('us')?.received ?? [];
      expect(received).toHaveLength(1);
      expect(received[0]?.routing).toMatchObject({
        region: 'us',
        provider: 'apns',
        targetType: 'apple_rn',
        appVersion: 2,
        pushType: 'message',
      });
      expect(received[0]?.content.device_id).toBe('tok1');

      h.answer = () => ({ status: 'REMOVE' });
      expect((await post(`${h.url()}/api/v1/send_push`, pushBody())).body).toBe('{"status":"REMOVE"}\n');
      h.answer = () => ({ status: 'FAIL', error: 'unknown send response error: BadTopic' });
      expect((await post(`${h.url()}/x/y/api/v1/send_push`, pushBody())).body).toBe(
        '{"error":"unknown send response error: BadTopic","status":"FAIL"}\n',
      );
    });

    it('keeps an unknown push type out of Redis in clear: `other` in the routing, never in the job name', async () => {
      const canary = 'canary-type-7c1e';
      expect((await post(`${h.url()}/api/v1/send_push`, pushBody({ type: canary }))).body).toBe(
        '{"status":"OK"}\n',
      );
      const received = h.regions.get('us')?.received ?? [];
      expect(received[0]?.routing.pushType).toBe('other');
      // The type itself travels sealed, for the payload builders.
      expect(received[0]?.content.type).toBe(canary);
      // The envelope went to one of the shards: read every shard's event stream and job hashes.
      const shards = pushQueueShards('us' as Region, 'apns', h.shards);
      const events = (
        await Promise.all(
          shards.map(({ prefix, name }) => h.redisOf('us').xrange(`${prefix}:${name}:events`, '-', '+')),
        )
      ).flat();
      const added = events.filter(([, fields]) => fields.includes('added'));
      expect(added.length).toBeGreaterThan(0);
      expect(JSON.stringify(events)).not.toContain(canary);
      // An envelope's job name is `envelope`; the bounded type is in its clear part.
      expect(JSON.stringify(added.at(-1))).toContain('"envelope"');
      const jobKeys = (
        await Promise.all(shards.map(({ prefix, name }) => h.backendOf('us').keys(`${prefix}:${name}:e*`)))
      ).flat();
      const stored = JSON.stringify(
        await Promise.all(
          jobKeys.map((k) =>
            h
              .redisOf('us')
              .hgetall(k)
              .catch(() => ({})),
          ),
        ),
      );
      expect(stored).not.toContain(canary);
    });

    it('answers OK once the wait bound passes without an outcome, longer for test pushes', async () => {
      h.answer = () => undefined;
      const started = Date.now();
      expect((await post(`${h.url()}/api/v1/send_push`, pushBody())).body).toBe('{"status":"OK"}\n');
      const normal = Date.now() - started;
      const testStarted = Date.now();
      expect(
        (await post(`${h.url()}/api/v1/send_push`, pushBody({ type: 'test', badge: -1, ack_id: '' }))).body,
      ).toBe('{"status":"OK"}\n');
      expect(Date.now() - testStarted).toBeGreaterThanOrEqual(1500);
      expect(normal).toBeGreaterThanOrEqual(300);
      expect(normal).toBeLessThan(1500);
    });

    it('queues a push with the same ack_id and device once (idempotency)', async () => {
      const body = pushBody({ ack_id: 'ack-dup-1', device_id: 'tok-dup' });
      expect((await post(`${h.url()}/api/v1/send_push`, body)).body).toBe('{"status":"OK"}\n');
      expect((await post(`${h.url()}/api/v1/send_push`, body)).body).toBe('{"status":"OK"}\n');
      expect(h.regions.get('us')?.received).toHaveLength(1);
      // Another device with the same ack_id is another send.
      await post(`${h.url()}/api/v1/send_push`, pushBody({ ack_id: 'ack-dup-1', device_id: 'tok-other' }));
      expect(h.regions.get('us')?.received).toHaveLength(2);
      // One compact record per push (idempotency.ts), by a keyed hash: neither the ack id nor the token in Redis.
      const keys = await h.backendOf('us').keys('hpns:{idem-us-*');
      expect(keys.length).toBeGreaterThan(0);
      const stored = JSON.stringify(await Promise.all(keys.map((k) => h.redisOf('us').hgetall(k))));
      expect(keys.join() + stored).not.toContain('ack-dup-1');
      expect(keys.join() + stored).not.toContain('tok-dup');
    });

    it('answers a second copy of a push with the first copy’s outcome when that was FAIL or REMOVE', async () => {
      const tooLarge = 'unknown send response error: PayloadTooLarge';
      h.answer = () => ({ status: 'FAIL', error: tooLarge });
      const failing = pushBody({ ack_id: 'ack-dup-fail', device_id: 'tok-dup-fail' });
      const first = await post(`${h.url()}/api/v1/send_push`, failing);
      expect(first.body).toBe(`{"error":"${tooLarge}","status":"FAIL"}\n`);
      // The server sends the same push again (same ack_id and device): not queued again, and not a blind OK.
      h.answer = () => ({ status: 'OK' });
      expect((await post(`${h.url()}/api/v1/send_push`, failing)).body).toBe(first.body);
      h.answer = () => ({ status: 'REMOVE' });
      const removed = pushBody({ ack_id: 'ack-dup-remove', device_id: 'tok-dup-remove' });
      expect((await post(`${h.url()}/api/v1/send_push`, removed)).body).toBe('{"status":"REMOVE"}\n');
      expect((await post(`${h.url()}/api/v1/send_push`, removed)).body).toBe('{"status":"REMOVE"}\n');
      expect(h.regions.get('us')?.received).toHaveLength(2);
      const results = await sendPushResults(h);
      expect(results['duplicate']).toBeGreaterThanOrEqual(2);
      // Kept under the request id HPNS made, never under anything the caller sent.
      const kept = await h.backendOf('us').keys('hpns:final-us:*');
      expect(kept.join()).not.toContain('ack-dup');
    });

    it('answers REMOVE at once for a token in the dead-token cache, queueing nothing', async () => {
      const binding = h.regions.get('us')?.binding;
      await binding?.deadTokens.markDead('apple_rn', 'deadtoken', 'Unregistered');
      const res = await post(`${h.url()}/api/v1/send_push`, pushBody({ device_id: 'deadtoken' }));
      expect(res.body).toBe('{"status":"REMOVE"}\n');
      expect(h.regions.get('us')?.received).toHaveLength(0);
    });

    it('refuses a region the path names but this ingress does not serve, and ignores other prefixes', async () => {
      const res = await post(`${h.url()}/de/api/v1/send_push`, pushBody());
      expect(res.body).toBe(
        '{"error":"Push notification region de is not served by this endpoint","status":"FAIL"}\n',
      );
      expect((await post(`${h.url()}/mattermost/api/v1/send_push`, pushBody())).body).toBe(
        '{"status":"OK"}\n',
      );
    });

    it('answers 413 for a body over the limit, without reading it all', async () => {
      const res = await post(`${h.url()}/api/v1/send_push`, pushBody({ message: 'x'.repeat(5000) }));
      expect(res.status).toBe(413);
    });

    it('answers the other routes as the Go proxy does', async () => {
      expect(await send('GET', `${h.url()}/`)).toMatchObject({
        status: 200,
        body: '<html><body>Mattermost Push Proxy</body></html>',
      });
      expect(await send('GET', `${h.url()}/version`)).toMatchObject({
        status: 200,
        body: '{"hash":"abc1234","version":"1.2.3"}\n',
      });
      expect(await send('GET', `${h.url()}/api/v1/send_push`)).toMatchObject({ status: 405, body: '' });
      expect(await send('GET', `${h.url()}/api/v1/send_push/`)).toMatchObject({
        status: 404,
        body: '404 page not found\n',
      });
      expect(await send('POST', `${h.url()}/nope`, '{}')).toMatchObject({
        status: 404,
        body: '404 page not found\n',
      });
    });

    itSingleServer('answers FAIL "temporarily unavailable" at once while Redis is down', async () => {
      const rig = h.regions.get('us');
      await rig?.backend.server?.kill('SIGKILL');
      try {
        const before = await sendPushResults(h);
        const res = await post(`${h.url()}/api/v1/send_push`, pushBody());
        expect(res.body).toBe(
          '{"error":"Push service temporarily unavailable, please retry","status":"FAIL"}\n',
        );
        // Counted as Redis trouble (what HpnsRedisUnavailable watches), not as a bug.
        const after = await sendPushResults(h);
        expect((after['unavailable'] ?? 0) - (before['unavailable'] ?? 0)).toBe(1);
        expect(after['internal_error'] ?? 0).toBe(before['internal_error'] ?? 0);
      } finally {
        await rig?.backend.server?.start();
        await h.reconnected('us');
      }
    });
  });

  describe('ingress send_push on an internal error', () => {
    let h: Harness;
    beforeAll(async () => {
      // A tenant lookup that fails with something other than Redis being away: a bug, not an outage.
      h = await startHarness({
        backends: await redis.take(['us']),
        listeners: ['hpns'],
        api: {
          tenants: {
            find: () => Promise.reject(new TypeError('tenant record is not an object')),
          },
        },
      });
    }, 60_000);
    afterAll(() => h?.close(), 30_000);

    it('answers the retryable FAIL and counts internal_error, not unavailable', async () => {
      const res = await post(`${h.url()}/api/v1/send_push`, pushBody());
      expect(res.body).toBe(
        '{"error":"Push service temporarily unavailable, please retry","status":"FAIL"}\n',
      );
      expect(await sendPushResults(h)).toEqual({ internal_error: 1 });
    });
  });

  describe('ingress ack', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({ backends: await redis.take(['us']) });
    }, 60_000);
    afterAll(() => h?.close(), 30_000);

    it.each([
      ['{"id":"a1","received_at":1700000000000,"platform":"ios","type":"message"}', '{"status":"OK"}\n'],
      ['', '{"error":"Failed to read ack body: EOF","status":"FAIL"}\n'],
      [
        '{"platform":"ios","type":"message"}',
        '{"error":"Failed because of missing ack Id","status":"FAIL"}\n',
      ],
      [
        '{"id":"a1","type":"message"}',
        '{"error":"Failed because of missing ack platform","status":"FAIL"}\n',
      ],
      [
        '{"id":"a1","platform":"android"}',
        '{"error":"Failed because of missing ack type","status":"FAIL"}\n',
      ],
    ])('answers %s with %s', async (body, expected) => {
      expect(await post(`${h.url()}/api/v1/ack`, body)).toMatchObject({ status: 200, body: expected });
    });

    it('joins an ack with its delivery for time-to-device, once, keeping no ack id in Redis', async () => {
      const acceptedAtMs = Date.now() - 1500;
      await h.regions.get('us')?.binding.acks?.delivered('ack-ttd-1', acceptedAtMs);
      expect((await h.backendOf('us').keys('*')).join()).not.toContain('ack-ttd-1');
      const ack = JSON.stringify({
        id: 'ack-ttd-1',
        received_at: acceptedAtMs + 1200,
        platform: 'android',
        type: 'message',
      });
      expect((await post(`${h.url()}/api/v1/ack`, ack)).body).toBe('{"status":"OK"}\n');
      const observed = async () => {
        const metric = await h.registry.getSingleMetric('hpns_push_time_to_device_seconds')?.get();
        return (
          metric?.values.find(
            (v) =>
              (v as { metricName?: string }).metricName === 'hpns_push_time_to_device_seconds_count' &&
              v.labels['platform'] === 'android',
          )?.value ?? 0
        );
      };
      // The join runs after the answer: wait for it through Redis (the key is gone once joined).
      while ((await h.backendOf('us').keys('hpns:ack-us:*')).length > 0)
        await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(await observed()).toBe(1);
      const sum = (await h.registry.getSingleMetric('hpns_push_time_to_device_seconds')?.get())?.values.find(
        (v) => (v as { metricName?: string }).metricName === 'hpns_push_time_to_device_seconds_sum',
      )?.value;
      expect(sum).toBeCloseTo(1.2, 3);
      await post(`${h.url()}/api/v1/ack`, ack);
      expect(await observed()).toBe(1);
    });
  });

  describe('ingress entitlement and regions (two Redis servers)', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({
        backends: await redis.take(['us', 'de']),
        regions: ['us', 'de'],
        listeners: ['hpns', 'tpns', 'open'],
        api: { tpnsRatePerSec: 3 },
      });
      // Each tenant is registered in its home region's Redis only (data residency).
      await registerTenant(h.redisOf('de'), {
        serverId: 'paying-de',
        tier: 'hpns',
        homeRegion: 'de' as never,
        ratePerSec: 0,
      });
      await registerTenant(h.redisOf('us'), {
        serverId: 'paying-us',
        tier: 'hpns',
        homeRegion: 'us' as never,
        ratePerSec: 2,
      });
    }, 60_000);
    afterAll(() => h?.close(), 30_000);
    beforeEach(() => {
      for (const rig of h.regions.values()) rig.received.splice(0);
    });

    it('joins an ack in its own region only: not one command reaches the other region’s Redis', async () => {
      // Calls per command, summed over the region's masters.
      const stats = async (region: string) => {
        const commands = ['getdel', 'get', 'set', 'del'];
        const calls = await Promise.all(
          commands.map((c) =>
            h.backendOf(region).infoSum('commandstats', new RegExp(`cmdstat_${c}:calls=(\\d+)`)),
          ),
        );
        return Object.fromEntries(commands.map((c, i) => [c, calls[i]])) as Record<string, number>;
      };
      await h.regions.get('de')?.binding.acks.delivered('ack-de-1', Date.now() - 100);
      const usBefore = await stats('us');
      const deBefore = await stats('de');
      const ack = JSON.stringify({ id: 'ack-de-1', platform: 'android', type: 'message' });
      expect((await post(`${h.url(2)}/de/api/v1/ack`, ack)).body).toBe('{"status":"OK"}\n');
      // The join runs after the answer: wait until the DE Redis has seen it.
      while (((await stats('de'))['getdel'] ?? 0) === (deBefore['getdel'] ?? 0))
        await new Promise((r) => setTimeout(r, 10));
      const usAfter = await stats('us');
      // The US Redis saw no ack lookup (its fake worker's own BullMQ polling goes on meanwhile, so count by kind).
      for (const command of ['getdel', 'get', 'set', 'del']) {
        expect([command, usAfter[command] ?? 0]).toEqual([command, usBefore[command] ?? 0]);
      }
      expect(await h.regions.get('de')?.binding.acks.acked('ack-de-1')).toBeUndefined();
    });

    it('serves registered tenants only on an hpns listener', async () => {
      const unknown = await post(`${h.url(0)}/api/v1/send_push`, pushBody({ server_id: 'stranger' }));
      expect(unknown.body).toBe(
        '{"error":"Server is not registered for this push notification service serverId=stranger","status":"FAIL"}\n',
      );
      const known = await post(`${h.url(0)}/de/api/v1/send_push`, pushBody({ server_id: 'paying-de' }));
      expect(known.body).toBe('{"status":"OK"}\n');
    });

    it('routes a global-endpoint push to the tenant’s home region, and keeps it out of the other Redis', async () => {
      const res = await post(
        `${h.url(0)}/api/v1/send_push`,
        pushBody({ server_id: 'paying-de', message: 'only in germany' }),
        {
          host: 'global.push.test',
        },
      );
      expect(res.body).toBe('{"status":"OK"}\n');
      expect(h.regions.get('de')?.received).toHaveLength(1);
      expect(h.regions.get('us')?.received).toHaveLength(0);
      const usKeys = await h.backendOf('us').keys('hpns:{push-de-*');
      expect(usKeys).toEqual([]);
    });

    it('refuses a tenant’s push sent to another region’s endpoint', async () => {
      const res = await post(`${h.url(0)}/us/api/v1/send_push`, pushBody({ server_id: 'paying-de' }));
      expect(res.body).toBe(
        '{"error":"Server serverId=paying-de is registered in region de; use the de push notification endpoint","status":"FAIL"}\n',
      );
      expect(h.regions.get('us')?.received).toHaveLength(0);
    });

    it('limits each server on a tpns listener, and each tenant to its own rate', async () => {
      const bodies = Array.from({ length: 6 }, () => pushBody({ server_id: 'free-1' }));
      const answers = await Promise.all(bodies.map((b) => post(`${h.url(1)}/us/api/v1/send_push`, b)));
      const limited = answers.filter((a) =>
        a.body.includes('Rate limit exceeded for serverId=free-1'),
      ).length;
      // 3 per second: at least 2 of 6 refused (a window boundary can split the burst).
      expect(limited).toBeGreaterThanOrEqual(2);
      const tenant = await Promise.all(
        Array.from({ length: 5 }, () =>
          post(`${h.url(0)}/us/api/v1/send_push`, pushBody({ server_id: 'paying-us' })),
        ),
      );
      expect(tenant.filter((a) => a.body.includes('Rate limit exceeded')).length).toBeGreaterThanOrEqual(1);
    });

    it('keeps a DE tenant’s registration and rate counters in the DE Redis, the free tier’s in the limit region', async () => {
      // Rate-limit scripts run per Redis, seen by MONITOR on every master (buckets expire as they refill, so
      // counting keys afterwards would race their expiry). INFO's EVAL count would not do: it counts BullMQ's
      // scripts too, which ioredis sends as EVAL the first time on each socket (each cluster node's).
      const monitors = {
        us: await h.backendOf('us').monitor(),
        de: await h.backendOf('de').monitor(),
      };
      const limiterRuns = async () => {
        await Promise.all([monitors.us.settle(), monitors.de.settle()]);
        // `eval <script> 1 <key> …`: the limiter's keys are its buckets (rateLimitKey).
        const runs = (m: CommandMonitor) =>
          m.commands.filter(([name, , , key]) => name === 'eval' && key?.startsWith('hpns:rl:')).length;
        return { us: runs(monitors.us), de: runs(monitors.de) };
      };
      try {
        await registerTenant(h.redisOf('de'), {
          serverId: 'paying-de-limited',
          tier: 'hpns',
          homeRegion: 'de' as never,
          ratePerSec: 1,
        });
        let before = await limiterRuns();
        const paid = await post(
          `${h.url(0)}/de/api/v1/send_push`,
          pushBody({ server_id: 'paying-de-limited' }),
        );
        expect(paid.body).toBe('{"status":"OK"}\n');
        expect(await h.redisOf('us').hget('hpns:tenants', 'paying-de-limited')).toBeNull();
        let after = await limiterRuns();
        expect({ us: after.us - before.us, de: after.de - before.de }).toEqual({ us: 0, de: 1 });
        // A bucket is keyed by a hash: the server id is nowhere in the key (at 1/s it lives for a second).
        const keys = await h.backendOf('de').keys('hpns:rl:*');
        expect(keys.some((k) => /^hpns:rl:tenant:[A-Za-z0-9_-]{22}$/.test(k))).toBe(true);
        expect(keys.join(' ')).not.toContain('paying');
        // The free tier counts across regions, in one Redis (the first served region, us, here): a /de push of
        // a tpns server is charged to its caller and its server there, and nothing in DE.
        before = after;
        await post(`${h.url(1)}/de/api/v1/send_push`, pushBody({ server_id: 'free-de' }));
        after = await limiterRuns();
        expect({ us: after.us - before.us, de: after.de - before.de }).toEqual({ us: 2, de: 0 });
      } finally {
        monitors.us.stop();
        monitors.de.stop();
      }
    });

    it('answers "wrong region" from a pointer copy when the home region is not served here', async () => {
      // A US-only ingress that knows where a DE tenant lives (a pointer copy in the US Redis, no tier in use).
      // On a cluster it shares the suite's US cluster (the pointer copy is removed after); on single servers it
      // has a Redis of its own.
      const shared = h.backendOf('us').isCluster ? { us: h.backendOf('us') } : undefined;
      const usOnly = await startHarness({ regions: ['us'], listeners: ['hpns'], backends: shared });
      try {
        await registerTenant(usOnly.redisOf('us'), {
          serverId: 'paying-de',
          tier: 'hpns',
          homeRegion: 'de' as never,
          ratePerSec: 0,
        });
        const res = await post(`${usOnly.url(0)}/api/v1/send_push`, pushBody({ server_id: 'paying-de' }));
        expect(res.body).toBe(
          '{"error":"Server serverId=paying-de is registered in region de; use the de push notification endpoint","status":"FAIL"}\n',
        );
      } finally {
        if (shared !== undefined) await usOnly.redisOf('us').hdel(TENANTS_KEY, 'paying-de');
        await usOnly.close();
      }
    });

    itSingleServer(
      'fails "temporarily unavailable", not "not registered", while a region holding tenants is down',
      async () => {
        await registerTenant(h.redisOf('us'), {
          serverId: 'paying-us-unlimited',
          tier: 'hpns',
          homeRegion: 'us' as never,
          ratePerSec: 0,
        });
        const de = h.regions.get('de');
        await de?.backend.server?.kill('SIGKILL');
        try {
          const before = await sendPushResults(h);
          // paying-de's record is in the DE Redis, which cannot be asked: the answer must not be "not registered".
          const res = await post(`${h.url(0)}/api/v1/send_push`, pushBody({ server_id: 'paying-de' }), {
            host: 'global.push.test',
          });
          expect(res.body).toBe(
            '{"error":"Push service temporarily unavailable, please retry","status":"FAIL"}\n',
          );
          // A US tenant's record is found in the US Redis, which answers: its pushes go on.
          const us = await post(
            `${h.url(0)}/us/api/v1/send_push`,
            pushBody({ server_id: 'paying-us-unlimited' }),
          );
          expect(us.body).toBe('{"status":"OK"}\n');
          const after = await sendPushResults(h);
          expect((after['unavailable'] ?? 0) - (before['unavailable'] ?? 0)).toBe(1);
          expect(after['internal_error'] ?? 0).toBe(before['internal_error'] ?? 0);
        } finally {
          await de?.backend.server?.start();
          await h.reconnected('de');
        }
      },
    );

    it('serves anyone on an open listener, by path region', async () => {
      const res = await post(`${h.url(2)}/de/api/v1/send_push`, pushBody({ server_id: 'anyone' }));
      expect(res.body).toBe('{"status":"OK"}\n');
      expect(h.regions.get('de')?.received).toHaveLength(1);
    });
  });
});
