// `node apps/simulators/dist/main.js [--out DIR] [--apns-port N] [--fcm-port N] [--oauth-port N]
//   [--control-port N] [--latency-ms P50[,P99]] [--seed N]`: runs the APNs, FCM and OAuth simulators and prints
// one JSON line with their URLs and the paths of the generated CA and credentials. Ctrl-C stops them.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startSimulatorStack } from '@hpns/testkit';

export function parseOptions(argv: readonly string[]) {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      out: { type: 'string' },
      'apns-port': { type: 'string' },
      'fcm-port': { type: 'string' },
      'oauth-port': { type: 'string' },
      'control-port': { type: 'string' },
      'latency-ms': { type: 'string' },
      seed: { type: 'string' },
      host: { type: 'string' },
    },
    strict: true,
  });
  const port = (name: string, text: string | undefined) => {
    if (text === undefined) return 0;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 0 || value > 65535)
      throw new Error(`--${name} must be a port number, got ${text}`);
    return value;
  };
  let latency: { p50Ms: number; p99Ms?: number } | undefined;
  if (values['latency-ms'] !== undefined) {
    const [p50, p99] = values['latency-ms'].split(',').map(Number);
    if (p50 === undefined || !(p50 >= 0) || (p99 !== undefined && !(p99 >= p50))) {
      throw new Error(
        `--latency-ms must be P50 or P50,P99 in ms with P99 ≥ P50, got ${values['latency-ms']}`,
      );
    }
    latency = { p50Ms: p50, ...(p99 !== undefined ? { p99Ms: p99 } : {}) };
  }
  return {
    outputDir: values.out ?? join(tmpdir(), `hpns-simulators-${process.pid}`),
    host: values.host ?? '127.0.0.1',
    ports: {
      apns: port('apns-port', values['apns-port']),
      fcm: port('fcm-port', values['fcm-port']),
      oauth: port('oauth-port', values['oauth-port']),
      control: port('control-port', values['control-port']),
    },
    seed: values.seed === undefined ? 1 : Number(values.seed),
    ...(latency ? { latency } : {}),
  };
}

async function main(): Promise<void> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`hpns simulators: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  const stack = await startSimulatorStack(options);
  process.stdout.write(`${JSON.stringify({ event: 'simulators.ready', ...stack.info })}\n`);
  const stop = () => {
    void stack.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`hpns simulators failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
