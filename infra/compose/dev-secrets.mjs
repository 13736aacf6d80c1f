// Writes the secret files docker-compose.yml mounts (development and trials only; production secrets come from a
// secret manager). Files that exist are kept, so payload keys survive restarts while pushes sit in Redis.
//
//   node infra/compose/dev-secrets.mjs [--dir DIR] [--rotate-payload-key]
//
// DIR defaults to $HPNS_COMPOSE_SECRETS or .hpns-local/compose-secrets (git-ignored). The folder is private
// (0700); the files are 0644 so that the container users (hpns 1000, redis 999, grafana 472) can read their
// bind-mounted copies. --rotate-payload-key appends a new payload key (docs/runbooks.md, key rotation).
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { dir: { type: 'string' }, 'rotate-payload-key': { type: 'boolean', default: false } },
});
const dir = resolve(values.dir ?? process.env.HPNS_COMPOSE_SECRETS ?? '.hpns-local/compose-secrets');
mkdirSync(dir, { recursive: true });
chmodSync(dir, 0o700);

const key32 = () => randomBytes(32).toString('base64');
const password = () => randomBytes(24).toString('hex');

function keep(name, make) {
  const file = join(dir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8');
  const text = make();
  writeFileSync(file, text, { mode: 0o644 });
  console.log(`wrote ${file}`);
  return text;
}

keep('payload-keys', () => `k1:${key32()}\n`);
keep('token-hash-key', () => `${key32()}\n`);
keep('grafana-admin-password', () => `${password()}\n`);
// The bearer token of the admin routes (/metrics, /readyz's details), for the processes and Prometheus.
keep('admin-token', () => `${randomBytes(32).toString('hex')}\n`);
for (const region of ['us', 'de']) {
  const secret = keep(`redis-auth-${region}.conf`, () => `requirepass ${password()}\n`);
  const pass = secret.trim().split(/\s+/)[1];
  keep(`redis-url-${region}`, () => `redis://:${pass}@redis-${region}:6379\n`);
}

if (values['rotate-payload-key']) {
  const file = join(dir, 'payload-keys');
  const entries = readFileSync(file, 'utf8').trim().split(',');
  const next = Math.max(...entries.map((entry) => Number(/^k(\d+):/.exec(entry)?.[1] ?? 0))) + 1;
  writeFileSync(file, `${[...entries, `k${next}:${key32()}`].join(',')}\n`, { mode: 0o644 });
  console.log(`added payload key k${next} to ${file}; new pushes use it once the processes restart`);
}
