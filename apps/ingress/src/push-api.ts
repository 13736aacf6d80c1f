import {
  boundedPushType,
  decodeAck,
  decodeSendPush,
  FAIL_TEXTS,
  isHpnsError,
  PUSH_JOB_VERSION,
  type PushJob,
  type PushResponse,
  type Region,
  type SendPushRequest,
  type TargetLookup,
} from '@hpns/protocol';
import {
  RandomPool,
  type EnqueueResult,
  type AckTracker,
  type DeadTokenCache,
  type FinalOutcomes,
  type KeyedHasher,
  type OutcomeListener,
  type PushProducer,
} from '@hpns/queue';
import { type Logger } from '@hpns/runtime';
import {
  type ListenerMode,
  type RateBucket,
  type RateLimiter,
  type Tenant,
  type TenantLookup,
} from './entitlement';
import { type IngressMetrics } from './ingress-metrics';
import { chooseRegion, type ApiRoute, type RegionRoutingOptions } from './routes';

/** What the ingress holds for one region it serves. */
export interface RegionBinding {
  producer: PushProducer;
  outcomes: OutcomeListener;
  deadTokens: DeadTokenCache;
  /** Final outcomes of pushes that did not end OK, for the answer to a second copy. */
  finalOutcomes: FinalOutcomes;
  /** Joins acks with deliveries for time-to-device (optional). */
  acks?: AckTracker;
}

export interface PushApiOptions {
  regions: ReadonlyMap<Region, RegionBinding>;
  routing: RegionRoutingOptions;
  targets: TargetLookup;
  tenants: TenantLookup;
  rateLimiter: RateLimiter;
  /** The keyed hash of ids a caller chose (idempotency keys). */
  hasher: KeyedHasher;
  /** Per-server limit on `tpns` listeners, pushes per second, across every region. Default 10. */
  tpnsRatePerSec?: number;
  /** Per-caller-address limit on `tpns` listeners, pushes per second, across every region. Default 10. */
  tpnsCallerRatePerSec?: number;
  /**
   * The region whose Redis holds the free tier's buckets, so that one limit holds across every region this
   * ingress serves. Default: the first served region.
   */
  tpnsLimitRegion?: Region;
  /** How long send_push waits for the delivery outcome before answering OK, in ms. Default 3000. */
  waitMs?: number;
  /** The same for `type: test` pushes, whose answer the app shows the user. Default 15000. */
  testWaitMs?: number;
  /** A push not delivered within this time is dropped with FAIL "expired", in ms. Default 3600000. */
  pushTtlMs?: number;
  logger: Logger;
  metrics: IngressMetrics;
  now?: () => number;
}

/** Where a send_push came from. */
export interface SendPushContext {
  /** The Host header. */
  host: string | undefined;
  route: ApiRoute;
  /** Who may push through the listener that took the request. */
  mode: ListenerMode;
  /**
   * The caller's address as the ingress trusts it (the socket peer, or the configured proxy header), IPv6 folded
   * to its /64 (client-address.ts). Counted on `tpns` listeners.
   */
  caller: string;
}

const fail = (error: string): PushResponse => ({ status: 'FAIL', error });

/**
 * The push-proxy API's logic, free of HTTP: a body and where it came from in, the answer out. Never throws.
 */
export class PushApi {
  readonly #options: PushApiOptions;
  readonly #now: () => number;
  readonly #random = new RandomPool();

  constructor(options: PushApiOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async sendPush(body: string, context: SendPushContext): Promise<PushResponse> {
    const { metrics } = this.#options;
    const decoded = decodeSendPush(body, this.#options.targets);
    if (!decoded.ok) {
      metrics.badRequest('send_push', decoded.failure);
      return fail(decoded.error);
    }
    const request = decoded.request;
    try {
      return await this.#accept(request, context);
    } catch (error) {
      // The Mattermost server gets the same retryable FAIL either way; the metric tells Redis trouble
      // (`unavailable`, an operations matter) from a bug of ours (`internal_error`).
      if (isHpnsError(error, 'HPNS_REDIS_UNAVAILABLE')) {
        this.#options.logger.warn(
          { event: 'send_push.unavailable', err: error },
          'send_push refused: Redis unavailable',
        );
        metrics.result('send_push', 'unavailable');
      } else {
        this.#options.logger.error({ event: 'send_push.internal_error', err: error }, 'send_push failed');
        metrics.result('send_push', 'internal_error');
      }
      return fail(FAIL_TEXTS.unavailable);
    }
  }

  async #accept(request: SendPushRequest, context: SendPushContext): Promise<PushResponse> {
    const { host, route, mode } = context;
    const { metrics, tenants, rateLimiter } = this.#options;
    const serverId = request.notification.server_id;
    const choice = chooseRegion(this.#options.routing, host, route);

    const needTenant = mode === 'hpns' || choice.kind === 'tenant';
    const tenant = needTenant ? await tenants.find(serverId) : undefined;
    if (mode === 'hpns' && tenant?.tier !== 'hpns') {
      metrics.result('send_push', 'not_registered');
      return fail(FAIL_TEXTS.notRegistered(serverId));
    }
    let region: Region | undefined;
    if (choice.kind === 'region') region = choice.region;
    else if (choice.kind === 'tenant') region = tenant?.homeRegion;
    if (tenant !== undefined && region !== undefined && region !== tenant.homeRegion) {
      // A tenant's data stays in its home region: a push sent to another region's endpoint is refused, not moved.
      metrics.result('send_push', 'wrong_region');
      return fail(FAIL_TEXTS.wrongRegion(serverId, tenant.homeRegion));
    }
    const binding = region === undefined ? undefined : this.#options.regions.get(region);
    if (region === undefined || binding === undefined) {
      metrics.result('send_push', 'region_not_served');
      return fail(
        FAIL_TEXTS.regionNotServed(region ?? (choice.kind === 'unserved' ? choice.named : undefined)),
      );
    }

    const buckets = this.#rateBuckets(context, region, serverId, tenant);
    const limited = buckets.length === 0 ? undefined : await rateLimiter.take(buckets);
    if (limited !== undefined) {
      metrics.result('send_push', 'rate_limited', region);
      metrics.rateLimited(limited);
      return fail(
        limited === 'tpns-caller' ? FAIL_TEXTS.callerRateLimited(serverId) : FAIL_TEXTS.rateLimited(serverId),
      );
    }

    const { notification } = request;
    // The dead-token cache only saves a provider round trip: when the node holding this token's key is away
    // (a cluster master failing over), the push goes on to be queued, and the provider answers for the token.
    const deadReason = await binding.deadTokens
      .deadReason(request.targetType, notification.device_id)
      .catch((error: unknown) => {
        if (!isHpnsError(error, 'HPNS_REDIS_UNAVAILABLE')) throw error;
        metrics.lookupSkipped('dead_token');
        return undefined;
      });
    if (deadReason !== undefined) {
      metrics.result('send_push', 'remove_cached', region);
      return { status: 'REMOVE' };
    }

    const now = this.#now();
    // 16 base64url characters: no `:` and never all digits (BullMQ job id rules) after the `r` prefix.
    const requestId = `r${this.#random.take(12).toString('base64url')}`;
    const job: PushJob = {
      v: PUSH_JOB_VERSION,
      routing: {
        requestId,
        replyTo: binding.outcomes.channel,
        region,
        provider: request.provider,
        targetType: request.targetType,
        transport: request.transport,
        appVersion: request.appVersion,
        pushType: boundedPushType(notification.type),
        acceptedAtMs: now,
        expiresAtMs: now + (this.#options.pushTtlMs ?? 3_600_000),
      },
      content: notification,
    };
    const bound =
      notification.type === 'test' ? (this.#options.testWaitMs ?? 15_000) : (this.#options.waitMs ?? 3000);
    const waiting = binding.outcomes.wait(requestId, bound);
    // Idempotency: the Mattermost server gives each device send its own ack_id (test pushes have none). The key is
    // a keyed hash of both (IdempotencyStore keeps 96 bits of it, far beyond any collision within the window).
    const dedupKey =
      notification.ack_id === ''
        ? undefined
        : this.#options.hasher.shortHash(notification.ack_id, notification.device_id);
    let enqueued: EnqueueResult;
    try {
      enqueued = await binding.producer.enqueue(job, dedupKey);
    } catch (error) {
      waiting.cancel();
      throw error;
    }
    if (enqueued.duplicate) {
      // Not queued again. The first copy's sender gets its outcome; this copy gets it too when it is known
      // (a REMOVE or FAIL is remembered for the window), else OK: the first copy is on its way or was delivered.
      waiting.cancel();
      metrics.result('send_push', 'duplicate', region);
      return (await binding.finalOutcomes.recall(enqueued.firstRequestId)) ?? { status: 'OK' };
    }
    const response = (await waiting.promise) ?? { status: 'OK' };
    metrics.result(
      'send_push',
      response.status === 'OK' ? 'ok' : response.status === 'REMOVE' ? 'remove' : 'fail',
      region,
    );
    return response;
  }

  /**
   * The limits a push is charged against. The free tier (`tpns`): its caller address first, then its server id,
   * both in one region's Redis whatever region the push goes to (rotating server ids or regions does not buy a
   * caller more). The paid tier: the tenant's own rate, in its home region.
   */
  #rateBuckets(
    context: SendPushContext,
    region: Region,
    serverId: string,
    tenant: Tenant | undefined,
  ): RateBucket[] {
    if (context.mode === 'tpns') {
      const store = this.#options.tpnsLimitRegion ?? this.#options.routing.served[0] ?? region;
      return [
        {
          region: store,
          scope: 'tpns-caller',
          id: context.caller,
          perSec: this.#options.tpnsCallerRatePerSec ?? 10,
        },
        { region: store, scope: 'tpns-server', id: serverId, perSec: this.#options.tpnsRatePerSec ?? 10 },
      ];
    }
    const perSec = tenant?.ratePerSec ?? 0;
    return perSec > 0 ? [{ region, scope: 'tenant', id: serverId, perSec }] : [];
  }

  /**
   * `ack`: validated as the proxy does and counted; always cheap (the server waits on it, reference §8.5). The
   * join with the delivery (time to device) asks the ack's region only, chosen as a send_push's is (path, then
   * Host, then the default region): an ack never reaches another region's Redis. On a global endpoint, where
   * only a tenant's home region could say, there is no join (the ack names no server).
   */
  ack(body: string, context: { host: string | undefined; route: ApiRoute }): PushResponse {
    const decoded = decodeAck(body);
    if (!decoded.ok) {
      this.#options.metrics.badRequest('ack', decoded.failure);
      return fail(decoded.error);
    }
    const { ack } = decoded;
    this.#options.metrics.ack(ack.platform, ack.type);
    // After answering: the Mattermost server waits on this call, and the join is only for metrics.
    const receivedAtMs = ack.received_at > 0 ? ack.received_at : this.#now();
    const choice = chooseRegion(this.#options.routing, context.host, context.route);
    const binding = choice.kind === 'region' ? this.#options.regions.get(choice.region) : undefined;
    if (binding !== undefined) {
      binding.acks?.acked(ack.id).then(
        (acceptedAtMs) => {
          if (acceptedAtMs !== undefined)
            this.#options.metrics.timeToDevice(ack.platform, (receivedAtMs - acceptedAtMs) / 1000);
        },
        (err: unknown) => this.#options.logger.debug({ event: 'ack.join_failed', err }, 'ack join failed'),
      );
    }
    return { status: 'OK' };
  }
}
