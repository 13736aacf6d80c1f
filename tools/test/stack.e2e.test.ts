import { randomBytes } from 'node:crypto';
import { startLocalStack, type LocalStack, type StackReady } from '@hpns/loadtest';

/**
 * The whole local stack as `npm start` runs it (random ports): two Redis servers, the simulators, one ingress,
 * a worker per region. One push of each kind goes to each region; each must reach the simulators; SIGINT must
 * leave no process behind.
 */

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const KINDS: Record<string, Record<string, unknown>> = {
  message: {
    type: 'message',
    version: 'v2',
    category: 'CAN_REPLY',
    message: 'alice: hi :smile:',
    channel_name: 'Town Square',
    sender_name: 'alice',
    badge: 1,
  },
  id_loaded: {
    type: 'message',
    version: 'v2',
    category: 'CAN_REPLY',
    is_id_loaded: true,
    message: 'You have a new message',
  },
  clear: { type: 'clear', version: 'v2', cont_ava: 1, badge: 0, channel_id: 'c1' },
  update_badge: { type: 'update_badge', version: 'v2', sound: 'none', cont_ava: 1, badge: 3 },
  session: {
    type: 'session',
    version: 'v2',
    message: 'Session Expired: Please log in to continue receiving notifications.',
  },
  test: { type: 'test', version: '2', badge: -1, ack_id: '' },
};

describe('npm start (the local two-region stack)', () => {
  let stack: LocalStack | undefined;
  let ready: StackReady;

  beforeAll(async () => {
    stack = await startLocalStack({ noBuild: true, env: { ...process.env, HPNS_LOG_LEVEL: 'warn' } });
    ready = stack.ready;
  }, 180_000);

  // After a failed test: stopped through the script (SIGTERM), or killed pid by pid if that does not work, so
  // that no stack is left behind. (The test itself stops it with SIGINT, as a Ctrl-C.)
  afterAll(() => stack?.stop(), 60_000);

  it('delivers one push of each kind to each region through the simulators, then stops cleanly on SIGINT', async () => {
    const sent: { region: string; kind: string; platform: string; token: string }[] = [];
    for (const region of ['us', 'de']) {
      for (const [kind, fields] of Object.entries(KINDS)) {
        for (const platform of ['apple_rn-v2', 'android_rn-v2']) {
          const token = randomBytes(32).toString('hex');
          const body = JSON.stringify({
            ack_id: `ack-${randomBytes(6).toString('hex')}`,
            platform,
            server_id: 'stack-test-server',
            device_id: token,
            post_id: 'p1',
            is_crt_enabled: false,
            is_id_loaded: false,
            signature: 'sig',
            ...fields,
          });
          const res = await fetch(`${ready.ingress}/${region}/api/v1/send_push`, { method: 'POST', body });
          expect(`${region} ${kind} ${platform}: ${await res.text()}`).toBe(
            `${region} ${kind} ${platform}: {"status":"OK"}\n`,
          );
          sent.push({ region, kind, platform, token });
        }
      }
    }
    // A VoIP push (Apple only) to each region.
    for (const region of ['us', 'de']) {
      const token = randomBytes(32).toString('hex');
      const body = JSON.stringify({
        platform: 'apple_rn-v2',
        server_id: 's',
        device_id: token,
        type: 'message',
        transport: 'voip',
        sub_type: 'calls',
        ack_id: 'a',
        signature: '',
      });
      expect(
        await (await fetch(`${ready.ingress}/${region}/api/v1/send_push`, { method: 'POST', body })).text(),
      ).toBe('{"status":"OK"}\n');
      sent.push({ region, kind: 'voip', platform: 'apple_rn-v2', token });
    }

    const apns = (await (await fetch(`${ready.simulators.controlUrl}/apns/requests`)).json()) as {
      token: string;
      headers: Record<string, string>;
    }[];
    const fcm = (await (await fetch(`${ready.simulators.controlUrl}/fcm/requests`)).json()) as {
      token?: string;
      body?: string;
    }[];
    const apnsTokens = new Set(apns.map((r) => r.token));
    const fcmText = JSON.stringify(fcm);
    for (const push of sent) {
      const seen = push.platform.startsWith('apple')
        ? apnsTokens.has(push.token)
        : fcmText.includes(push.token);
      expect(`${push.region} ${push.kind} ${push.platform} reached the simulator: ${seen}`).toBe(
        `${push.region} ${push.kind} ${push.platform} reached the simulator: true`,
      );
    }

    // The admin endpoints expose the pipeline's metrics.
    const workerMetrics = await (await fetch(`${ready.workerAdmin['de']}/metrics`)).text();
    expect(workerMetrics).toMatch(/^hpns_worker_jobs_total\{[^}]*result="complete"[^}]*\} \d+/m);
    expect(workerMetrics).toMatch(/^hpns_queue_jobs\{[^}]*queue="push-de-apns"/m);
    expect(workerMetrics).toMatch(/^hpns_provider_outcomes_total\{/m);
    const ingressMetrics = await (await fetch(`${ready.ingressAdmin}/metrics`)).text();
    expect(ingressMetrics).toMatch(
      /^hpns_ingress_requests_total\{[^}]*result="ok"[^}]*region="de"[^}]*\} \d+/m,
    );

    expect(await stack!.stop('SIGINT')).toBe(0);
    for (const [name, pid] of Object.entries(ready.pids))
      expect(`${name} alive: ${alive(pid)}`).toBe(`${name} alive: false`);
  }, 120_000);
});
