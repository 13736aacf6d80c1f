import { parseArgs } from 'node:util';
import { type RedisConnection } from '@hpns/queue';
import { ID_MAX_LENGTH, isBoundedId, isRegionName, type Region } from '@hpns/protocol';
import { createProducerConnection, TENANTS_KEY, waitForReady } from '@hpns/queue';
import { loadRedisConfig, nodeConfigFiles, type ConfigEnv, type ConfigFiles } from '@hpns/runtime';
import { type Tenant } from './entitlement';
import { parseTenant, registerTenant } from './tenant-registry';

/**
 * `npm run tenants -- <command>`: the SRE's tool for the tenant registry (who may push through an `hpns`
 * listener, at what rate, and where their data lives). It reaches each region's Redis the way the services do
 * (HPNS_REGIONS, HPNS_REDIS_URL_<REGION> or HPNS_REDIS_URL, HPNS_REDIS_CA_FILE, and their *_FILE forms) and
 * writes a tenant's record into its home region's Redis only.
 */
export const TENANTS_USAGE = `usage: npm run tenants -- <command> [options]

  add <server-id> --tier hpns|tpns --region <home region> [--rate <pushes/s>] [--pointer-in <region>]...
      Registers (or replaces) a tenant in its home region's Redis. --rate 0 (the default) means no limit.
      --pointer-in writes a copy into another region's Redis, so that ingresses serving only that region
      answer "registered in region <home>" instead of "not registered". Records of the tenant in any other
      region (an old home, an old pointer) are removed: the command states the whole registration.
  show <server-id>
      The tenant's records in every region, and which one the ingress uses.
  list [--region <region>]
      Every record, one JSON line each; malformed ones are flagged (the ingress treats them as unregistered).
  remove <server-id> [--region <region>]
      Deletes the tenant's records (in every region unless --region is given).

Redis: HPNS_REGIONS with HPNS_REDIS_URL_<REGION> (or HPNS_REDIS_URL for one region), HPNS_REDIS_CA_FILE.
Exit codes: 0 done, 1 Redis or configuration trouble, 2 bad command line, 3 not found.`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

class UsageError extends Error {}

/** Each region's Redis; `ready()` waits until all are reachable (called once the command line is checked). */
type Stores = Map<Region, RedisConnection> & { ready: () => Promise<void> };

function regionArg(value: string | undefined, regions: readonly Region[], option: string): Region {
  if (value === undefined) throw new UsageError(`${option} is required`);
  if (!isRegionName(value) || !regions.includes(value as Region)) {
    throw new UsageError(
      `${option} ${JSON.stringify(value)} is not one of HPNS_REGIONS (${regions.join(', ')})`,
    );
  }
  return value as Region;
}

async function add(stores: Stores, regions: readonly Region[], args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      tier: { type: 'string' },
      region: { type: 'string' },
      rate: { type: 'string', default: '0' },
      'pointer-in': { type: 'string', multiple: true, default: [] },
    },
  });
  const [serverId, ...extra] = positionals;
  if (serverId === undefined || serverId === '' || extra.length > 0)
    throw new UsageError('add takes exactly one server id');
  // The ingress refuses any other server id before it looks for a tenant: such a record could never be used.
  if (!isBoundedId(serverId, ID_MAX_LENGTH))
    throw new UsageError(`the server id must be 1-${ID_MAX_LENGTH} characters of printable ASCII, no spaces`);
  if (values.tier !== 'hpns' && values.tier !== 'tpns') throw new UsageError('--tier must be hpns or tpns');
  const home = regionArg(values.region, regions, '--region');
  const rate = Number(values.rate);
  if (!/^\d+$/.test(values.rate ?? '') || !Number.isSafeInteger(rate))
    throw new UsageError('--rate must be a whole number of pushes per second (0: no limit)');
  const pointers = (values['pointer-in'] ?? []).map((r) => regionArg(r, regions, '--pointer-in'));
  if (pointers.includes(home)) throw new UsageError('--pointer-in names the home region itself');
  const tenant: Tenant = { serverId, tier: values.tier, homeRegion: home, ratePerSec: rate };
  await stores.ready();
  await registerTenant(stores.get(home) as RedisConnection, tenant);
  for (const region of pointers) await registerTenant(stores.get(region) as RedisConnection, tenant);
  // The registration is the whole truth: a record left in another region (an old home after a move, a stale
  // pointer with an old tier) would still be read by the ingress, so it goes.
  const dropped: Region[] = [];
  for (const [region, redis] of stores) {
    if (region === home || pointers.includes(region)) continue;
    if ((await redis.hdel(TENANTS_KEY, serverId)) > 0) dropped.push(region);
  }
  io.out(JSON.stringify({ added: tenant, home, pointers, dropped }));
  return 0;
}

async function show(stores: Stores, args: string[], io: CliIo): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const [serverId] = positionals;
  if (serverId === undefined || positionals.length !== 1) throw new UsageError('show takes one server id');
  await stores.ready();
  let found = 0;
  for (const [region, redis] of stores) {
    const text = await redis.hget(TENANTS_KEY, serverId);
    if (text === null) continue;
    found++;
    io.out(JSON.stringify(describe(serverId, region, text)));
  }
  if (found === 0) io.err(`${serverId} is not registered in ${[...stores.keys()].join(', ')}`);
  return found === 0 ? 3 : 0;
}

/** One record as the ingress reads it: `home` (used), `pointer` (used where no home record is found), `invalid`. */
function describe(serverId: string, region: Region, text: string): Record<string, unknown> {
  const tenant = parseTenant(serverId, text);
  if (tenant === undefined) return { region, serverId, role: 'invalid', raw: text };
  return { region, role: tenant.homeRegion === region ? 'home' : 'pointer', ...tenant };
}

async function list(stores: Stores, regions: readonly Region[], args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args, options: { region: { type: 'string' } } });
  const only = values.region === undefined ? undefined : regionArg(values.region, regions, '--region');
  await stores.ready();
  for (const [region, redis] of stores) {
    if (only !== undefined && region !== only) continue;
    let cursor = '0';
    do {
      const [next, flat] = await redis.hscan(TENANTS_KEY, cursor, 'COUNT', 500);
      for (let i = 0; i < flat.length; i += 2)
        io.out(JSON.stringify(describe(flat[i] as string, region, flat[i + 1] as string)));
      cursor = next;
    } while (cursor !== '0');
  }
  return 0;
}

async function remove(
  stores: Stores,
  regions: readonly Region[],
  args: string[],
  io: CliIo,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { region: { type: 'string' } },
  });
  const [serverId] = positionals;
  if (serverId === undefined || positionals.length !== 1) throw new UsageError('remove takes one server id');
  const only = values.region === undefined ? undefined : regionArg(values.region, regions, '--region');
  await stores.ready();
  const removed: Region[] = [];
  for (const [region, redis] of stores) {
    if (only !== undefined && region !== only) continue;
    if ((await redis.hdel(TENANTS_KEY, serverId)) > 0) removed.push(region);
  }
  if (removed.length === 0) {
    io.err(`${serverId} had no record to remove`);
    return 3;
  }
  io.out(JSON.stringify({ removed: serverId, regions: removed }));
  return 0;
}

/**
 * Runs one command; returns the exit code. Never throws: Redis and configuration trouble are reported on `err`.
 */
export async function runTenantsCli(
  argv: readonly string[],
  env: ConfigEnv,
  io: CliIo,
  files: ConfigFiles = nodeConfigFiles,
): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    (command === undefined ? io.err : io.out)(TENANTS_USAGE);
    return command === undefined ? 2 : 0;
  }
  if (!['add', 'show', 'list', 'remove'].includes(command)) {
    io.err(`unknown command ${JSON.stringify(command)}\n\n${TENANTS_USAGE}`);
    return 2;
  }
  const stores = new Map() as Stores;
  try {
    // No fallback here: a tool that writes registrations must not default to a local Redis.
    const named = Object.keys(env).some((name) => /^HPNS_REDIS_URL(_[A-Z0-9]+)?(_FILE)?$/.test(name));
    if (!named) throw new Error('no Redis is configured: set HPNS_REDIS_URL_<REGION> (or HPNS_REDIS_URL)');
    const { regions, redis, warnings } = loadRedisConfig(env, files);
    for (const warning of warnings) io.err(`warning: ${warning}`);
    stores.ready = async () => {
      for (const [region, connection] of stores) {
        await waitForReady(connection, 5000).catch(() => {
          throw new Error(`the Redis of region ${region} (${redis[region]?.displayUrl}) cannot be reached`);
        });
      }
    };
    for (const region of regions) {
      const settings = redis[region];
      if (settings === undefined) continue;
      const connection = createProducerConnection({
        url: settings.url.reveal(),
        cluster: settings.cluster,
        ca: settings.caPem,
        connectionName: 'hpns-tenants-cli',
      });
      connection.on('error', () => undefined); // each command reports its own failure
      stores.set(region, connection);
    }
    if (command === 'add') return await add(stores, regions, args, io);
    if (command === 'show') return await show(stores, args, io);
    if (command === 'list') return await list(stores, regions, args, io);
    return await remove(stores, regions, args, io);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`${(error as Error).message}\n\n${TENANTS_USAGE}`);
      return 2;
    }
    io.err((error as Error).message);
    return 1;
  } finally {
    for (const connection of stores.values()) connection.disconnect();
  }
}

if (require.main === module) {
  void runTenantsCli(process.argv.slice(2), process.env, {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  }).then((code) => {
    process.exitCode = code;
  });
}
