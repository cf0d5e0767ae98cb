/**
 * Reading a data block whose length a reply announced, followed by CRLF, from chunks as they come.
 * Both protocols on the engine have one (memcached's `VA <size>` value, RESP's `$<n>` bulk string);
 * this is the one copy of the byte work. The block's bytes may hold CRLF: they are read by length,
 * and only the terminator is checked.
 */

/** What {@link fillBlock} returns when the bytes after the block are not CRLF. */
export const BAD_TERMINATOR = -1;

const CR = 0x0d;
const LF = 0x0a;

/**
 * Copies what `chunk` holds, from `pos`, of `block` (of which `filled` bytes are read; its CRLF
 * counts as two more) and returns the position after what it took: the caller's `filled` grows by
 * as much as the position moved, and the block is complete once `filled` is `block.length + 2`.
 * Returns {@link BAD_TERMINATOR} when the bytes after the block are not CRLF (the caller throws its
 * protocol's error). Allocates nothing.
 */
export function fillBlock(block: Buffer, filled: number, chunk: Buffer, pos: number): number {
  const size = block.length;
  if (filled < size) {
    const n = Math.min(size - filled, chunk.length - pos);
    if (n > 32) {
      chunk.copy(block, filled, pos, pos + n);
    } else {
      // Buffer#copy costs a view allocation; a loop is faster for the many small values.
      for (let i = 0; i < n; i++) block[filled + i] = chunk[pos + i];
    }
    filled += n;
    pos += n;
  }
  while (filled < size + 2 && pos < chunk.length) {
    if (chunk[pos] !== (filled === size ? CR : LF)) return BAD_TERMINATOR;
    filled++;
    pos++;
  }
  return pos;
}
