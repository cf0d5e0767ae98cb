/**
 * One socket to one server: a writer loop, a reader loop and a FIFO of pending requests.
 *
 * ```
 *   send() ──► toWrite (denque) ──flush on nextTick──► socket ──► server
 *                 queued: may be dropped                          │
 *                                                                  ▼
 *   caller ◄── settle ◄── inflight (denque, wire order) ◄── decoder ◄── 'data'
 *                 written: never removed while the socket lives
 * ```
 *
 * A request moves from `toWrite` to `inflight` in the same step as its bytes are handed to the
 * socket, so `inflight` order is wire order. Replies are matched to the head of `inflight` by the
 * codec. A request whose caller gave up (timeout, abort) stays in `inflight` as a tombstone and its
 * late reply is consumed and thrown away; a fatal frame destroys the connection instead.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import Denque from 'denque';
import { FrameFailure, MORE, SKIP, type FrameDecoder, type ProtocolCodec } from './codec.js';
import {
  ClientClosedError,
  ConnectionError,
  QueueFullError,
  TimeoutError,
  type MemlineError,
  type TimeoutPhase,
} from './errors.js';
import { OutBuffer } from './out-buffer.js';
import {
  EntryState,
  invalidSendOptions,
  RequestEntry,
  SignalWatch,
  type SendOptions,
} from './request-entry.js';
import { channels } from './diagnostics.js';
import { Transport } from './transport.js';

/** Where a {@link Connection} connects, with which codec, and its limits and timeouts. */
export interface ConnectionOptions<Req, Res, Frame> {
  readonly host: string;
  readonly port: number;
  readonly codec: ProtocolCodec<Req, Res, Frame>;
  /** TLS options; absent for plain TCP. */
  readonly tls?: tls.ConnectionOptions | undefined;
  /** ms to establish TCP (and TLS); the handshake requests count too. */
  readonly connectTimeout: number;
  /** TCP keepalive initial delay in ms; 0 turns keepalive off. */
  readonly keepAlive: number;
  /** Requests queued plus in flight on this connection; past it `ERR_QUEUE_FULL`. */
  readonly maxPending: number;
  /** Bytes encoded into one socket write before the writer yields to the socket. */
  readonly maxWriteBytes?: number;
  /** Shared counters this connection adds its failures to (a backend's). */
  readonly counters?: RequestCounters;
  /** ms to wait before connecting (reconnect back-off); requests queue meanwhile. @default 0 */
  readonly connectDelay?: number;
  /**
   * ms a connection may stay silent (no byte received) while requests are in flight before it is
   * considered dead and destroyed; 0: never. @default 0
   */
  readonly silentTimeout?: number;
  /** Bytes of requests queued but not yet taken by the kernel; past it ERR_QUEUE_FULL. @default Infinity */
  readonly maxQueuedBytes?: number;
  /**
   * ms a server may take to reply before a written request's timeout counts against it
   * ({@link ConnectionEvents.timedOut}, which the circuit breaker counts). A timeout that comes
   * sooner, while the connection has heard from the server within this time, was the caller's short
   * budget, not the server's fault: it counts only if the server then stays silent this long with
   * requests in flight. @default 250
   */
  readonly replyGrace?: number;
}

/** What a connection tells its owner (a backend). */
export interface ConnectionEvents<Req, Res, Frame> {
  /** The connection closed; `error` says why when it failed; `established`: it had become ready. */
  closed?(conn: Connection<Req, Res, Frame>, error: MemlineError | undefined, established: boolean): void;
  /** Bytes arrived: the server is alive. Called once per socket read. */
  alive?(): void;
  /**
   * A written request's deadline passed without its reply, and the server has been silent (nothing
   * received with requests in flight) for at least `replyGrace` ms.
   */
  timedOut?(): void;
  /**
   * The connection failed with these requests still waiting: each was never written, or is
   * idempotent, and has not been moved before. The owner may run them on another connection
   * (see {@link Connection.adopt}) or reject them.
   */
  orphaned?(entries: RequestEntry<Req, Res>[], reason: MemlineError): void;
}

/** Failures counted per backend. */
export interface RequestCounters {
  /** Requests that failed with an error that is not a result (connection, protocol, server errors…). */
  errors: number;
  /** Requests whose deadline passed. */
  timeouts: number;
}

type State = 'connecting' | 'handshaking' | 'ready' | 'closed';

let nextId = 1;

/**
 * One socket to one server, pipelining requests in order and matching replies to them through the
 * codec. Usually owned by a {@link Backend}; use it directly only to build another owner.
 */
export class Connection<Req, Res, Frame> {
  readonly id = nextId++;
  /** `"host:port"` */
  readonly server: string;
  #options: ConnectionOptions<Req, Res, Frame>;
  #codec: ProtocolCodec<Req, Res, Frame>;
  #socket: net.Socket | undefined;
  #decoder: FrameDecoder<Frame>;
  #out = new OutBuffer();
  #state: State = 'connecting';
  /** close() was called: refuse new requests, end the socket once the issued ones are answered. */
  #closing = false;
  #transport: Transport | undefined;
  #toWrite = new Denque<RequestEntry<Req, Res>>();
  #inflight = new Denque<RequestEntry<Req, Res>>();
  #flushScheduled = false;
  #needDrain = false;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #connectTimer: NodeJS.Timeout | undefined;
  #closeWaiters: (() => void)[] = [];
  #events: ConnectionEvents<Req, Res, Frame>;
  #established = false;
  /** When the connection last heard from the server, or started waiting for it. */
  #silentSince = performance.now();
  /**
   * Written requests that timed out while the server had been silent for less than replyGrace:
   * they count against it (timedOut) if the silence reaches replyGrace, not if a byte comes first.
   */
  #unblamedTimeouts = 0;
  /** Estimated bytes of the requests in `toWrite`. */
  #queuedBytes = 0;
  /** One abort listener per signal shared by requests on this connection (see {@link SignalWatch}). */
  #watches = new Map<AbortSignal, SignalWatch>();
  #unwatch = (watch: SignalWatch): void => {
    if (this.#watches.get(watch.signal) === watch) this.#watches.delete(watch.signal);
  };
  #onFrame = (frame: Frame): void => this.#handleFrame(frame);
  #flush = (): void => this.#runFlush();
  #counters: RequestCounters;
  #createdAt = performance.now();
  #lastUsedAt = performance.now();

  constructor(options: ConnectionOptions<Req, Res, Frame>, events: ConnectionEvents<Req, Res, Frame> = {}) {
    this.#options = options;
    this.#codec = options.codec;
    this.#counters = options.counters ?? { errors: 0, timeouts: 0 };
    this.#events = events;
    // Port 0: a Unix socket, whose path is the host.
    this.server = options.port === 0 ? options.host : `${options.host}:${options.port}`;
    this.#decoder = options.codec.createDecoder();
    const delay = options.connectDelay ?? 0;
    if (delay > 0) this.#connectTimer = setTimeout(() => this.#connect(), delay);
    else this.#connect();
  }

  #connect(): void {
    const options = this.#options;
    const transport = new Transport(
      {
        // Port 0: a Unix socket, whose path is the host.
        ...(options.port === 0 ? { path: options.host } : { host: options.host, port: options.port }),
        tls: options.tls,
        noDelay: true,
        keepAlive: options.keepAlive,
      },
      () => this.#onConnected(),
    );
    const socket = transport.socket;
    this.#transport = transport;
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => {
      this.#needDrain = false;
      this.#runFlush();
    });
    socket.on('close', () => this.#onSocketClose());
    socket.on('end', () => this.#onSocketClose());
    this.#connectTimer = setTimeout(() => this.#onConnectTimeout(), options.connectTimeout);
  }

  /** Requests queued plus in flight (including ones whose caller gave up and whose reply is due). */
  get pending(): number {
    return this.#toWrite.length + this.#inflight.length;
  }

  /** Requests waiting to be written (held back while connecting or while the socket is full). */
  get queued(): number {
    return this.#toWrite.length;
  }

  /** Requests written and waiting for their reply. */
  get inflight(): number {
    return this.#inflight.length;
  }

  /** ms since the connection was created. */
  get age(): number {
    return performance.now() - this.#createdAt;
  }

  /** ms since the last request was sent on it. */
  get idleFor(): number {
    return performance.now() - this.#lastUsedAt;
  }

  /** The connection can take requests. */
  get usable(): boolean {
    return !this.#closing && this.#state !== 'closed';
  }

  get ready(): boolean {
    return this.#state === 'ready';
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /**
   * Queues one request; the promise settles exactly once, by `options.deadline`. A deadline that is
   * not a finite number is refused with ERR_INVALID_ARGUMENT before any I/O.
   */
  send(req: Req, options: SendOptions): Promise<Res> {
    const invalid = invalidSendOptions(options);
    if (invalid !== undefined) return Promise.reject(invalid);
    return new Promise<Res>((resolve, reject) => {
      const entry = new RequestEntry<Req, Res>(req, options.deadline, options.timeout, resolve, reject);
      if (!this.usable) {
        entry.reject(new ClientClosedError('the connection is closed', { server: this.server }));
        return;
      }
      if (this.pending >= this.#options.maxPending) {
        entry.reject(
          new QueueFullError(`${this.#options.maxPending} requests are already pending on ${this.server}`, {
            server: this.server,
          }),
        );
        return;
      }
      const size = this.#codec.byteLength?.(req) ?? 0;
      const maxBytes = this.#options.maxQueuedBytes ?? Infinity;
      const buffered = this.#queuedBytes + (this.#socket?.writableLength ?? 0);
      if (size > 0 && buffered + size > maxBytes && this.pending > 0) {
        entry.reject(
          new QueueFullError(`more than ${maxBytes} bytes are already queued for ${this.server}`, {
            server: this.server,
          }),
        );
        return;
      }
      const signal = options.signal;
      if (signal !== undefined) {
        if (signal.aborted) {
          entry.abort(this.server, signal.reason);
          return;
        }
        let watch = this.#watches.get(signal);
        if (watch === undefined) {
          watch = new SignalWatch(signal, this.server, this.#unwatch);
          this.#watches.set(signal, watch);
        }
        entry.watch(watch);
      }
      entry.size = size;
      this.#queuedBytes += size;
      this.#toWrite.push(entry);
      this.#lastUsedAt = options.deadline - options.timeout;
      this.#armTimer(entry.deadline);
      if (this.#state === 'ready' && !this.#flushScheduled) {
        this.#flushScheduled = true;
        process.nextTick(this.#flush);
      }
    });
  }

  /**
   * Graceful: requests already issued finish with their replies, new ones are refused, then the
   * socket is closed. Requests whose caller gave up are not waited for.
   */
  close(): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve();
    const done = new Promise<void>((resolve) => this.#closeWaiters.push(resolve));
    this.#closing = true;
    this.#maybeFinishClose();
    return done;
  }

  /**
   * Takes over a request from a connection that failed (see {@link ConnectionEvents.orphaned}); its
   * promise, deadline and abort signal stay as they were.
   */
  adopt(entry: RequestEntry<Req, Res>): void {
    if (entry.settled) return;
    if (!this.usable) {
      entry.reject(new ClientClosedError('the connection is closed', { server: this.server }));
      return;
    }
    entry.state = EntryState.Queued;
    this.#queuedBytes += entry.size;
    this.#toWrite.push(entry);
    this.#armTimer(entry.deadline);
    if (this.#state === 'ready' && !this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(this.#flush);
    }
  }

  /** Immediate: every request still pending is rejected with `error` (or ERR_CLIENT_CLOSED). */
  destroy(error?: MemlineError): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer);
    this.#timer = this.#connectTimer = undefined;
    this.#socket?.destroy();
    this.#out.discard();
    const reason = error ?? new ClientClosedError('the connection was destroyed', { server: this.server });
    let entry: RequestEntry<Req, Res> | undefined;
    const counts = !(reason instanceof ClientClosedError);
    // A connection that failed hands back what can safely run elsewhere: requests never written,
    // and idempotent ones, each once. The rest may have executed and are rejected as such.
    const orphans: RequestEntry<Req, Res>[] = [];
    const adoptable = this.#events.orphaned !== undefined && reason instanceof ConnectionError;
    while ((entry = this.#inflight.shift()) !== undefined) {
      if (entry.settled) continue;
      if (adoptable && !entry.moved && this.#codec.isIdempotent(entry.req)) {
        entry.moved = true;
        orphans.push(entry);
        continue;
      }
      if (counts) this.#counters.errors++;
      entry.reject(this.#failureFor(reason, true));
    }
    while ((entry = this.#toWrite.shift()) !== undefined) {
      if (entry.settled) continue;
      if (adoptable && !entry.moved) {
        entry.moved = true;
        orphans.push(entry);
        continue;
      }
      if (counts) this.#counters.errors++;
      entry.reject(this.#failureFor(reason, entry.everWritten));
    }
    this.#queuedBytes = 0;
    if (channels.connectionClose.hasSubscribers) {
      channels.connectionClose.publish({ server: this.server, id: this.id, error });
    }
    const waiters = this.#closeWaiters;
    this.#closeWaiters = [];
    for (const w of waiters) w();
    this.#events.closed?.(this, error, this.#established);
    if (orphans.length > 0) this.#events.orphaned!(orphans, reason);
  }

  /** The error an entry gets when the connection dies for `reason`. */
  #failureFor(reason: MemlineError, written: boolean): MemlineError {
    const Ctor = reason.constructor as new (message: string, options: object) => MemlineError;
    const err =
      reason instanceof TimeoutError
        ? new TimeoutError(reason.message, reason.phase, { server: this.server, mayHaveExecuted: written })
        : new Ctor(reason.message, { server: this.server, mayHaveExecuted: written, cause: reason.cause });
    return err;
  }

  #onConnected(): void {
    if (this.#state !== 'connecting') return;
    if (channels.connectionOpen.hasSubscribers) {
      channels.connectionOpen.publish({
        server: this.server,
        id: this.id,
        tls: this.#options.tls !== undefined,
      });
    }
    const handshake =
      this.#codec.handshake?.({ server: this.server, tls: this.#options.tls !== undefined }) ?? [];
    if (handshake.length === 0) {
      this.#becomeReady();
      return;
    }
    this.#state = 'handshaking';
    void this.#runHandshake(handshake);
  }

  async #runHandshake(requests: Req[]): Promise<void> {
    // Each handshake request goes alone and is answered before anything else is written
    // (memcached's -Y login drops requests that arrive with it).
    for (const req of requests) {
      try {
        await new Promise<Res>((resolve, reject) => {
          const entry = new RequestEntry<Req, Res>(req, Infinity, 0, resolve, reject);
          this.#inflight.push(entry);
          entry.state = EntryState.Written;
          entry.everWritten = true;
          this.#codec.encode(req, this.#out, entry);
          this.#write();
        });
      } catch (err) {
        this.destroy(err as MemlineError);
        return;
      }
      if (this.#state !== 'handshaking') return;
    }
    this.#becomeReady();
  }

  #becomeReady(): void {
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#state = 'ready';
    this.#established = true;
    this.#runFlush();
    this.#maybeFinishClose();
  }

  #runFlush(): void {
    this.#flushScheduled = false;
    if (this.#state !== 'ready' || this.#needDrain) return;
    const maxBytes = this.#options.maxWriteBytes ?? 256 * 1024;
    const out = this.#out;
    let entry: RequestEntry<Req, Res> | undefined;
    while (!this.#needDrain && this.#toWrite.length > 0) {
      while ((entry = this.#toWrite.shift()) !== undefined) {
        this.#queuedBytes -= entry.size;
        if (entry.settled) continue; // gave up before being written: nothing to send
        if (this.#inflight.length === 0) this.#startSilenceWatch();
        this.#codec.encode(entry.req, out, entry);
        entry.state = EntryState.Written;
        entry.everWritten = true;
        this.#inflight.push(entry);
        if (out.length >= maxBytes) break;
      }
      this.#write();
    }
  }

  #write(): void {
    const data = this.#out.take();
    if (data === undefined) return;
    const socket = this.#socket!;
    let ok: boolean;
    if (Buffer.isBuffer(data)) {
      ok = socket.write(data);
    } else {
      socket.cork();
      for (const piece of data) socket.write(piece);
      socket.uncork();
      ok = !socket.writableNeedDrain;
    }
    if (!ok) this.#needDrain = true;
  }

  /** Requests are now in flight: if nothing is heard for silentTimeout, the timer finds out. */
  #startSilenceWatch(): void {
    this.#silentSince = performance.now();
    const silentTimeout = this.#options.silentTimeout ?? 0;
    if (silentTimeout > 0) this.#armTimer(this.#silentSince + silentTimeout);
  }

  #onData(chunk: Buffer): void {
    this.#silentSince = performance.now();
    this.#unblamedTimeouts = 0; // the server answers: those timeouts were the callers' budgets
    // Bytes before the connection is ready (a refused login) are no sign of a usable server.
    if (this.#state === 'ready') this.#events.alive?.();
    try {
      this.#decoder.feed(chunk, this.#onFrame);
    } catch (err) {
      this.#fail(err as MemlineError);
    }
    this.#maybeFinishClose();
  }

  #handleFrame(frame: Frame): void {
    if (this.#state === 'closed') return;
    for (;;) {
      const head = this.#inflight.peekFront();
      if (head === undefined) {
        this.#fail(this.#codec.unsolicited(frame));
        return;
      }
      const verdict = this.#codec.onFrame(head.req, frame, head);
      if (verdict === MORE) return;
      this.#inflight.shift();
      if (verdict === SKIP) {
        head.resolve(this.#codec.noReply(head.req));
        continue;
      }
      if (verdict instanceof FrameFailure) {
        const error = verdict.error;
        error.server ??= this.server;
        error.mayHaveExecuted = true; // it was written: the server saw it
        if (!head.settled) this.#counters.errors++;
        head.reject(error);
        if (!verdict.fatal) return;
        // A failed handshake (refused login) is what every queued request gets too.
        if (this.#state === 'handshaking') this.destroy(error);
        else this.#destroyAfter(error);
        return;
      }
      head.resolve(verdict);
      return;
    }
  }

  /**
   * The stream can no longer be trusted: the request at the head of the FIFO (whose reply was being
   * read) gets `error`, everything else still waiting a connection error that names it as the cause.
   */
  #fail(error: MemlineError): void {
    error.server ??= this.server;
    error.mayHaveExecuted = true;
    const head = this.#inflight.peekFront();
    if (head !== undefined && !head.settled) {
      this.#counters.errors++;
      head.reject(error);
    }
    this.#destroyAfter(error);
  }

  #destroyAfter(error: MemlineError): void {
    this.destroy(
      new ConnectionError(`connection to ${this.server} destroyed: ${error.message}`, {
        server: this.server,
        mayHaveExecuted: true,
        cause: error,
      }),
    );
  }

  #onConnectTimeout(): void {
    this.#connectTimer = undefined;
    if (this.#state !== 'connecting' && this.#state !== 'handshaking') return;
    const phase = this.#phase();
    this.destroy(
      new TimeoutError(
        `${phase} to ${this.server} timed out after ${this.#options.connectTimeout} ms`,
        phase,
        {
          server: this.server,
        },
      ),
    );
  }

  #onSocketClose(): void {
    if (this.#state === 'closed') return;
    this.destroy(this.#transport!.closeError(this.server));
  }

  /** Where a request that times out now was: connecting, in the TLS/login handshake, or waiting. */
  #phase(): TimeoutPhase {
    if (this.#state === 'handshaking') return 'handshake';
    if (this.#state !== 'connecting') return 'request';
    return this.#transport?.phase ?? 'connect'; // no transport yet: waiting out the connect delay
  }

  /** Arms the deadline timer if `deadline` is earlier than the one it is armed for. */
  #armTimer(deadline: number): void {
    if (deadline >= this.#timerAt) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = deadline;
    // setTimeout fires at once for delays over 2^31-1 ms; a later check re-arms as needed.
    const delay = Math.min(2 ** 31 - 1, Math.max(0, deadline - performance.now()));
    this.#timer = setTimeout(() => this.#onTimer(), delay);
  }

  /** Rejects every entry past its deadline and re-arms for the earliest one left. */
  #onTimer(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#state === 'closed') return;
    const now = performance.now() + 1; // a timer may fire a fraction of a ms early
    let next = Infinity;
    const phase = this.#phase();
    const expire = (entry: RequestEntry<Req, Res>, written: boolean): void => {
      if (entry.settled) return;
      if (entry.deadline <= now) {
        this.#counters.timeouts++;
        if (written) this.#unblamedTimeouts++;
        entry.reject(
          new TimeoutError(
            `${this.#codec.describe(entry.req)} to ${this.server} timed out after ${entry.timeout} ms`,
            written ? 'request' : phase,
            { server: this.server, mayHaveExecuted: written || entry.everWritten },
          ),
        );
      } else if (entry.deadline < next) {
        next = entry.deadline;
      }
    };
    for (let i = 0; i < this.#inflight.length; i++) expire(this.#inflight.peekAt(i)!, true);
    let dropped = 0;
    for (let i = 0; i < this.#toWrite.length; i++) {
      const entry = this.#toWrite.peekAt(i)!;
      expire(entry, false);
      if (entry.settled) dropped++;
    }
    if (dropped > 0) this.#compactQueue();
    // Timeouts count against the server only once it has been silent for a normal reply time.
    if (this.#unblamedTimeouts > 0 && this.#inflight.length > 0) {
      const blameAt = this.#silentSince + (this.#options.replyGrace ?? 250);
      if (blameAt <= now) {
        const n = this.#unblamedTimeouts;
        this.#unblamedTimeouts = 0;
        for (let i = 0; i < n; i++) this.#events.timedOut?.();
      } else if (blameAt < next) {
        next = blameAt;
      }
    }
    // A connection with requests in flight that has heard nothing for silentTimeout is dead
    // (a paused or black-holed server): destroy it rather than let the pipeline grow behind it.
    const silentTimeout = this.#options.silentTimeout ?? 0;
    if (silentTimeout > 0 && this.#inflight.length > 0) {
      const deadAt = this.#silentSince + silentTimeout;
      if (deadAt <= now) {
        this.destroy(
          new ConnectionError(`no reply from ${this.server} for ${silentTimeout} ms; connection closed`, {
            server: this.server,
            mayHaveExecuted: true,
          }),
        );
        return;
      }
      if (deadAt < next) next = deadAt;
    }
    if (next !== Infinity) this.#armTimer(next);
    this.#maybeFinishClose();
  }

  /** Drops settled entries that were never written (they hold a place in the pending bound). */
  #compactQueue(): void {
    const kept = new Denque<RequestEntry<Req, Res>>();
    let entry: RequestEntry<Req, Res> | undefined;
    while ((entry = this.#toWrite.shift()) !== undefined) {
      if (entry.settled) this.#queuedBytes -= entry.size;
      else kept.push(entry);
    }
    this.#toWrite = kept;
  }

  /** Once closing and nothing a caller waits for is left, end the socket. */
  #maybeFinishClose(): void {
    if (!this.#closing || this.#state === 'closed') return;
    if (this.#state !== 'ready' && this.pending > 0) return; // still connecting: flush first
    for (let i = 0; i < this.#toWrite.length; i++) if (!this.#toWrite.peekAt(i)!.settled) return;
    for (let i = 0; i < this.#inflight.length; i++) if (!this.#inflight.peekAt(i)!.settled) return;
    this.destroy();
  }
}
