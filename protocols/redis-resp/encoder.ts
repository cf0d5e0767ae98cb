/**
 * Commands as RESP arrays of bulk strings: `*<n>\r\n` then `$<len>\r\n<bytes>\r\n` per argument.
 *
 * Every argument is length-prefixed, so no argument can end the command early or start another one:
 * whatever bytes a caller passes, they stay inside their own bulk string. A Buffer is written as is
 * (a large one is referenced by the write, not copied); its length is the Buffer's. A string is
 * written as UTF-8 and its length is its UTF-8 byte length, computed the way it is written (a lone
 * surrogate counts the three bytes of U+FFFD, which is what is written for it).
 */
import type { OutBuffer } from '../../lib/out-buffer.js';

/** One argument of a command. Numbers and bigints are sent in decimal. */
export type RedisArg = string | Buffer | Uint8Array | number | bigint;

/** Appends one command. The arguments were validated by the caller (finite numbers, no holes). */
export function encodeCommand(args: readonly RedisArg[], out: OutBuffer): void {
  out.latin1('*' + args.length + '\r\n');
  for (const arg of args) {
    if (typeof arg === 'string') {
      out.latin1('$' + Buffer.byteLength(arg, 'utf8') + '\r\n');
      out.utf8(arg);
      out.latin1('\r\n');
    } else if (typeof arg === 'number' || typeof arg === 'bigint') {
      const text = String(arg);
      out.latin1('$' + text.length + '\r\n' + text + '\r\n');
    } else {
      out.latin1('$' + arg.length + '\r\n');
      out.bytes(arg);
      out.latin1('\r\n');
    }
  }
}

/** Approximate bytes of one command on the wire, for the engine's queued-bytes bound. */
export function commandLength(args: readonly RedisArg[]): number {
  let n = 16;
  for (const arg of args) {
    // A string's UTF-8 length is at most 3 bytes per UTF-16 unit; `length` is close enough here.
    n += 16 + (typeof arg === 'string' || typeof arg === 'object' ? arg.length : 20);
  }
  return n;
}
