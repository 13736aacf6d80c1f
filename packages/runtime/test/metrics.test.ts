import { Counter, register as globalRegistry } from 'prom-client';
import { createMetricsRegistry } from '@hpns/runtime';

describe('createMetricsRegistry', () => {
  it('gives each caller its own registry, never the global one', async () => {
    const a = createMetricsRegistry({ defaultLabels: { service: 'ingress' } });
    const b = createMetricsRegistry({ collectDefaults: false });
    new Counter({ name: 'hpns_test_pushes_total', help: 'test', registers: [a] }).inc(3);
    new Counter({ name: 'hpns_test_pushes_total', help: 'test', registers: [b] }).inc(1);
    expect(await a.metrics()).toContain('hpns_test_pushes_total{service="ingress"} 3');
    expect(await b.metrics()).toBe(
      '# HELP hpns_test_pushes_total test\n# TYPE hpns_test_pushes_total counter\nhpns_test_pushes_total 1\n',
    );
    expect(await a.metrics()).toMatch(/^process_cpu_user_seconds_total\{service="ingress"\} /m);
    expect(globalRegistry.getMetricsAsArray()).toHaveLength(0);
  });
});
