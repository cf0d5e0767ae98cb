/**
 * Reading a reply's returned flags: all of them as a {@link ReturnedFlags} record, or one token, the
 * CAS, or whether an empty value is a lease placeholder. The decoder checked their syntax
 * (flag-scan.ts), so none of these can fail.
 */
import { isMetaStatus, nextSpace, type MetaFrame } from './frame.js';

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
