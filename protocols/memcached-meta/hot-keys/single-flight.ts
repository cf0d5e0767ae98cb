/**
 * Request coalescing: concurrent reads of one key share one request in flight.
 *
 * A read joins the request in flight for its key when that request's deadline is no later than its
 * own, so joining never makes a caller wait past its timeout (a caller with an earlier deadline sends
 * its own request). If the shared request fails because the caller that issued it gave up (its abort
 * signal or its deadline), the others send their own request instead of inheriting that failure.
 *
 * Read-your-writes: {@link SingleFlight.forget} is called when this client writes the key, so a read
 * issued after the write never joins a request issued before it.
 */
import { AbortedError, type MemlineError } from '../../../lib/errors.js';

interface Flight<T> {
  readonly promise: Promise<T>;
  readonly deadline: number;
}

/** Why the issuer's request failed in a way that says nothing about the key. */
function issuerGaveUp(err: unknown): boolean {
  const code = (err as MemlineError | undefined)?.code;
  return code === 'ERR_ABORTED' || code === 'ERR_TIMEOUT';
}

export class SingleFlight<T> {
  readonly #flights = new Map<string, Flight<T>>();
  /** Reads that joined a request in flight instead of sending their own. */
  coalesced = 0;

  /**
   * The result for `key`: the request in flight when it may be joined, or a new one from `start`.
   * `deadline` is the caller's (same clock as the requests' deadlines); a caller that joins with an
   * abort `signal` is released as soon as its signal fires.
   */
  run(key: string, deadline: number, signal: AbortSignal | undefined, start: () => Promise<T>): Promise<T> {
    const joined = this.join(key, deadline, signal, start);
    if (joined !== undefined) return joined;
    const promise = start();
    const own: Flight<T> = { promise, deadline };
    this.#flights.set(key, own);
    const done = (): void => {
      if (this.#flights.get(key) === own) this.#flights.delete(key);
    };
    promise.then(done, done);
    return promise;
  }

  /**
   * The result of the request in flight for `key` when one may be joined (see {@link run}), with
   * `retry` sent instead if its issuer gives up; undefined when there is none to join.
   */
  join(
    key: string,
    deadline: number,
    signal: AbortSignal | undefined,
    retry: () => Promise<T>,
  ): Promise<T> | undefined {
    if (this.#flights.size === 0) return undefined;
    const flight = this.#flights.get(key);
    if (flight === undefined || flight.deadline > deadline) return undefined;
    this.coalesced++;
    const joined = flight.promise.catch((err: unknown) => {
      if (issuerGaveUp(err)) return retry();
      throw err;
    });
    return signal === undefined ? joined : abortable(joined, signal);
  }

  /** This client wrote `key`: reads issued from now on start a new request. */
  forget(key: string): void {
    this.#flights.delete(key);
  }

  /** Forgets every request in flight (a server list change, flush_all). */
  clear(): void {
    this.#flights.clear();
  }

  /** Keys with a request in flight. */
  get size(): number {
    return this.#flights.size;
  }
}

/** `promise`, or ERR_ABORTED as soon as `signal` fires; the listener goes when either settles. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  const aborted = (): AbortedError =>
    new AbortedError('the request was aborted', { mayHaveExecuted: true, cause: signal.reason });
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
