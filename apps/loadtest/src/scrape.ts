/**
 * Server-side figures beside the client's (`--metrics URL…`): the kit scrapes each ingress and worker
 * `/metrics` (Prometheus text format) every couple of seconds during the run and keeps, per process and scrape,
 * what a load tester looks at next to latency: queue depth, deliveries and retries per second, the circuit
 * breakers, ingress requests per second and the process's CPU. Counters become rates between two scrapes.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (comments, labels with escapes, +Inf/NaN). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    if (match[3] !== undefined) {
      const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let m: RegExpExecArray | null;
      while ((m = labelRe.exec(match[3])) !== null)
        labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const valueText = match[4]!;
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    out.push({ name: match[1]!, labels, value });
  }
  return out;
}

/** What one scrape of one process says, rates over the time since the previous scrape. */
export interface ServerPoint {
  /** s since the run started */
  t: number;
  up: boolean;
  error?: string;
  /** Jobs in the push queues (envelopes of pushes since format 4): waiting + delayed + active. */
  queueJobs?: number;
  oldestWaitingSeconds?: number;
  deliveriesPerSecond?: number;
  retriesPerSecond?: number;
  /** Highest circuit state: 0 closed, 1 half-open, 2 open. */
  circuit?: number;
  ingressRequestsPerSecond?: number;
  /** Cores the process used (process_cpu_seconds_total rate). */
  cpuCores?: number;
  rssBytes?: number;
}

export interface ServerSeries {
  url: string;
  points: ServerPoint[];
}

const sum = (
  samples: Sample[],
  name: string,
  filter: (labels: Record<string, string>) => boolean = () => true,
) => {
  let total = 0;
  let found = false;
  for (const s of samples) {
    if (s.name === name && filter(s.labels)) {
      total += s.value;
      found = true;
    }
  }
  return found ? total : undefined;
};

export class MetricsScraper {
  readonly series: ServerSeries[];
  readonly #headers: Record<string, string>;
  readonly #previous = new Map<string, { at: number; samples: Sample[] }>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #startedAt = 0;

  constructor(urls: readonly string[], options: { bearerToken?: string } = {}) {
    this.series = urls.map((url) => ({ url, points: [] }));
    this.#headers =
      options.bearerToken === undefined ? {} : { authorization: `Bearer ${options.bearerToken}` };
  }

  start(startedAt: number, everyMs = 2000): void {
    this.#startedAt = startedAt;
    this.#running = this.#scrapeAll();
    this.#timer = setInterval(() => {
      this.#running = this.#running.then(() => this.#scrapeAll());
    }, everyMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
    await this.#scrapeAll();
  }

  /** The last point of each process. */
  latest(): ServerPoint[] {
    return this.series
      .map((s) => s.points[s.points.length - 1])
      .filter((p): p is ServerPoint => p !== undefined);
  }

  async #scrapeAll(): Promise<void> {
    await Promise.all(this.series.map((series) => this.#scrape(series)));
  }

  async #scrape(series: ServerSeries): Promise<void> {
    const at = performance.now();
    const t = Math.max(0, (at - this.#startedAt) / 1000);
    let samples: Sample[];
    try {
      const response = await fetch(series.url, { headers: this.#headers, signal: AbortSignal.timeout(5000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      samples = parseMetrics(await response.text());
    } catch (error) {
      series.points.push({ t, up: false, error: error instanceof Error ? error.message : String(error) });
      return;
    }
    const previous = this.#previous.get(series.url);
    this.#previous.set(series.url, { at, samples });
    const rate = (name: string, filter?: (labels: Record<string, string>) => boolean) => {
      if (previous === undefined) return undefined;
      const now = sum(samples, name, filter);
      const before = sum(previous.samples, name, filter);
      if (now === undefined) return undefined;
      return Math.max(0, now - (before ?? 0)) / ((at - previous.at) / 1000);
    };
    const queued = sum(
      samples,
      'hpns_queue_jobs',
      (l) => l.state === 'waiting' || l.state === 'delayed' || l.state === 'active',
    );
    const oldest = samples.filter((s) => s.name === 'hpns_queue_oldest_waiting_seconds').map((s) => s.value);
    const circuits = samples.filter((s) => s.name === 'hpns_worker_circuit_state').map((s) => s.value);
    const point: ServerPoint = { t, up: true };
    if (queued !== undefined) point.queueJobs = queued;
    if (oldest.length > 0) point.oldestWaitingSeconds = Math.max(...oldest);
    const deliveries = rate('hpns_worker_jobs_total', (l) => l.result === 'complete');
    if (deliveries !== undefined) point.deliveriesPerSecond = deliveries;
    const retries = rate('hpns_worker_retries_total');
    if (retries !== undefined) point.retriesPerSecond = retries;
    if (circuits.length > 0) point.circuit = Math.max(...circuits);
    const requests = rate('hpns_ingress_requests_total');
    if (requests !== undefined) point.ingressRequestsPerSecond = requests;
    const cpu = rate('process_cpu_seconds_total');
    if (cpu !== undefined) point.cpuCores = cpu;
    const rss = sum(samples, 'process_resident_memory_bytes');
    if (rss !== undefined) point.rssBytes = rss;
    series.points.push(point);
  }
}
