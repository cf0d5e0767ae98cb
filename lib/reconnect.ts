/**
 * The reconnect back-off of one server. After a connect fails, the next one waits: about `base`
 * ms after the first failure, doubling up to `cap`, with jitter so that many clients do not
 * reconnect in step. Any byte from the server ends the back-off.
 *
 * A refused or reset connect (ERR_CONNECTION) says the server is not there: until the back-off
 * ends, calls that would need a new connection fail at once ({@link Reconnect.refused}). After any
 * other failure (a connect that timed out, a TLS or login failure) calls queue on a connection that
 * waits out the back-off instead ({@link Reconnect.connectDelay}), each trying once more.
 */
import { ConnectionError, type MemlineError } from './errors.js';

/** Capped exponential back-off with jitter for reconnects: attempt 1 → ~base, doubling to `cap`. */
export function backoff(attempt: number, base: number, cap: number): number {
  const ms = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(ms / 2 + Math.random() * (ms / 2));
}

/** The first delay and its cap, in ms. */
export interface ReconnectOptions {
  readonly base: number;
  readonly cap: number;
}

export class Reconnect {
  readonly #options: ReconnectOptions | undefined;
  /** Connections in a row that failed before becoming usable. */
  #failures = 0;
  /** When the back-off after the last failed connect ends (`performance.now()` clock). */
  #retryAt = 0;
  /** Why the last connect failed, when the server refused or reset it. */
  #refusal: ConnectionError | undefined;

  /** Without options a failed connect is retried at once. */
  constructor(options: ReconnectOptions | undefined) {
    this.#options = options;
  }

  /** A connect failed for `error`: the next one waits for the back-off. */
  failed(error: MemlineError): void {
    this.#failures++;
    const options = this.#options;
    const delay = options === undefined ? 0 : backoff(this.#failures, options.base, options.cap);
    this.#retryAt = performance.now() + delay;
    this.#refusal = error instanceof ConnectionError ? error : undefined;
  }

  /** The server answered: the next connect, if any, goes at once. */
  succeeded(): void {
    this.#failures = 0;
    this.#retryAt = 0;
    this.#refusal = undefined;
  }

  /** The server refused the last connect and its back-off has not ended. */
  get refused(): boolean {
    return this.#refusal !== undefined && performance.now() < this.#retryAt;
  }

  /**
   * ms a new connection waits before connecting: the rest of the back-off, unless the server
   * refused (calls fail fast meanwhile, so a connection opened anyway, a breaker probe, goes now).
   */
  get connectDelay(): number {
    return this.#refusal === undefined ? Math.max(0, Math.round(this.#retryAt - performance.now())) : 0;
  }

  /** The error a call gets while the server is backed off after a refusal (nothing was sent). */
  refusedError(server: string, mayHaveExecuted: boolean): ConnectionError {
    const refusal = this.#refusal!;
    const retryIn = Math.max(0, Math.ceil(this.#retryAt - performance.now()));
    return new ConnectionError(`${refusal.message}; next attempt in ${retryIn} ms`, {
      server,
      mayHaveExecuted,
      cause: refusal.cause,
    });
  }
}
