import { parsePushResponse, type PushResponse } from '@hpns/protocol';
import { waitForReady, type RedisConnection } from './connections';
import { isShardedOutcomeChannel } from './names';

/** What a worker publishes when a push's outcome is final. */
export interface OutcomeMessage {
  requestId: string;
  response: PushResponse;
}

/**
 * Sends `text` on `channel`: SPUBLISH for a sharded channel (outcomeChannel; on a cluster it goes to the one
 * node of the channel's slot), PUBLISH for a channel of an ingress of an earlier release.
 */
async function send(connection: RedisConnection, channel: string, text: string): Promise<void> {
  if (isShardedOutcomeChannel(channel)) await connection.spublish(channel, text);
  else await connection.publish(channel, text);
}

/** Publishes an outcome to the channel named in the job (`routing.replyTo`). */
export async function publishOutcome(
  connection: RedisConnection,
  channel: string,
  message: OutcomeMessage,
): Promise<void> {
  await send(connection, channel, JSON.stringify(message));
}

/**
 * Publishes the outcomes of many pushes to one channel in one message (an envelope's pushes that were made by
 * the same ingress process): `{"b":[[requestId, status, error?], …]}`. Ingresses of this release read both
 * shapes; a worker answers a one-push job of an older ingress with the single shape (publishOutcome).
 */
export async function publishOutcomes(
  connection: RedisConnection,
  channel: string,
  messages: readonly OutcomeMessage[],
): Promise<void> {
  const b = messages.map(({ requestId, response }) =>
    response.status === 'FAIL' ? [requestId, response.status, response.error] : [requestId, response.status],
  );
  await send(connection, channel, JSON.stringify({ b }));
}

function parseOne(requestId: unknown, response: PushResponse | undefined): OutcomeMessage | undefined {
  return typeof requestId === 'string' && response !== undefined ? { requestId, response } : undefined;
}

/** The outcomes of a message of either shape; undefined when it is not one. */
function parseOutcomes(text: string): OutcomeMessage[] | undefined {
  try {
    const value = JSON.parse(text) as { requestId?: unknown; response?: unknown; b?: unknown };
    if (Array.isArray(value.b)) {
      const out: OutcomeMessage[] = [];
      for (const row of value.b as unknown[]) {
        if (!Array.isArray(row)) return undefined;
        const [requestId, status, error] = row as unknown[];
        const one = parseOne(
          requestId,
          parsePushResponse(error === undefined ? { status } : { status, error }),
        );
        if (one === undefined) return undefined;
        out.push(one);
      }
      return out;
    }
    const one = parseOne(value.requestId, parsePushResponse(value.response));
    return one === undefined ? undefined : [one];
  } catch {
    return undefined;
  }
}

/**
 * The ingress side: one subscription per ingress process and region, and a waiter per request. `wait` resolves
 * the outcome, or `undefined` when it did not arrive within the bound (the push goes on being delivered; the
 * ingress answers OK, DESIGN.md "send_push, step by step" 6). A malformed message is ignored and counted.
 */
export class OutcomeListener {
  readonly channel: string;
  readonly #connection: RedisConnection;
  readonly #sharded: boolean;
  readonly #waiters = new Map<string, (response: PushResponse | undefined) => void>();
  #malformed = 0;

  /** @internal use createOutcomeListener */
  constructor(connection: RedisConnection, channel: string) {
    this.#connection = connection;
    this.channel = channel;
    this.#sharded = isShardedOutcomeChannel(channel);
    connection.on(this.#sharded ? 'smessage' : 'message', (from: string, text: string) => {
      if (from !== channel) return;
      const messages = parseOutcomes(text);
      if (messages === undefined) {
        this.#malformed++;
        return;
      }
      for (const message of messages) this.#waiters.get(message.requestId)?.(message.response);
    });
  }

  /** Messages that were not outcomes (a bug or a foreign publisher). */
  get malformedCount(): number {
    return this.#malformed;
  }

  /** Requests waiting now. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Waits for the outcome of `requestId` for at most `timeoutMs`. Register the wait before enqueueing, so a
   * fast worker cannot publish before anyone listens.
   */
  wait(
    requestId: string,
    timeoutMs: number,
  ): { promise: Promise<PushResponse | undefined>; cancel: () => void } {
    let settle: (response: PushResponse | undefined) => void = () => undefined;
    const promise = new Promise<PushResponse | undefined>((resolve) => {
      const timer = setTimeout(() => settle(undefined), timeoutMs);
      settle = (response) => {
        clearTimeout(timer);
        this.#waiters.delete(requestId);
        resolve(response);
      };
      this.#waiters.set(requestId, settle);
    });
    return { promise, cancel: () => settle(undefined) };
  }

  /** Ends every wait (as timed out) and unsubscribes; the connection is the caller's to close. */
  async close(): Promise<void> {
    for (const settle of [...this.#waiters.values()]) settle(undefined);
    const connection = this.#connection;
    await (
      this.#sharded ? connection.sunsubscribe(this.channel) : connection.unsubscribe(this.channel)
    ).catch(() => undefined);
  }

  /** @internal subscribes (createOutcomeListener). */
  async subscribe(): Promise<void> {
    if (this.#sharded) await this.#connection.ssubscribe(this.channel);
    else await this.#connection.subscribe(this.channel);
  }
}

/**
 * Subscribes `connection` (a dedicated connection, createSubscriberConnection: subscribed clients can do nothing
 * else); a sharded channel with SSUBSCRIBE, on a cluster at the node of its slot.
 */
export async function createOutcomeListener(
  connection: RedisConnection,
  channel: string,
): Promise<OutcomeListener> {
  const listener = new OutcomeListener(connection, channel);
  // Subscribe only on a ready connection: a SUBSCRIBE queued while ioredis still runs its connect-time INFO
  // check could be accepted and yet never take effect (about 1 start in 10 here), leaving every push of the
  // region to wait out its bound and answer OK.
  await waitForReady(connection, 30_000);
  await listener.subscribe();
  return listener;
}
