import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Helpers shared by the benchmarks in the apps' and packages' `bench/` folders (and by the test Redis): a free
 * loopback port, and CPU accounting from Linux's /proc, so that a benchmark can report the CPU time each
 * component spent per operation beside its throughput. CPU per operation is far steadier than a rate on a shared
 * 2-core machine: it shows where the time goes, and the ceiling the machine allows.
 */

/** A port the OS calls free now: bound to port 0 and closed again. */
function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Where freePort() marks the ports it handed out, for every test process of the machine. */
const PORT_MARKS = join(tmpdir(), 'hpns-test-ports');
/** How long a port handed out stays reserved: longer than any test file holds (and restarts) a server. */
const PORT_RESERVED_MS = 15 * 60_000;

/**
 * A free loopback port (for servers that cannot listen on port 0 and report it, such as redis-server), and one
 * that no other test process of this machine was given in the last 15 minutes. Free is not enough: a test that
 * kills its Redis and starts it again on the same port leaves that port free meanwhile, and another test file's
 * server could take it; the first test's client then reconnects to a stranger (a cluster node, a server that its
 * own test kills), which showed as minutes-long "max retries per request" failures after a restart. A marker
 * file per port (created exclusively) keeps the ports apart across jest's worker processes.
 */
export async function freePort(): Promise<number> {
  mkdirSync(PORT_MARKS, { recursive: true });
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await unusedPort();
    const mark = join(PORT_MARKS, String(port));
    try {
      writeFileSync(mark, String(process.pid), { flag: 'wx' });
      return port;
    } catch {
      // Marked: taken over only once its reservation is long past (a mark of an earlier run).
      const markedAt = (() => {
        try {
          return statSync(mark).mtimeMs;
        } catch {
          return undefined; // removed meanwhile: try another port
        }
      })();
      if (markedAt !== undefined && Date.now() - markedAt > PORT_RESERVED_MS) {
        writeFileSync(mark, String(process.pid));
        return port;
      }
    }
  }
  throw new Error('no free port that no other test holds');
}

/** CPU time in µs: user plus system, and the system part alone. */
export interface CpuTime {
  total: number;
  sys: number;
}

/** USER_HZ: utime and stime in /proc are counted in 1/100 s on Linux. */
const TICK_US = 1e6 / 100;

/** utime and stime of a /proc …/stat text, in µs (fields 14 and 15; the command name may hold spaces). */
export function parseStatCpu(text: string): CpuTime {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    total: (Number(fields[11]) + Number(fields[12])) * TICK_US,
    sys: Number(fields[12]) * TICK_US,
  };
}

/**
 * The CPU time so far of a process (all its threads), or of one of its threads when `tid` is given. NaN when the
 * process is gone, so that a difference taken across its death shows as such rather than as a small number.
 */
export function processCpu(pid: number | 'self', tid?: number): CpuTime {
  const path = tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`;
  try {
    return parseStatCpu(readFileSync(path, 'utf8'));
  } catch {
    return { total: NaN, sys: NaN };
  }
}

/** The whole machine's busy and stolen time so far, in µs (first line of /proc/stat). */
export function machineCpu(): { busy: number; steal: number } {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n', 1)[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number) as number[];
  return {
    busy: (user! + nice! + system! + irq! + softirq!) * TICK_US,
    steal: steal! * TICK_US,
  };
}

/**
 * CPU accounting for a set of named processes over a measured window: `start()` then `stop(operations)` gives
 * each one's CPU-µs per operation and the cores it kept busy, and the whole machine's busy cores.
 */
export class CpuMeter {
  readonly #pids: ReadonlyMap<string, number | 'self'>;
  #start: { at: number; per: Map<string, CpuTime>; machine: { busy: number; steal: number } } | undefined;

  constructor(pids: Record<string, number | 'self' | undefined>) {
    this.#pids = new Map(
      Object.entries(pids).filter((entry): entry is [string, number | 'self'] => entry[1] !== undefined),
    );
  }

  start(): void {
    this.#start = { at: performance.now(), per: this.#read(), machine: machineCpu() };
  }

  stop(operations: number): CpuReport {
    const start = this.#start;
    if (start === undefined) throw new Error('CpuMeter.stop() before start()');
    const wallUs = (performance.now() - start.at) * 1000;
    const end = this.#read();
    const machine = machineCpu();
    const per: CpuReport['per'] = {};
    let total = 0;
    for (const [name, before] of start.per) {
      const after = end.get(name)!;
      const used = after.total - before.total;
      per[name] = {
        usPerOp: used / operations,
        cores: used / wallUs,
        sysShare: used > 0 ? (after.sys - before.sys) / used : 0,
      };
      total += used;
    }
    return {
      per,
      usPerOp: total / operations,
      cores: total / wallUs,
      machineBusyCores: (machine.busy - start.machine.busy) / wallUs,
      machineStealCores: (machine.steal - start.machine.steal) / wallUs,
    };
  }

  #read(): Map<string, CpuTime> {
    return new Map([...this.#pids].map(([name, pid]) => [name, processCpu(pid)]));
  }
}

export interface CpuReport {
  per: Record<string, { usPerOp: number; cores: number; sysShare: number }>;
  /** All the named processes together. */
  usPerOp: number;
  cores: number;
  machineBusyCores: number;
  machineStealCores: number;
}

/** One line: `label CPU-µs per op: a 123 (0.81 cores), b 45 (…) = total 168`. */
export function formatCpuReport(label: string, report: CpuReport, unit = 'op'): string {
  const parts = Object.entries(report.per).map(
    ([name, p]) =>
      `${name} ${Math.round(p.usPerOp)} (${p.cores.toFixed(2)} cores, ${Math.round(p.sysShare * 100)} % sys)`,
  );
  return (
    `${label} CPU-µs per ${unit}: ${parts.join(', ')} = ${Math.round(report.usPerOp)}; ` +
    `machine busy ${report.machineBusyCores.toFixed(2)} cores, steal ${report.machineStealCores.toFixed(2)}`
  );
}
