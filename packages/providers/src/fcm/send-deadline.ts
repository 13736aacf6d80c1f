/**
 * The deadline of one FCM send: the per-request timeout and the caller's AbortSignal merged into one, covering
 * the token wait, the request and its one replay after a 401. A send does one thing at a time, so the deadline
 * has one listener slot, which the step in progress fills (`race` for the token wait, the request handler for
 * the request).
 *
 * Deliberately not an AbortController: on Node 20 creating an AbortSignal costs about 4 µs, which was the
 * largest part of this provider's own per-send CPU at thousands of sends a second (bench/fcm-provider.bench.ts);
 * `AbortSignal.timeout` / `AbortSignal.any` are avoided for the same reason, and because their signals stay
 * alive until collected.
 */
export class SendDeadline {
  readonly #timer: NodeJS.Timeout;
  readonly #caller: AbortSignal | undefined;
  readonly #onCallerAbort: (() => void) | undefined;
  #listener: ((reason: Error) => void) | undefined;
  #cause: 'timeout' | 'aborted' | undefined;
  #reason: Error | undefined;

  /**
   * @param timeoutMs time allowed for the whole send, in ms.
   * @param caller the caller's signal (worker shutdown); an abort ends the send as `aborted`.
   */
  constructor(timeoutMs: number, caller?: AbortSignal) {
    // A module-level callback with an argument: no closure allocated per send.
    this.#timer = setTimeout(expire, timeoutMs, this);
    // Nothing to keep the process alive for: the send that owns the deadline holds the event loop itself.
    this.#timer.unref();
    this.#caller = caller;
    if (caller !== undefined) {
      this.#onCallerAbort = () => this.end('aborted');
      if (caller.aborted) this.end('aborted');
      else caller.addEventListener('abort', this.#onCallerAbort, { once: true });
    }
  }

  /** Why the deadline ended the send; undefined while it has not. */
  get cause(): 'timeout' | 'aborted' | undefined {
    return this.#cause;
  }

  /** The error a step ended by the deadline fails with; undefined while the deadline has not passed. */
  get reason(): Error | undefined {
    return this.#reason;
  }

  /**
   * Calls `listener` once if the deadline ends while it is watched (immediately if it already has). One
   * listener at a time; `unwatch()` when the step is done.
   */
  watch(listener: (reason: Error) => void): void {
    if (this.#reason !== undefined) return listener(this.#reason);
    this.#listener = listener;
  }

  unwatch(): void {
    this.#listener = undefined;
  }

  /**
   * `promise`'s result, or a rejection as soon as the deadline passes (the promise itself runs on: a token
   * refresh shared with other sends must not be cancelled by this one).
   */
  race<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.watch(reject);
      promise.then(
        (value) => {
          this.unwatch();
          resolve(value);
        },
        (err: unknown) => {
          this.unwatch();
          reject(err);
        },
      );
    });
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#listener = undefined;
    if (this.#onCallerAbort !== undefined) this.#caller?.removeEventListener('abort', this.#onCallerAbort);
  }

  /** Ends the send, once: sets `cause` and tells the watching step. */
  end(cause: 'timeout' | 'aborted'): void {
    if (this.#cause !== undefined) return;
    this.#cause = cause;
    this.#reason = new Error(`send ${cause}`);
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.(this.#reason);
  }
}

function expire(deadline: SendDeadline): void {
  deadline.end('timeout');
}
