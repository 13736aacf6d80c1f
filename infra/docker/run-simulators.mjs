// The `simulators` service of docker-compose.yml (test-only, never production): runs apps/simulators with the
// arguments given, and once the simulators are ready writes `mattermost-push-proxy.json` beside the credentials
// they generated (their output folder, a volume the ingress and workers mount read-only), naming those
// credentials for two Apple and two Android targets. The file is removed at start, so a stale one from an earlier
// run never looks ready. Signals are passed on; the exit code is the simulators'.
//
//   node infra/docker/run-simulators.mjs [--out DIR] [any apps/simulators option]
import { spawn } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const DEFAULT_OUT = '/var/lib/hpns/simulators';
const CONFIG_NAME = 'mattermost-push-proxy.json';

/** The push-proxy configuration for the credentials in the simulators' ready line. */
function proxyConfig(ready) {
  return {
    ApplePushSettings: [
      { type: 'apple_rn', topic: 'com.mattermost.react.native' },
      { type: 'apple_rnbeta', topic: 'com.mattermost.rnbeta' },
    ].map(({ type, topic }) => ({
      Type: type,
      ApplePushUseDevelopment: false,
      ApplePushTopic: topic,
      AppleAuthKeyFile: ready.apnsKeyFile,
      AppleAuthKeyID: ready.apnsKeyId,
      AppleTeamID: ready.apnsTeamId,
    })),
    AndroidPushSettings: ['android_rn', 'android_rnbeta'].map((type) => ({
      Type: type,
      ServiceFileLocation: ready.serviceAccountFile,
    })),
  };
}

function main() {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf('--out');
  const out = resolve(outIndex >= 0 ? args[outIndex + 1] : DEFAULT_OUT);
  if (outIndex < 0) args.unshift('--out', out);
  mkdirSync(out, { recursive: true });
  const configFile = join(out, CONFIG_NAME);
  rmSync(configFile, { force: true });

  const simulators = resolve(dirname(fileURLToPath(import.meta.url)), '../../apps/simulators/dist/main.js');
  const child = spawn(process.execPath, [simulators, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));

  let buffered = '';
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.includes('"simulators.ready"')) continue;
      const ready = JSON.parse(line);
      // Written whole, then renamed: a reader never sees half a file.
      writeFileSync(`${configFile}.tmp`, `${JSON.stringify(proxyConfig(ready), null, 2)}\n`);
      renameSync(`${configFile}.tmp`, configFile);
      console.log(JSON.stringify({ event: 'simulators.config_written', file: configFile }));
    }
  });
}

main();
