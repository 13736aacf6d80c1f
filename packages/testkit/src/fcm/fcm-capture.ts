import { isHttp2Request, type SimRequest } from '../oauth/secure-server';
import { type CapturedFcmRequest } from './fcm-types';

/**
 * The record of one request that tests read back (reference/apns-fcm.md §7: "read the captured requests
 * (headers and body) so a test can assert exactly what was sent").
 */
export function captureRequest(
  req: SimRequest,
  request: { sequence: number; path: string; project: string | undefined; body: Buffer; nowMs: number },
): CapturedFcmRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    // Pseudo-headers (:path, :method...) exist only on h2; leave them out so h1 and h2 captures compare.
    if (!name.startsWith(':') && value !== undefined)
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const text = request.body.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const message = (json as { message?: { token?: unknown } } | null | undefined)?.message;
  const auth = /^Bearer\s+(\S+)/i.exec(headers.authorization ?? '');
  return {
    sequence: request.sequence,
    receivedAtMs: request.nowMs,
    protocol: isHttp2Request(req) ? 'h2' : 'h1',
    method: req.method ?? '',
    path: request.path,
    ...(request.project !== undefined ? { project: request.project } : {}),
    headers,
    body: text,
    ...(json !== undefined ? { json } : {}),
    ...(typeof message?.token === 'string' ? { registrationToken: message.token } : {}),
    ...(auth?.[1] !== undefined ? { accessToken: auth[1] } : {}),
    latencyMs: 0,
  };
}

/** The record of a request that is not kept (capture limit 0): no header copy, no body. */
export function uncaptured(
  req: SimRequest,
  sequence: number,
  path: string,
  project: string | undefined,
  nowMs: number,
): CapturedFcmRequest {
  return {
    sequence,
    receivedAtMs: nowMs,
    protocol: isHttp2Request(req) ? 'h2' : 'h1',
    method: req.method ?? '',
    path,
    ...(project !== undefined ? { project } : {}),
    headers: {},
    body: '',
    latencyMs: 0,
  };
}
