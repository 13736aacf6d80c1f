import { makePushNotification, type PushJob, type Region } from '@hpns/protocol';
import { Registry } from '@hpns/runtime';
import { type Decision } from '../src/decide';
import { WorkerMetrics } from '../src/worker-metrics';

function job(targetType: string, acceptedAtMs: number): PushJob {
  return {
    v: 1,
    routing: {
      requestId: 'r1',
      region: 'us' as Region,
      provider: 'apns',
      targetType,
      transport: 'standard',
      appVersion: 2,
      pushType: 'message',
      acceptedAtMs,
      expiresAtMs: acceptedAtMs + 60_000,
    },
    content: makePushNotification({ platform: 'apple_rn-v2', device_id: 'ab', server_id: 's' }),
  };
}

async function values(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const { values: samples } = await metric.get();
  return Object.fromEntries(
    samples.map((s) => [
      `${(s as { metricName?: string }).metricName ?? name}{${Object.entries(s.labels)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(',')}}`,
      s.value,
    ]),
  );
}

describe('WorkerMetrics.decision', () => {
  it('counts each attempt under its labels, every time, and observes durations and end-to-end times', async () => {
    const registry = new Registry();
    const metrics = new WorkerMetrics(registry, () => [], ['apple_rn']);
    const delivered: Decision = { fate: 'delivered', response: { status: 'OK' } };
    const retry: Decision = { fate: 'retry', atMs: 5_000, reason: 'TooManyRequests' };
    const decided = (type: string, decision: Decision, durationMs: number) => ({
      push: { job: job(type, 1_000), attempts: 1 },
      decision,
      durationMs,
    });

    // The same label combination several times: each attempt counts.
    metrics.decision(decided('apple_rn', delivered, 20), 1_500);
    metrics.decision(decided('apple_rn', delivered, 30), 2_000);
    metrics.decision(decided('apple_rn', retry, 40), 2_000);
    // A target type outside the configured ones is labelled `other`.
    metrics.decision(decided('unknown_type', delivered, 10), 1_100);

    const jobs = await values(registry, 'hpns_worker_jobs_total');
    expect(jobs).toEqual({
      'hpns_worker_jobs_total{region=us,provider=apns,target=apple_rn,result=complete}': 2,
      'hpns_worker_jobs_total{region=us,provider=apns,target=apple_rn,result=retry}': 1,
      'hpns_worker_jobs_total{region=us,provider=apns,target=other,result=complete}': 1,
    });
    expect(await values(registry, 'hpns_worker_retries_total')).toEqual({
      'hpns_worker_retries_total{region=us,provider=apns,reason=TooManyRequests}': 1,
    });
    const processing = await values(registry, 'hpns_worker_attempt_duration_seconds');
    expect(processing['hpns_worker_attempt_duration_seconds_count{provider=apns}']).toBe(4);
    expect(processing['hpns_worker_attempt_duration_seconds_sum{provider=apns}']).toBeCloseTo(0.1);
    // The time to the provider is observed for pushes answered OK or REMOVE: three of the four.
    const endToEnd = await values(registry, 'hpns_push_accept_to_provider_seconds');
    expect(endToEnd['hpns_push_accept_to_provider_seconds_count{provider=apns}']).toBe(3);
    expect(endToEnd['hpns_push_accept_to_provider_seconds_sum{provider=apns}']).toBeCloseTo(0.5 + 1 + 0.1);
  });
});

describe('WorkerMetrics.circuit', () => {
  it('has a closed series for every breaker from the start, then follows state changes', async () => {
    const registry = new Registry();
    const metrics = new WorkerMetrics(registry, () => [], ['apple_rn', 'android_rn']);
    expect(await values(registry, 'hpns_worker_circuit_state')).toEqual({});
    metrics.circuitsClosed(['apns/apple_rn', 'fcm/android_rn']);
    expect(await values(registry, 'hpns_worker_circuit_state')).toEqual({
      'hpns_worker_circuit_state{target=apns/apple_rn}': 0,
      'hpns_worker_circuit_state{target=fcm/android_rn}': 0,
    });
    metrics.circuit('apns/apple_rn', 'open');
    metrics.circuit('fcm/android_rn', 'half_open');
    expect(await values(registry, 'hpns_worker_circuit_state')).toEqual({
      'hpns_worker_circuit_state{target=apns/apple_rn}': 2,
      'hpns_worker_circuit_state{target=fcm/android_rn}': 1,
    });
  });
});
