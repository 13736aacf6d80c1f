import {
  decodeAck,
  decodeSendPush,
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
  type AckTracker,
  type DeadTokenCache,
  type OutcomeListener,
  type PushProducer,
} from '@hpns/queue';
import { type Logger } from '@hpns/runtime';
import { type ListenerMode, type RateLimiter, type TenantLookup } from './entitlement';
import { type IngressMetrics } from './ingress-metrics';
import { chooseRegion, type ApiRoute, type RegionRoutingOptions } from './routes';

/** What the ingress holds for one region it serves. */
export interface RegionBinding {
  producer: PushProducer;
  outcomes: OutcomeListener;
  deadTokens: DeadTokenCache;
  /** Joins acks with deliveries for time-to-device (optional). */
  acks?: AckTracker;
}

export interface PushApiOptions {
  regions: ReadonlyMap<Region, RegionBinding>;
  routing: RegionRoutingOptions;
  targets: TargetLookup;
  tenants: TenantLookup;
  rateLimiter: RateLimiter;
  /** Per-server limit on `tpns` listeners, pushes per second. Default 10. */
  tpnsRatePerSec?: number;
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

/** FAIL texts of HPNS's own checks (the proxy's texts come from @hpns/protocol). */
export const FAIL_TEXTS = {
  unavailable: 'Push service temporarily unavailable, please retry',
  rateLimited: (serverId: string) => `Rate limit exceeded for serverId=${serverId}`,
  notRegistered: (serverId: string) =>
    `Server is not registered for this push notification service serverId=${serverId}`,
  wrongRegion: (serverId: string, home: string) =>
    `Server serverId=${serverId} is registered in region ${home}; use the ${home} push notification endpoint`,
  regionNotServed: (region: string | undefined) =>
    region === undefined
      ? 'No push notification region could be chosen for this request'
      : `Push notification region ${region} is not served by this endpoint`,
} as const;

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

  async sendPush(
    body: string,
    host: string | undefined,
    route: ApiRoute,
    mode: ListenerMode,
  ): Promise<PushResponse> {
    const { metrics } = this.#options;
    const decoded = decodeSendPush(body, this.#options.targets);
    if (!decoded.ok) {
      metrics.badRequest('send_push', decoded.failure);
      return fail(decoded.error);
    }
    const request = decoded.request;
    try {
      return await this.#accept(request, host, route, mode);
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

  async #accept(
    request: SendPushRequest,
    host: string | undefined,
    route: ApiRoute,
    mode: ListenerMode,
  ): Promise<PushResponse> {
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

    const limit = mode === 'tpns' ? (this.#options.tpnsRatePerSec ?? 10) : (tenant?.ratePerSec ?? 0);
    if (limit > 0 && !(await rateLimiter.take(region, serverId, limit))) {
      metrics.result('send_push', 'rate_limited');
      return fail(FAIL_TEXTS.rateLimited(serverId));
    }

    const { notification } = request;
    if ((await binding.deadTokens.deadReason(request.targetType, notification.device_id)) !== undefined) {
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
        pushType: notification.type,
        acceptedAtMs: now,
        expiresAtMs: now + (this.#options.pushTtlMs ?? 3_600_000),
      },
      content: notification,
    };
    const bound =
      notification.type === 'test' ? (this.#options.testWaitMs ?? 15_000) : (this.#options.waitMs ?? 3000);
    const waiting = binding.outcomes.wait(requestId, bound);
    // Idempotency: the Mattermost server gives each device send its own ack_id (test pushes have none). BullMQ
    // stores the key three times per job (its key, the job's deid field and options), so it is kept short: 22
    // base64url characters of the HMAC are 132 bits, far beyond any collision within the dedup window.
    const dedupKey =
      notification.ack_id === ''
        ? undefined
        : binding.deadTokens.hash(notification.ack_id, notification.device_id).slice(0, 22);
    let duplicate: boolean;
    try {
      ({ duplicate } = await binding.producer.enqueue(job, dedupKey));
    } catch (error) {
      waiting.cancel();
      throw error;
    }
    if (duplicate) {
      // The first copy is on its way and its sender gets the outcome; this copy is acknowledged at once.
      waiting.cancel();
      metrics.result('send_push', 'duplicate', region);
      return { status: 'OK' };
    }
    const response = (await waiting.promise) ?? { status: 'OK' };
    metrics.result(
      'send_push',
      response.status === 'OK' ? 'ok' : response.status === 'REMOVE' ? 'remove' : 'fail',
      region,
    );
    return response;
  }

  /** `ack`: validated as the proxy does and counted; always cheap (the server waits on it, reference §8.5). */
  ack(body: string): PushResponse {
    const decoded = decodeAck(body);
    if (!decoded.ok) {
      this.#options.metrics.badRequest('ack', decoded.failure);
      return fail(decoded.error);
    }
    const { ack } = decoded;
    this.#options.metrics.ack(ack.platform, ack.type);
    // After answering: the Mattermost server waits on this call, and the join is only for metrics.
    const receivedAtMs = ack.received_at > 0 ? ack.received_at : this.#now();
    for (const binding of this.#options.regions.values()) {
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
