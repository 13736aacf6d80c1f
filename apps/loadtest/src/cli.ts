#!/usr/bin/env node
// `npm run loadtest -- --target URL [options]` and `npm run loadtest -- compare a.json b.json`.
// See the README's "Load testing" section; `--help` lists every option.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { asResult, compareResults, formatComparison } from './compare';
import { findMax } from './find-max';
import { checkProfile, DEFAULT_PROFILE, Fleet, parseWeights, type FleetProfile } from './fleet';
import { renderComparison, renderReport } from './html';
import { Reconciler } from './reconcile';
import { buildResult, parseSlo, type LoadResult } from './result';
import { runLoad, type LoadModel, type Target } from './runner';
import { ArrivalSchedule, parseDuration, parseStages } from './schedule';
import { MetricsScraper } from './scrape';
import { startLocalStack } from './stack';
import { parseTarget, UsageError } from './target';

const HELP = `hpns-loadtest: load tests for HPNS or any Mattermost push-proxy ingress

  npm run loadtest -- --target URL [options]
  npm run loadtest -- --stack [options]
  npm run loadtest -- compare A.json B.json [--html FILE]

Load (open model by default: a constant arrival rate, latency from each request's scheduled time)
  --rate N               requests per second (default 100)
  --duration D           how long at --rate (default 30s; ms, s, m, h)
  --stages LIST          ramps instead of --rate: 30s:500,60s:3000,30s:0 (linear from the previous rate)
  --max-connections N    open model: connections at most (default 1000)
  --connections N        closed model instead: N connections back to back for --duration
  --find-max             step the rate (from --start-rate, × --step-factor, default 100 and 1.5, up to --max-rate)
                         for --duration each; report the highest rate that holds --slo
  --warmup D             leave the first D out of the figures (default 0)
  --timeout D            per-request timeout (default 30s, as the Mattermost server's client)
Traffic
  --profile FILE         a JSON fleet profile (fields: ${Object.keys(DEFAULT_PROFILE).join(', ')})
  --kinds a=W,…          kinds: message, id_loaded, clear, update_badge, session, test
  --platforms a=W,…      apple_rn-v2, android_rn-v2, apple_rnbeta-v2, android_rnbeta-v2, voip
  --regions a=W,…        region prefixes (/us/api/v1/send_push); none = no prefix (default us=1,de=1)
  --servers N --devices N --dead-tokens SHARE --message-bytes MIN-MAX --seed N
Target
  --target URL           the ingress: http://127.0.0.1:8086, https://push.example.com/prefix
  --stack                start the local stack (scripts/start.mjs of this checkout) on free ports, target it,
                         reconcile through its simulators, scrape its /metrics, and stop it after the run
                         (--no-build: skip the build first; the environment, e.g. HPNS_WAIT_MS, reaches it)
  --ca FILE              trust this CA (PEM) for an HTTPS target; --insecure skips certificate checks
Checks and outputs
  --slo 'p99<50ms,fail<0.1%'   verdict in the result; the exit code is 1 when it fails
  --control URL          the simulators' control API: reconcile OK answers with what the providers received
  --metrics URL,…        scrape these /metrics during the run (ingress, workers)
  --metrics-token-file F the admin token (HPNS_ADMIN_TOKEN_FILE) sent as a bearer token with each scrape
  --out FILE             JSON result (default loadtest-result.json); --html FILE (default: --out with .html)
  --label TEXT           the run's name in reports
Exit codes: 0 done (and the SLO held), 1 the SLO failed or the reconciliation did not match, 2 bad options.`;

function number(name: string, text: string | undefined, fallback: number, min = 0): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min)
    throw new UsageError(`--${name}: "${text}" must be a number ≥ ${min}`);
  return value;
}

export function profileFrom(values: Record<string, string | boolean | undefined>): FleetProfile {
  let input: Record<string, unknown> = {};
  if (typeof values.profile === 'string') {
    let text: string;
    try {
      text = readFileSync(values.profile, 'utf8');
    } catch (error) {
      throw new UsageError(`--profile: cannot read ${values.profile}: ${(error as Error).message}`);
    }
    try {
      input = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new UsageError(`--profile ${values.profile}: not valid JSON (${(error as Error).message})`);
    }
  }
  const base = checkProfile(input);
  const flags: Record<string, unknown> = {};
  if (typeof values.kinds === 'string') flags.kinds = parseWeights('--kinds', values.kinds);
  if (typeof values.platforms === 'string') flags.platforms = parseWeights('--platforms', values.platforms);
  if (typeof values.regions === 'string') flags.regions = parseWeights('--regions', values.regions);
  if (typeof values.servers === 'string') flags.servers = Number(values.servers);
  if (typeof values.devices === 'string') flags.devicesPerServer = Number(values.devices);
  if (typeof values['dead-tokens'] === 'string') flags.deadTokens = Number(values['dead-tokens']);
  if (typeof values.seed === 'string') flags.seed = Number(values.seed);
  if (typeof values['message-bytes'] === 'string') {
    const m = /^(\d+)-(\d+)$/.exec(values['message-bytes']);
    if (m === null) throw new UsageError('--message-bytes: MIN-MAX, e.g. 20-1200');
    flags.messageBytes = { min: Number(m[1]), max: Number(m[2]) };
  }
  return checkProfile(flags, base);
}

const OPTIONS = {
  target: { type: 'string' },
  stack: { type: 'boolean' },
  'no-build': { type: 'boolean' },
  rate: { type: 'string' },
  duration: { type: 'string' },
  stages: { type: 'string' },
  'max-connections': { type: 'string' },
  'find-max': { type: 'boolean' },
  'start-rate': { type: 'string' },
  'step-factor': { type: 'string' },
  'max-rate': { type: 'string' },
  connections: { type: 'string' },
  warmup: { type: 'string' },
  timeout: { type: 'string' },
  profile: { type: 'string' },
  kinds: { type: 'string' },
  platforms: { type: 'string' },
  regions: { type: 'string' },
  servers: { type: 'string' },
  devices: { type: 'string' },
  'dead-tokens': { type: 'string' },
  'message-bytes': { type: 'string' },
  seed: { type: 'string' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  slo: { type: 'string' },
  control: { type: 'string' },
  metrics: { type: 'string' },
  'metrics-token-file': { type: 'string' },
  out: { type: 'string' },
  html: { type: 'string' },
  label: { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'compare') {
    const { values, positionals } = parseArgs({
      args: argv.slice(1),
      options: { html: { type: 'string' } },
      allowPositionals: true,
    });
    if (positionals.length !== 2)
      throw new UsageError('compare needs two result files: compare A.json B.json');
    const [a, b] = positionals.map((file) => {
      try {
        return asResult(JSON.parse(readFileSync(file, 'utf8')), file);
      } catch (error) {
        throw new UsageError(`${file}: ${(error as Error).message}`);
      }
    }) as [LoadResult, LoadResult];
    const comparison = compareResults(a, b);
    process.stdout.write(`${formatComparison(comparison)}\n`);
    const html = values.html ?? 'loadtest-compare.html';
    writeFileSync(html, renderComparison(comparison));
    process.stdout.write(`comparison written to ${html}\n`);
    return 0;
  }
  const values = parseOptions(argv);
  if (values.help === true) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (values.stack === true) {
    if (values.target !== undefined || values.control !== undefined || values.metrics !== undefined)
      throw new UsageError('--stack sets the target, --control and --metrics itself: drop them');
  } else {
    if (values.target === undefined)
      throw new UsageError('--target URL (or --stack) is required (e.g. --target http://127.0.0.1:8086)');
    if (values['no-build'] === true) throw new UsageError('--no-build goes with --stack');
    parseTarget(values.target, {
      ...(values.ca !== undefined ? { ca: values.ca } : {}),
      insecure: values.insecure === true,
    });
  }
  // Every option is checked before a stack is started for it.
  profileFrom(values);
  if (values.slo !== undefined) parseSlo(values.slo);
  if (values.stack !== true) metricsToken(values['metrics-token-file']);
  if (values['find-max'] === true && values.slo === undefined)
    throw new UsageError('--find-max needs --slo (e.g. --slo "p99<50ms,fail<0.1%")');
  if (values.stack !== true) return runOn(values);
  const quiet = values.quiet === true;
  if (!quiet) process.stderr.write('starting the local stack (scripts/start.mjs)…\n');
  const stack = await startLocalStack({
    noBuild: values['no-build'] === true,
    onLine: (line) => {
      if (!quiet && /\[start\]|error|fail/i.test(line)) process.stderr.write(`  ${line}\n`);
    },
  });
  if (!quiet)
    process.stderr.write(
      `local stack ready: ingress ${stack.target}, control ${stack.control} (pids ${Object.entries(stack.pids)
        .map(([name, pid]) => `${name}=${pid}`)
        .join(' ')})\n`,
    );
  try {
    return await runOn({
      ...values,
      target: stack.target,
      control: stack.control,
      metrics: stack.metrics.join(','),
    });
  } finally {
    if (!quiet) process.stderr.write('stopping the local stack…\n');
    await stack.stop();
  }
}

function parseOptions(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, strict: true }).values;
}
type Values = ReturnType<typeof parseOptions>;

/** One run (or a --find-max search) against `values.target`. */
async function runOn(values: Values): Promise<number> {
  const target = parseTarget(values.target!, {
    ...(values.ca !== undefined ? { ca: values.ca } : {}),
    insecure: values.insecure === true,
  });
  const profile = profileFrom(values);
  const timeoutMs = values.timeout === undefined ? 30_000 : parseDuration(values.timeout, '--timeout');
  const warmupMs = values.warmup === undefined ? 0 : parseDuration(values.warmup, '--warmup');
  const durationMs = values.duration === undefined ? 30_000 : parseDuration(values.duration, '--duration');
  if (values['find-max'] === true) return runFindMax(values, target, profile, timeoutMs, durationMs);
  let model: LoadModel;
  let described: LoadResult['model'];
  if (values.connections !== undefined) {
    if (values.stages !== undefined || values.rate !== undefined)
      throw new UsageError('--connections (closed model) goes without --rate or --stages');
    const connections = number('connections', values.connections, 1, 1);
    model = { kind: 'closed', connections, durationMs };
    described = { kind: 'closed', connections, durationMs };
  } else {
    const maxConnections = number('max-connections', values['max-connections'], 1000, 1);
    let schedule: ArrivalSchedule;
    if (values.stages !== undefined) {
      if (values.rate !== undefined) throw new UsageError('give --rate or --stages, not both');
      schedule = new ArrivalSchedule(parseStages(values.stages), 0);
    } else {
      schedule = ArrivalSchedule.constant(number('rate', values.rate, 100, 0.001), durationMs);
    }
    model = { kind: 'open', schedule, maxConnections };
    described = { kind: 'open', stages: [...schedule.stages], startRate: schedule.startRate, maxConnections };
  }
  const fleet = new Fleet(profile);
  const reconciler = values.control === undefined ? undefined : new Reconciler(values.control, fleet);
  await reconciler?.start();
  const scraper =
    values.metrics === undefined
      ? undefined
      : new MetricsScraper(
          values.metrics
            .split(',')
            .map((u) => u.trim())
            .filter(Boolean),
          metricsToken(values['metrics-token-file']),
        );

  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts === 1) {
      process.stderr.write(
        '\nCtrl-C: stopping; waiting a few seconds for the answers in flight (Ctrl-C again to stop now)\n',
      );
      abort.abort();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  const tty = process.stderr.isTTY === true && values.quiet !== true;
  const startedAt = new Date();
  scraper?.start(performance.now());
  const outcome = await runLoad({
    target,
    model,
    next: () => fleet.next(),
    timeoutMs,
    warmupMs,
    signal: abort.signal,
    onAnswer:
      reconciler === undefined ? undefined : (e) => e.outcome === 'ok' && reconciler.answeredOk(e.push.ackId),
    onSecond: (point, state) => {
      if (values.quiet === true) return;
      const errors =
        point.byOutcome.fail + point.byOutcome.bad + point.byOutcome.transport + point.byOutcome.timeout;
      const remaining = Math.max(0, state.plannedMs - state.elapsedMs) / 1000;
      const line =
        `${(state.elapsedMs / 1000).toFixed(0).padStart(4)}s elapsed, ${remaining.toFixed(0)}s left: ` +
        `offered ${point.offered}/s answered ${point.done}/s p50 ${point.p50?.toFixed(1) ?? '–'} p99 ${point.p99?.toFixed(1) ?? '–'} ms ` +
        `errors ${errors} in flight ${state.inFlight} waiting ${state.waiting}`;
      process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    },
  });
  if (tty) process.stderr.write('\n');
  await scraper?.stop();
  const reconcile = await reconciler?.finish();
  process.off('SIGINT', onSigint);
  const result = buildResult({
    label:
      values.label ??
      `${described.kind} ${values.stages ?? (values.connections !== undefined ? `${values.connections} connections` : `${values.rate ?? 100}/s`)}`,
    startedAt,
    target: redact(values.target!),
    model: described,
    profile,
    timeoutMs,
    warmupMs,
    run: outcome,
    ...(reconcile !== undefined ? { reconcile } : {}),
    ...(scraper !== undefined ? { server: scraper.series } : {}),
    ...(values.slo !== undefined ? { slo: values.slo } : {}),
  });
  const { out, html } = writeOutputs(values, result);
  const c = result.latency.corrected;
  process.stdout.write(
    `${result.aborted ? 'ended early; ' : ''}offered ${result.rates.offered.toFixed(1)}/s, answered ${result.rates.achieved.toFixed(1)}/s; ` +
      `answers ${Object.entries(result.answers)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}; ` +
      `latency p50 ${c.p50.toFixed(1)} p99 ${c.p99.toFixed(1)} p99.9 ${c.p999.toFixed(1)} max ${c.max.toFixed(1)} ms; ` +
      `generator ${result.generator.cpuUsPerRequest.toFixed(0)} µs CPU/request\n` +
      result.generator.warnings.map((w) => `warning: ${w}\n`).join('') +
      (reconcile !== undefined
        ? `reconcile: ${reconcile.matches ? 'matches' : 'MISMATCH'} (answered OK ${reconcile.answeredOk}, missing ${reconcile.missing}, duplicates ${reconcile.duplicates}, lost receipts ${reconcile.lostReceipts})\n`
        : '') +
      (result.slo !== undefined ? `SLO ${result.slo.spec}: ${result.slo.pass ? 'PASS' : 'FAIL'}\n` : '') +
      `result ${out}, report ${html}\n`,
  );
  return (result.slo !== undefined && !result.slo.pass) || (reconcile !== undefined && !reconcile.matches)
    ? 1
    : 0;
}

async function runFindMax(
  values: Record<string, string | boolean | undefined>,
  target: Target,
  profile: FleetProfile,
  timeoutMs: number,
  stepMs: number,
): Promise<number> {
  if (values.connections !== undefined || values.stages !== undefined)
    throw new UsageError('--find-max steps its own rates: no --connections or --stages');
  const slo = values.slo as string; // checked in run()
  const maxConnections = number('max-connections', values['max-connections'] as string | undefined, 1000, 1);
  const factor = number('step-factor', values['step-factor'] as string | undefined, 1.5, 1.01);
  const fleet = new Fleet(profile);
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.on('SIGINT', onSigint);
  const startedAt = new Date();
  const { best } = await findMax({
    target,
    next: () => fleet.next(),
    slo,
    startRate: number('start-rate', values['start-rate'] as string | undefined, 100, 0.001),
    factor,
    stepMs,
    maxRate: number('max-rate', values['max-rate'] as string | undefined, 1_000_000, 0.001),
    maxConnections,
    timeoutMs,
    signal: abort.signal,
    result: (rate, run) =>
      buildResult({
        label: (values.label as string | undefined) ?? `find-max ${slo}`,
        startedAt,
        target: redact(values.target as string),
        model: { kind: 'open', stages: [{ durationMs: stepMs, rate }], startRate: rate, maxConnections },
        profile,
        timeoutMs,
        warmupMs: 0,
        run,
        slo,
      }),
    onStep: (step) => {
      if (values.quiet !== true)
        process.stderr.write(
          `step ${step.rate.toFixed(1)}/s: answered ${step.achieved.toFixed(1)}/s, p99 ${step.p99.toFixed(1)} ms, failed ${step.failShare.toFixed(3)} % — ${step.pass ? 'holds' : `breaks ${step.reasons.join(', ')}`}\n`,
        );
    },
  });
  process.off('SIGINT', onSigint);
  const { out, html } = writeOutputs(values, best);
  process.stdout.write(
    `highest rate holding ${slo}: ${best.findMax!.maxRate.toFixed(1)}/s\nresult ${out}, report ${html}\n`,
  );
  return best.findMax!.maxRate > 0 ? 0 : 1;
}

/** Writes the JSON result (--out) and the HTML report (--html, default: --out with .html). */
function writeOutputs(
  values: Record<string, string | boolean | undefined>,
  result: LoadResult,
): { out: string; html: string } {
  const out = typeof values.out === 'string' ? values.out : 'loadtest-result.json';
  const html = typeof values.html === 'string' ? values.html : out.replace(/\.json$/, '') + '.html';
  writeFileSync(out, `${JSON.stringify(result, null, 1)}\n`);
  writeFileSync(html, renderReport(result));
  return { out, html };
}

/** `--metrics-token-file`: the admin token, read once. */
function metricsToken(file: string | undefined): { bearerToken?: string } {
  if (file === undefined) return {};
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new UsageError(`--metrics-token-file: cannot read ${file}: ${(error as Error).message}`);
  }
  if (token === '') throw new UsageError(`--metrics-token-file: ${file} is empty`);
  return { bearerToken: token };
}

/** The target URL without credentials, for reports. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}

if (require.main === module) {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      const usage =
        error instanceof UsageError ||
        (error instanceof Error &&
          /profile field|--|ERR_PARSE_ARGS/.test(
            `${error.message}${(error as NodeJS.ErrnoException).code ?? ''}`,
          ));
      process.stderr.write(`hpns-loadtest: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(usage ? 2 : 1);
    },
  );
}

export { run };
