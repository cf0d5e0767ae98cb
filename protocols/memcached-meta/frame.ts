/**
 * One decoded reply: a status line and, after `VA`, its data block. Returned flags are read from
 * the line on demand; their syntax was checked once by the decoder (flag-scan.ts), which also
 * read the few every reply needs (opaque, key position, client flags, CAS), so reading them cannot
 * fail.
 *
 * A frame the decoder makes is a view of the bytes it was read from while it is being correlated:
 * its {@link MetaFrame.line} string is made only if someone reads it, or when the frame outlives the
 * decoder's callback ({@link MetaFrame.settle}). A get's reply, turned into an Item, never makes one.
 */
import { BARE, latin1, scanned, wellFormedFlags, type ScannedFlags } from './flag-scan.js';

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
    const src = this.#src;
    if (src === undefined) {
      const line = this.#line;
      if (!line.startsWith(token, at)) return false;
      const end = at + token.length;
      if (end === line.length) return true;
      if (line.charCodeAt(end) !== 0x20) return false;
      return !(
        line.charCodeAt(end + 1) === 0x62 &&
        (end + 2 === line.length || line.charCodeAt(end + 2) === 0x20)
      );
    }
    return keyTokenIs(src, this.#from + at, this.#to, token);
  }

  /** The frame's life ends here (it became an Item): its line will never be read. */
  spend(): void {
    this.#src = undefined;
  }
}

/** Statuses whose line carries returned flags (`ME` carries `k=v` pairs instead). */
export function isMetaStatus(status: string): boolean {
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

/** The index of the next space at or after `from`, or the line's length. */
export function nextSpace(line: string, from: number): number {
  const sp = line.indexOf(' ', from);
  return sp === -1 ? line.length : sp;
}

/**
 * Whether the line bytes `src[…, to)` hold exactly `token` at `at`, as a whole token not marked
 * base64 (` b`): a text key's echo, compared without making a string ({@link MetaFrame.keyIs}).
 */
export function keyTokenIs(src: Buffer, at: number, to: number, token: string): boolean {
  const n = token.length;
  const end = at + n;
  if (end > to) return false;
  for (let i = 0; i < n; i++) if (src[at + i] !== token.charCodeAt(i)) return false;
  if (end === to) return true;
  if (src[end] !== 0x20) return false;
  return !(src[end + 1] === 0x62 && (end + 2 === to || src[end + 2] === 0x20));
}
