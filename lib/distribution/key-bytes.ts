/**
 * A key's UTF-8 bytes, written into one scratch buffer that every distribution shares.
 *
 * Distributions hash the bytes memcached sees, so a key is hashed over its UTF-8 encoding. `pick()` is on
 * the path of every request: it must not allocate a Buffer per key. One scratch per module instance is
 * safe because `pick()` is synchronous and a worker thread loads its own instance of this module.
 */

/** The shared scratch: `bytes` and `words` view the same memory and are replaced together when it grows. */
export interface Scratch {
  bytes: Buffer;
  /** 32-bit words in platform byte order (MD5 reads its blocks through this view). */
  words: Int32Array;
}

/** Keys up to this many UTF-16 units are copied by a JS loop when ASCII; longer ones by `Buffer#write`. */
const SHORT_KEY = 24;
const INITIAL_SIZE = 1024;

/** The scratch every distribution writes keys into; grows to fit the longest key seen, never shrinks. */
export const scratch: Scratch = allocate(INITIAL_SIZE);

function allocate(size: number): Scratch {
  // Its own ArrayBuffer (not Node's shared pool) so that the Int32Array view is 4-byte aligned.
  const memory = new ArrayBuffer(size);
  return { bytes: Buffer.from(memory), words: new Int32Array(memory) };
}

/**
 * Writes `key` as UTF-8 at the start of {@link scratch}, with at least `slack` free bytes after it (MD5
 * pads in place), and returns its length in bytes.
 */
export function writeKey(key: string, slack: number): number {
  const n = key.length;
  // A UTF-16 unit never takes more than 3 UTF-8 bytes (a surrogate pair takes 4 for 2 units).
  const needed = n * 3 + slack;
  if (needed > scratch.bytes.length) grow(needed);
  const bytes = scratch.bytes;
  // ASCII fast path: for short keys a plain loop beats the call into C++ (measured ~12 ns against
  // ~60 ns for a 5-character key); past ~25 characters the native encoder wins.
  if (n <= SHORT_KEY) {
    let i = 0;
    for (; i < n; i++) {
      const c = key.charCodeAt(i);
      if (c > 0x7f) break;
      bytes[i] = c;
    }
    if (i === n) return n;
  }
  // Not TextEncoder.encodeInto: it allocates a result object per call. Lone surrogates become U+FFFD,
  // as in Buffer.from(key) and on the wire.
  return bytes.write(key, 0, 'utf8');
}

function grow(needed: number): void {
  let size = scratch.bytes.length;
  while (size < needed) size *= 2;
  const next = allocate(size);
  scratch.bytes = next.bytes;
  scratch.words = next.words;
}
