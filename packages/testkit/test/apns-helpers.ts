import { randomBytes } from 'node:crypto';
import {
  connect,
  type ClientHttp2Session,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';
import {
  createApnsSimulator,
  createTestCa,
  generateApnsKey,
  signApnsProviderToken,
  type ApnsSimulator,
  type ApnsSimulatorOptions,
  type TestApnsKey,
  type TestCa,
} from '@hpns/testkit';

/** Shared by the APNs simulator tests: a plain node:http2 client and a simulator with one key. */

export const BUNDLE_ID = 'com.mattermost.rnbeta';

export interface H2Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The parsed JSON body, when there is one. */
  json: { reason?: string; timestamp?: number } | undefined;
}

export function randomToken(): string {
  return randomBytes(32).toString('hex');
}

/** Opens an HTTP/2 session that trusts the simulator's CA, and waits for the server's first SETTINGS. */
export async function connectTo(sim: ApnsSimulator): Promise<ClientHttp2Session> {
  const session = connect(sim.url, { ca: sim.caPem });
  session.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    session.once('remoteSettings', () => resolve());
    session.once('error', reject);
  });
  return session;
}

/** Sends one request; `body` undefined sends none. Resolves with the answer, rejects on stream errors. */
export function h2Request(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  body?: string | Buffer,
): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ...headers });
    let responseHeaders: IncomingHttpHeaders = {};
    let text = '';
    stream.setEncoding('utf8');
    stream.on('response', (received) => (responseHeaders = received));
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('error', reject);
    stream.on('end', () =>
      resolve({
        status: Number(responseHeaders[':status']),
        headers: responseHeaders,
        body: text,
        json: text === '' ? undefined : JSON.parse(text),
      }),
    );
    stream.end(body);
  });
}

/** A simulator with one registered key, a session to it and a way to push with a valid token. */
export interface ApnsFixture {
  sim: ApnsSimulator;
  key: TestApnsKey;
  /** A provider token for `key`, issued at the simulator clock (or `issuedAtSec`). */
  jwt(issuedAtSec?: number, key?: TestApnsKey): string;
  /** Standard headers of a valid alert push to `token`. */
  headers(token: string, extra?: OutgoingHttpHeaders): OutgoingHttpHeaders;
}

let sharedCa: TestCa | undefined;

export async function startApnsFixture(options: ApnsSimulatorOptions = {}): Promise<ApnsFixture> {
  const key = generateApnsKey();
  // One CA per test file: RSA key generation is the slowest part of starting a simulator.
  sharedCa ??= createTestCa();
  const sim = await createApnsSimulator({
    tls: sharedCa,
    ...options,
    keys: [...(options.keys ?? []), { keyId: key.keyId, teamId: key.teamId, publicKey: key.publicKey }],
  });
  const jwt = (issuedAtSec?: number, signer: TestApnsKey = key): string =>
    signApnsProviderToken({
      privateKeyPem: signer.privateKeyPem,
      keyId: signer.keyId,
      teamId: signer.teamId,
      issuedAtSec: issuedAtSec ?? Math.floor(sim.now() / 1000),
    });
  // One token per fixture, so that pushes on a connection do not count as provider-token changes.
  const token = jwt();
  return {
    sim,
    key,
    jwt,
    headers: (deviceToken, extra = {}) => ({
      ':path': `/3/device/${deviceToken}`,
      authorization: `bearer ${token}`,
      'apns-topic': BUNDLE_ID,
      'apns-push-type': 'alert',
      ...extra,
    }),
  };
}

export const ALERT = JSON.stringify({ aps: { alert: { title: 'hi', body: 'there' } } });

/** A JSON payload of exactly `bytes` bytes. */
export function payloadOfSize(bytes: number): string {
  const base = JSON.stringify({ aps: { alert: '' } });
  return JSON.stringify({ aps: { alert: 'x'.repeat(bytes - base.length) } });
}

/** Resolves on the session's first GOAWAY with its error code, last stream id and opaque data as text. */
export function nextGoaway(
  session: ClientHttp2Session,
): Promise<{ errorCode: number; lastStreamId: number; data: string }> {
  return new Promise((resolve) => {
    session.once('goaway', (errorCode, lastStreamId, opaqueData) =>
      resolve({ errorCode, lastStreamId, data: opaqueData?.toString() ?? '' }),
    );
  });
}

/** Closes a client session and waits until it is gone. */
export function closeSession(session: ClientHttp2Session): Promise<void> {
  if (session.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    session.once('close', () => resolve());
    session.close();
  });
}
