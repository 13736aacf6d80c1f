import { collectDefaultMetrics, Registry } from 'prom-client';

export { Registry } from 'prom-client';

export interface MetricsRegistryOptions {
  /** Labels on every series of this registry, e.g. `{ service: 'worker', region: 'de' }`. Keep them bounded. */
  defaultLabels?: Record<string, string>;
  /** Collect Node.js process metrics (`process_*`, `nodejs_*`). Default true. */
  collectDefaults?: boolean;
}

/**
 * A fresh prom-client registry for one process or one test. HPNS never uses prom-client's global registry:
 * every component takes the registry it registers on, so two components (or two tests) never share series.
 */
export function createMetricsRegistry(options: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry();
  if (options.defaultLabels !== undefined) registry.setDefaultLabels(options.defaultLabels);
  if (options.collectDefaults ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}
