import { readFileSync } from 'node:fs';
import { type LoadResult } from './result';
import { type Comparison } from './compare';

/**
 * One self-contained HTML file per run (or per comparison): uPlot (MIT, a 50 KB chart library) and the run's
 * JSON are inlined, so the report opens from a file, a CI artefact or a mail attachment with no network. The
 * page draws the charts from the embedded JSON; nothing is fetched.
 */
function asset(file: string): string {
  return readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8');
}

/** JSON that is safe inside a <script> element. */
function embed(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

const STYLE = `
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d232a;background:#fff}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 8px}
.sub{color:#59636e;margin-bottom:16px}
table{border-collapse:collapse;margin:8px 0} td,th{padding:3px 10px;border-bottom:1px solid #e4e7eb;text-align:left;vertical-align:top}
th{font-weight:600;background:#f6f8fa} td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1a7f37;font-weight:600} .fail{color:#cf222e;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px}
.chart{border:1px solid #e4e7eb;border-radius:6px;padding:8px} .chart h3{font-size:14px;margin:0 0 6px}
.note{color:#59636e;font-style:italic} .warn{color:#9a6700}
`;

/** The browser side: draws every chart from the embedded data with uPlot. */
const CLIENT = `
(function () {
  var data = JSON.parse(document.getElementById('hpns-data').textContent);
  var palette = ['#0969da','#cf222e','#1a7f37','#9a6700','#8250df','#bf3989','#0a3069','#57606a'];
  var drawn = [];
  function width(el) { return Math.max(480, el.clientWidth - 16); }
  function chart(id, title, xLabel, yLabel, xs, series, opts) {
    var box = document.getElementById(id);
    if (!box) return;
    opts = opts || {};
    var el = document.createElement('div');
    box.appendChild(el);
    var conf = {
      title: title, width: width(box), height: 260,
      scales: { x: { time: false }, y: opts.logY ? { distr: 3 } : {} },
      axes: [
        { label: xLabel, values: opts.xValues },
        { label: yLabel }
      ],
      series: [{ label: xLabel }].concat(series.map(function (s, i) {
        return { label: s.label, stroke: s.color || palette[i % palette.length], width: 1.5, points: { show: xs.length < 60 } };
      }))
    };
    var plot = new uPlot(conf, [xs].concat(series.map(function (s) { return s.values; })), el);
    drawn.push({ id: id, points: xs.length, series: series.length, plot: plot });
  }
  function nz(v) { return v === null || v === undefined ? null : Math.max(v, 0.001); }
  window.hpnsDraw = function (runs) {
    runs.forEach(function (entry, k) {
      var run = entry.result, p = entry.prefix;
      var secs = run.seconds.map(function (s) { return s.t; });
      chart(p + 'latency', 'Latency over time (from the scheduled send)', 's', 'ms', secs, [
        { label: 'p50', values: run.seconds.map(function (s) { return nz(s.p50); }) },
        { label: 'p90', values: run.seconds.map(function (s) { return nz(s.p90); }) },
        { label: 'p99', values: run.seconds.map(function (s) { return nz(s.p99); }) },
        { label: 'p99.9', values: run.seconds.map(function (s) { return nz(s.p999); }) },
        { label: 'max', values: run.seconds.map(function (s) { return nz(s.max); }) }
      ], { logY: true });
      chart(p + 'rate', 'Offered vs achieved rate', 's', 'requests/s', secs, [
        { label: 'offered', values: run.seconds.map(function (s) { return s.offered; }) },
        { label: 'sent', values: run.seconds.map(function (s) { return s.sent; }) },
        { label: 'answered', values: run.seconds.map(function (s) { return s.done; }) },
        { label: 'waiting in the generator', values: run.seconds.map(function (s) { return s.waiting; }) }
      ]);
      var labels = { ok: 'OK', remove: 'REMOVE', fail: 'FAIL', bad: 'outside the protocol', transport: 'transport error', timeout: 'timeout' };
      chart(p + 'answers', 'Answers by status', 's', 'answers/s', secs, Object.keys(labels).map(function (o) {
        return { label: labels[o], values: run.seconds.map(function (s) { return s.byOutcome[o]; }) };
      }));
      var texts = run.textsOverTime.filter(function (t) { return t.text !== 'REMOVE'; }).slice(0, 6);
      if (texts.length > 0) {
        chart(p + 'texts', 'FAIL and error texts over time (top ' + texts.length + ')', 's', 'answers/s', secs, texts.map(function (t) {
          return { label: t.text.length > 60 ? t.text.slice(0, 57) + '…' : t.text, values: t.perSecond };
        }));
      }
      if (run.latency.curve.length > 0) {
        var x = function (pc) { return -Math.log10(1 - Math.min(pc, 99.9999) / 100); };
        var curve = run.latency.curve, unc = run.latency.uncorrectedCurve;
        var xs = curve.map(function (c) { return x(c[0]); });
        var uncAt = function (pc) {
          for (var i = 0; i < unc.length; i++) if (unc[i][0] >= pc) return nz(unc[i][1]);
          return unc.length ? nz(unc[unc.length - 1][1]) : null;
        };
        chart(p + 'hdr', 'Latency by percentile (HDR)', 'percentile', 'ms', xs, [
          { label: 'from the scheduled send', values: curve.map(function (c) { return nz(c[1]); }) },
          { label: 'from the actual send (uncorrected)', values: curve.map(function (c) { return uncAt(c[0]); }) }
        ], {
          logY: true,
          xValues: function (u, splits) { return splits.map(function (v) { return (100 * (1 - Math.pow(10, -v))).toPrecision(Math.max(2, Math.ceil(v) + 1)) + '%'; }); }
        });
      }
      if (run.server && run.server.length > 0) {
        var metrics = [
          ['queueJobs', 'Queue jobs (waiting + delayed + active)', 'jobs'],
          ['deliveriesPerSecond', 'Deliveries per second (worker)', 'pushes/s'],
          ['retriesPerSecond', 'Retries per second (worker)', 'retries/s'],
          ['circuit', 'Circuit state (0 closed, 1 half-open, 2 open)', 'state'],
          ['ingressRequestsPerSecond', 'Ingress requests per second', 'requests/s'],
          ['cpuCores', 'Process CPU', 'cores']
        ];
        var times = [];
        run.server.forEach(function (s) { s.points.forEach(function (pt) { if (times.indexOf(pt.t) < 0) times.push(pt.t); }); });
        times.sort(function (a, b) { return a - b; });
        var bucket = function (t) { return Math.round(t); };
        var xsS = []; times.forEach(function (t) { var b = bucket(t); if (xsS.indexOf(b) < 0) xsS.push(b); });
        metrics.forEach(function (m) {
          var series = run.server.filter(function (s) { return s.points.some(function (pt) { return pt[m[0]] !== undefined; }); })
            .map(function (s) {
              return { label: s.url.replace(/^https?:\\/\\//, ''), values: xsS.map(function (b) {
                var hit = s.points.filter(function (pt) { return bucket(pt.t) === b && pt[m[0]] !== undefined; });
                return hit.length ? hit[hit.length - 1][m[0]] : null;
              }) };
            });
          if (series.length > 0) chart(p + 'server-' + m[0], m[1], 's', m[2], xsS, series);
        });
      }
    });
    window.hpnsCharts = drawn.map(function (d) { return { id: d.id, points: d.points, series: d.series }; });
  };
  if (data.compare) {
    var dataA = data.compare.a, dataB = data.compare.b;
    window.hpnsDraw([{ result: dataA, prefix: 'a-' }, { result: dataB, prefix: 'b-' }]);
    var xf = function (pc) { return -Math.log10(1 - Math.min(pc, 99.9999) / 100); };
    var all = dataA.latency.curve.map(function (c) { return c[0]; });
    var at = function (curve, pc) { for (var i = 0; i < curve.length; i++) if (curve[i][0] >= pc) return nz(curve[i][1]); return curve.length ? nz(curve[curve.length - 1][1]) : null; };
    if (all.length > 0) {
      chart('cmp-hdr', 'Latency by percentile: A vs B', 'percentile', 'ms', all.map(xf), [
        { label: 'A: ' + dataA.label, values: all.map(function (pc) { return at(dataA.latency.curve, pc); }) },
        { label: 'B: ' + dataB.label, values: all.map(function (pc) { return at(dataB.latency.curve, pc); }) }
      ], { logY: true, xValues: function (u, splits) { return splits.map(function (v) { return (100 * (1 - Math.pow(10, -v))).toPrecision(Math.max(2, Math.ceil(v) + 1)) + '%'; }); } });
    }
    window.hpnsCharts = drawn.map(function (d) { return { id: d.id, points: d.points, series: d.series }; });
  } else {
    window.hpnsDraw([{ result: data.result, prefix: '' }]);
  }
})();
`;

const fmt = (n: number, digits = 1) =>
  !Number.isFinite(n) ? '–' : Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits);

function summaryTable(r: LoadResult): string {
  const rows: [string, string][] = [
    ['Target', escapeHtml(r.target)],
    [
      'Model',
      r.model.kind === 'open'
        ? `open: ${r.model.stages.map((s) => `${s.durationMs / 1000}s→${s.rate}/s`).join(', ')} (≤ ${r.model.maxConnections} connections)`
        : `closed: ${r.model.connections} connections for ${r.model.durationMs / 1000} s`,
    ],
    [
      'Measured',
      `${fmt(r.measuredMs / 1000)} s (warm-up ${fmt(r.warmupMs / 1000)} s)${r.aborted ? ' — ended early (Ctrl-C)' : ''}`,
    ],
    [
      'Rate',
      `offered ${fmt(r.rates.offered)}/s, answered ${fmt(r.rates.achieved)}/s, OK ${fmt(r.rates.ok)}/s`,
    ],
    [
      'Answers',
      Object.entries(r.answers)
        .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
        .join(', ') +
        (r.requests.abandoned > 0 ? `; unanswered when the run ended ${r.requests.abandoned}` : '') +
        (r.requests.notSent > 0 ? `; never sent ${r.requests.notSent}` : ''),
    ],
    [
      'Latency (from scheduled send)',
      `p50 ${fmt(r.latency.corrected.p50)} · p90 ${fmt(r.latency.corrected.p90)} · p99 ${fmt(r.latency.corrected.p99)} · p99.9 ${fmt(r.latency.corrected.p999)} · p99.99 ${fmt(r.latency.corrected.p9999)} · max ${fmt(r.latency.corrected.max)} ms`,
    ],
    [
      'Latency (uncorrected)',
      `p50 ${fmt(r.latency.uncorrected.p50)} · p99 ${fmt(r.latency.uncorrected.p99)} · max ${fmt(r.latency.uncorrected.max)} ms`,
    ],
    ['Dead tokens', `${r.deadTokens.sent} sent, ${r.deadTokens.removed} answered REMOVE`],
    [
      'Generator',
      `${fmt(r.generator.cpuUsPerRequest)} µs CPU per request, ${fmt(r.generator.cores * 100, 0)} % of a core; send lag p99 ${fmt(r.generator.sendLagMs.p99)} ms; ` +
        `${r.generator.connectionsOpened} connections opened, ≤ ${r.generator.maxInFlight} in flight`,
    ],
  ];
  if (r.reconcile !== undefined) {
    const c = r.reconcile;
    rows.push([
      'Reconciliation',
      `<span class="${c.matches ? 'pass' : 'fail'}">${c.matches ? 'matches' : 'MISMATCH'}</span>: answered OK ${c.answeredOk}, delivered ${c.delivered}, ` +
        `missing ${c.missing}, duplicates ${c.duplicates}, delivered without an OK ${c.deliveredWithoutOk}, ` +
        `test pushes ${c.testAnsweredOk} OK / ${c.testDelivered} delivered` +
        (c.lostReceipts > 0 ? `, <span class="fail">${c.lostReceipts} receipts lost</span>` : ''),
    ]);
  }
  if (r.slo !== undefined) {
    rows.push([
      'SLO',
      `<span class="${r.slo.pass ? 'pass' : 'fail'}">${r.slo.pass ? 'PASS' : 'FAIL'}</span> ${escapeHtml(r.slo.spec)}: ` +
        r.slo.checks
          .map((c) => `${escapeHtml(c.term)} (${fmt(c.actual, 3)}) ${c.pass ? '✓' : '✗'}`)
          .join(', '),
    ]);
  }
  if (r.findMax !== undefined) {
    rows.push([
      'Highest rate holding the SLO',
      `<b>${fmt(r.findMax.maxRate)}/s</b> (${escapeHtml(r.findMax.slo)})`,
    ]);
  }
  const body = rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('');
  const warnings = r.generator.warnings.map((w) => `<p class="warn">⚠ ${escapeHtml(w)}</p>`).join('');
  const texts =
    r.texts.length === 0
      ? '<p class="note">No answer other than OK.</p>'
      : `<table><tr><th>Answer text</th><th>Count</th></tr>${r.texts
          .slice(0, 20)
          .map(
            (t) =>
              `<tr><td>${escapeHtml(t.text)}</td><td class="n">${t.count.toLocaleString('en-US')}</td></tr>`,
          )
          .join('')}</table>`;
  const steps =
    r.findMax === undefined
      ? ''
      : `<h2>Find-max steps</h2><table><tr><th>Offered /s</th><th>Answered /s</th><th>p99 ms</th><th>Failed %</th><th>Verdict</th></tr>${r.findMax.steps
          .map(
            (s) =>
              `<tr><td class="n">${fmt(s.rate)}</td><td class="n">${fmt(s.achieved)}</td><td class="n">${fmt(s.p99)}</td><td class="n">${fmt(s.failShare, 3)}</td><td class="${s.pass ? 'pass' : 'fail'}">${s.pass ? 'holds' : escapeHtml(s.reasons.join(', '))}</td></tr>`,
          )
          .join('')}</table>`;
  return `<table>${body}</table>${warnings}<h2>Answers other than OK</h2>${texts}${steps}`;
}

function chartsGrid(prefix: string, r: LoadResult): string {
  const ids = ['latency', 'rate', 'hdr', 'answers'];
  if (r.textsOverTime.some((t) => t.text !== 'REMOVE')) ids.push('texts');
  const server = r.server !== undefined && r.server.length > 0;
  const serverIds = server
    ? [
        'queueJobs',
        'deliveriesPerSecond',
        'retriesPerSecond',
        'circuit',
        'ingressRequestsPerSecond',
        'cpuCores',
      ]
        .filter((m) =>
          r.server!.some((s) =>
            s.points.some((p) => (p as unknown as Record<string, unknown>)[m] !== undefined),
          ),
        )
        .map((m) => `server-${m}`)
    : [];
  const box = (id: string) => `<div class="chart" id="${prefix}${id}"></div>`;
  return (
    `<div class="grid">${ids.map(box).join('')}</div>` +
    (server
      ? `<h2>Server side (${r.server!.length} /metrics endpoints)</h2><div class="grid">${serverIds.map(box).join('')}</div>`
      : '<p class="note">No server-side series: run with --metrics URL… to scrape the ingress and workers.</p>')
  );
}

function page(title: string, body: string, data: unknown): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>${asset('uPlot.min.css')}</style><style>${STYLE}</style></head>
<body>${body}
<script type="application/json" id="hpns-data">${embed(data)}</script>
<script>${asset('uPlot.iife.min.js')}</script>
<script>${CLIENT}</script>
</body></html>
`;
}

export function renderReport(r: LoadResult): string {
  const body =
    `<h1>HPNS load test: ${escapeHtml(r.label)}</h1>` +
    `<div class="sub">${escapeHtml(r.startedAt)} · ${escapeHtml(r.target)}</div>` +
    summaryTable(r) +
    '<h2>Charts</h2>' +
    chartsGrid('', r);
  return page(`HPNS load test: ${r.label}`, body, { result: r });
}

export function renderComparison(c: Comparison): string {
  const rows = c.rows
    .map(
      (row) =>
        `<tr><th>${escapeHtml(row.name)}</th><td class="n">${fmt(row.a, 3)}</td><td class="n">${fmt(row.b, 3)}</td>` +
        `<td class="n">${row.ratio === null ? '–' : `${row.ratio.toFixed(2)}×`}</td><td class="${row.better === undefined ? '' : row.better ? 'pass' : 'fail'}">${
          row.better === undefined ? '' : row.better ? 'better' : 'worse'
        }</td></tr>`,
    )
    .join('');
  const body =
    `<h1>HPNS load test comparison</h1><div class="sub">A: ${escapeHtml(c.a.label)} (${escapeHtml(c.a.startedAt)}) · B: ${escapeHtml(c.b.label)} (${escapeHtml(c.b.startedAt)})</div>` +
    `<table><tr><th>Figure</th><th>A</th><th>B</th><th>B / A</th><th></th></tr>${rows}</table>` +
    '<div class="grid"><div class="chart" id="cmp-hdr"></div></div>' +
    `<h2>A: ${escapeHtml(c.a.label)}</h2>${chartsGrid('a-', c.a)}<h2>B: ${escapeHtml(c.b.label)}</h2>${chartsGrid('b-', c.b)}`;
  return page('HPNS load test comparison', body, { compare: { a: c.a, b: c.b } });
}
