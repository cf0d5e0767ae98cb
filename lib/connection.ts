/**
 * One socket to one server: its lifecycle (connect, handshake, ready, close) and its reader loop.
 * The queues and the writer loop are the {@link Pipeline}; the deadline timer is {@link Deadlines}.
 *
 * ```
 *   connecting ──socket up──► handshaking ──replies──► ready ──close()/failure──► closed
 *        └────────────no handshake requests────────────┘
 *
 *   send() ──► Pipeline (toWrite ──► socket, inflight in wire order)
 *   caller ◄── settle ◄── inflight head ◄── codec.onFrame ◄── decoder ◄── 'data' (or onread)
 * ```
 *
 * Replies are matched to the head of `inflight` by the codec. A request whose caller gave up
 * (timeout, abort) stays in `inflight` as a tombstone and its late reply is consumed and thrown
 * away; a fatal frame destroys the connection instead.
 */
import { FrameFailure, MORE, NUDGE_AFTER_MS, SKIP, type FrameDecoder, type ProtocolCodec } from './codec.js';
import {
  ClientClosedError,
  ConnectionError,
  QueueFullError,
  TimeoutError,
  type MemlineError,
  type TimeoutPhase,
} from './errors.js';
import { Deadlines } from './deadlines.js';
import { channels } from './diagnostics.js';
import type { RequestCounters } from './metrics.js';
import { Pipeline } from './pipeline.js';
import {
  EntryState,
  invalidSendOptions,
  NO_DEADLINE,
  RequestEntry,
  SignalWatches,
  type SendOptions,
} from './request-entry.js';
import { ReadRooms, readsInPlace } from './read-rooms.js';
import { Transport } from './transport.js';
import type { ConnectionEvents, ConnectionOptions } from './connection-options.js';

export type { ConnectionEvents, ConnectionOptions } from './connection-options.js';
export type { RequestCounters } from './metrics.js';

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
  #decoder: FrameDecoder<Frame>;
  #pipeline: Pipeline<Req, Res, Frame>;
  #deadlines: Deadlines<Req, Res, Frame>;
  #state: State = 'connecting';
  /** close() was called: refuse new requests, end the socket once the issued ones are answered. */
  #closing = false;
  #transport: Transport | undefined;
  #connectTimer: NodeJS.Timeout | undefined;
  #closeWaiters: (() => void)[] = [];
  #events: ConnectionEvents<Req, Res, Frame>;
  #established = false;
  #watches: SignalWatches;
  #onFrame = (frame: Frame): void => this.#handleFrame(frame);
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
    this.#watches = new SignalWatches(this.server);
    this.#pipeline = new Pipeline(options.codec, options.maxWriteBytes ?? 256 * 1024, () =>
      this.#deadlines.busy(),
    );
    const inflight = this.#pipeline.inflight;
    this.#decoder = options.codec.createDecoder({
      // A closed connection reads no replies: its decoder's frames are dropped in #handleFrame.
      peek: () => (this.#state === 'closed' ? undefined : inflight.peekFront()),
      answer: (value) => inflight.shift()!.resolve(value),
    });
    this.#deadlines = new Deadlines(
      {
        server: this.server,
        phase: () => this.#phase(),
        timedOut: () => this.#events.timedOut?.(),
        dead: (error) => this.destroy(error),
        swept: () => this.#maybeFinishClose(),
        nudge: () => {
          const req = this.#codec.nudge?.();
          if (req !== undefined && this.#state === 'ready') this.#pipeline.nudge(req);
        },
      },
      this.#pipeline,
      options.codec,
      this.#counters,
      options.silentTimeout ?? 0,
      options.replyGrace ?? 250,
      options.tls !== undefined && options.codec.nudge !== undefined ? NUDGE_AFTER_MS : 0,
    );
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
        onread: this.#onread(),
      },
      () => this.#onConnected(),
    );
    const socket = transport.socket;
    this.#transport = transport;
    this.#pipeline.attach(socket);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('close', () => this.#onSocketClose());
    socket.on('end', () => this.#onSocketClose());
    this.#connectTimer = setTimeout(() => this.#onConnectTimeout(), options.connectTimeout);
  }

  /**
   * Node's `onread` for a plain socket whose decoder reads in place: before each read the decoder
   * says whether the bytes should land in a value of its own ({@link FrameDecoder.readInto}); if not,
   * they go into a room of their own and are fed as a chunk. A runtime without `onread` emits `data`
   * instead, which `#connect` listens for as well.
   */
  #onread(): { buffer: () => Buffer; callback: (n: number, buf: Uint8Array) => boolean } | undefined {
    const decoder = this.#decoder;
    if (this.#options.tls !== undefined || !readsInPlace(decoder)) return undefined;
    const rooms = new ReadRooms();
    let into: Buffer | undefined;
    return {
      buffer: () => {
        into = this.#state === 'closed' ? undefined : decoder.readInto();
        return into ?? rooms.room();
      },
      callback: (n, buf) => {
        if (into !== undefined && buf === into) {
          into = undefined;
          this.#heard();
          decoder.landed(n);
        } else if (rooms.isRoom(buf)) {
          this.#onData(rooms.take(n));
        } else {
          // A runtime that reads into a buffer it did not just ask for may write it again: a copy.
          this.#onData(Buffer.from(buf.subarray(0, n)));
        }
        return true;
      },
    };
  }

  /** Requests queued plus in flight (including ones whose caller gave up and whose reply is due). */
  get pending(): number {
    return this.#pipeline.pending;
  }

  /** Requests waiting to be written (held back while connecting or while the socket is full). */
  get queued(): number {
    return this.#pipeline.toWrite.length;
  }

  /** Requests written and waiting for their reply. */
  get inflight(): number {
    return this.#pipeline.inflight.length;
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
    return invalid === undefined ? this.submit(req, options) : Promise.reject(invalid);
  }

  /** {@link send} for an owner that has checked `options` already ({@link Backend.send} does). */
  submit(req: Req, options: SendOptions): Promise<Res> {
    if (!this.usable) {
      return Promise.reject(new ClientClosedError('the connection is closed', { server: this.server }));
    }
    if (this.pending >= this.#options.maxPending) {
      return this.#queueFull(`${this.#options.maxPending} requests are already pending on ${this.server}`);
    }
    const maxBytes = this.#options.maxQueuedBytes;
    let size = 0;
    if (maxBytes !== undefined) {
      size = this.#codec.byteLength?.(req) ?? 0;
      if (size > 0 && this.#pipeline.buffered + size > maxBytes && this.pending > 0) {
        return this.#queueFull(`more than ${maxBytes} bytes are already queued for ${this.server}`);
      }
    }
    const entry = new RequestEntry<Req, Res>(req, options);
    const promise = entry.promise();
    const signal = options.signal;
    if (signal !== undefined && !this.#watches.watch(entry, signal)) {
      entry.abort(this.server, signal.reason);
      return promise;
    }
    entry.size = size;
    this.#pipeline.queue(entry);
    this.#lastUsedAt = options.deadline - options.timeout;
    this.#deadlines.arm(entry.deadline);
    return promise;
  }

  #queueFull(message: string): Promise<never> {
    return Promise.reject(new QueueFullError(message, { server: this.server }));
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
    this.#pipeline.queue(entry);
    this.#deadlines.arm(entry.deadline);
  }

  /** Immediate: every request still pending is rejected with `error` (or ERR_CLIENT_CLOSED). */
  destroy(error?: MemlineError): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#deadlines.stop();
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#transport?.socket.destroy();
    const { inflight, toWrite } = this.#pipeline;
    this.#pipeline.stop();
    const reason = error ?? new ClientClosedError('the connection was destroyed', { server: this.server });
    let entry: RequestEntry<Req, Res> | undefined;
    const counts = !(reason instanceof ClientClosedError);
    // A connection that failed hands back what can safely run elsewhere: requests never written,
    // and idempotent ones, each once. The rest may have executed and are rejected as such.
    const orphans: RequestEntry<Req, Res>[] = [];
    const adoptable = this.#events.orphaned !== undefined && reason instanceof ConnectionError;
    while ((entry = inflight.shift()) !== undefined) {
      if (entry.settled) continue;
      if (adoptable && !entry.moved && this.#codec.isIdempotent(entry.req)) {
        entry.moved = true;
        orphans.push(entry);
        continue;
      }
      if (counts) this.#counters.errors++;
      entry.reject(this.#failureFor(reason, true));
    }
    while ((entry = toWrite.shift()) !== undefined) {
      if (entry.settled) continue;
      if (adoptable && !entry.moved) {
        entry.moved = true;
        orphans.push(entry);
        continue;
      }
      if (counts) this.#counters.errors++;
      entry.reject(this.#failureFor(reason, entry.everWritten));
    }
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
    return reason instanceof TimeoutError
      ? new TimeoutError(reason.message, reason.phase, { server: this.server, mayHaveExecuted: written })
      : new Ctor(reason.message, { server: this.server, mayHaveExecuted: written, cause: reason.cause });
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
        const entry = new RequestEntry<Req, Res>(req, NO_DEADLINE);
        const reply = entry.promise();
        this.#pipeline.writeAlone(entry);
        await reply;
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
    this.#pipeline.open();
    this.#maybeFinishClose();
  }

  /** Bytes came from the server. */
  #heard(): void {
    this.#deadlines.heard();
    // Bytes before the connection is ready (a refused login) are no sign of a usable server.
    if (this.#state === 'ready') this.#events.alive?.();
  }

  #onData(chunk: Buffer): void {
    this.#heard();
    try {
      this.#decoder.feed(chunk, this.#onFrame);
    } catch (err) {
      this.#fail(err as MemlineError);
    }
    this.#maybeFinishClose();
  }

  #handleFrame(frame: Frame): void {
    if (this.#state === 'closed') return;
    const inflight = this.#pipeline.inflight;
    for (;;) {
      const head = inflight.peekFront();
      if (head === undefined) {
        this.#fail(this.#codec.unsolicited(frame));
        return;
      }
      const verdict = this.#codec.onFrame(head.req, frame, head);
      if (verdict === MORE) return;
      inflight.shift();
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
    const head = this.#pipeline.inflight.peekFront();
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

  /** Once closing and nothing a caller waits for is left, end the socket. */
  #maybeFinishClose(): void {
    if (!this.#closing || this.#state === 'closed') return;
    if (this.#state !== 'ready' && this.pending > 0) return; // still connecting: flush first
    if (!this.#pipeline.awaited()) this.destroy();
  }
}
