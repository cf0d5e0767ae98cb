/**
 * The call wrapper every client method runs in: per-call options validated and turned into the
 * engine's {@link SendOptions} (a deadline counted from the call), the closed check, and anything
 * thrown on the way turned into a rejection, so that bad input never throws synchronously and never
 * reaches the wire. {@link ClientCore} holds the cluster and the client's lifecycle.
 */
import type { Backend } from '../backend.js';
import { Cluster } from '../cluster.js';
import type { ProtocolCodec } from '../codec.js';
import { ClientClosedError, InvalidArgumentError } from '../errors.js';
import type { SendOptions } from '../request-entry.js';
import { clusterOptions, type ResolvedEngineOptions } from './engine-options.js';
import { eachServer } from './fan-out.js';
import { MAX_TIMER_MS } from './validate.js';

/** Options every call takes, always as its last argument. */
export interface CallOptions {
  /** Rejects the call with ERR_ABORTED when it fires. */
  signal?: AbortSignal | undefined;
  /** ms for this call, counted from the call. @default the client's `timeout` */
  timeout?: number | undefined;
}

/** Options of a call that may choose its server instead of routing by its own key. */
export interface RoutedCallOptions extends CallOptions {
  /**
   * Route by this key instead of the call's own, so that related keys land on one server (for calls
   * over many keys: every key of the call goes to that server).
   */
  routingKey?: string | undefined;
  /**
   * Send to this server, `"host:port"` as configured, instead of routing by key (for per-server
   * calls: to this server only). Wins over `routingKey`. @default undefined (route by key)
   */
  server?: string | undefined;
}

/**
 * Validates per-call options and fixes the call's deadline, counted from now (queueing and
 * connecting included). Throws ERR_INVALID_ARGUMENT naming the option.
 */
export function prepareCall(options: CallOptions | undefined, defaultTimeout: number): SendOptions {
  if (options === undefined) {
    // Calls that share a reading of the clock and a timeout share their (immutable) SendOptions.
    const deadline = callTime() + defaultTimeout;
    let shared = lastShared;
    if (shared.deadline !== deadline || shared.timeout !== defaultTimeout) {
      lastShared = shared = { deadline, timeout: defaultTimeout, signal: undefined };
    }
    return shared;
  }
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError('options must be an object');
  const timeout = options.timeout ?? defaultTimeout;
  if (typeof timeout !== 'number' || !(timeout > 0) || !(timeout <= MAX_TIMER_MS)) {
    throw new InvalidArgumentError(`timeout must be a positive number of ms, at most ${MAX_TIMER_MS}`);
  }
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError('signal must be an AbortSignal');
  }
  // As above: calls with one signal (a request's, handed to each of its calls) share theirs too.
  const deadline = callTime() + timeout;
  let shared = lastWithOptions;
  if (shared.deadline !== deadline || shared.timeout !== timeout || shared.signal !== signal) {
    lastWithOptions = shared = { deadline, timeout, signal };
  }
  return shared;
}

/** The SendOptions of the last call made without options (see {@link prepareCall}). */
let lastShared: SendOptions = { deadline: NaN, timeout: NaN, signal: undefined };
/**
 * The SendOptions of the last call made with options; let go with the clock reading (see
 * {@link callTime}), so that a caller's signal is not kept once its calls are made.
 */
const NONE_WITH_OPTIONS: SendOptions = { deadline: NaN, timeout: NaN, signal: undefined };
let lastWithOptions = NONE_WITH_OPTIONS;

/** Calls that may share one reading of the clock (see {@link callTime}). */
const CLOCK_SHARES = 32;
let clockAt = 0;
let clockUses = 0;
const clockExpires = (): void => {
  clockUses = 0;
  lastWithOptions = NONE_WITH_OPTIONS;
};

/**
 * `performance.now()` for a call's deadline, read once for up to {@link CLOCK_SHARES} calls made in
 * one go (the same synchronous run and its microtasks, as when the replies of one socket read each
 * start a call). A deadline is then early by at most the time those calls took to make, a few
 * microseconds each, and reading the clock stops costing a call into the runtime per request.
 */
export function callTime(): number {
  if (clockUses === 0) {
    clockAt = performance.now();
    queueMicrotask(clockExpires);
  }
  if (++clockUses === CLOCK_SHARES) clockUses = 0;
  return clockAt;
}

/** An `Error` for anything thrown (a non-Error thrown value is wrapped). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * The protocol-neutral core of a client: its {@link Cluster}, its default timeout and whether it is
 * closed, with the call wrapper and server selection every method uses.
 */
export class ClientCore<Req, Res, Frame> {
  /** The servers, built from the resolved engine options. */
  readonly cluster: Cluster<Req, Res, Frame>;
  /** ms per call unless the call says otherwise. */
  readonly timeout: number;
  #closed = false;

  constructor(codec: ProtocolCodec<Req, Res, Frame>, options: ResolvedEngineOptions) {
    this.cluster = new Cluster<Req, Res, Frame>(options.servers, clusterOptions(codec, options));
    this.timeout = options.timeout;
  }

  /** Whether `close()` or `destroy()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Validates the per-call options and fixes the deadline (counted from the call); throws
   * ERR_CLIENT_CLOSED after close, ERR_INVALID_ARGUMENT for bad options.
   */
  prepare(options: CallOptions | undefined): SendOptions {
    if (this.#closed) throw new ClientClosedError('the client is closed');
    return prepareCall(options, this.timeout);
  }

  /** Runs `body` with the call's {@link SendOptions}; anything it throws becomes a rejection. */
  run<T>(options: CallOptions | undefined, body: (so: SendOptions) => Promise<T>): Promise<T> {
    try {
      return body(this.prepare(options));
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  /**
   * Runs `body` unless the client is closed, for methods made of other calls (which prepare their
   * own options); anything it throws becomes a rejection.
   */
  guard<T>(body: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new ClientClosedError('the client is closed'));
    try {
      return body();
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  /** The backend of the server `"host:port"` as configured; ERR_INVALID_ARGUMENT when there is none. */
  backendNamed(server: string): Backend<Req, Res, Frame> {
    const backend = this.cluster.backends.find((b) => b.server === server);
    if (backend === undefined) throw new InvalidArgumentError(`server "${String(server)}" is not configured`);
    return backend;
  }

  /**
   * The backend the call's options choose: by `server`, else by `routingKey` (passed through
   * `checkKey`, which validates it as the protocol's keys are), else `undefined` (route by key).
   */
  target(
    options: RoutedCallOptions | undefined,
    checkKey: (key: string) => string = (key) => key,
  ): Backend<Req, Res, Frame> | undefined {
    if (options === undefined) return undefined;
    const { server, routingKey } = options;
    if (server !== undefined) return this.backendNamed(server);
    if (routingKey !== undefined) return this.cluster.backendFor(checkKey(routingKey));
    return undefined;
  }

  /**
   * Sends a request made by `make` to every server (to the one `options.server` names, if given)
   * and resolves with the replies keyed by `"host:port"`. `make` runs once per server before any
   * I/O, so a request it refuses rejects the call with nothing sent. ERR_PARTIAL_RESULT when some
   * servers fail (the error itself when the only one does): see {@link eachServer}.
   */
  eachServer(options: RoutedCallOptions | undefined, make: () => Req): Promise<Map<string, Res>> {
    return this.run(options, (so) => {
      const server = options?.server;
      const backends = server === undefined ? this.cluster.backends : [this.backendNamed(server)];
      return eachServer(backends, so, make);
    });
  }

  /** Lets the requests already issued finish, then closes every connection. Later calls reject. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.cluster.close();
  }

  /** Closes every connection now; requests in flight reject with ERR_CLIENT_CLOSED. */
  destroy(): void {
    this.#closed = true;
    this.cluster.destroy(new ClientClosedError('the client was destroyed'));
  }
}
