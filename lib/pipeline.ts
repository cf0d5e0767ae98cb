/**
 * The two queues of one connection and its writer loop.
 *
 * ```
 *   queue() ──► toWrite ──flush on nextTick──► socket ──► server
 *                 queued: may be dropped                   │
 *                                                          ▼
 *   reader ◄── inflight (wire order) ◄──────────────── replies
 *                 written: never removed while the socket lives
 * ```
 *
 * A request moves from `toWrite` to `inflight` in the same step as its bytes are encoded for the
 * socket, so `inflight` order is wire order. The requests encoded in one tick go to the socket in
 * one write (up to `maxWriteBytes`); when the socket is full the writer waits for `drain`.
 */
import type net from 'node:net';
import Denque from 'denque';
import type { ProtocolCodec } from './codec.js';
import { OutBuffer } from './out-buffer.js';
import { EntryState, NO_DEADLINE, RequestEntry } from './request-entry.js';

export class Pipeline<Req, Res, Frame> {
  /** Requests waiting to be written, in call order. */
  toWrite = new Denque<RequestEntry<Req, Res>>();
  /** Requests written, in wire order: each reply belongs to the head. */
  readonly inflight = new Denque<RequestEntry<Req, Res>>();
  /** Estimated bytes of the requests in `toWrite`. */
  queuedBytes = 0;
  readonly #codec: ProtocolCodec<Req, Res, Frame>;
  readonly #maxWriteBytes: number;
  /** Called when a request goes in flight while none was. */
  readonly #onBusy: () => void;
  readonly #out = new OutBuffer();
  #socket: net.Socket | undefined;
  /** The connection is ready: queued requests may be written. */
  #open = false;
  #needDrain = false;
  #flushScheduled = false;
  readonly #flush = (): void => this.flush();

  constructor(codec: ProtocolCodec<Req, Res, Frame>, maxWriteBytes: number, onBusy: () => void) {
    this.#codec = codec;
    this.#maxWriteBytes = maxWriteBytes;
    this.#onBusy = onBusy;
  }

  /** Requests queued plus in flight. */
  get pending(): number {
    return this.toWrite.length + this.inflight.length;
  }

  /** Bytes queued here or in the socket, not yet taken by the kernel. */
  get buffered(): number {
    return this.queuedBytes + (this.#socket?.writableLength ?? 0);
  }

  /** Writes go to `socket` once {@link open} is called. */
  attach(socket: net.Socket): void {
    this.#socket = socket;
    socket.on('drain', () => {
      this.#needDrain = false;
      this.flush();
    });
  }

  /** The connection is ready: write what is queued, and from now on what comes. */
  open(): void {
    this.#open = true;
    this.flush();
  }

  /** Queues `entry`; it is written on the next tick once the connection is ready. */
  queue(entry: RequestEntry<Req, Res>): void {
    this.queuedBytes += entry.size;
    this.toWrite.push(entry);
    if (this.#open && !this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(this.#flush);
    }
  }

  /** Queues `req` behind everything else with nobody waiting for its reply (a codec's nudge). */
  nudge(req: Req): void {
    const entry = new RequestEntry<Req, Res>(req, NO_DEADLINE);
    entry.promise().catch(() => undefined);
    this.queue(entry);
  }

  /** Writes `entry` now, ahead of the queue (a handshake request, before the connection is ready). */
  writeAlone(entry: RequestEntry<Req, Res>): void {
    this.inflight.push(entry);
    entry.state = EntryState.Written;
    entry.everWritten = true;
    this.#codec.encode(entry.req, this.#out, entry);
    this.#write();
  }

  /** The writer loop: encodes queued requests and hands them to the socket until it is full. */
  flush(): void {
    this.#flushScheduled = false;
    if (!this.#open || this.#needDrain) return;
    const maxBytes = this.#maxWriteBytes;
    const out = this.#out;
    const toWrite = this.toWrite;
    const inflight = this.inflight;
    let entry: RequestEntry<Req, Res> | undefined;
    while (!this.#needDrain && toWrite.length > 0) {
      while ((entry = toWrite.shift()) !== undefined) {
        this.queuedBytes -= entry.size;
        if (entry.settled) continue; // gave up before being written: nothing to send
        if (inflight.length === 0) this.#onBusy();
        this.#codec.encode(entry.req, out, entry);
        entry.state = EntryState.Written;
        entry.everWritten = true;
        inflight.push(entry);
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

  /** Drops settled entries that were never written (they hold a place in the pending bound). */
  compact(): void {
    const kept = new Denque<RequestEntry<Req, Res>>();
    let entry: RequestEntry<Req, Res> | undefined;
    while ((entry = this.toWrite.shift()) !== undefined) {
      if (entry.settled) this.queuedBytes -= entry.size;
      else kept.push(entry);
    }
    this.toWrite = kept;
  }

  /** Whether a request some caller still waits for is queued or in flight. */
  awaited(): boolean {
    for (let i = 0; i < this.toWrite.length; i++) if (!this.toWrite.peekAt(i)!.settled) return true;
    for (let i = 0; i < this.inflight.length; i++) if (!this.inflight.peekAt(i)!.settled) return true;
    return false;
  }

  /** The socket is gone: nothing more is written and the unwritten batch is dropped. */
  stop(): void {
    this.#open = false;
    this.#out.discard();
    this.queuedBytes = 0;
  }
}
