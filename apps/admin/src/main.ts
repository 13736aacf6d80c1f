#!/usr/bin/env node
// `npm run hpns -- <command>`: the SRE's admin CLI (queues, pause/resume, dead letters, dead tokens). The README's
// "Admin CLI" section and `--help` list the commands; docs/runbooks.md says when to use them.
import { runHpnsCli } from './cli';

if (require.main === module) {
  void runHpnsCli(process.argv.slice(2), process.env, {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  }).then((code) => {
    // exitCode, not exit(): stdout is a pipe for `--json | jq`, and exit() could cut what is still buffered.
    process.exitCode = code;
  });
}
