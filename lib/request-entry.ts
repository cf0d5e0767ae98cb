/**
 * One request's place in a connection: the caller's promise, its deadline and its abort signal.
 *
 * An entry settles exactly once. After it settles (timeout, abort) it may stay in the connection's
 * FIFO as a tombstone until its reply arrives and is thrown away: removing it would hand that reply to
 * the next request.
 */
import { AbortedError, InvalidArgumentError, type MemlineError } from './errors.js';

/** Per-request options the engine understands. */
export interface SendOptions {
  /** Absolute deadline on the `performance.now()` clock, fixed when the caller made the call. */
  readonly deadline: number;
  /** The timeout the deadline came from, in ms (for the error message). */
  readonly timeout: number;
  readonly signal?: AbortSignal | undefined;
}

/**
 * What is wrong with `options`, or undefined when nothing is: a deadline that is not a finite
 * number (`NaN`, `Infinity`) would never settle the request, so it is refused before any I/O.
 */
export function invalidSendOptions(options: SendOptions): InvalidArgumentError | undefined {
  if (typeof options !== 'object' || options === null) {
    return new InvalidArgumentError('send options must be an object');
  }
  const { deadline, timeout } = options;
  if (typeof deadline !== 'number' || !Number.isFinite(deadline)) {
    return new InvalidArgumentError(`deadline must be a finite number, got ${String(deadline)}`);
  }
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0) {
    return new InvalidArgumentError(`timeout must be a finite number of ms >= 0, got ${String(timeout)}`);
  }
  return undefined;
}

/** Whether a request's bytes have gone to the socket, which decides whether it may be dropped. */
export enum EntryState {
  /** Waiting to be written; can be dropped without a trace. */
  Queued = 0,
  /** Written: its reply will come and must be consumed. */
  Written = 1,
}

/**
 * A pending request inside a connection: the request with its caller's promise, deadline and abort
 * signal. Handed out only when a connection fails ({@link ConnectionEvents.orphaned}) so that its
 * owner can move it to another connection ({@link Connection.adopt}).
 */
export class RequestEntry<Req, Res> {
  state: EntryState = EntryState.Queued;
  settled = false;
  /** Already moved once from a failed connection to another (never moved twice). */
  moved = false;
  /** Written at some point, on this connection or an earlier one: the server may have run it. */
  everWritten = false;
  /** Estimated bytes on the wire, for the queued-bytes bound. */
  size = 0;
  #resolve: (value: Res) => void;
  #reject: (error: MemlineError) => void;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

  constructor(
    readonly req: Req,
    readonly deadline: number,
    readonly timeout: number,
    resolve: (value: Res) => void,
    reject: (error: MemlineError) => void,
  ) {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Rejects with ERR_ABORTED when `signal` fires; the listener is removed when the entry settles. */
  watch(signal: AbortSignal, server: string): void {
    this.#signal = signal;
    this.#onAbort = () => {
      this.reject(
        new AbortedError('the request was aborted', {
          server,
          mayHaveExecuted: this.everWritten,
          cause: signal.reason,
        }),
      );
    };
    if (signal.aborted) this.#onAbort();
    else signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Fulfils the caller's promise with `value`, unless the entry already settled. */
  resolve(value: Res): void {
    if (this.settled) return;
    this.#settle();
    this.#resolve(value);
  }

  /** Rejects the caller's promise with `error`, unless the entry already settled. */
  reject(error: MemlineError): void {
    if (this.settled) return;
    this.#settle();
    this.#reject(error);
  }

  #settle(): void {
    this.settled = true;
    if (this.#onAbort !== undefined) {
      this.#signal!.removeEventListener('abort', this.#onAbort);
      this.#onAbort = undefined;
      this.#signal = undefined;
    }
  }
}
