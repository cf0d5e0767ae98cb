/**
 * One decoded reply: a status line and, after `VA`, its data block. Returned flags are read from
 * the line on demand, so a frame costs one string and (for `VA`) one Buffer; their syntax was
 * checked once by the decoder ({@link wellFormedFlags}), so reading them cannot fail.
 */

/** `opaque` of a frame whose `O` token is not a canonical decimal of at most 9 digits. */
export const FOREIGN_OPAQUE = -2;

/**
 * What the decoder's one pass over a line's returned flags ({@link wellFormedFlags}) found, read by
 * correlation and by the Item builder without scanning the line again. Filled per line; the decoder
 * copies it into the frame.
 */
export interface ScannedFlags {
  /** The `O` token as a number; -1 without one; -2 when not one the codec writes (not canonical decimal of at most 9 digits). */
  opaque: number;
  /** Where the `k` token starts (after the letter), or -1. */
  keyAt: number;
  /** The `f` token (client flags), 0 without one. */
  clientFlags: number;
  /** Where the `c` token starts (after the letter), or -1. */
  casAt: number;
}

/** The scan of the last line {@link wellFormedFlags} checked (one at a time: the decoder is synchronous). */
export const scanned: ScannedFlags = { opaque: -1, keyAt: -1, clientFlags: 0, casAt: -1 };

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

  constructor(
    /**
     * The first token of the line: `VA HD EN NF NS EX MN ME VERSION OK STAT END STORED RESET PREFIX
     * ERROR CLIENT_ERROR SERVER_ERROR` (every line starting with `ERROR` has status `ERROR`).
     */
    readonly status: string,
    /** The whole line without its CRLF, one character per byte (latin1). */
    readonly line: string,
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
    if (scan === undefined) {
      scan = { opaque: -1, keyAt: -1, clientFlags: 0, casAt: -1 };
      if (isMetaStatus(status) && line.length > 2) {
        const start = status === 'VA' ? nextSpace(line, 3) : 2;
        if (wellFormedFlags(line, start)) scan = scanned;
      }
    }
    this.opaque = scan.opaque;
    this.keyAt = scan.keyAt;
    this.clientFlags = scan.clientFlags;
    this.casAt = scan.casAt;
  }
}

/** The frame of a bare status line (`HD`, `EN`…): nothing to scan. */
export const BARE: ScannedFlags = Object.freeze({ opaque: -1, keyAt: -1, clientFlags: 0, casAt: -1 });

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
  const line = frame.line;
  const end = nextSpace(line, at);
  // Through a Number when exact (up to 15 digits): parsing a BigInt from a string is slow.
  return end - at <= 15 ? BigInt(digits(line, at, end)) : BigInt(line.slice(at, end));
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
function digits(line: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + line.charCodeAt(i) - 0x30;
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
 * Checks the returned flags of a meta line from `i` on: single-space separated tokens, each a letter
 * seen once, with a well-formed number for the numeric ones. `k` and `O` tokens are free-form (a key
 * is echoed raw). One pass of `charCodeAt`: this runs for every reply.
 */
export function wellFormedFlags(line: string, i: number): boolean {
  let upper = 0;
  let lower = 0;
  const n = line.length;
  const scan = scanned;
  scan.opaque = -1;
  scan.keyAt = -1;
  scan.clientFlags = 0;
  scan.casAt = -1;
  while (i < n) {
    if (line.charCodeAt(i) !== 0x20 || i + 1 >= n) return false;
    const c = line.charCodeAt(i + 1);
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
        i = boundedDigitsEnd(line, from, n, MAX_U32);
        if (i !== -1) scan.clientFlags = digits(line, from, i);
        break;
      case 0x63 /* c */:
        i = boundedDigitsEnd(line, from, n, MAX_U64);
        scan.casAt = from;
        break;
      case 0x4f /* O */:
        i = nextSpace(line, from);
        scan.opaque = opaqueValue(line, from, i);
        continue;
      case 0x6b /* k */:
        scan.keyAt = from;
        i = nextSpace(line, from);
        continue;
      case 0x73 /* s */:
      case 0x6c /* l */:
        i = digitsEnd(line, from, n);
        break;
      case 0x74 /* t */:
        // `t-1`: no expiry.
        i =
          line.charCodeAt(from) === 0x2d && line.charCodeAt(from + 1) === 0x31
            ? from + 2
            : digitsEnd(line, from, n);
        break;
      case 0x68 /* h */:
        i = line.charCodeAt(from) === 0x30 || line.charCodeAt(from) === 0x31 ? from + 1 : -1;
        break;
      case 0x62 /* b */:
      case 0x57 /* W */:
      case 0x58 /* X */:
      case 0x5a /* Z */:
        i = from;
        break;
      default:
        i = nextSpace(line, from);
        continue;
    }
    // The token must end here.
    if (i === -1 || (i < n && line.charCodeAt(i) !== 0x20)) return false;
  }
  return true;
}

/** The opaque in `line[from, to)` if it is canonical decimal of 1 to 9 digits (as the encoder writes), else {@link FOREIGN_OPAQUE}. */
function opaqueValue(line: string, from: number, to: number): number {
  const n = to - from;
  if (n === 0 || n > 9 || (n > 1 && line.charCodeAt(from) === 0x30)) return FOREIGN_OPAQUE;
  let v = 0;
  for (let i = from; i < to; i++) {
    const d = line.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return FOREIGN_OPAQUE;
    v = v * 10 + d;
  }
  return v;
}

const MAX_U32 = '4294967295';
const MAX_U64 = '18446744073709551615';

/** {@link digitsEnd}, and -1 when the number is over `max` (decimal, no leading zeros). */
function boundedDigitsEnd(line: string, from: number, n: number, max: string): number {
  const end = digitsEnd(line, from, n);
  if (end === -1 || end - from < max.length) return end;
  // Leading zeros would make a long token of a small number; memcached never writes them.
  if (end - from > max.length || line.slice(from, end) > max) return -1;
  return end;
}

/** The end of 1 to 20 decimal digits starting at `from` (an unsigned 64-bit number), or -1. */
function digitsEnd(line: string, from: number, n: number): number {
  let i = from;
  while (i < n) {
    const c = line.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    i++;
  }
  return i === from || i - from > 20 ? -1 : i;
}
