// The kit's generator against autocannon (issue 13: "the generator is never the bottleneck … measured against
// autocannon on the same target in the same run (closed model, equal connections): ≥ 0.8× its rate").
//
//   npm run build && node apps/loadtest/bench/generator.bench.mjs [--connections 50] [--duration 10]
//       [--rounds 3] [--target URL]
//
// Target: by default the bare node:http JSON server of the ingress benches (apps/ingress/bench/bare-server.mjs),
// in a process of its own; it parses each body and answers {"status":"OK"}, so the generator's own cost shows.
// With --target, any ingress (then the server is usually what limits both generators).
// Both generators run in this process, one after the other, closed model with the same connections, keep-alive,
// one request in flight per connection, the same requests: each request a fresh push from the kit's default
// fleet profile (same seed for both), whose body and path the kit builds in both cases. Rounds alternate
// (kit, autocannon, kit, …) after a short warm-up of each, so drift of the shared machine hits both alike.
// Printed per round: requests/s, latency p50/p99, each generator's CPU per request (process.cpuUsage of this
// process), the server's CPU per request (from /proc) and how busy the machine was; then the median ratio.
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { DEFAULT_PROFILE, Fleet, parseTarget, runLoad, summarize } from '@hpns/loadtest';
import { machineCpu, processCpu } from '@hpns/testkit';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    target: { type: 'string' },
  },
});
const CONNECTIONS = Number(values.connections);
const DURATION = Number(values.duration);
const ROUNDS = Number(values.rounds);
const int = (n) => Math.round(n).toLocaleString('en-US');

function cpuNow(serverPid) {
  const self = process.cpuUsage();
  const machine = machineCpu();
  return {
    at: performance.now(),
    self: self.user + self.system,
    server: serverPid === undefined ? 0 : processCpu(serverPid).total,
    machine: machine.busy + machine.steal,
  };
}
function cpuSince(before, serverPid, requests) {
  const after = cpuNow(serverPid);
  const wallUs = (after.at - before.at) * 1000;
  return {
    generatorUs: (after.self - before.self) / requests,
    generatorCores: (after.self - before.self) / wallUs,
    serverUs: serverPid === undefined ? NaN : (after.server - before.server) / requests,
    machineCores: (after.machine - before.machine) / wallUs,
  };
}

/** The kit: runLoad, closed model. */
async function kit(url, seconds, serverPid) {
  const fleet = new Fleet({ ...DEFAULT_PROFILE, seed: 7 });
  const before = cpuNow(serverPid);
  const run = await runLoad({
    target: parseTarget(url),
    model: { kind: 'closed', connections: CONNECTIONS, durationMs: seconds * 1000 },
    next: () => fleet.next(),
  });
  const r = run.recorder;
  const latency = summarize(r.uncorrected);
  return {
    rate: (r.answered / run.elapsedMs) * 1000,
    requests: r.answered,
    notOk: r.answered - r.counts.ok - r.counts.remove,
    p50: latency.p50,
    p99: latency.p99,
    cpu: cpuSince(before, serverPid, Math.max(r.answered, 1)),
  };
}

/** autocannon, the same requests from a fleet of the same seed. */
async function cannon(url, seconds, serverPid) {
  const fleet = new Fleet({ ...DEFAULT_PROFILE, seed: 7 });
  const target = new URL(url);
  const base = target.pathname.replace(/\/+$/, '');
  let notOk = 0;
  const before = cpuNow(serverPid);
  const result = await autocannon({
    url: target.origin,
    method: 'POST',
    connections: CONNECTIONS,
    pipelining: 1,
    duration: seconds,
    requests: [
      {
        setupRequest: (request) => {
          const push = fleet.next();
          return { ...request, path: `${base}${push.path}`, body: push.body };
        },
        onResponse: (status, body) => {
          if (status !== 200 || !/"status":"(OK|REMOVE)"/.test(body)) notOk += 1;
        },
      },
    ],
  });
  const requests = result.requests.total;
  return {
    rate: requests / result.duration,
    requests,
    notOk: notOk + result.errors + result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpu: cpuSince(before, serverPid, Math.max(requests, 1)),
  };
}

function line(name, round, m) {
  return (
    `round ${round} ${name.padEnd(10)} ${int(m.rate).padStart(7)} req/s; p50 ${m.p50.toFixed(1)} p99 ` +
    `${m.p99.toFixed(1)} ms; generator ${m.cpu.generatorUs.toFixed(0)} µs CPU/request ` +
    `(${(m.cpu.generatorCores * 100).toFixed(0)} % of a core); server ${Number.isNaN(m.cpu.serverUs) ? '–' : m.cpu.serverUs.toFixed(0)} µs/request; ` +
    `machine busy ${m.cpu.machineCores.toFixed(2)} cores; not OK ${m.notOk} of ${int(m.requests)}`
  );
}

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];

let server;
try {
  let url = values.target;
  if (url === undefined) {
    server = fork(join(here, '../../ingress/bench/bare-server.mjs'), {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const port = await new Promise((r) => server.once('message', (m) => r(m.port)));
    url = `http://127.0.0.1:${port}`;
  }
  console.log(
    `generator bench: ${CONNECTIONS} connections, closed model, ${ROUNDS} rounds × ${DURATION} s each, ` +
      `target ${values.target ?? 'bare node:http JSON server (own process)'}`,
  );
  await kit(url, 2, server?.pid);
  await cannon(url, 2, server?.pid);
  const ratios = [];
  const kitUs = [];
  const cannonUs = [];
  let notOk = 0;
  for (let round = 1; round <= ROUNDS; round += 1) {
    const a = await kit(url, DURATION, server?.pid);
    console.log(line('kit', round, a));
    const b = await cannon(url, DURATION, server?.pid);
    console.log(line('autocannon', round, b));
    ratios.push(a.rate / b.rate);
    kitUs.push(a.cpu.generatorUs);
    cannonUs.push(b.cpu.generatorUs);
    notOk += a.notOk + b.notOk;
  }
  const ratio = median(ratios);
  console.log(
    `summary: kit / autocannon rate, median of ${ROUNDS} rounds ${ratio.toFixed(2)} ` +
      `(rounds ${ratios.map((r) => r.toFixed(2)).join(', ')}; target ≥ 0.8: ${ratio >= 0.8 ? 'met' : 'NOT met'}); ` +
      `generator CPU per request, median: kit ${median(kitUs).toFixed(0)} µs, autocannon ${median(cannonUs).toFixed(0)} µs; ` +
      `answers not OK ${notOk}`,
  );
  if (notOk > 0) process.exitCode = 1;
} finally {
  server?.kill('SIGTERM');
}
