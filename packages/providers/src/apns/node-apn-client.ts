// The ambient types of node-apn's lib/ factories must travel with this file: workspaces that compile it from
// source (the "hpns-source" condition, e.g. apps/worker) do not include this package's .d.ts files otherwise.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- a path reference is the tool for that
/// <reference path="./node-apn-lib.d.ts" />
import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import configFactory from '@parse/node-apn/lib/config';
import clientFactory from '@parse/node-apn/lib/client';
import { type ApnsCertificateCredentials } from './apns-credentials';
import { type ApnsProviderTokenSigner } from './apns-provider-token';

/** What `Provider.send` hands to `Client.write`: the request headers and the JSON body (sent as they are). */
export interface BuiltNotification {
  headers: Record<string, string>;
  body: string;
}

/** What `Client.write` rejects with: an APNs answer (`status`, `response`) or a transport error (`error`). */
export interface WriteFailure {
  device?: string;
  status?: number | string;
  response?: { reason?: unknown; timestamp?: unknown };
  error?: Error;
}

/** The part of node-apn's `Client` (lib/client.js) HPNS uses. */
export interface NodeApnClient {
  /** Resolves `{device, 'apns-id'}` on a 2xx answer; rejects with a {@link WriteFailure}. */
  write(
    notification: BuiltNotification,
    subDirectory: string,
    type: 'device',
    method: 'post',
  ): Promise<unknown>;
  /** Stops the PING timer and closes the session gracefully. */
  shutdown(): Promise<void>;
}

/** Where one connection goes and how it authenticates. */
export interface NodeApnClientOptions {
  /** Host name or IP of APNs (or of a simulator). */
  address: string;
  port: number;
  /** Trusted CA PEMs; undefined → Node's default roots (Apple's real endpoints). */
  ca: readonly string[] | undefined;
  auth:
    | { kind: 'token'; signer: ApnsProviderTokenSigner }
    | { kind: 'certificate'; tls: ApnsCertificateCredentials };
  /** node-apn's PING interval, ms. */
  heartbeatMs: number;
}

/** What the connection wants to know about the sessions and streams node-apn creates. */
export interface SessionObserver {
  onSession(session: ClientHttp2Session): void;
  onStream(session: ClientHttp2Session, stream: ClientHttp2Stream): void;
  /** node-apn began closing the session: no new streams on it (the next write connects anew). */
  onSessionClosing(session: ClientHttp2Session): void;
}

/** node-apn logs through `debug`; HPNS reports through outcomes and metrics instead. */
const silent = Object.assign((_message: unknown): void => undefined, { enabled: false });

/**
 * A node-apn `Client` (one HTTP/2 connection, created lazily, re-created after GOAWAY or an error) wired as
 * node-apn's own `index.js` wires it, with three substitutions (reference/apns-fcm.md §4.3):
 *
 * - `prepareToken` returns the shared {@link ApnsProviderTokenSigner} instead of a per-connection jsonwebtoken;
 * - `prepareCertificate` passes the PEM checked by `loadCertificateCredentials` instead of node-forge's loader;
 * - `http2` is a facade over `node:http2` that tells `observer` about every session (for its
 *   SETTINGS_MAX_CONCURRENT_STREAMS, GOAWAY and close, including the closes node-apn starts itself) and every
 *   stream (for `retry-after`, which node-apn reads in the wrong case and then drops, for cancelling on abort,
 *   and for the stream's end, which frees its slot).
 *
 * Its retries are off (`connectionRetryLimit: 0`): the queue owns retries (STYLE.md §7).
 */
export function createNodeApnClient(options: NodeApnClientOptions, observer: SessionObserver): NodeApnClient {
  const facade = {
    constants: http2.constants,
    connect: ((authority: string, connectOptions: http2.SecureClientSessionOptions) => {
      const session = http2.connect(authority, connectOptions);
      const { request, close } = session;
      session.request = function (...args: Parameters<ClientHttp2Session['request']>) {
        const stream = request.apply(session, args);
        observer.onStream(session, stream);
        return stream;
      };
      // node-apn closes a session on GOAWAY, on errors and after a 500; no event says so until it is closed.
      session.close = function (...args: Parameters<ClientHttp2Session['close']>) {
        observer.onSessionClosing(session);
        return close.apply(session, args);
      };
      observer.onSession(session);
      return session;
    }) as typeof http2.connect,
  };
  const { auth } = options;
  const config = configFactory({
    logger: silent,
    prepareToken: () => (auth.kind === 'token' ? auth.signer : null),
    prepareCertificate: () =>
      auth.kind === 'certificate'
        ? { cert: auth.tls.cert, key: auth.tls.key, passphrase: auth.tls.passphrase }
        : {},
    prepareCA: () => ({ ca: options.ca === undefined ? undefined : [...options.ca] }),
  });
  const Client = clientFactory({ logger: silent, errorLogger: silent, config, http2: facade });
  return new Client({
    // node-apn validates keyId/teamId on the token option; prepareToken above returns the signer instead.
    ...(auth.kind === 'token' ? { token: { keyId: 'shared', teamId: 'shared' } } : {}),
    address: options.address,
    port: options.port,
    // `production` only picks the default host and node-forge's environment check, both replaced here.
    production: false,
    connectionRetryLimit: 0,
    // 0 turns node-apn's per-stream timer off (Http2Stream#setTimeout(0)): ApnsSend's deadline bounds the whole
    // send, queueing included, and cancels the stream itself. The stream timer would cost a timer per push
    // and a refresh per frame for nothing.
    requestTimeout: 0,
    heartBeat: options.heartbeatMs,
    // Passed through to http2.connect: until the server's first SETTINGS arrives, nghttp2 assumes 1 concurrent
    // stream instead of 100, so a burst on a new connection is held back, not refused (§1.8, token-gated start).
    peerMaxConcurrentStreams: 1,
  }) as NodeApnClient;
}
