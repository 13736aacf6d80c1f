import { type Dispatcher } from 'undici';
import { type SendDeadline } from './send-deadline';

/**
 * One FCM `messages:send` POST on an undici dispatcher through `dispatch()` and a small handler, rather than
 * `request()`: `request()` wraps every response in a Readable stream and needs an AbortSignal to be
 * cancellable, which together cost more CPU than the rest of a send (bench/fcm-provider.bench.ts). The handler
 * uses undici 7's documented handler API (`onRequestStart` … `onResponseError`, undici docs
 * Dispatcher.md "Dispatcher.dispatch"), which undici marks as evolving across majors; undici is pinned to 7
 * (DESIGN.md), and a major upgrade must revisit this file.
 */

/** What the provider needs from FCM's answer. */
export interface FcmHttpResponse {
  statusCode: number;
  /** `Retry-After`, for answers other than 2xx. */
  retryAfter?: string | string[];
  /** The body, for answers other than 2xx (a 2xx body only names the message, §2.3, and is not kept). */
  body: string;
}

export interface FcmHttpRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** true on HTTP/2 pools: undici 7 multiplexes only requests marked idempotent (reference/apns-fcm.md §5.1). */
  idempotent: boolean;
}

/** Google's error bodies are a few hundred bytes; anything past this is not read into memory. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * Sends the request once. Resolves at the status line for a 2xx (the status is FCM's verdict, §2.3: a
 * connection lost while the rest of the body arrives does not undo the delivery), after the whole body for
 * any other status. Rejects with undici's error on a transport failure (a cut-off error body included: half
 * an answer is no verdict), and with the deadline's reason when the deadline ends first.
 */
export function postFcm(
  dispatcher: Dispatcher,
  request: FcmHttpRequest,
  deadline: SendDeadline,
): Promise<FcmHttpResponse> {
  return new Promise((resolve, reject) => {
    if (deadline.reason !== undefined) return reject(deadline.reason);
    const handler = new FcmResponseHandler(resolve, reject, deadline);
    deadline.watch(handler.onDeadline);
    dispatcher.dispatch(
      {
        path: request.path,
        method: 'POST',
        headers: request.headers,
        body: request.body,
        idempotent: request.idempotent,
      },
      handler,
    );
  });
}

class FcmResponseHandler implements Dispatcher.DispatchHandler {
  readonly #resolve: (response: FcmHttpResponse) => void;
  readonly #reject: (err: Error) => void;
  readonly #deadline: SendDeadline;
  #controller: Dispatcher.DispatchController | undefined;
  #settled = false;
  #statusCode = 0;
  #retryAfter: string | string[] | undefined;
  #chunks: Buffer[] = [];
  #bytes = 0;

  constructor(
    resolve: (response: FcmHttpResponse) => void,
    reject: (err: Error) => void,
    deadline: SendDeadline,
  ) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#deadline = deadline;
  }

  /** The deadline ended: fail now, and cancel the request if it is on a connection (else when it gets one). */
  readonly onDeadline = (reason: Error): void => {
    this.#controller?.abort(reason);
    this.#fail(reason);
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // Queued in the pool past the deadline: never send it.
    const reason = this.#deadline.reason;
    if (reason !== undefined) controller.abort(reason);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (statusCode < 200) return; // 1xx informational: the real answer follows
    this.#statusCode = statusCode;
    if (statusCode < 300) return this.#succeed({ statusCode, body: '' });
    this.#retryAfter = headers['retry-after'];
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#settled || this.#bytes >= MAX_ERROR_BODY_BYTES) return;
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
  }

  onResponseEnd(): void {
    const body = Buffer.concat(this.#chunks).toString('utf8');
    this.#succeed({
      statusCode: this.#statusCode,
      body,
      ...(this.#retryAfter !== undefined ? { retryAfter: this.#retryAfter } : {}),
    });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#fail(err);
  }

  #succeed(response: FcmHttpResponse): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#deadline.unwatch();
    this.#resolve(response);
  }

  #fail(err: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#deadline.unwatch();
    this.#reject(err);
  }
}
