/**
 * The one pass over a reply line's returned flags that the decoder makes for every reply
 * ({@link scanFlags}): it checks their syntax and reads the few every reply needs (opaque, key
 * position, client flags, CAS, win) as numbers, so that reading them later cannot fail.
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

/** The frame of a bare status line (`HD`, `EN`…): nothing to scan. */
export const BARE: ScannedFlags = Object.freeze(noFlags());

/** The decimal number in `buf[from, to)` (checked to be digits). */
function digits(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + buf[i] - 0x30;
  return n;
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

/** The line {@link readHitLine} read: its flags, and the size of the value that follows. */
export interface HitLine extends ScannedFlags {
  size: number;
}

/** What {@link readHitLine} read last (one line at a time, like {@link scanned}). */
export const hitLine: HitLine = { ...noFlags(), size: 0 };

/** The digits of a token read by {@link readHitLine}: at most this many (more go the general way). */
const HIT_DIGITS = 9;
/** The digits of a CAS read by {@link readHitLine}: a Number is exact up to 15. */
const HIT_CAS_DIGITS = 15;

/**
 * The line of a read's hit exactly as the codec asks for it, `VA <size> f<flags> c<cas>
 * O<opaque>\r\n` for a plain read and `VA <size> f<flags> c<cas> k<key> O<opaque>\r\n` for a
 * getMulti item, at `buf[pos]` (whose `V` the caller has seen), read in one pass with no search
 * for its end: the busiest lines there are. Fills {@link hitLine} and returns where the value starts,
 * or -1 when the line is anything else, flags in another order or longer numbers included, or does
 * not end in `buf`: then the general path ({@link scanFlags}) reads it, and has the last word.
 */
export function readHitLine(buf: Buffer, pos: number): number {
  if (buf[pos + 1] !== 0x41 || buf[pos + 2] !== 0x20) return -1;
  let i = digitRun(buf, pos + 3);
  const size = run;
  if (i === pos + 3 || i - pos - 3 > HIT_DIGITS || buf[i] !== 0x20 || buf[i + 1] !== 0x66) return -1;
  const flagsAt = i + 2;
  i = digitRun(buf, flagsAt);
  const flags = run;
  if (i === flagsAt || i - flagsAt > HIT_DIGITS || buf[i] !== 0x20 || buf[i + 1] !== 0x63) return -1;
  const casAt = i + 2;
  i = digitRun(buf, casAt);
  const cas = run;
  if (i === casAt || i - casAt > HIT_CAS_DIGITS || buf[i] !== 0x20) return -1;
  // A getMulti item's hit echoes its key: printable bytes up to a space (see keys.ts).
  let keyAt = -1;
  if (buf[i + 1] === 0x6b) {
    keyAt = i += 2;
    for (let c = buf[i]; c > 0x20 && c !== 0x7f; c = buf[++i]);
    if (buf[i] !== 0x20) return -1;
  }
  if (buf[i + 1] !== 0x4f) return -1;
  const opaqueAt = i + 2;
  i = digitRun(buf, opaqueAt);
  const digits = i - opaqueAt;
  // Canonical decimal only, as the encoder writes it (see opaqueValue).
  if (digits === 0 || digits > HIT_DIGITS || (digits > 1 && buf[opaqueAt] === 0x30)) return -1;
  if (buf[i] !== 0x0d || buf[i + 1] !== 0x0a) return -1;
  const hit = hitLine;
  hit.size = size;
  hit.opaque = run;
  hit.clientFlags = flags;
  hit.casAt = casAt - pos;
  hit.cas = cas;
  hit.keyAt = keyAt === -1 ? -1 : keyAt - pos;
  return i + 2;
}

/** The value of the digits {@link digitRun} read last. */
let run = 0;

/** Where the decimal digits from `buf[i]` on end (`i` when there are none); their value goes to {@link run}. */
function digitRun(buf: Buffer, i: number): number {
  let n = 0;
  for (let c = buf[i]; c >= 0x30 && c <= 0x39; c = buf[++i]) n = n * 10 + c - 0x30;
  run = n;
  return i;
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
