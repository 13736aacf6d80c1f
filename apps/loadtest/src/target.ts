import { readFileSync } from 'node:fs';
import { type Endpoint } from './connection';
import { type Target } from './runner';

/** A bad option or input of the command line (exit code 2). */
export class UsageError extends Error {}

/** The target of a run from its URL: http or https, host, port, a path prefix; a PEM CA file to trust. */
export function parseTarget(url: string, options: { ca?: string; insecure?: boolean } = {}): Target {
  const { ca, insecure = false } = options;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--target: "${url}" is not a URL (e.g. http://127.0.0.1:8086)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new UsageError(`--target: only http and https, got ${parsed.protocol}`);
  const tls = parsed.protocol === 'https:';
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const endpoint: Endpoint = {
    host,
    port: Number(parsed.port || (tls ? 443 : 80)),
    tls,
    ...(ca !== undefined ? { ca: readFileSync(ca) } : {}),
    ...(insecure ? { insecure: true } : {}),
  };
  return { endpoint, host: parsed.host, basePath: parsed.pathname.replace(/\/+$/, '') };
}
