import { isHpnsError } from '@hpns/protocol';
import { nodeConfigFiles, type ConfigEnv, type ConfigFiles } from '@hpns/runtime';
import { isParseArgsError, SettingsError, UsageError } from './args';
import { deadTokensCommand } from './commands/dead-tokens';
import { dlqCommand } from './commands/dlq';
import { pauseCommand, queuesCommand } from './commands/queues';
import { type CliIo } from './output';
import { AdminSession } from './session';

export const HPNS_USAGE = `usage: npm run hpns -- <command> [options]      (or: node apps/admin/dist/main.js <command> …)

Commands
  queues [--region R]
      Every push queue of every region (one per provider): waiting, active, delayed and failed envelopes,
      the age of the oldest waiting one, and whether it is paused.
  pause <region> [--provider apns|fcm]
      The region's workers stop taking work (jobs in flight finish); the ingress keeps accepting and pushes
      wait in the queue. BullMQ's queue pause: it holds across worker restarts until resume.
  resume <region> [--provider apns|fcm]
      The region's workers take work again, without a restart.
  dlq list [filters] [--region R] [--limit N]
      Dead letters (pushes that failed for good), newest first, at most N (default 100). Metadata only.
  dlq show <id | request id> [--region R]
      One record in full, and whether its sealed content is still held.
  dlq redrive [filters] [--region R] [--dry-run]
      Queues the matching pushes again, those whose TTL is still open and whose sealed content is held
      (HPNS_DEAD_LETTER_HOLD_CONTENT); removes their records; reports what was skipped and why.
  dlq purge [filters | --all] [--region R] [--dry-run]
      Removes the matching records and their held content.
  dead-tokens forget <token> [--region R] [--target TYPE]...
      Removes a device token from the dead-token cache (every configured target type unless --target), so
      the ingress sends to it again instead of answering REMOVE.

Filters (dlq)
  --reason R           the recorded reason, exactly (BadTopic, expired, unreadable, …)
  --provider P         apns or fcm
  --target TYPE        the target (platform) type, e.g. apple_rn
  --older-than AGE     failed at least AGE ago (AGE: 500ms, 90s, 15m, 2h, 1d)
  --newer-than AGE     failed less than AGE ago

Options
  --json               one JSON document on stdout instead of tables
  --help, -h           this text

Settings: the services' own. HPNS_REGIONS with HPNS_REDIS_URL_<REGION> (or HPNS_REDIS_URL for one region) and
HPNS_REDIS_CA_FILE; dlq redrive and dead-tokens forget also read HPNS_PAYLOAD_KEYS, HPNS_PAYLOAD_KEY_ID,
HPNS_TOKEN_HASH_KEY and HPNS_CONFIG_FILE (the target types). Each has a *_FILE form.

Exit codes: 0 done; 1 the operation failed (Redis unreachable, …) or nothing matched (dlq show, redrive,
purge, dead-tokens forget); 2 bad command line or settings.`;

const COMMANDS = ['queues', 'pause', 'resume', 'dlq', 'dead-tokens'];

export interface HpnsCliOptions {
  /** Reads the files the settings name. Default the local file system. */
  files?: ConfigFiles;
  /** How long to wait for a region's Redis, in ms. Default 5000. */
  connectTimeoutMs?: number;
}

/**
 * Runs one `hpns` command; resolves with its exit code and never throws: every failure is reported on `err`.
 * Tables (or, with `--json`, one JSON document) go to `out`.
 */
export async function runHpnsCli(
  argv: readonly string[],
  env: ConfigEnv,
  io: CliIo,
  options: HpnsCliOptions = {},
): Promise<number> {
  const json = argv.includes('--json');
  const args = argv.filter((arg) => arg !== '--json');
  const [command, ...rest] = args;
  if (command === undefined) {
    io.err(HPNS_USAGE);
    return 2;
  }
  if (command === 'help' || args.includes('--help') || args.includes('-h')) {
    io.out(HPNS_USAGE);
    return 0;
  }
  if (!COMMANDS.includes(command)) {
    io.err(
      `unknown command ${JSON.stringify(command)} (commands: ${COMMANDS.join(', ')}; hpns --help for more)`,
    );
    return 2;
  }
  let session: AdminSession | undefined;
  try {
    session = new AdminSession({
      env,
      files: options.files ?? nodeConfigFiles,
      io,
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
    });
    if (command === 'queues') return await queuesCommand(session, rest, json, io);
    if (command === 'pause' || command === 'resume')
      return await pauseCommand(session, command, rest, json, io);
    if (command === 'dlq') return await dlqCommand(session, rest, json, io);
    return await deadTokensCommand(session, rest, json, io);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof UsageError || isParseArgsError(error)) {
      io.err(`${message}\n(hpns --help lists the commands and options)`);
      return 2;
    }
    if (
      error instanceof SettingsError ||
      isHpnsError(error, 'HPNS_CONFIG_INVALID') ||
      isHpnsError(error, 'HPNS_PAYLOAD_KEY_MISSING')
    ) {
      io.err(`settings: ${message}`);
      return 2;
    }
    io.err(isHpnsError(error) ? message : `failed: ${message}`);
    return 1;
  } finally {
    await session?.close();
  }
}
