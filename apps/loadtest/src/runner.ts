import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Connection, TimeoutError, type Answer, type Endpoint } from './connection';
import { type PushRequest } from './fleet';
import { Recorder, type Outcome, type SecondPoint } from './recorder';
import { type ArrivalSchedule } from './schedule';

/**
 * The load generator. Open model: requests leave at the times of an ArrivalSchedule, each on an idle
 * connection, or on a new one while fewer than `maxConnections` are open; when every connection is busy the
 * request waits in the generator and its latency keeps counting from its scheduled time. Closed model: N
 * connections, each sending its next request as soon as the answer to the last is in.
 *
 * Each connection carries one request at a time (HTTP/1.1 keep-alive, no pipelining), as the Mattermost
 * server's Go client does; requests have no Content-Type and a 30 s timeout by default, as there.
 */
export type LoadModel =
  | { kind: 'open'; schedule: ArrivalSchedule; maxConnections: number }
  | { kind: 'closed'; connections: number; durationMs: number };

export interface Target {
  endpoint: Endpoint;
  /** Host header. */
  host: string;
  /** Path prefix of the ingress (a deployment behind a path), '' for none. */
  basePath: string;
}

export interface AnswerEvent {
  push: PushRequest;
  outcome: Outcome;
  /** The FAIL text, or what went wrong; undefined for OK. */
  text?: string;
  /** performance.now() times: scheduled (open model; = sent in the closed one), written, answered. */
  scheduledAt: number;
  sentAt: number;
  doneAt: number;
  measured: boolean;
}

export interface RunOptions {
  target: Target;
  model: LoadModel;
  next: () => PushRequest;
  timeoutMs?: number;
  /** Requests scheduled (sent, closed model) in the first `warmupMs` are sent but left out of the figures. */
  warmupMs?: number;
  /** Ends the run early (Ctrl-C): nothing more is sent, answers in flight are awaited up to `abortGraceMs`. */
  signal?: AbortSignal;
  abortGraceMs?: number;
  onSecond?: (point: SecondPoint, state: RunState) => void;
  onAnswer?: (event: AnswerEvent) => void;
}

export interface RunState {
  elapsedMs: number;
  plannedMs: number;
  inFlight: number;
  waiting: number;
  openConnections: number;
  recorder: Recorder;
}

export interface RunOutcome {
  recorder: Recorder;
  startedAt: number;
  /** ms from the start to the last answer (or the give-up). */
  elapsedMs: number;
  plannedMs: number;
  measuredMs: number;
  /** Requests the schedule held that were never sent (an early end, or a give-up). */
  notSent: number;
  /** Requests written whose answer never came before the generator stopped waiting. */
  abandoned: number;
  aborted: boolean;
  maxInFlight: number;
  connectionsOpened: number;
  /** Send lag: written − scheduled, ms (the generator's own delay; large values mean it is saturated). */
  sendLag: { p50: number; p99: number; max: number };
  eventLoopDelayP99Ms: number;
  /** The generator's own CPU per request sent, µs, and the share of one core it used. */
  cpu: { usPerRequest: number; cores: number };
  warnings: string[];
}

const OK_BODIES = new Set(['{"status":"OK"}', '{"status":"OK"}\n']);

/** Judges one answer: an outcome, and a text for anything but OK. */
export function classify(
  error: Error | null,
  answer: Answer | undefined,
): { outcome: Outcome; text?: string } {
  if (error !== null || answer === undefined) {
    if (error instanceof TimeoutError) return { outcome: 'timeout', text: error.message };
    const code = (error as NodeJS.ErrnoException | null)?.code;
    return {
      outcome: 'transport',
      text: code !== undefined ? `${code}: ${error!.message}` : (error?.message ?? 'no answer'),
    };
  }
  if (answer.status !== 200)
    return { outcome: 'bad', text: `HTTP ${answer.status} ${answer.body.trim().slice(0, 120)}` };
  if (OK_BODIES.has(answer.body)) return { outcome: 'ok' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body);
  } catch {
    return { outcome: 'bad', text: `unreadable answer: ${answer.body.trim().slice(0, 120)}` };
  }
  const { status, error: text } = (parsed ?? {}) as { status?: unknown; error?: unknown };
  if (status === 'OK') return { outcome: 'ok' };
  if (status === 'REMOVE') return { outcome: 'remove', text: 'REMOVE' };
  if (status === 'FAIL')
    return { outcome: 'fail', text: typeof text === 'string' ? text : '(FAIL without a text)' };
  return { outcome: 'bad', text: `unknown answer: ${answer.body.trim().slice(0, 120)}` };
}

function requestBytes(target: Target, push: PushRequest): string {
  return (
    `POST ${target.basePath}${push.path} HTTP/1.1\r\nHost: ${target.host}\r\nUser-Agent: Go-http-client/1.1\r\n` +
    `Content-Length: ${Buffer.byteLength(push.body)}\r\nAccept-Encoding: gzip\r\n\r\n${push.body}`
  );
}

export async function runLoad(options: RunOptions): Promise<RunOutcome> {
  const { target, model } = options;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const warmupMs = options.warmupMs ?? 0;
  const recorder = new Recorder();
  const warnings: string[] = [];
  const lag = { samples: new Float64Array(4096), n: 0, max: 0 };
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const cpuStart = process.cpuUsage();
  const startedAt = performance.now() + 20;
  const plannedMs = model.kind === 'open' ? model.schedule.totalMs : model.durationMs;

  const idle: Connection[] = [];
  const all = new Set<Connection>();
  let opened = 0;
  let live = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let sentCount = 0;
  let aborted = false;
  let stopping = false;
  const waiting: { push: PushRequest; scheduledAt: number; measured: boolean }[] = [];

  const open = (): Connection => {
    const connection: Connection = new Connection(target.endpoint, () => {
      live -= 1;
      all.delete(connection);
    });
    opened += 1;
    live += 1;
    all.add(connection);
    return connection;
  };

  let settle: () => void = () => undefined;
  const settled = new Promise<void>((resolve) => (settle = resolve));
  let scheduleDone = false;
  const checkDone = () => {
    if (scheduleDone && inFlight === 0 && waiting.length === 0) settle();
  };

  const fire = (
    connection: Connection,
    push: PushRequest,
    scheduledAt: number,
    measured: boolean,
    after: (connection: Connection) => void,
  ) => {
    const sentAt = performance.now();
    const delay = sentAt - scheduledAt;
    if (lag.n < lag.samples.length) lag.samples[lag.n] = delay;
    else lag.samples[Math.floor(Math.random() * lag.samples.length)] = delay;
    lag.n += 1;
    if (delay > lag.max) lag.max = delay;
    inFlight += 1;
    sentCount += 1;
    if (inFlight > maxInFlight) maxInFlight = inFlight;
    recorder.sent();
    connection.request(requestBytes(target, push), timeoutMs, (error, answer) => {
      const doneAt = performance.now();
      inFlight -= 1;
      const { outcome, text } = classify(error, answer);
      recorder.record(
        outcome,
        doneAt - scheduledAt,
        doneAt - sentAt,
        text,
        `${push.kind} ${push.platform}`,
        measured,
        push.dead,
      );
      options.onAnswer?.({ push, outcome, text, scheduledAt, sentAt, doneAt, measured });
      after(connection);
      checkDone();
    });
  };

  // --- per-second bookkeeping --------------------------------------------------------------------------
  const secondTimer = setInterval(() => {
    const point = recorder.flush(inFlight, waiting.length);
    options.onSecond?.(point, {
      elapsedMs: performance.now() - startedAt,
      plannedMs,
      inFlight,
      waiting: waiting.length,
      openConnections: live,
      recorder,
    });
  }, 1000);
  // Align the seconds with the start.
  secondTimer.unref();

  const onAbort = () => {
    aborted = true;
    stopping = true;
  };
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  let notSent = 0;
  if (model.kind === 'open') {
    const { schedule } = model;
    let n = 0;
    const release = (connection: Connection) => {
      if (stopping && aborted) {
        connection.close();
        return;
      }
      let usable: Connection | undefined = connection.dead ? undefined : connection;
      const due = waiting.shift();
      if (due === undefined) {
        if (usable !== undefined) idle.push(usable);
        return;
      }
      if (usable === undefined) usable = take();
      if (usable === undefined) {
        waiting.unshift(due);
        return;
      }
      fire(usable, due.push, due.scheduledAt, due.measured, release);
    };
    const take = (): Connection | undefined => {
      while (idle.length > 0) {
        const connection = idle.pop()!;
        if (!connection.dead) return connection;
      }
      if (live < model.maxConnections) return open();
      return undefined;
    };
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        while (!stopping && n < schedule.total) {
          const due = startedAt + schedule.timeOf(n);
          if (due > now) break;
          n += 1;
          const push = options.next();
          const measured = due - startedAt >= warmupMs;
          recorder.offered(measured);
          const connection = waiting.length === 0 ? take() : undefined;
          if (connection === undefined) waiting.push({ push, scheduledAt: due, measured });
          else fire(connection, push, due, measured, release);
        }
        if (stopping || n >= schedule.total) {
          notSent += schedule.total - n;
          return resolve();
        }
        const wait = startedAt + schedule.timeOf(n) - performance.now();
        setTimeout(tick, Math.max(0, Math.min(wait, 50)));
      };
      setTimeout(tick, Math.max(0, startedAt - performance.now()));
    });
    scheduleDone = true;
    checkDone();
  } else {
    const endAt = startedAt + model.durationMs;
    let users = model.connections;
    await new Promise<void>((resolveStart) =>
      setTimeout(resolveStart, Math.max(0, startedAt - performance.now())),
    );
    const user = (connection: Connection) => {
      if (stopping || performance.now() >= endAt) {
        connection.close();
        users -= 1;
        if (users === 0) {
          scheduleDone = true;
          checkDone();
        }
        return;
      }
      const next = connection.dead ? open() : connection;
      const push = options.next();
      const now = performance.now();
      const measured = now - startedAt >= warmupMs;
      recorder.offered(measured);
      fire(next, push, now, measured, (c) => {
        // After a transport error, back off a little: a server that is down is not hammered in a tight loop.
        if (c.dead) setTimeout(() => user(c), 10);
        else user(c);
      });
    };
    for (let i = 0; i < model.connections; i += 1) user(open());
  }

  // --- the end: wait for the answers still out ---------------------------------------------------------
  const graceMs = aborted ? (options.abortGraceMs ?? 5000) : timeoutMs + 1000;
  let giveUp: NodeJS.Timeout | undefined;
  let abortWhileWaiting: (() => void) | undefined;
  await Promise.race([
    settled,
    new Promise<void>((resolve) => {
      giveUp = setTimeout(resolve, graceMs);
      // Ctrl-C while waiting for the stragglers: wait only the abort grace from now.
      abortWhileWaiting = () => {
        clearTimeout(giveUp);
        giveUp = setTimeout(resolve, options.abortGraceMs ?? 5000);
      };
      options.signal?.addEventListener('abort', abortWhileWaiting, { once: true });
    }),
  ]);
  clearTimeout(giveUp);
  if (abortWhileWaiting !== undefined) options.signal?.removeEventListener('abort', abortWhileWaiting);
  options.signal?.removeEventListener('abort', onAbort);
  stopping = true;
  notSent += waiting.length;
  waiting.length = 0;
  const abandoned = inFlight;
  clearInterval(secondTimer);
  const elapsedMs = performance.now() - startedAt;
  recorder.flush(inFlight, 0);
  for (const connection of [...all]) connection.close();
  loop.disable();
  const cpuUsed = process.cpuUsage(cpuStart);
  const cpuUs = cpuUsed.user + cpuUsed.system;

  const samples = Float64Array.from(lag.samples.subarray(0, Math.min(lag.n, lag.samples.length))).sort();
  const lagAt = (p: number) =>
    samples.length === 0 ? 0 : samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!;
  const cores = cpuUs / 1000 / Math.max(elapsedMs, 1);
  const sendLag = { p50: lagAt(0.5), p99: lagAt(0.99), max: lag.max };
  const eventLoopDelayP99Ms = loop.percentile(99) / 1e6;
  if (cores > 0.85)
    warnings.push(
      `the generator used ${(cores * 100).toFixed(0)} % of a core: it may be the bottleneck (run it on another machine, or several)`,
    );
  if (sendLag.p99 > 20 && model.kind === 'open' && maxInFlight < model.maxConnections)
    warnings.push(
      `requests left the generator up to ${sendLag.p99.toFixed(0)} ms late (p99) with connections to spare: the generator is saturated`,
    );
  if (model.kind === 'open' && maxInFlight >= model.maxConnections)
    warnings.push(
      `all ${model.maxConnections} connections were busy at times: requests waited in the generator (counted in the latency); raise --max-connections to offer more`,
    );
  return {
    recorder,
    startedAt,
    elapsedMs,
    plannedMs,
    measuredMs: Math.max(0, Math.min(elapsedMs, plannedMs) - warmupMs),
    notSent,
    abandoned,
    aborted,
    maxInFlight,
    connectionsOpened: opened,
    sendLag,
    eventLoopDelayP99Ms,
    cpu: { usPerRequest: sentCount === 0 ? 0 : cpuUs / sentCount, cores },
    warnings,
  };
}
