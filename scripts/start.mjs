// `npm start`: runs the local stack. Parts of HPNS that do not exist yet are named here, so that `npm start`
// never fails silently; each later issue replaces a line of MISSING with a process this script starts.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const PARTS = [
  { name: 'ingress (apps/ingress)', path: 'apps/ingress/src/main.ts' },
  { name: 'worker (apps/worker)', path: 'apps/worker/src/main.ts' },
  { name: 'APNs/FCM/OAuth simulators (apps/simulators)', path: 'apps/simulators/src/main.ts' },
];

const missing = PARTS.filter((part) => !existsSync(join(root, part.path)));
if (missing.length > 0) {
  console.error('npm start cannot run the local stack yet: these parts are not built yet:');
  for (const part of missing) console.error(`  - ${part.name}`);
  console.error(
    'What exists today is the protocol, runtime and tooling packages; `npm test` runs their tests.',
  );
  process.exit(1);
}
console.error('npm start: all parts exist but the launcher has not been written; see the local-stack issue.');
process.exit(1);
