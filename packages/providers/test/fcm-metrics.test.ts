import { createMetricsRegistry } from '@hpns/runtime';
import { createProviderMetrics } from '../src/provider-metrics';
import { createFcmMetrics, FCM_METRIC_REASONS } from '../src/fcm/fcm-metrics';

describe('createFcmMetrics', () => {
  it('labels unknown targets and reasons as other, and delivered pushes with reason none', async () => {
    const registry = createMetricsRegistry({ collectDefaults: false });
    const metrics = createFcmMetrics({ registry, targets: ['android_rn'] });

    metrics.record('android_rn', { kind: 'delivered', statusCode: 200 }, 0.02);
    metrics.record('android_rn', { kind: 'rejected', reason: 'HTTP_418', statusCode: 418 }, 0.01);
    metrics.record('android_x', { kind: 'retryable', reason: 'UND_ERR_SOCKET', statusCode: 0 }, 0.5);

    const text = await registry.metrics();
    expect(text).toContain(
      'hpns_provider_outcomes_total{provider="fcm",target="android_rn",outcome="delivered",reason="none"} 1',
    );
    expect(text).toContain(
      'hpns_provider_outcomes_total{provider="fcm",target="android_rn",outcome="rejected",reason="other"} 1',
    );
    expect(text).toContain(
      'hpns_provider_outcomes_total{provider="fcm",target="other",outcome="retryable",reason="UND_ERR_SOCKET"} 1',
    );
    expect(text).toContain(
      'hpns_provider_request_duration_seconds_bucket{le="0.04",provider="fcm",target="android_rn",outcome="delivered"} 1',
    );
  });

  it('shares the series with another provider on the same registry', async () => {
    const registry = createMetricsRegistry({ collectDefaults: false });
    const fcm = createFcmMetrics({ registry, targets: ['android_rn'] });
    const apns = createProviderMetrics({ registry, provider: 'apns', targets: ['apple_rn'], reasons: [] });

    fcm.record('android_rn', { kind: 'delivered', statusCode: 200 }, 0.01);
    apns.record('apple_rn', { kind: 'delivered', statusCode: 200 }, 0.01);

    const outcomes = (await registry.getMetricsAsJSON()).find(
      (m) => m.name === 'hpns_provider_outcomes_total',
    );
    expect(outcomes?.values.map((v) => v.labels.provider).sort()).toEqual(['apns', 'fcm']);
  });

  it('has a bounded reason list without duplicates', () => {
    expect(new Set(FCM_METRIC_REASONS).size).toBe(FCM_METRIC_REASONS.length);
    expect(FCM_METRIC_REASONS.length).toBeLessThan(64);
  });
});
