import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { compareResults } from '../src/compare';
import { checkProfile, Fleet } from '../src/fleet';
import { renderComparison, renderReport } from '../src/html';
import { buildResult, type LoadResult } from '../src/result';
import { Recorder } from '../src/recorder';
import { type RunOutcome } from '../src/runner';

/**
 * The HTML report opened in a real headless Chromium (Debian's `chromium`): every chart drew (its canvas has
 * pixels other than the background), the page logged no error, and it asked the network for nothing.
 */
function chromiumPath(): string | undefined {
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('which', [name], { encoding: 'utf8' }).trim();
    } catch {
      // next
    }
  }
  return undefined;
}
const chromium = chromiumPath();
// CI installs chromium (.ci/run) and sets HPNS_REQUIRE_INFRA_TOOLS: there the test must run, not skip.
const maybe = chromium === undefined && process.env.HPNS_REQUIRE_INFRA_TOOLS !== '1' ? test.skip : test;

/** A result with every series filled: 20 s of answers, FAIL texts, server-side points. */
function sampleResult(label: string, slowdown: number): LoadResult {
  const recorder = new Recorder();
  const fleet = new Fleet(checkProfile({}), 'reporttt');
  for (let s = 0; s < 20; s += 1) {
    for (let i = 0; i < 200; i += 1) {
      const push = fleet.next();
      recorder.offered(true);
      recorder.sent();
      const ms = (5 + ((i * 7919) % 40) + (i % 100 === 0 ? 400 : 0)) * slowdown;
      const outcome = push.dead ? 'remove' : i % 50 === 0 ? 'fail' : 'ok';
      const text =
        outcome === 'fail'
          ? 'Failed to send the push: provider unavailable'
          : outcome === 'remove'
            ? 'REMOVE'
            : undefined;
      recorder.record(outcome, ms, ms / 2, text, `${push.kind} ${push.platform}`, true, push.dead);
    }
    recorder.flush(3, 0);
  }
  const run: RunOutcome = {
    recorder,
    startedAt: 0,
    elapsedMs: 20_000,
    plannedMs: 20_000,
    measuredMs: 20_000,
    notSent: 0,
    abandoned: 0,
    aborted: false,
    maxInFlight: 12,
    connectionsOpened: 12,
    sendLag: { p50: 0.2, p99: 1.1, max: 3 },
    eventLoopDelayP99Ms: 11,
    cpu: { usPerRequest: 40, cores: 0.05 },
    warnings: [],
  };
  const points = Array.from({ length: 10 }, (_, k) => ({
    t: k * 2,
    up: true,
    queueJobs: k % 3,
    deliveriesPerSecond: 190 + k,
    retriesPerSecond: k % 2,
    circuit: 0,
    cpuCores: 0.3,
  }));
  return buildResult({
    label,
    startedAt: new Date(),
    target: 'http://127.0.0.1:8086/',
    model: { kind: 'open', stages: [{ durationMs: 20_000, rate: 200 }], startRate: 200, maxConnections: 100 },
    profile: fleet.profile,
    timeoutMs: 30_000,
    warmupMs: 0,
    run,
    server: [
      { url: 'http://127.0.0.1:9464/metrics', points },
      { url: 'http://127.0.0.1:9465/metrics', points },
    ],
    slo: 'p99<50ms,fail<1%',
  });
}

async function openInChromium(file: string) {
  const browser = await puppeteer.launch({
    executablePath: chromium!,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1300, height: 900 });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    const charts = await page.evaluate(() => {
      const w = window as unknown as { hpnsCharts?: { id: string }[] };
      return (w.hpnsCharts ?? []).map((c) => {
        const canvas = document.querySelector(`#${CSS.escape(c.id)} canvas`) as HTMLCanvasElement | null;
        if (canvas === null) return { id: c.id, coloured: 0 };
        const ctx = canvas.getContext('2d')!;
        const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
        let coloured = 0;
        // Pixels of a series line: opaque and not grey (axes and grid are grey).
        for (let i = 0; i < data.length; i += 4) {
          const [r, g, b, a] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
          if (a > 200 && Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured += 1;
        }
        return { id: c.id, coloured };
      });
    });
    const boxes = await page.evaluate(() => [...document.querySelectorAll('.chart')].map((el) => el.id));
    return { errors, requests, charts, boxes };
  } finally {
    await browser.close();
  }
}

maybe(
  'the run report draws every chart, with no console error and no network request',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpns-report-'));
    const file = join(dir, 'report.html');
    writeFileSync(file, renderReport(sampleResult('browser test', 1)));
    const { errors, requests, charts, boxes } = await openInChromium(file);
    expect(errors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith('file://') && !u.startsWith('data:'))).toEqual([]);
    // latency, rate, hdr, answers, texts + the server-side charts (queue, deliveries, retries, circuit, cpu)
    expect(boxes.length).toBeGreaterThanOrEqual(10);
    expect(charts.map((c) => c.id).sort()).toEqual([...boxes].sort());
    for (const chart of charts)
      expect({ id: chart.id, drawn: chart.coloured > 50 }).toEqual({ id: chart.id, drawn: true });
  },
  60_000,
);

maybe(
  'the comparison report draws both runs and the overlay',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpns-compare-'));
    const file = join(dir, 'compare.html');
    writeFileSync(file, renderComparison(compareResults(sampleResult('A', 1), sampleResult('B', 2))));
    const { errors, requests, charts, boxes } = await openInChromium(file);
    expect(errors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith('file://') && !u.startsWith('data:'))).toEqual([]);
    expect(boxes).toContain('cmp-hdr');
    expect(charts.map((c) => c.id).sort()).toEqual([...boxes].sort());
    for (const chart of charts)
      expect({ id: chart.id, drawn: chart.coloured > 50 }).toEqual({ id: chart.id, drawn: true });
  },
  60_000,
);
