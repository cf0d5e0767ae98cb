/**
 * The incremental RESP2/RESP3 decoder: bytes in, one {@link RespValue} per reply out, the same values
 * however the stream is split.
 *
 * ```
 *  chunk 1: [ +OK\r\n | *2\r\n | $5\r\nhel ]     chunk 2: [ lo\r\n | :7\r\n | $3\r\nab ]
 *             ^ out      ^ stack: [array, 2 left]              ^ fills the bulk   ^ array out
 *                              ^^^^^^^ bulk of 5, allocated once
 * ```
 *
 * Iterative, never recursive: aggregates (arrays, maps, sets, pushes, attributes) are kept on an
 * explicit stack, so a hostile nesting costs one stack entry per level, up to `maxDepth`. Every size
 * a reply declares (a bulk's length, an aggregate's count) is checked against its cap before
 * anything is allocated; header lines are held back only while incomplete, and never beyond
 * `maxLineLength`. So memory is bounded by the caps and decoding is linear in the input.
 *
 * Pushes (`>`, RESP3 out-of-band data) and attributes (`|`, metadata before a reply) are read in full,
 * within the caps, and dropped: neither is the reply to a command.
 */
import type { FrameDecoder } from '../../lib/codec.js';
import { BAD_TERMINATOR, fillBlock } from '../../lib/data-block.js';
import { ProtocolError, ResponseTooLargeError } from '../../lib/errors.js';
import { RespError, VerbatimString, type RespValue } from './values.js';

/** Caps checked before anything is buffered or allocated. */
export interface RespLimits {
  /** The largest bulk string (or bulk error, verbatim string) a reply may declare, in bytes. */
  maxBulkSize: number;
  /** The most elements one reply may hold, over all its nested aggregates (a map entry counts two). */
  maxElements: number;
  /** The deepest nesting of aggregates in one reply. */
  maxDepth: number;
  /** The longest header or simple line (simple string, error, number), in bytes, without its CRLF. */
  maxLineLength: number;
}

const CR = 0x0d;
const LF = 0x0a;
const PLUS = 0x2b; // + simple string
const MINUS = 0x2d; // - error
const COLON = 0x3a; // : integer
const DOLLAR = 0x24; // $ bulk string
const STAR = 0x2a; // * array
const UNDERSCORE = 0x5f; // _ null
const HASH = 0x23; // # boolean
const COMMA = 0x2c; // , double
const LPAREN = 0x28; // ( big number
const BANG = 0x21; // ! bulk error
const EQUALS = 0x3d; // = verbatim string
const PERCENT = 0x25; // % map
const TILDE = 0x7e; // ~ set
const GT = 0x3e; // > push
const PIPE = 0x7c; // | attribute

/** A partial-line buffer larger than this is released once its line is done. */
const KEEP_LINE_BUFFER = 4096;
const DOUBLE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** An aggregate being filled. */
interface Aggregate {
  /** Its type byte. */
  readonly type: number;
  /** Elements still to come (a map or attribute entry counts two). */
  remaining: number;
  readonly items: RespValue[];
}

/** `latin1Slice`/`utf8Slice` are the methods behind `toString(…)`, without the encoding lookup. */
interface RawSlice {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

/** Decodes RESP2 and RESP3 replies. */
export class RespDecoder implements FrameDecoder<RespValue> {
  readonly #limits: RespLimits;
  /** The bytes of a header line that has not ended yet. */
  #partial: Buffer | undefined = undefined;
  #partialLength = 0;
  /** The bulk string whose bytes are being read, if any, and its type byte. */
  #bulk: Buffer | undefined = undefined;
  #bulkType = DOLLAR;
  /** Bytes of the bulk and its CRLF read so far (0 … size + 2). */
  #filled = 0;
  /** The aggregates the current reply is inside, outermost first. */
  #stack: Aggregate[] = [];
  /** Elements declared so far by the current reply's aggregates. */
  #elements = 0;

  constructor(limits: RespLimits) {
    this.#limits = limits;
  }

  feed(chunk: Buffer, onFrame: (frame: RespValue) => void): void {
    const length = chunk.length;
    let pos = 0;
    while (pos < length) {
      if (this.#bulk !== undefined) {
        pos = this.#fill(chunk, pos, onFrame);
        continue;
      }
      const nl = chunk.indexOf(LF, pos);
      if (nl === -1) {
        this.#keep(chunk, pos, length);
        return;
      }
      if (this.#partialLength > 0) {
        this.#keep(chunk, pos, nl);
        const line = this.#partial as Buffer;
        const end = this.#partialLength;
        this.#partialLength = 0;
        if (line.length > KEEP_LINE_BUFFER) this.#partial = undefined;
        this.#line(line, 0, end, onFrame);
      } else {
        this.#line(chunk, pos, nl, onFrame);
      }
      pos = nl + 1;
    }
  }

  /** Appends `chunk[from, to)` to the partial line, refusing to hold more than a line may have. */
  #keep(chunk: Buffer, from: number, to: number): void {
    const total = this.#partialLength + (to - from);
    // + 1: the CR of a line of exactly maxLineLength may already be here; + 1 more for the type byte.
    const max = this.#limits.maxLineLength + 2;
    if (total > max) throw this.#tooLong();
    let buf = this.#partial;
    if (buf === undefined || buf.length < total) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(64, total * 2), max));
      if (buf !== undefined) buf.copy(grown, 0, 0, this.#partialLength);
      this.#partial = buf = grown;
    }
    chunk.copy(buf, this.#partialLength, from, to);
    this.#partialLength = total;
  }

  /** Reads the line `buf[start, lf)` (`lf`: where its LF is): a value, or the header of one. */
  #line(buf: Buffer, start: number, lf: number, onFrame: (frame: RespValue) => void): void {
    const end = lf - 1; // where the CR must be
    if (end - start - 1 > this.#limits.maxLineLength) throw this.#tooLong();
    if (end <= start || buf[end] !== CR) {
      throw new ProtocolError(`RESP line not ended by CRLF: ${quote(buf, start, lf)}`);
    }
    const from = start + 1;
    // A CR inside a line is never sent by Redis: we are not reading RESP, or not from its start.
    if (buf.indexOf(CR, from) !== end) {
      throw new ProtocolError(`RESP line contains a bare CR: ${quote(buf, start, lf)}`);
    }
    const type = buf[start];
    switch (type) {
      case PLUS:
        return this.#value(simple(buf, from, end), onFrame);
      case MINUS:
        return this.#value(new RespError((buf as unknown as RawSlice).utf8Slice(from, end)), onFrame);
      case COLON:
        return this.#value(integer(buf, from, end, buf, start, lf), onFrame);
      case DOLLAR:
      case BANG:
      case EQUALS:
        return this.#startBulk(type, buf, start, lf, onFrame);
      case STAR:
      case PERCENT:
      case TILDE:
      case GT:
      case PIPE:
        return this.#startAggregate(type, buf, start, lf, onFrame);
      case UNDERSCORE:
        if (end !== from) throw malformed('null', buf, start, lf);
        return this.#value(null, onFrame);
      case HASH:
        if (end === from + 1 && buf[from] === 0x74) return this.#value(true, onFrame); // t
        if (end === from + 1 && buf[from] === 0x66) return this.#value(false, onFrame); // f
        throw malformed('boolean', buf, start, lf);
      case COMMA:
        return this.#value(double(buf, from, end, start, lf), onFrame);
      case LPAREN: {
        const text = (buf as unknown as RawSlice).latin1Slice(from, end);
        if (!/^-?\d+$/.test(text)) throw malformed('big number', buf, start, lf);
        return this.#value(BigInt(text), onFrame);
      }
      default:
        throw new ProtocolError(`unknown RESP type byte in ${quote(buf, start, lf)}`);
    }
  }

  /** Bytes held back waiting for the rest of a frame (a partial line, a partial bulk). */
  get buffered(): number {
    return this.#partialLength + (this.#bulk === undefined ? 0 : this.#filled);
  }

  /** `$<n>`, `!<n>`, `=<n>`: checks the size against the cap, then allocates the bulk once. */
  #startBulk(type: number, buf: Buffer, start: number, lf: number, onFrame: (frame: RespValue) => void) {
    const size = length(buf, start + 1, lf - 1, start, lf);
    if (size === -1) {
      if (type !== DOLLAR) throw malformed('length', buf, start, lf);
      return this.#value(null, onFrame); // RESP2 null bulk string
    }
    this.#checkSize(size, 'a bulk string of', this.#limits.maxBulkSize, 'maxBulkSize');
    if (type === EQUALS && size < 4) throw malformed('verbatim string', buf, start, lf);
    this.#bulk = Buffer.allocUnsafe(size);
    this.#bulkType = type;
    this.#filled = 0;
  }

  /** `*<n>`, `%<n>`, `~<n>`, `><n>`, `|<n>`: checks the count and the depth before anything is kept. */
  #startAggregate(
    type: number,
    buf: Buffer,
    start: number,
    lf: number,
    onFrame: (frame: RespValue) => void,
  ): void {
    const n = length(buf, start + 1, lf - 1, start, lf);
    if (n === -1) {
      if (type !== STAR) throw malformed('length', buf, start, lf);
      return this.#value(null, onFrame); // RESP2 null array
    }
    if (type === GT && this.#stack.length > 0) {
      throw new ProtocolError('RESP push inside another reply');
    }
    const count = type === PERCENT || type === PIPE ? 2 * n : n;
    const elements = this.#elements + count;
    this.#checkSize(elements, 'a reply of', this.#limits.maxElements, 'maxElements', 'elements');
    if (count === 0) return this.#value(finish(type, []), onFrame, type);
    if (this.#stack.length >= this.#limits.maxDepth) {
      throw new ProtocolError(`RESP reply nested deeper than maxDepth ${this.#limits.maxDepth}`);
    }
    this.#elements = elements;
    this.#stack.push({ type, remaining: count, items: [] });
  }

  /** Copies what `chunk` holds of the pending bulk; hands the value on once its CRLF is read. */
  #fill(chunk: Buffer, pos: number, onFrame: (frame: RespValue) => void): number {
    const bulk = this.#bulk as Buffer;
    const size = bulk.length;
    const next = fillBlock(bulk, this.#filled, chunk, pos);
    if (next === BAD_TERMINATOR) {
      throw new ProtocolError(`RESP bulk string of ${size} bytes not followed by CRLF`);
    }
    this.#filled += next - pos;
    if (this.#filled < size + 2) return next;
    this.#bulk = undefined;
    this.#filled = 0;
    let value: RespValue = bulk;
    if (this.#bulkType === BANG) {
      value = new RespError(bulk.toString('utf8'));
    } else if (this.#bulkType === EQUALS) {
      if (bulk[3] !== COLON) throw new ProtocolError('RESP verbatim string without its format');
      value = new VerbatimString(bulk.toString('latin1', 0, 3), bulk.subarray(4));
    }
    this.#value(value, onFrame);
    return next;
  }

  /**
   * A complete value: into the aggregate it belongs to, closing every aggregate it completes, or out
   * as a frame. `type` is the aggregate type of `value` when it is one (for pushes and attributes).
   */
  #value(value: RespValue, onFrame: (frame: RespValue) => void, type = 0): void {
    const stack = this.#stack;
    for (;;) {
      // An attribute describes the value after it; it is not one of its parent's elements.
      if (type === PIPE) return;
      const top = stack[stack.length - 1];
      if (top === undefined) {
        this.#elements = 0;
        if (type !== GT) onFrame(value);
        return;
      }
      top.items.push(value);
      if (--top.remaining > 0) return;
      stack.pop();
      type = top.type;
      value = finish(type, top.items);
    }
  }

  #checkSize(n: number, what: string, cap: number, name: string, unit = 'bytes'): void {
    if (n > cap) {
      const shown = n >= Number.MAX_SAFE_INTEGER ? 'an absurd number of' : String(n);
      throw new ResponseTooLargeError(`RESP reply declares ${what} ${shown} ${unit}, over ${name} ${cap}`);
    }
  }

  #tooLong(): ProtocolError {
    return new ProtocolError(`RESP line longer than maxLineLength ${this.#limits.maxLineLength}`);
  }
}

/** The value of a completed aggregate. */
function finish(type: number, items: RespValue[]): RespValue {
  switch (type) {
    case PERCENT: {
      const map = new Map<RespValue, RespValue>();
      for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
      return map;
    }
    case TILDE:
      return new Set(items);
    default:
      return items; // array; a push or attribute is dropped by the caller
  }
}

/** A simple string; the common ones are shared constants. */
function simple(buf: Buffer, from: number, end: number): string {
  if (end - from === 2 && buf[from] === 0x4f && buf[from + 1] === 0x4b) return 'OK';
  return (buf as unknown as RawSlice).utf8Slice(from, end);
}

/** `:<n>`: an optional minus and 1–19 digits, as a bigint. */
function integer(buf: Buffer, from: number, end: number, line: Buffer, start: number, lf: number): bigint {
  let i = from;
  const negative = buf[i] === MINUS;
  if (negative) i++;
  const digits = end - i;
  if (digits < 1 || digits > 19) throw malformed('integer', line, start, lf);
  let n = 0;
  for (; i < end; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) throw malformed('integer', line, start, lf);
    n = n * 10 + d;
  }
  if (digits <= 15) return BigInt(negative ? -n : n);
  return BigInt((buf as unknown as RawSlice).latin1Slice(from, end)); // exact past 2^53
}

/** A length or count: `-1` (null), or digits; a number past every cap is returned as such. */
function length(buf: Buffer, from: number, end: number, start: number, lf: number): number {
  if (end - from === 2 && buf[from] === MINUS && buf[from + 1] === 0x31) return -1;
  if (end === from) throw malformed('length', buf, start, lf);
  let n = 0;
  for (let i = from; i < end; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) throw malformed('length', buf, start, lf);
    n = n * 10 + d;
  }
  return Math.min(n, Number.MAX_SAFE_INTEGER);
}

/** `,<double>`: decimal, exponent, `inf`, `-inf`, `nan`. */
function double(buf: Buffer, from: number, end: number, start: number, lf: number): number {
  const text = (buf as unknown as RawSlice).latin1Slice(from, end);
  switch (text) {
    case 'inf':
    case '+inf':
      return Infinity;
    case '-inf':
      return -Infinity;
    case 'nan':
    case '-nan':
      return NaN;
  }
  if (!DOUBLE.test(text)) throw malformed('double', buf, start, lf);
  return Number(text);
}

function malformed(what: string, buf: Buffer, start: number, lf: number): ProtocolError {
  return new ProtocolError(`malformed RESP ${what}: ${quote(buf, start, lf)}`);
}

/** At most 40 bytes of a line, unprintable ones escaped, for an error message. */
export function quote(buf: Buffer, start: number, end: number): string {
  const cut = Math.min(end, start + 40);
  let out = '';
  for (let i = start; i < cut; i++) {
    const c = buf[i];
    out += c < 0x20 || c >= 0x7f ? `\\x${c.toString(16).padStart(2, '0')}` : String.fromCharCode(c);
  }
  return `"${out}"${cut < end ? '…' : ''}`;
}
