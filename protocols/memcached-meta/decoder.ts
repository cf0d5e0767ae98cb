/**
 * The incremental reply decoder: bytes in, {@link MetaFrame}s out, the same frames however the
 * stream is split.
 *
 * ```
 *  chunk 1: [ HD\r\n | VA 5 t3\r\n | hel ]    chunk 2: [ lo\r\n | EN\r\n | NF k ]
 *                                  ^^^ value: 5 bytes      ^^ fills it: VA out   ^^^^ partial line,
 *                                      allocated once                                 kept until LF
 * ```
 *
 * A line is kept only while it is incomplete, and never beyond the line cap; a value is allocated
 * once at its declared size (after the size cap is checked) and filled as its bytes arrive, so
 * decoding is linear in the input and memory is bounded by the caps.
 */
import { bufferView } from '../../lib/buffer-view.js';
import type { FrameDecoder, ReplyHead } from '../../lib/codec.js';
import type { MetaRequest } from './request.js';
import { ProtocolError, ResponseTooLargeError } from '../../lib/errors.js';
import { MetaFrame } from './frame.js';
import {
  BARE,
  hitLine,
  latin1,
  noFlags,
  readHitLine,
  scanFlags,
  scanned,
  type ScannedFlags,
} from './flag-scan.js';
import { malformed, quote, shortStatus, wordStatus } from './reply-line.js';
import { settleHit } from './direct-replies.js';

/** How a decoder reads its input and who it may answer directly. */
export interface DecoderOptions {
  /**
   * The chunks fed are never written again once fed (a socket's are not), so a frame from a small
   * chunk may go on reading its line from it (see `#emit`). Without it, every frame that outlives
   * its callback makes its line string.
   */
  stableChunks?: boolean;
  /** The connection's FIFO head: plain reads' hits are answered without a frame (see `#answered`). */
  head?: ReplyHead<MetaRequest, unknown> | undefined;
  /** The connection's opaque cycle less one, for the getMulti items' hits (see `#answered`). */
  opaqueMask?: number;
}

/** Caps checked before anything is buffered or allocated. */
export interface DecoderLimits {
  /** The largest value a `VA` may declare, in bytes. */
  maxValueSize: number;
  /** The longest reply line, in bytes, without its CRLF. */
  maxLineLength: number;
}

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const V = 0x56;
/** A partial-line buffer larger than this is released once its line is done. */
const KEEP_LINE_BUFFER = 4096;
/**
 * A value over `maxValueSize` but no larger than this is read past (never held) so the stream stays
 * in step: the largest item memcached can store (`-I 1024m`). A larger claim is no memcached reply.
 */
export const MAX_SKIPPED_VALUE = 1024 * 1024 * 1024;

/** Decodes memcached replies (meta statuses and the legacy lines a meta client meets). */
export class MetaDecoder implements FrameDecoder<MetaFrame> {
  readonly #maxValue: number;
  readonly #maxLine: number;
  /** The bytes of a line that has not ended yet. */
  #partial: Buffer | undefined = undefined;
  #partialLength = 0;
  /** The size of the `VA` data block being read, or -1 when none is. */
  #size = -1;
  /** Its bytes so far, once they span chunks (allocated at the first partial chunk). */
  #value: Buffer | undefined = undefined;
  /** The `VA` line: `#valueSrc[#valueFrom, #valueTo)` while those bytes last, else `#valueLine`. */
  #valueSrc: Buffer | undefined = undefined;
  #valueFrom = 0;
  #valueTo = 0;
  #valueLine = '';
  /** The size of the memory behind `#valueSrc` (see {@link #emit}). */
  #valueBehind = 0;
  /** Frames of chunks with at most this much memory behind them stay views (see {@link #emit}). */
  readonly #keepViewsUpTo: number;
  /** The scan of the `VA` line's flags, kept until its value is read. */
  readonly #valueScan: ScannedFlags = noFlags();
  /** Bytes of the data block and its CRLF read so far (0 … size + 2). */
  #filled = 0;
  /** Bytes of an oversized data block (with its CRLF) still to read past; 0 when none. */
  #skipLeft = 0;
  /**
   * A copy of `#copyOf[#copyFrom, #copyFrom + #copyLength)`: values read from that part of that chunk
   * are views of the copy (see {@link #copied}).
   */
  #copy: ArrayBuffer | undefined = undefined;
  #copyOf: Buffer | undefined = undefined;
  #copyFrom = 0;
  #copyLength = 0;
  /** The FIFO head, for the replies the decoder answers itself (see {@link #answered}). */
  readonly #head: ReplyHead<MetaRequest, unknown> | undefined;
  readonly #opaqueMask: number;
  /** The chunk being fed: the memory behind it, where in it the chunk starts, and its size. */
  #chunkMemory: ArrayBuffer | undefined = undefined;
  #chunkOffset = 0;
  #chunkBehind = 0;

  /** A decoder within `limits`; see {@link DecoderOptions} for `options`. */
  constructor(
    { maxValueSize, maxLineLength }: DecoderLimits,
    { stableChunks = false, head, opaqueMask = -1 }: DecoderOptions = {},
  ) {
    this.#maxValue = maxValueSize;
    this.#maxLine = maxLineLength;
    this.#keepViewsUpTo = stableChunks ? SHARED_CHUNK_MAX : -1;
    this.#head = head;
    this.#opaqueMask = opaqueMask;
  }

  /** Bytes held back waiting for the rest of a frame. */
  get buffered(): number {
    return this.#partialLength + (this.#size === -1 ? 0 : this.#filled);
  }

  /**
   * Inside a data block with at least {@link READ_INTO_MIN} bytes still to come: the rest of the
   * block's own buffer, for the socket to read into (no copy, and no chunk allocated for those bytes).
   */
  readInto(): Buffer | undefined {
    const size = this.#size;
    const filled = this.#filled;
    if (size === -1 || size - filled < READ_INTO_MIN) return undefined;
    let value = this.#value;
    if (value === undefined) this.#value = value = Buffer.allocUnsafe(size);
    return bufferView(value.buffer, value.byteOffset + filled, size - filled);
  }

  /** `n` bytes of the data block were read into the buffer {@link readInto} returned. */
  landed(n: number): void {
    this.#filled += n;
  }

  feed(chunk: Buffer, onFrame: (frame: MetaFrame) => void): void {
    // Read once per chunk: every value made from it needs them.
    const memory = chunk.buffer as ArrayBuffer;
    this.#chunkMemory = memory;
    this.#chunkOffset = chunk.byteOffset;
    this.#chunkBehind = memory.byteLength;
    this.#feed(chunk, onFrame);
    // The chunk's copied segment serves this chunk only: let the two go.
    this.#copy = undefined;
    this.#copyOf = undefined;
    this.#chunkMemory = undefined;
  }

  #feed(chunk: Buffer, onFrame: (frame: MetaFrame) => void): void {
    const length = chunk.length;
    let pos = 0;
    if (this.#size !== -1 || this.#skipLeft > 0) {
      pos = this.#data(chunk, 0, onFrame);
      if (pos === length) return;
    }
    if (this.#partialLength > 0) {
      const nl = chunk.indexOf(LF, pos);
      if (nl === -1) {
        this.#keep(chunk, pos);
        return;
      }
      this.#keep(chunk, pos, nl);
      const frame = this.#line(this.#partial as Buffer, 0, this.#partialLength);
      this.#partialLength = 0;
      if ((this.#partial as Buffer).length > KEEP_LINE_BUFFER) this.#partial = undefined;
      pos = nl + 1;
      if (frame !== undefined) onFrame(frame); // made from the partial line: a string already
      if (frame === undefined || this.#skipLeft > 0) pos = this.#data(chunk, pos, onFrame);
    }
    const head = this.#head;
    while (pos < length) {
      if (chunk[pos] === V && head !== undefined) {
        const next = this.#quickHit(chunk, pos, head);
        if (next !== -1) {
          pos = next;
          continue;
        }
      }
      const nl = chunk.indexOf(LF, pos);
      if (nl === -1) {
        this.#keep(chunk, pos);
        return;
      }
      const frame = this.#line(chunk, pos, nl);
      pos = nl + 1;
      if (frame !== undefined) this.#emit(frame, onFrame, this.#chunkBehind);
      if (frame === undefined || this.#skipLeft > 0) pos = this.#data(chunk, pos, onFrame);
    }
  }

  /**
   * A read's hit (a plain read's or a getMulti item's) whose line and value lie whole in `chunk` at
   * `pos`, in the form the codec asks for ({@link readHitLine}), settled at once with no frame and
   * no state kept. Returns where the next reply starts, or -1 when it is not one (then nothing was
   * read, and the general path reads it).
   */
  #quickHit(chunk: Buffer, pos: number, head: ReplyHead<MetaRequest, unknown>): number {
    const at = readHitLine(chunk, pos);
    if (at === -1 || at - 2 - pos > this.#maxLine) return -1;
    const hit = hitLine;
    const size = hit.size;
    const end = at + size;
    if (size > this.#maxValue || chunk[end] !== CR || chunk[end + 1] !== LF) return -1;
    const value = this.#valueAt(chunk, at, size);
    return settleHit(head, hit, value, this.#opaqueMask, chunk, pos, at - 2) ? end + 2 : -1;
  }

  /** Appends `chunk[from, to)` to the partial line, refusing to hold more than a line may have. */
  #keep(chunk: Buffer, from: number, to = chunk.length): void {
    const total = this.#partialLength + (to - from);
    // +1: the CR of a line of exactly maxLineLength may already be here.
    if (total > this.#maxLine + 1) throw this.#tooLong();
    let buf = this.#partial;
    if (buf === undefined || buf.length < total) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(256, total * 2), this.#maxLine + 1));
      if (buf !== undefined) buf.copy(grown, 0, 0, this.#partialLength);
      this.#partial = buf = grown;
    }
    chunk.copy(buf, this.#partialLength, from, to);
    this.#partialLength = total;
  }

  /**
   * Reads the line `buf[start, nl)` (`nl`: where its LF is). Returns its frame, or `undefined` for a
   * `VA` header, whose data block is then expected. Meta replies are read as bytes: their frame is a
   * view of `buf` ({@link MetaFrame.view}) unless `buf` is the partial-line buffer, which is reused.
   */
  #line(buf: Buffer, start: number, nl: number): MetaFrame | undefined {
    if (nl - start > this.#maxLine + 1) throw this.#tooLong();
    // Lines end with CRLF; a bare LF or a CR elsewhere means we are not reading memcached.
    if (nl === start || buf[nl - 1] !== CR) {
      throw new ProtocolError(`reply line not ended by CRLF: ${quote(latin1(buf, start, nl))}`);
    }
    const end = nl - 1;
    const length = end - start;
    if (length >= 2 && (length === 2 || buf[start + 2] === SPACE)) {
      const status = shortStatus(buf[start], buf[start + 1]);
      if (status === 'VA') return this.#startValue(buf, start, end);
      if (status !== undefined) {
        // A bare two-letter status (`HD`, `EN`, `MN`…: the usual reply to a write) is one shared frame.
        if (length === 2) return BARE_FRAMES[status];
        if (status === 'ME' || status === 'OK')
          return new MetaFrame(status, this.#text(buf, start, end), undefined, -1, BARE);
        if (!scanFlags(buf, start + 2, end, start)) throw this.#malformed(buf, start, end);
        return buf === this.#partial
          ? new MetaFrame(status, latin1(buf, start, end), undefined, -1, scanned)
          : MetaFrame.view(status, buf, start, end, undefined, scanned);
      }
    }
    const line = this.#text(buf, start, end);
    const status = wordStatus(line);
    if (status === undefined) throw new ProtocolError(`unknown reply ${quote(line)}`);
    return new MetaFrame(status, line, undefined, -1, BARE);
  }

  /** The line `buf[start, end)` as a string, refused if it holds a CR. */
  #text(buf: Buffer, start: number, end: number): string {
    const line = latin1(buf, start, end);
    if (line.includes('\r')) throw new ProtocolError(`reply line contains a bare CR: ${quote(line)}`);
    return line;
  }

  #malformed(buf: Buffer, start: number, end: number): ProtocolError {
    return malformed(this.#text(buf, start, end));
  }

  /**
   * `VA <size> <flags>*` in `buf[start, end)`: checks the size against the cap, then expects the data
   * block. Over the cap, returns a frame without a value whose `skipped` is the size, and reads past
   * the data block as it comes, holding none of it: the request it answers fails alone (a batch names
   * its key).
   */
  #startValue(buf: Buffer, start: number, end: number): MetaFrame | undefined {
    let i = start + 3;
    let size = 0;
    for (; i < end; i++) {
      const d = buf[i] - 0x30;
      if (d < 0 || d > 9) break;
      size = size * 10 + d;
    }
    const digits = i - start - 3;
    if (digits < 1 || digits > 20 || (i < end && buf[i] !== SPACE)) throw this.#malformed(buf, start, end);
    // Checked before the flags and before any allocation: a hostile size must cost nothing.
    if (size > this.#maxValue && size <= MAX_SKIPPED_VALUE && digits <= 10) {
      if (!scanFlags(buf, i, end, start)) throw this.#malformed(buf, start, end);
      this.#skipLeft = size + 2;
      return new MetaFrame('VA', latin1(buf, start, end), undefined, size, scanned);
    }
    if (size > this.#maxValue) {
      throw new ResponseTooLargeError(
        `reply declares a value of ${digits > 15 ? `${digits} digits of` : size} bytes, over maxValueSize ${this.#maxValue}`,
      );
    }
    if (!scanFlags(buf, i, end, start)) throw this.#malformed(buf, start, end);
    const keep = this.#valueScan;
    keep.opaque = scanned.opaque;
    keep.keyAt = scanned.keyAt;
    keep.clientFlags = scanned.clientFlags;
    keep.casAt = scanned.casAt;
    keep.cas = scanned.cas;
    keep.win = scanned.win;
    this.#size = size;
    this.#filled = 0;
    if (buf === this.#partial) {
      this.#valueSrc = undefined;
      this.#valueLine = latin1(buf, start, end);
    } else {
      // A socket chunk is never written again: the line can be read from it until the value is done.
      this.#valueSrc = buf;
      this.#valueFrom = start;
      this.#valueTo = end;
      this.#valueBehind = this.#chunkBehind;
    }
    return undefined;
  }

  /** The frame of the `VA` just read, with `value`; the decoder lets go of the line's bytes. */
  #valueFrame(value: Buffer): MetaFrame {
    const src = this.#valueSrc;
    this.#size = -1;
    if (src === undefined) return new MetaFrame('VA', this.#valueLine, value, -1, this.#valueScan);
    this.#valueSrc = undefined;
    return MetaFrame.view('VA', src, this.#valueFrom, this.#valueTo, value, this.#valueScan);
  }

  /**
   * The busiest replies, a plain read's or a getMulti item's hit, settled here without a frame when
   * they pass correlation's checks (direct-replies.ts). Returns whether it did; everything else is
   * emitted as a frame.
   */
  #answered(value: Buffer): boolean {
    const head = this.#head;
    if (head === undefined) return false;
    const src = this.#valueSrc;
    if (!settleHit(head, this.#valueScan, value, this.#opaqueMask, src, this.#valueFrom, this.#valueTo)) {
      return false;
    }
    this.#size = -1;
    this.#valueSrc = undefined;
    return true;
  }

  /** The `VA` line being read, as a string (for an error message). */
  #valueText(): string {
    const src = this.#valueSrc;
    return src === undefined ? this.#valueLine : latin1(src, this.#valueFrom, this.#valueTo);
  }

  /** Reads the data block being filled or skipped; returns where it stopped in `chunk`. */
  #data(chunk: Buffer, pos: number, onFrame: (frame: MetaFrame) => void): number {
    return this.#skipLeft > 0 ? this.#skip(chunk, pos) : this.#fill(chunk, pos, onFrame);
  }

  /** Reads past what `chunk` holds of an oversized data block; only its CRLF is checked. */
  #skip(chunk: Buffer, pos: number): number {
    let left = this.#skipLeft;
    const n = Math.min(Math.max(left - 2, 0), chunk.length - pos);
    pos += n;
    left -= n;
    while (left > 0 && pos < chunk.length) {
      if (chunk[pos] !== (left === 2 ? CR : LF)) {
        throw new ProtocolError('an oversized value was not followed by CRLF');
      }
      left--;
      pos++;
    }
    this.#skipLeft = left;
    return pos;
  }

  /**
   * Reads what `chunk` holds of the pending data block; emits the frame once its CRLF is read. A
   * block that lies whole in `chunk` is handed over as a view of it, without a copy, when that pins
   * no more memory than Node's own Buffer pool would ({@link shareable}); otherwise its bytes are
   * copied into a Buffer of its own.
   */
  #fill(chunk: Buffer, pos: number, onFrame: (frame: MetaFrame) => void): number {
    const size = this.#size;
    let filled = this.#filled;
    if (filled === 0 && pos + size + 2 <= chunk.length) {
      // The usual case: the whole block and its CRLF are here.
      const end = pos + size;
      if (chunk[end] !== CR || chunk[end + 1] !== LF) {
        throw new ProtocolError(`value of ${quote(this.#valueText())} not followed by CRLF`);
      }
      const value = this.#valueAt(chunk, pos, size);
      if (!this.#answered(value)) this.#emit(this.#valueFrame(value), onFrame, this.#valueBehind);
      return end + 2;
    }
    // Nothing of the block here yet (the chunk ended with its header): allocate nothing, so that the
    // next chunk may still take the whole-block path above with no stale buffer left behind.
    if (pos === chunk.length) return pos;
    let value = this.#value;
    if (value === undefined) this.#value = value = Buffer.allocUnsafe(size);
    if (filled < size) {
      const n = Math.min(size - filled, chunk.length - pos);
      chunk.copy(value, filled, pos, pos + n);
      filled += n;
      pos += n;
    }
    // The block is read by length; only its CRLF is checked (values may contain CRLF).
    while (filled < size + 2 && pos < chunk.length) {
      if (chunk[pos] !== (filled === size ? CR : LF)) {
        throw new ProtocolError(`value of ${quote(this.#valueText())} not followed by CRLF`);
      }
      filled++;
      pos++;
    }
    if (filled < size + 2) {
      this.#filled = filled;
      return pos;
    }
    this.#value = undefined;
    this.#filled = 0;
    if (!this.#answered(value)) this.#emit(this.#valueFrame(value), onFrame, this.#valueBehind);
    return pos;
  }

  /**
   * The value `chunk[pos, pos + size)`, whole in the chunk being fed: a view of it when that pins no
   * more memory than Node's own Buffer pool would ({@link shareable}), made directly (lib/buffer-view.ts:
   * less work than Buffer.from or subarray); otherwise a copy ({@link #copied}).
   */
  #valueAt(chunk: Buffer, pos: number, size: number): Buffer {
    return shareable(this.#chunkBehind, size)
      ? bufferView(this.#chunkMemory!, this.#chunkOffset + pos, size)
      : this.#copied(chunk, pos, size);
  }

  /**
   * `chunk[pos, pos + size)` in memory of its own, for a value too small to pin its chunk. The chunk
   * is copied a segment of {@link SHARED_CHUNK_MAX} bytes at a time (a value over half of that alone),
   * and each value is a view of its segment's copy: one copy per segment instead of an allocation
   * and a copy per value, and a value pins at most a segment, as a small `Buffer.allocUnsafe` pins
   * Node's 8 KiB pool.
   */
  #copied(chunk: Buffer, pos: number, size: number): Buffer {
    let copy = this.#copy;
    let at = pos - this.#copyFrom;
    if (chunk !== this.#copyOf || copy === undefined || at < 0 || at + size > this.#copyLength) {
      // A value over half a segment gets a copy of its own, as Buffer.allocUnsafe gives it one.
      const span = size > SHARED_CHUNK_MAX / 2 ? size : SHARED_CHUNK_MAX;
      const end = Math.min(chunk.length, pos + span);
      const offset = this.#chunkOffset;
      copy = this.#chunkMemory!.slice(offset + pos, offset + end);
      this.#copy = copy;
      this.#copyOf = chunk;
      this.#copyFrom = pos;
      this.#copyLength = end - pos;
      at = 0;
    }
    return bufferView(copy, at, size);
  }

  /**
   * Hands `frame` to the callback. A frame still reading its line from a chunk with `behind` bytes
   * of memory then makes its line string, so that a frame kept by its caller never pins a large
   * chunk, unless the chunks are stable and this one is small ({@link SHARED_CHUNK_MAX}): it pins no
   * more than a small Buffer would, and the frame keeps reading from it (a write's reply, dropped
   * once its status is read, makes no string).
   */
  #emit(frame: MetaFrame, onFrame: (frame: MetaFrame) => void, behind: number): void {
    onFrame(frame);
    if (behind > this.#keepViewsUpTo) frame.settle();
  }

  #tooLong(): ProtocolError {
    return new ProtocolError(`reply line longer than maxLineLength ${this.#maxLine}`);
  }
}

/** The frames of the bare statuses, shared: a frame is never changed once made. */
const BARE_FRAMES: Readonly<Record<string, MetaFrame>> = Object.freeze(
  Object.fromEntries(
    ['HD', 'EN', 'NF', 'NS', 'EX', 'MN', 'ME', 'OK'].map((s) => [
      s,
      new MetaFrame(s, s, undefined, -1, BARE),
    ]),
  ),
);

/**
 * The least of a data block still to come for the socket to read it in place ({@link MetaDecoder.readInto}).
 * A read into a value stops at its end, so the replies after it wait for the next read: below about
 * one ordinary read, copying them out of a chunk costs less than that extra read.
 */
export const READ_INTO_MIN = 64 * 1024;

/**
 * The largest socket chunk a value may be a view of. A view keeps its whole chunk alive as long as
 * the caller keeps the value; up to this size that is no more than `Buffer.allocUnsafe` itself pins
 * for a small value (Node's shared 8 KiB pool).
 */
export const SHARED_CHUNK_MAX = 8 * 1024;

/**
 * Whether a value of `size` bytes may be handed over as a view of a chunk with `behind` bytes of
 * memory behind it rather than copied: when that memory is small ({@link SHARED_CHUNK_MAX}), or the
 * value is at least half of it. A small value never keeps a large chunk alive.
 */
export function shareable(behind: number, size: number): boolean {
  return behind <= SHARED_CHUNK_MAX || size * 2 >= behind;
}
