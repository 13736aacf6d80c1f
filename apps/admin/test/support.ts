import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { makePushNotification, type PushJob, type Region } from '@hpns/protocol';
import { runHpnsCli, type HpnsCliOptions } from '../src/cli';

/** The built CLI (the jest global setup builds every workspace), run as an SRE runs it. */
export const CLI_MAIN = resolve(__dirname, '../dist/main.js');
/** The built worker, for the tests that pause and redrive against a real one. */
export const WORKER_MAIN = resolve(__dirname, '../../worker/dist/main.js');

/** The payload and token-hash keys the services of a test are given, and the settings that carry them. */
export const KEYS = [{ id: 'k1', key: randomBytes(32) }];
export const HASH_KEY = randomBytes(32);
export const KEY_ENV = {
  HPNS_PAYLOAD_KEYS: KEYS.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
  HPNS_TOKEN_HASH_KEY: HASH_KEY.toString('base64'),
};

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in this process (as `runHpnsCli`), capturing what it writes. */
export async function runInProcess(
  argv: readonly string[],
  env: Record<string, string>,
  options: HpnsCliOptions = {},
): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runHpnsCli(argv, env, { out: (t) => out.push(t), err: (t) => err.push(t) }, options);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Runs the built CLI as a child process with exactly `env` (and PATH). */
export function runProcess(argv: readonly string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...argv], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.once('error', reject);
    child.once('close', (code) =>
      resolveRun({
        code: code ?? -1,
        out: Buffer.concat(out).toString().trimEnd(),
        err: Buffer.concat(err).toString().trimEnd(),
      }),
    );
  });
}

/** A device token the APNs simulator accepts (64 hex characters). */
export function apnsToken(): string {
  return randomBytes(32).toString('hex');
}

/** A message push to `apple_rn` for `device`, accepted now, with `ttlMs` to live. */
export function applePush(region: Region, device: string, ttlMs = 600_000, replyTo?: string): PushJob {
  const now = Date.now();
  return {
    v: 1,
    routing: {
      requestId: `r${randomBytes(9).toString('base64url')}`,
      ...(replyTo === undefined ? {} : { replyTo }),
      region,
      provider: 'apns',
      targetType: 'apple_rn',
      transport: 'standard',
      appVersion: 2,
      pushType: 'message',
      acceptedAtMs: now,
      expiresAtMs: now + ttlMs,
    },
    content: makePushNotification({
      platform: 'apple_rn-v2',
      device_id: device,
      server_id: 'admin-cli-test-server',
      ack_id: randomBytes(13).toString('hex'),
      message: 'alice: the launch moved to Thursday',
      channel_name: 'Town Square',
      sender_name: 'alice',
      type: 'message',
      version: 'v2',
      badge: 1,
    }),
  };
}
