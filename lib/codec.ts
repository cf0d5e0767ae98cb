/**
 * The interface between the engine and a protocol. The engine (connections, backends, the cluster)
 * moves bytes and keeps the FIFO of pending requests; a codec says what the bytes mean.
 *
 * A codec is pure: no sockets, timers or promises. Everything it is given has been validated by the
 * layer above it (a typed client), so `encode` never fails.
 *
 * `Req` is the codec's request object, `Res` what a request resolves with, and `Frame` one decoded
 * unit of the reply stream (for memcached, one status line with its value).
 */
import type { MemlineError } from './errors.js';
import type { OutBuffer } from './out-buffer.js';

/** Returned by {@link ProtocolCodec.onFrame}: the frame belongs to the request, which wants more. */
export const MORE: unique symbol = Symbol('memline.more');
/**
 * Returned by {@link ProtocolCodec.onFrame}: the request got no reply of its own (a quiet request
 * whose "no reply" default applies, e.g. a memcached `mg … q` miss). The engine settles it with
 * {@link ProtocolCodec.noReply} and offers the same frame to the next request.
 */
export const SKIP: unique symbol = Symbol('memline.skip');

/**
 * Returned by {@link ProtocolCodec.onFrame} when the frame is an error for the request.
 * `fatal`: the connection can no longer be trusted (out of sync, or the server said the request was
 * malformed); the engine destroys it and rejects everything else in flight.
 */
export class FrameFailure {
  constructor(
    readonly error: MemlineError,
    readonly fatal: boolean,
  ) {}
}

/**
 * Per-request reply state, kept by the engine on the request's FIFO entry and owned by the codec:
 * {@link ProtocolCodec.encode} sets it (the opaque it put on the request, a batch's replies so far)
 * and {@link ProtocolCodec.onFrame} reads and updates it. Requests themselves stay immutable, so one
 * request object can be sent on several connections (or again on a new one) without its replies
 * mixing.
 */
export interface ReplySlot {
  reply: unknown;
}

/**
 * The head of a connection's FIFO, as its decoder sees it: the request whose reply is read next. A
 * decoder that recognises that reply as one {@link ProtocolCodec.onFrame} would resolve the request
 * with, with nothing else to check, answers it directly: no frame is made, no correlation call
 * runs. Everything else goes through frames, as without it.
 */
export interface ReplyHead<Req, Res> {
  /** The request whose reply is read next, with its reply state; `undefined` when there is none. */
  peek(): (ReplySlot & { readonly req: Req }) | undefined;
  /** Resolves the request {@link peek} returned with `value`, and makes the next one the head. */
  answer(value: Res): void;
}

/** What {@link ProtocolCodec.onFrame} decides. */
export type FrameVerdict<Res> = Res | typeof MORE | typeof SKIP | FrameFailure;

/** An incremental decoder: bytes in, frames out, resumable at any byte boundary. */
export interface FrameDecoder<Frame> {
  /**
   * Decodes `chunk` (appended to whatever was left over) and calls `onFrame` for each complete
   * frame, in order. The same frames come out however the stream is split into chunks.
   *
   * Throws a {@link MemlineError} (`ERR_PROTOCOL`, `ERR_RESPONSE_TOO_LARGE`) when the stream cannot
   * be decoded; caps on line length and value size are checked before anything is allocated.
   * After a throw the decoder is unusable (the connection is destroyed).
   */
  feed(chunk: Buffer, onFrame: (frame: Frame) => void): void;
  /** Bytes held back waiting for the rest of a frame. */
  readonly buffered: number;
  /**
   * Optional, with {@link landed}: where the next socket read should put its bytes when the decoder
   * is inside a large block of known length (a value), so that they land in the buffer the block is
   * handed over in, with no copy; `undefined` to read an ordinary chunk. A plain TCP connection asks
   * before each read; when the read went into the buffer returned, it calls {@link landed} instead of
   * {@link feed}. A decoder with these methods is fed chunks the engine reads into memory of its own
   * (lib/read-rooms.ts): never written again, but sharing memory with the chunks around them, which
   * `chunk.buffer.byteLength` tells. Must not throw.
   */
  readInto?(): Buffer | undefined;
  /** `n` bytes were read into the start of the buffer {@link readInto} returned last. */
  landed?(n: number): void;
}

/** What a connection tells the codec about itself (for handshakes and error messages). */
export interface ConnectionInfo {
  /** `"host:port"` */
  readonly server: string;
  readonly tls: boolean;
}

/**
 * What a protocol implements to run on the engine: how requests become bytes, how the reply stream
 * is cut into frames, and which frames answer which request. The engine owns sockets, timers and
 * the FIFO of pending requests; a codec is pure, and `encode` never fails because the typed client
 * above it validated everything first.
 */
export interface ProtocolCodec<Req, Res, Frame> {
  /** A short name for errors and diagnostics (`"memcached-meta"`). */
  readonly name: string;

  /** The database system, as OpenTelemetry's `db.system.name` names it (`"redis"`), if it has one. */
  readonly system?: string;

  /**
   * Appends the exact bytes of one request, and puts in `slot` whatever {@link onFrame} will need to
   * read its reply (it replaces any state a previous sending left there).
   */
  encode(req: Req, out: OutBuffer, slot: ReplySlot): void;

  /**
   * A fresh decoder for a new connection. `head` lets it answer the request at the head of the FIFO
   * itself, without a frame, where it can tell the reply's value as {@link onFrame} would give it
   * (see {@link ReplyHead}); a decoder may ignore it.
   */
  createDecoder(head?: ReplyHead<Req, Res>): FrameDecoder<Frame>;

  /**
   * Correlation: `frame` arrived while `req` is at the head of the FIFO. Return the value to resolve
   * `req` with, {@link MORE} (the frame is part of `req`'s reply, which is not complete),
   * {@link SKIP} (`req` got no reply; offer the frame to the next request), or a
   * {@link FrameFailure}. A frame that belongs to no request in the FIFO is a fatal failure: the
   * stream is out of sync.
   *
   * The engine calls this for a request whose caller already gave up (timeout, abort) too, so that
   * its late reply is consumed and thrown away rather than given to the next request.
   *
   * `slot` is the one {@link encode} filled for this sending of `req`.
   */
  onFrame(req: Req, frame: Frame, slot: ReplySlot): FrameVerdict<Res>;

  /** The value of a request settled by {@link SKIP}. */
  noReply(req: Req): Res;

  /** The error for a frame that arrived with no request pending. */
  unsolicited(frame: Frame): MemlineError;

  /** Whether `req` may be sent again on another connection after a failure. */
  isIdempotent(req: Req): boolean;

  /** The key a cluster routes `req` by; `undefined` for requests meant for one chosen server. */
  routingKey(req: Req): string | undefined;

  /** Approximate bytes `req` takes on the wire, for the queued-bytes bound (optional). */
  byteLength?(req: Req): number;

  /** A short label for errors and diagnostics (`"mg"`); never includes values or secrets. */
  describe(req: Req): string;

  /**
   * The keys `req` names, for diagnostics subscribers that asked for keys (optional; without it,
   * the {@link routingKey}).
   */
  keys?(req: Req): readonly string[];

  /**
   * Requests to send, one at a time and alone, on every new connection before any other request
   * (authentication). A failure of any of them fails the connection with the request's error.
   */
  handshake?(info: ConnectionInfo): Req[];

  /**
   * A request that changes nothing and is answered in order, sent on a TLS connection that has
   * requests in flight and has heard nothing for `NUDGE_AFTER_MS` (50 ms): a server that stopped with
   * bytes it had decrypted but not handled (memcached 1.6.18 when a TLS record ends inside a request)
   * handles them once new bytes arrive. Its reply is read and thrown away. Without it, a stalled
   * connection waits for `silentTimeout`.
   */
  nudge?(): Req;
}

/** ms of silence, with requests in flight, before a TLS connection sends its codec's `nudge`. */
export const NUDGE_AFTER_MS = 50;
