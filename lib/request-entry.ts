/**
 * One request's place in a connection: the caller's promise, its deadline and its abort signal.
 *
 * An entry settles exactly once. After it settles (timeout, abort) it may stay in the connection's
 * FIFO as a tombstone until its reply arrives and is thrown away: removing it would hand that reply to
 * the next request.
 */
import type { ReplySlot } from './codec.js';
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

/** The options of a request that has no deadline of its own (a handshake, a codec's nudge). */
export const NO_DEADLINE: SendOptions = Object.freeze({ deadline: Infinity, timeout: 0, signal: undefined });

/** Whether a request's bytes have gone to the socket, which decides whether it may be dropped. */
export enum EntryState {
  /** Waiting to be written; can be dropped without a trace. */
  Queued = 0,
  /** Written: its reply will come and must be consumed. */
  Written = 1,
}

/**
 * One `abort` listener for every request of a connection that shares an AbortSignal: many calls
 * on one signal (a request-scoped signal handed to every call of a handler) would otherwise add
 * and remove one listener each, which is slow and trips Node's listener-leak warning. The listener
 * is added with the first request and removed when the last one settles.
 */
export class SignalWatch {
  /**
   * The requests added, settled ones among them until the next compaction: a push per request and
   * a count per settle, instead of a hash set's insert and delete (see {@link remove}).
   */
  #entries: RequestEntry<unknown, unknown>[] = [];
  /** Requests added and not yet settled. */
  #live = 0;
  readonly #onAbort: () => void;

  constructor(
    readonly signal: AbortSignal,
    server: string,
    /** Called once the last request settled and the listener is gone. */
    readonly onEmpty: (watch: SignalWatch) => void,
  ) {
    this.#onAbort = () => {
      const entries = this.#entries;
      this.#entries = [];
      this.#live = 0;
      this.onEmpty(this);
      // Settled entries still listed ignore it.
      for (const entry of entries) entry.abort(server, signal.reason);
    };
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Requests watched. */
  get size(): number {
    return this.#live;
  }

  /** Watches one more request. */
  add(entry: RequestEntry<unknown, unknown>): void {
    const entries = this.#entries;
    // Settled entries are dropped once they are most of the list: the list stays within twice the
    // requests pending (plus a few), at a cost spread over the pushes that grew it.
    if (entries.length >= 2 * this.#live + COMPACT_SLACK) {
      let kept = 0;
      for (const e of entries) if (!e.settled) entries[kept++] = e;
      entries.length = kept;
    }
    entries.push(entry);
    this.#live++;
  }

  /**
   * Stops watching a request (it settled: it stays listed, settled, until compacted); the last one
   * removes the listener.
   */
  remove(): void {
    if (this.#live === 0 || --this.#live > 0) return;
    this.#entries = [];
    this.signal.removeEventListener('abort', this.#onAbort);
    this.onEmpty(this);
  }
}

/** Settled entries a {@link SignalWatch} may list beyond twice its pending ones before compacting. */
const COMPACT_SLACK = 16;

/** The {@link SignalWatch}es of one connection: one per signal its requests share. */
export class SignalWatches {
  readonly #watches = new Map<AbortSignal, SignalWatch>();
  readonly #server: string;
  /** The watch of the last signal asked about: calls in a row mostly share one. */
  #last: SignalWatch | undefined = undefined;
  readonly #forget = (watch: SignalWatch): void => {
    if (this.#last === watch) this.#last = undefined;
    if (this.#watches.get(watch.signal) === watch) this.#watches.delete(watch.signal);
  };

  constructor(server: string) {
    this.#server = server;
  }

  /**
   * Rejects `entry` with ERR_ABORTED when `signal` fires; returns false, watching nothing, when it
   * has fired already.
   */
  watch<Req, Res>(entry: RequestEntry<Req, Res>, signal: AbortSignal): boolean {
    let watch = this.#last;
    if (watch === undefined || watch.signal !== signal) {
      watch = this.#watches.get(signal);
      if (watch === undefined) {
        // A watched signal has not fired (firing ends its watch): only an unwatched one is checked.
        if (signal.aborted) return false;
        watch = new SignalWatch(signal, this.#server, this.#forget);
        this.#watches.set(signal, watch);
      }
      this.#last = watch;
    }
    entry.watch(watch);
    return true;
  }
}

/**
 * A pending request inside a connection: the request with its caller's promise, deadline and abort
 * signal, and the codec's reply state for it ({@link ReplySlot}). Handed out only when a connection
 * fails ({@link ConnectionEvents.orphaned}) so that its owner can move it to another connection
 * ({@link Connection.adopt}).
 */
export class RequestEntry<Req, Res> implements ReplySlot {
  /** Estimated bytes on the wire, for the queued-bytes bound. */
  size = 0;
  /** The codec's reply state for this sending of the request (see {@link ReplySlot}). */
  reply: unknown = undefined;
  /** {@link state}, {@link settled}, {@link moved} and {@link everWritten} as bits: one field, not four. */
  #bits = 0;
  /**
   * The promise's resolve function. Its reject function is not kept (a function object is most of
   * the memory a pending request holds): {@link reject} resolves with a rejected promise instead.
   */
  #resolve: (value: Res | Promise<never>) => void = noop;
  #watch: SignalWatch | undefined = undefined;

  constructor(
    readonly req: Req,
    /** The caller's options, often shared by many calls: the entry reads them, never changes them. */
    readonly options: SendOptions,
  ) {}

  /** Absolute deadline on the `performance.now()` clock. */
  get deadline(): number {
    return this.options.deadline;
  }

  /** The timeout the deadline came from, in ms (for the error message). */
  get timeout(): number {
    return this.options.timeout;
  }

  /** The caller's promise, settled through this entry. Called once, right after construction. */
  promise(): Promise<Res> {
    binding = this as RequestEntry<unknown, unknown>;
    return new Promise<Res>(bind as (resolve: (value: Res) => void) => void);
  }

  /** Takes the resolve function of {@link promise}'s promise (see `bind`). */
  bindPromise(resolve: (value: Res | Promise<never>) => void): void {
    this.#resolve = resolve;
  }

  /** Whether its bytes have gone to the socket of the connection it is on now. */
  get state(): EntryState {
    return (this.#bits & WRITTEN) === 0 ? EntryState.Queued : EntryState.Written;
  }

  set state(state: EntryState) {
    this.#set(WRITTEN, state === EntryState.Written);
  }

  /** The caller's promise has settled (answered, timed out, aborted or failed). */
  get settled(): boolean {
    return (this.#bits & SETTLED) !== 0;
  }

  /** Already moved once from a failed connection to another (never moved twice). */
  get moved(): boolean {
    return (this.#bits & MOVED) !== 0;
  }

  set moved(moved: boolean) {
    this.#set(MOVED, moved);
  }

  /** Written at some point, on this connection or an earlier one: the server may have run it. */
  get everWritten(): boolean {
    return (this.#bits & EVER_WRITTEN) !== 0;
  }

  set everWritten(written: boolean) {
    this.#set(EVER_WRITTEN, written);
  }

  #set(bit: number, on: boolean): void {
    this.#bits = on ? this.#bits | bit : this.#bits & ~bit;
  }

  /** Rejects with ERR_ABORTED when the watched signal fires; leaves the watch when the entry settles. */
  watch(watch: SignalWatch): void {
    this.#watch = watch;
    watch.add(this as RequestEntry<unknown, unknown>);
  }

  /** Rejects with ERR_ABORTED (the signal fired). */
  abort(server: string, reason: unknown): void {
    this.reject(
      new AbortedError('the request was aborted', {
        server,
        mayHaveExecuted: this.everWritten,
        cause: reason,
      }),
    );
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
    this.#resolve(Promise.reject(error));
  }

  #settle(): void {
    this.#bits |= SETTLED;
    if (this.#watch !== undefined) {
      this.#watch.remove();
      this.#watch = undefined;
    }
  }
}

function noop(): void {}

/** The bits of `RequestEntry.#bits`. */
const WRITTEN = 1;
const SETTLED = 2;
const MOVED = 4;
const EVER_WRITTEN = 8;

/** The entry whose {@link RequestEntry.promise} is being made: promises are made one at a time. */
let binding: RequestEntry<unknown, unknown> | undefined;

/**
 * The one executor of every entry's promise: it hands the resolve function to the entry being
 * bound, so no closure is made per request.
 */
function bind(resolve: (value: unknown) => void): void {
  binding!.bindPromise(resolve);
  binding = undefined;
}
