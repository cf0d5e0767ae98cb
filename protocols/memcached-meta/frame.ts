/**
 * One decoded reply: a status line and, after `VA`, its data block. Returned flags are read from
 * the line on demand; their syntax was checked once by the decoder ({@link scanFlags}), which also
 * read the few every reply needs (opaque, key position, client flags, CAS), so reading them cannot
 * fail.
 *
 * A frame the decoder makes is a view of the bytes it was read from while it is being correlated:
 * its {@link MetaFrame.line} string is made only if someone reads it, or when the frame outlives the
 * decoder's callback ({@link MetaFrame.settle}). A get's reply, turned into an Item, never makes one.
 */

/** `opaque` of a frame whose `O` token is not a canonical decimal of at most 9 digits. */
export const FOREIGN_OPAQUE = -2;

/** `latin1Slice` is the method behind `toString('latin1', …)`, without the encoding lookup. */
interface RawSlice {
  latin1Slice(start: number, end: number): string;
}

/** The bytes `buf[from, to)` as a string, one character per byte. */
export function latin1(buf: Buffer, from: number, to: number): string {
  return (buf as unknown as RawSlice).latin1Slice(from, to);
}

/**
 * What the decoder's one pass over a line's returned flags ({@link scanFlags}) found, read by
 * correlation and by the Item builder without scanning the line again. Filled per line; the decoder
 * copies it into the frame.
 */
export interface ScannedFlags {
  /** The `O` token as a number; -1 without one; -2 when not one the codec writes (not canonical decimal of at most 9 digits). */
  opaque: number;
  /** Where the `k` token starts in the line (after the letter), or -1. */
  keyAt: number;
  /** The `f` token (client flags), 0 without one. */
  clientFlags: number;
  /** Where the `c` token starts in the line (after the letter), or -1. */
  casAt: number;
  /** The `c` token as a Number when it has at most 15 digits (exact), else -1. */
  cas: number;
  /** The line carries `W`: this read won the right to recompute the item. */
  win: boolean;
}

/** The scan of the last line {@link scanFlags} checked (one at a time: the decoder is synchronous). */
export const scanned: ScannedFlags = noFlags();

/** A scan that found nothing: no opaque, key, client flags, CAS or win. */
export function noFlags(): ScannedFlags {
  return { opaque: -1, keyAt: -1, clientFlags: 0, casAt: -1, cas: -1, win: false };
}

/** A reply line and its value. */
export class MetaFrame {
  /** The `O` token as a number; -1 without one; -2 when not one the codec writes (not canonical decimal of at most 9 digits). */
  readonly opaque: number;
  /** Where the `k` token starts in {@link line} (after the letter), or -1. */
  readonly keyAt: number;
  /** The `f` token (client flags), 0 without one. */
  readonly clientFlags: number;
  /** Where the `c` token starts in {@link line} (after the letter), or -1. */
  readonly casAt: number;
  /** The `c` token as a Number when it has at most 15 digits, else -1 (see `casOf`). */
  readonly cas: number;
  /** The line carries `W`: this read won the right to recompute the item. */
  readonly win: boolean;
  #line: string;
  /** While a view: the bytes the line is read from, `[#from, #to)`. */
  #src: Buffer | undefined = undefined;
  #from = 0;
  #to = 0;

  constructor(
    /**
     * The first token of the line: `VA HD EN NF NS EX MN ME VERSION OK STAT END STORED RESET PREFIX
     * ERROR CLIENT_ERROR SERVER_ERROR` (every line starting with `ERROR` has status `ERROR`).
     */
    readonly status: string,
    /** The whole line without its CRLF, one character per byte (latin1). */
    line: string,
    /** The data block of a `VA`, without its CRLF; `undefined` for every other status. */
    readonly value: Buffer | undefined,
    /**
     * For a `VA` whose value was over `maxValueSize`: its size. The decoder read past the data block
     * without holding it, and `value` is `undefined`. -1 for every other frame.
     */
    readonly skipped: number = -1,
    /** The decoder's scan of the flags; scanned here when not given. */
    scan?: ScannedFlags,
  ) {
    this.#line = line;
    if (scan === undefined) {
      scan = BARE;
      if (isMetaStatus(status) && line.length > 2) {
        const start = status === 'VA' ? nextSpace(line, 3) : 2;
        if (wellFormedFlags(line, start)) scan = scanned;
      }
    }
    this.opaque = scan.opaque;
    this.keyAt = scan.keyAt;
    this.clientFlags = scan.clientFlags;
    this.casAt = scan.casAt;
    this.cas = scan.cas;
    this.win = scan.win;
  }

  /**
   * A frame whose line is `src[from, to)`, made into a string only when read. `src` must not change
   * until {@link settle} is called: the decoder calls it once its callback returns.
   */
  static view(
    status: string,
    src: Buffer,
    from: number,
    to: number,
    value: Buffer | undefined,
    scan: ScannedFlags,
  ): MetaFrame {
    const frame = new MetaFrame(status, '', value, -1, scan);
    frame.#src = src;
    frame.#from = from;
    frame.#to = to;
    return frame;
  }

  /** The whole line without its CRLF, one character per byte (latin1). */
  get line(): string {
    const src = this.#src;
    if (src !== undefined) {
      this.#line = latin1(src, this.#from, this.#to);
      this.#src = undefined;
    }
    return this.#line;
  }

  /**
   * The decoder is done with the bytes this frame was read from, and they are a large chunk: a frame
   * that may outlive the callback makes its line string now, unless {@link spend} said nobody will
   * read it. Socket chunks are never written again, so a frame left as a view reads the same line.
   */
  settle(): void {
    if (this.#src !== undefined) void this.line;
  }

  /**
   * Whether the `k` token is exactly `token` (an ASCII key as sent) and not marked base64 (` b`),
   * compared against the line's bytes without making the line a string. `false` means only that
   * this quick test did not match: other forms (a base64 echo of a text key…) need `keyMatches`.
   */
  keyIs(token: string): boolean {
    const at = this.keyAt;
    if (at === -1) return false;
    const n = token.length;
    const src = this.#src;
    if (src === undefined) {
      const line = this.#line;
      if (!line.startsWith(token, at)) return false;
      const end = at + n;
      if (end === line.length) return true;
      if (line.charCodeAt(end) !== 0x20) return false;
      return !(
        line.charCodeAt(end + 1) === 0x62 &&
        (end + 2 === line.length || line.charCodeAt(end + 2) === 0x20)
      );
    }
    const start = this.#from + at;
    const to = this.#to;
    const end = start + n;
    if (end > to) return false;
    for (let i = 0; i < n; i++) if (src[start + i] !== token.charCodeAt(i)) return false;
    if (end === to) return true;
    if (src[end] !== 0x20) return false;
    return !(src[end + 1] === 0x62 && (end + 2 === to || src[end + 2] === 0x20));
  }

  /** The frame's life ends here (it became an Item): its line will never be read. */
  spend(): void {
    this.#src = undefined;
  }
}

/** The frame of a bare status line (`HD`, `EN`…): nothing to scan. */
export const BARE: ScannedFlags = Object.freeze(noFlags());

/** The returned flags of a meta reply, parsed. */
export interface ReturnedFlags {
  /** `f`: client flags. */
  f?: number;
  /** `c`: CAS, as a bigint (a Number loses precision past 2^53: docs/reliability.md). */
  c?: bigint;
  /**
   * `t`: remaining TTL in seconds; -1 = never expires; -2 = already expired (the server prints a
   * negative remaining TTL unsigned, so a value ≥ 2^31 means expired: docs/meta-protocol.md).
   */
  t?: number;
  /** `s`: value size in bytes. */
  s?: number;
  /** `k`: the key token as sent by the server (latin1; see `decodeReturnedKey`). */
  k?: string;
  /** A bare `b` followed `k`: the key token is base64. */
  kBase64: boolean;
  /** `O`: the opaque (may be empty). */
  O?: string;
  /** `h`: whether the item had been fetched before this request. */
  h?: boolean;
  /** `l`: seconds since the last access, before this request. */
  l?: number;
  /** `W`: this client won the right to recache. */
  W: boolean;
  /** `X`: the item is stale. */
  X: boolean;
  /** `Z`: another client already won the right to recache. */
  Z: boolean;
}

/** Where the returned flags of `frame` start (after the status, and after the size for `VA`). */
export function flagsStart(frame: MetaFrame): number {
  const line = frame.line;
  if (line.length <= 2 || !isMetaStatus(frame.status)) return line.length;
  if (frame.status !== 'VA') return 2;
  const sp = line.indexOf(' ', 3);
  return sp === -1 ? line.length : sp;
}

/** Statuses whose line carries returned flags (`ME` carries `k=v` pairs instead). */
function isMetaStatus(status: string): boolean {
  switch (status) {
    case 'VA':
    case 'HD':
    case 'EN':
    case 'NF':
    case 'NS':
    case 'EX':
    case 'MN':
      return true;
    default:
      return false;
  }
}

/**
 * The client flags (`f`) and CAS (`c`) of a reply, written into `out`: the two every read needs,
 * without building a {@link ReturnedFlags} object or slicing tokens.
 */
export function itemFlags(frame: MetaFrame, out: { flags: number; cas: bigint }): void {
  out.flags = frame.clientFlags;
  out.cas = casOf(frame);
}

/** The CAS of a reply (`c`), 0n without one. */
export function casOf(frame: MetaFrame): bigint {
  const at = frame.casAt;
  if (at === -1) return 0n;
  // The decoder read a CAS of up to 15 digits as a Number: exact, and no string to parse.
  if (frame.cas >= 0) return BigInt(frame.cas);
  const line = frame.line;
  const end = nextSpace(line, at);
  // Through a Number when exact (up to 15 digits): parsing a BigInt from a string is slow.
  return end - at <= 15 ? BigInt(digitsOf(line, at, end)) : BigInt(line.slice(at, end));
}

/**
 * Whether a `VA` reply is a lease placeholder: the empty item `mg … N` creates for the caller that
 * won (`W`) while its loader runs, which every other reader is shown with `Z` (a win was handed out)
 * and without `X` (it is not a stale value being served). It holds no value and flags 0 until the
 * winner stores one or the lease expires, so every read takes it for a miss (docs/meta-protocol.md).
 * A stored empty value with flags 0 whose early refresh (`R`) is under way looks the same and is a
 * miss too for those few seconds. Only empty values are looked at, so a hit costs nothing more.
 */
export function isLeasePlaceholder(frame: MetaFrame): boolean {
  const value = frame.value;
  if (value === undefined || value.length !== 0) return false;
  const line = frame.line;
  // Only the flags `Z` and `X` start a token with those letters (each letter comes once).
  if (line.indexOf(' Z') === -1 || line.indexOf(' X') !== -1) return false;
  const out = { flags: 0, cas: 0n };
  itemFlags(frame, out);
  return out.flags === 0;
}

/** The decimal number in `line[from, to)` (the decoder has checked that the token is digits). */
function digitsOf(line: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + line.charCodeAt(i) - 0x30;
  return n;
}

/** The decimal number in `buf[from, to)` (checked to be digits). */
function digits(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + buf[i] - 0x30;
  return n;
}

/**
 * The token of returned flag `ch` (`"30"` for `t30`, `""` for a bare `W`), or `undefined` when the
 * reply does not carry it.
 */
export function flagToken(frame: MetaFrame, ch: string): string | undefined {
  const at = flagIndex(frame, ch);
  return at === -1 ? undefined : frame.line.slice(at, nextSpace(frame.line, at));
}

/** Where the token of returned flag `ch` starts in `frame.line` (just after the letter), or -1. */
export function flagIndex(frame: MetaFrame, ch: string): number {
  const line = frame.line;
  const code = ch.charCodeAt(0);
  // Tokens are separated by single spaces (the decoder checked): " t30 c5".
  for (let i = flagsStart(frame); i < line.length; i = nextSpace(line, i + 1)) {
    if (line.charCodeAt(i + 1) === code) return i + 2;
  }
  return -1;
}

/**
 * All returned flags of a meta reply. Numeric tokens were checked by the decoder (digits only,
 * bounded length), so parsing them cannot fail.
 */
export function returnedFlags(frame: MetaFrame): ReturnedFlags {
  const out: ReturnedFlags = { kBase64: false, W: false, X: false, Z: false };
  const line = frame.line;
  for (let i = flagsStart(frame); i < line.length;) {
    const end = nextSpace(line, i + 1);
    const token = line.slice(i + 2, end);
    switch (line.charCodeAt(i + 1)) {
      case 0x66 /* f */:
        out.f = Number(token);
        break;
      case 0x63 /* c */:
        // Through a Number when exact (up to 15 digits): parsing a BigInt from a string is slow.
        out.c = token.length <= 15 ? BigInt(Number(token)) : BigInt(token);
        break;
      case 0x74 /* t */: {
        const t = Number(token);
        out.t = t >= 2 ** 31 ? -2 : t;
        break;
      }
      case 0x73 /* s */:
        out.s = Number(token);
        break;
      case 0x6b /* k */:
        out.k = token;
        break;
      case 0x62 /* b */:
        out.kBase64 = true;
        break;
      case 0x4f /* O */:
        out.O = token;
        break;
      case 0x68 /* h */:
        out.h = token === '1';
        break;
      case 0x6c /* l */:
        out.l = Number(token);
        break;
      case 0x57 /* W */:
        out.W = true;
        break;
      case 0x58 /* X */:
        out.X = true;
        break;
      case 0x5a /* Z */:
        out.Z = true;
        break;
    }
    i = end;
  }
  return out;
}

/** The index of the next space at or after `from`, or the line's length. */
export function nextSpace(line: string, from: number): number {
  const sp = line.indexOf(' ', from);
  return sp === -1 ? line.length : sp;
}

/**
 * Checks the returned flags of a meta line from `i` on (a string: built frames, tests); see
 * {@link scanFlags}, which it runs over the line's bytes.
 */
export function wellFormedFlags(line: string, i: number): boolean {
  return scanFlags(Buffer.from(line, 'latin1'), i, line.length, 0);
}

/**
 * Checks the returned flags of the meta line `buf[lineStart, end)` from `i` on: single-space
 * separated tokens, each a letter seen once, with a well-formed number for the numeric ones. `k` and
 * `O` tokens are free-form (a key is echoed raw) but hold no CR. One pass over the bytes: this runs
 * for every reply, and fills {@link scanned} (positions relative to `lineStart`).
 */
export function scanFlags(buf: Buffer, i: number, end: number, lineStart: number): boolean {
  let upper = 0;
  let lower = 0;
  const scan = scanned;
  scan.opaque = -1;
  scan.keyAt = -1;
  scan.clientFlags = 0;
  scan.casAt = -1;
  scan.cas = -1;
  scan.win = false;
  while (i < end) {
    if (buf[i] !== 0x20 || i + 1 >= end) return false;
    const c = buf[i + 1];
    if (c >= 0x41 && c <= 0x5a) {
      const bit = 1 << (c - 0x41);
      if ((upper & bit) !== 0) return false;
      upper |= bit;
    } else if (c >= 0x61 && c <= 0x7a) {
      const bit = 1 << (c - 0x61);
      if ((lower & bit) !== 0) return false;
      lower |= bit;
    } else {
      return false;
    }
    const from = i + 2;
    switch (c) {
      case 0x66 /* f */:
        // Client flags are a u32 and CAS a u64 on every memcached: a larger number is not one.
        i = boundedDigitsEnd(buf, from, end, MAX_U32);
        if (i !== -1) scan.clientFlags = digits(buf, from, i);
        break;
      case 0x63 /* c */:
        i = boundedDigitsEnd(buf, from, end, MAX_U64);
        scan.casAt = from - lineStart;
        if (i !== -1 && i - from <= 15) scan.cas = digits(buf, from, i);
        break;
      case 0x4f /* O */:
        i = tokenEnd(buf, from, end);
        if (i === -1) return false;
        scan.opaque = opaqueValue(buf, from, i);
        continue;
      case 0x6b /* k */:
        scan.keyAt = from - lineStart;
        i = tokenEnd(buf, from, end);
        if (i === -1) return false;
        continue;
      case 0x73 /* s */:
      case 0x6c /* l */:
        i = digitsEnd(buf, from, end);
        break;
      case 0x74 /* t */:
        // `t-1`: no expiry.
        i =
          buf[from] === 0x2d && buf[from + 1] === 0x31 && from + 1 < end
            ? from + 2
            : digitsEnd(buf, from, end);
        break;
      case 0x68 /* h */:
        i = from < end && (buf[from] === 0x30 || buf[from] === 0x31) ? from + 1 : -1;
        break;
      case 0x62 /* b */:
      case 0x57 /* W */:
      case 0x58 /* X */:
      case 0x5a /* Z */:
        i = from;
        break;
      default:
        i = tokenEnd(buf, from, end);
        if (i === -1) return false;
        continue;
    }
    // The token must end here.
    if (i === -1 || (i < end && buf[i] !== 0x20)) return false;
  }
  scan.win = (upper & W_BIT) !== 0;
  return true;
}

/** `W`'s bit in scanFlags' set of the upper-case flags seen. */
const W_BIT = 1 << (0x57 - 0x41);

/** Where the free-form token at `from` ends (the next space, or `end`); -1 if it holds a CR. */
function tokenEnd(buf: Buffer, from: number, end: number): number {
  for (let i = from; i < end; i++) {
    const c = buf[i];
    if (c === 0x20) return i;
    if (c === 0x0d) return -1;
  }
  return end;
}

/** The opaque in `buf[from, to)` if it is canonical decimal of 1 to 9 digits (as the encoder writes), else {@link FOREIGN_OPAQUE}. */
function opaqueValue(buf: Buffer, from: number, to: number): number {
  const n = to - from;
  if (n === 0 || n > 9 || (n > 1 && buf[from] === 0x30)) return FOREIGN_OPAQUE;
  let v = 0;
  for (let i = from; i < to; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return FOREIGN_OPAQUE;
    v = v * 10 + d;
  }
  return v;
}

const MAX_U32 = '4294967295';
const MAX_U64 = '18446744073709551615';

/** {@link digitsEnd}, and -1 when the number is over `max` (decimal, no leading zeros). */
function boundedDigitsEnd(buf: Buffer, from: number, n: number, max: string): number {
  const end = digitsEnd(buf, from, n);
  if (end === -1 || end - from < max.length) return end;
  // Leading zeros would make a long token of a small number; memcached never writes them.
  if (end - from > max.length || latin1(buf, from, end) > max) return -1;
  return end;
}

/** The end of 1 to 20 decimal digits starting at `from` (an unsigned 64-bit number), or -1. */
function digitsEnd(buf: Buffer, from: number, n: number): number {
  let i = from;
  while (i < n) {
    const c = buf[i];
    if (c < 0x30 || c > 0x39) break;
    i++;
  }
  return i === from || i - from > 20 ? -1 : i;
}
