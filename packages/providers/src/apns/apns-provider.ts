import { performance } from 'node:perf_hooks';
import {
  buildApnsRequest,
  HpnsError,
  type DeliveryOutcome,
  type ProviderKind,
  type PushJob,
} from '@hpns/protocol';
import { type AppleTargetConfig } from '@hpns/runtime';
import { createProviderMetrics, type ProviderMetrics } from '../provider-metrics';
import { type PushProvider } from '../push-provider';
import { type ApnsTransportStats } from './apns-connection';
import { credentialKey, loadCertificateCredentials } from './apns-credentials';
import {
  resolveApnsOptions,
  resolveEndpoint,
  type ApnsProviderOptions,
  type ResolvedApnsOptions,
} from './apns-options';
import { ApnsPool } from './apns-pool';
import { ApnsProviderTokenSigner } from './apns-provider-token';
import { APNS_METRIC_REASONS } from './apns-reasons';
import { ApnsSend, transportFailure } from './apns-send';
import { type NodeApnClientOptions } from './node-apn-client';

/** What {@link ApnsProvider.stats} reports. */
export interface ApnsProviderStats extends ApnsTransportStats {
  /** Connection pools (credential set × endpoint). */
  pools: number;
  /** Connections configured over all pools (opened lazily). */
  connections: number;
  /** Sends in flight now. */
  inFlight: number;
  /** Sends waiting for a free stream now. */
  queued: number;
  /** Provider tokens minted over all signing keys. */
  tokenMints: number;
}

interface Target {
  readonly config: AppleTargetConfig;
  readonly pool: ApnsPool;
}

/**
 * Characters an APNs device token can have (Apple: hex; reference §1.2). Anything else cannot be a token, and
 * some of it (`/`, `?`, spaces, control characters) would not even make a valid `:path`.
 */
const TOKEN_CHARACTERS = /^[0-9A-Za-z]*$/;

/**
 * Delivers pushes to APNs for every configured Apple target, on @parse/node-apn (DESIGN.md "Decisions"):
 * one connection pool per credential set and endpoint, long-lived and shared by the targets that use it; a
 * stream cap per connection that follows the server's limit, with sends queued locally meanwhile; node-apn's
 * retries off; each answer classified into one {@link DeliveryOutcome} (apns-reasons.ts).
 *
 * Requests are built by `@hpns/protocol`'s `buildApnsRequest`, so the headers and body are the Go proxy's
 * (mattermost-wire.md §2.2–§2.4). A body over Apple's limit (4096 bytes, 5120 for VoIP) is refused before
 * sending: `rejected` / `PayloadTooLarge` with the status APNs would have answered, 413.
 */
export class ApnsProvider implements PushProvider {
  readonly kind: ProviderKind = 'apns';
  readonly targetTypes: readonly string[];
  readonly #options: ResolvedApnsOptions;
  readonly #targets = new Map<string, Target>();
  readonly #pools = new Map<string, ApnsPool>();
  readonly #signers = new Map<string, ApnsProviderTokenSigner>();
  readonly #metrics: ProviderMetrics;
  readonly #stats: ApnsTransportStats = { sessions: 0, refusedStreams: 0, goaways: 0, maxInFlight: 0 };
  #closing: Promise<void> | undefined;

  constructor(options: ApnsProviderOptions) {
    this.#options = resolveApnsOptions(options);
    for (const config of options.targets) {
      if (this.#targets.has(config.type))
        throw new RangeError(`APNs target ${config.type} is configured twice`);
      const endpoint = resolveEndpoint(config, options.endpoints?.[config.type]);
      const key = credentialKey(config, `${endpoint.address}:${endpoint.port}`);
      let pool = this.#pools.get(key);
      if (pool === undefined) {
        const client: NodeApnClientOptions = {
          ...endpoint,
          auth: this.#auth(config),
          heartbeatMs: this.#options.heartbeatMs,
        };
        pool = new ApnsPool({
          client,
          connections: this.#options.connectionsPerEndpoint,
          maxInFlightPerConnection: this.#options.maxInFlightPerConnection,
          connectTimeoutMs: this.#options.connectTimeoutMs,
          maxQueued: this.#options.maxQueuedPerEndpoint,
          stats: this.#stats,
          now: this.#options.now,
        });
        this.#pools.set(key, pool);
      }
      this.#targets.set(config.type, { config, pool });
    }
    this.targetTypes = [...this.#targets.keys()];
    this.#metrics = createProviderMetrics({
      registry: options.registry,
      provider: 'apns',
      targets: this.targetTypes,
      reasons: APNS_METRIC_REASONS,
    });
  }

  async send(job: PushJob, signal?: AbortSignal): Promise<DeliveryOutcome> {
    const type = job.routing.targetType;
    const target = this.#targets.get(type);
    if (target === undefined) {
      throw new HpnsError('HPNS_INTERNAL', `no APNs target is configured for ${type}`, { details: { type } });
    }
    const startedAt = performance.now();
    const outcome = await this.#deliver(target, job, signal);
    this.#metrics.record(type, outcome, (performance.now() - startedAt) / 1000);
    return outcome;
  }

  /** Connection-level counters (sessions, refused streams, GOAWAYs) and what is in flight and queued now. */
  stats(): ApnsProviderStats {
    const pools = [...this.#pools.values()];
    return {
      ...this.#stats,
      pools: pools.length,
      connections: pools.length * this.#options.connectionsPerEndpoint,
      inFlight: pools.reduce((sum, pool) => sum + pool.inFlight, 0),
      queued: pools.reduce((sum, pool) => sum + pool.queued, 0),
      tokenMints: [...this.#signers.values()].reduce((sum, signer) => sum + signer.mints, 0),
    };
  }

  /**
   * Answers queued sends `retryable`/`closed`, cancels those in flight (the worker drains before providers close,
   * STYLE.md §10), and closes every connection: gracefully, then by force after `closeTimeoutMs`.
   */
  close(): Promise<void> {
    this.#closing ??= Promise.all(
      [...this.#pools.values()].map((pool) => pool.close(this.#options.closeTimeoutMs)),
    ).then(() => undefined);
    return this.#closing;
  }

  async #deliver(target: Target, job: PushJob, signal: AbortSignal | undefined): Promise<DeliveryOutcome> {
    if (this.#closing !== undefined) return transportFailure('closed');
    const { content, routing } = job;
    const request = buildApnsRequest(content, {
      topic: target.config.topic,
      transport: routing.transport,
      appVersion: routing.appVersion,
    });
    // Apple's limit (HNR 413 PayloadTooLarge): refused here, so the push never costs a round trip or an error
    // on the connection (APNs closes connections that collect too many errors, reference §1.5).
    if (request.byteLength > request.maxBytes)
      return { kind: 'rejected', reason: 'PayloadTooLarge', statusCode: 413 };
    // HNR 400 BadDeviceToken is what APNs answers for a token that is not hex; this one cannot even be sent.
    if (!TOKEN_CHARACTERS.test(content.device_id)) {
      return { kind: 'invalid_token', reason: 'BadDeviceToken', statusCode: 400 };
    }
    if (signal?.aborted === true) return transportFailure('aborted');
    const send = new ApnsSend(
      { headers: request.headers, body: request.body },
      content.device_id,
      this.#options.requestTimeoutMs,
      signal,
    );
    target.pool.submit(send);
    return send.promise;
  }

  #auth(config: AppleTargetConfig): NodeApnClientOptions['auth'] {
    const { auth } = config;
    if (auth.kind === 'certificate') {
      return {
        kind: 'certificate',
        tls: loadCertificateCredentials(config.type, auth.certPem.reveal(), auth.password.reveal()),
      };
    }
    // One signer per key, whatever the environment: a team key signs for both (reference §1.6).
    const signerKey = credentialKey(config, '');
    let signer = this.#signers.get(signerKey);
    if (signer === undefined) {
      try {
        signer = new ApnsProviderTokenSigner({
          keyPem: auth.keyPem.reveal(),
          keyId: auth.keyId,
          teamId: auth.teamId,
          now: this.#options.now,
          refreshAfterMs: this.#options.tokenRefreshAfterMs,
        });
      } catch (cause) {
        throw new HpnsError('HPNS_CONFIG_INVALID', `APNs target ${config.type}: the auth key does not load`, {
          cause,
          details: { target: config.type },
        });
      }
      this.#signers.set(signerKey, signer);
    }
    return { kind: 'token', signer };
  }
}
