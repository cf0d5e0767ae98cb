/**
 * Collects the bytes of the requests written in one tick so the connection can hand them to the
 * socket in one write.
 *
 * Bytes are written into a slab. `take()` hands out the part of the slab written since the last
 * `take()` (no copy) and later writes continue after it, so memory already handed to the socket is
 * never written again; when a slab is full a new one is allocated and the old one is freed by the GC
 * once the socket is done with it.
 *
 * ```
 *  slab: [ handed to the socket | current batch |      free      ]
 *                               ^start          ^pos
 * ```
 *
 * Values above `copyThreshold` bytes are not copied: the batch references the caller's Buffer.
 */
/**
 * Node's Buffer has `latin1Write`/`utf8Write` (the methods behind `buf.write(s, offset, encoding)`)
 * without the encoding lookup; they are not in the type definitions.
 */
interface RawWrite {
  latin1Write(s: string, offset: number): number;
  utf8Write(s: string, offset: number): number;
}

/** Strings up to this length are written by {@link OutBuffer.latin1}'s own loop. */
const SHORT_STRING = 48;

/**
 * Writes `s` (every character below U+0100) into `slab` at `at`, one byte per character, and returns
 * where it ends; the caller has made the room (see {@link OutBuffer.room}). A loop: for the short
 * tokens of a request line, cheaper than a call into Node's string writer.
 */
export function putLatin1(slab: Buffer, at: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) slab[at + i] = s.charCodeAt(i);
  return at + n;
}

/**
 * The bytes a connection writes in one go: codecs append requests to it in {@link ProtocolCodec.encode},
 * and the connection hands the batch to the socket without copying it again.
 */
export class OutBuffer {
  #slabSize: number;
  #copyThreshold: number;
  #slab: Buffer;
  #start = 0;
  #pos = 0;
  /** Finished pieces of the current batch, in order, when it spans slabs or references values. */
  #pieces: Buffer[] = [];
  #piecesLength = 0;
  /**
   * Per-connection state of the codec that encodes into this buffer (one buffer per connection),
   * such as the meta codec's place in its cycle of opaques. Owned by the codec; the buffer never
   * reads it.
   */
  codecState: unknown = undefined;

  constructor(slabSize = 64 * 1024, copyThreshold = 16 * 1024) {
    this.#slabSize = slabSize;
    this.#copyThreshold = copyThreshold;
    this.#slab = Buffer.allocUnsafe(slabSize);
  }

  /** Bytes in the current batch. */
  get length(): number {
    return this.#piecesLength + this.#pos - this.#start;
  }

  /**
   * Writes a string whose characters are all below U+0100, one byte each. Short strings (the
   * tokens of a request line) are copied by a loop: cheaper than a call into Node's string writer.
   */
  latin1(s: string): void {
    const n = s.length;
    this.#ensure(n);
    if (n > SHORT_STRING) {
      this.#pos += (this.#slab as unknown as RawWrite).latin1Write(s, this.#pos);
      return;
    }
    this.#pos = putLatin1(this.#slab, this.#pos, s);
  }

  /**
   * For a codec writing a line's bytes itself: makes room for `n` more bytes in the current slab and
   * returns it, to be written from {@link end} on and then {@link commit}ted. No call per token and
   * no check of room per token: the busiest requests are written this way.
   */
  room(n: number): Buffer {
    this.#ensure(n);
    return this.#slab;
  }

  /** Where the next byte goes in the slab {@link room} returned. */
  get end(): number {
    return this.#pos;
  }

  /** Ends a write through {@link room}: the bytes up to `end` are part of the batch. */
  commit(end: number): void {
    this.#pos = end;
  }

  /** Writes a string as UTF-8. */
  utf8(s: string): void {
    this.#ensure(s.length * 3);
    this.#pos += (this.#slab as unknown as RawWrite).utf8Write(s, this.#pos);
  }

  /** Writes a non-negative integer (or bigint) in decimal. */
  decimal(n: number | bigint): void {
    this.latin1(String(n));
  }

  /** Writes bytes; large ones are referenced, not copied. */
  bytes(b: Uint8Array): void {
    if (b.length > this.#copyThreshold) {
      this.#seal();
      this.#pieces.push(Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length));
      this.#piecesLength += b.length;
      return;
    }
    this.#ensure(b.length);
    this.#slab.set(b, this.#pos);
    this.#pos += b.length;
  }

  /**
   * Ends the current batch and returns its bytes as one Buffer, or several when it spans slabs or
   * references large values. Returns `undefined` when the batch is empty.
   */
  take(): Buffer | Buffer[] | undefined {
    if (this.#pieces.length === 0) {
      if (this.#pos === this.#start) return undefined;
      const out = this.#slab.subarray(this.#start, this.#pos);
      this.#start = this.#pos;
      return out;
    }
    this.#seal();
    const pieces = this.#pieces;
    this.#pieces = [];
    this.#piecesLength = 0;
    return pieces;
  }

  /** Forgets the current batch (its bytes are never handed out). */
  discard(): void {
    this.#pos = this.#start;
    this.#pieces = [];
    this.#piecesLength = 0;
  }

  #seal(): void {
    if (this.#pos > this.#start) {
      this.#pieces.push(this.#slab.subarray(this.#start, this.#pos));
      this.#piecesLength += this.#pos - this.#start;
      this.#start = this.#pos;
    }
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#slab.length) return;
    this.#seal();
    this.#slab = Buffer.allocUnsafe(Math.max(this.#slabSize, n));
    this.#start = 0;
    this.#pos = 0;
  }
}
