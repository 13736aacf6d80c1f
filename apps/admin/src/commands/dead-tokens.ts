import { parseArgs } from 'node:util';
import { type Region } from '@hpns/protocol';
import { DeadTokenCache } from '@hpns/queue';
import { redactToken } from '@hpns/runtime';
import { regionArg, SettingsError, UsageError } from '../args';
import { writeJson, type CliIo } from '../output';
import { type AdminSession } from '../session';

/**
 * `dead-tokens forget <token> [--region R] [--target TYPE]…`: removes a device token from the dead-token cache,
 * so that the ingress sends to it again instead of answering REMOVE. The cache holds keyed hashes of target
 * type and token (dead-tokens.ts), so the token is looked up under every configured target type unless
 * --target names the ones to clear.
 */
export async function deadTokensCommand(
  session: AdminSession,
  args: string[],
  json: boolean,
  io: CliIo,
): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'forget') {
    throw new UsageError(
      sub === undefined
        ? 'dead-tokens needs a subcommand: forget'
        : `unknown dead-tokens subcommand ${JSON.stringify(sub)}: forget`,
    );
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { region: { type: 'string' }, target: { type: 'string', multiple: true } },
  });
  const [token, ...extra] = positionals;
  if (token === undefined || extra.length > 0)
    throw new UsageError('dead-tokens forget takes one device token');
  if (!/^[\x21-\x7e]{1,512}$/.test(token)) {
    throw new UsageError('a device token is 1-512 characters of printable ASCII, no spaces');
  }
  const regions: readonly Region[] =
    values.region === undefined ? session.regions : [regionArg(values.region, session.regions, '--region')];
  const { hasher, targetTypes: configured } = session.keys();
  const targetTypes = values.target ?? configured;
  if (targetTypes.length === 0) {
    throw new SettingsError(
      'no target types are configured (HPNS_CONFIG_FILE): name the token’s with --target <type>, e.g. apple_rn',
    );
  }
  const forgotten: { region: Region; targetType: string }[] = [];
  for (const region of regions) {
    const cache = new DeadTokenCache({ region, connection: await session.redis(region), hasher });
    for (const targetType of targetTypes) {
      if (await cache.forget(targetType, token)) forgotten.push({ region, targetType });
    }
  }
  // The token is the operator's own input, but output is copied into tickets and chats: a prefix is enough.
  const shown = redactToken(token);
  if (json) writeJson(io, { token: shown, regions, targetTypes, forgotten });
  else {
    for (const { region, targetType } of forgotten) io.out(`${region}: forgot ${shown} (${targetType})`);
  }
  if (forgotten.length === 0) {
    io.err(
      `${shown} is not in the dead-token cache of ${regions.join(', ')} (target types ${targetTypes.join(', ')})`,
    );
    return 1;
  }
  return 0;
}
