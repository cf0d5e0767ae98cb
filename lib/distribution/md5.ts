/**
 * MD5 (RFC 1321) of the key in the scratch buffer, reduced to what ketama needs: the first four digest
 * bytes as a little-endian 32-bit number (libhashkit's `hashkit_md5`).
 *
 * Why not `node:crypto`: on this path every call crosses into C++ and allocates its result. Measured on
 * Node 20 for ~30-byte keys, per key, including writing the key's bytes: `createHash().update()
 * .digest()` ~1,300 ns, `crypto.hash(.., 'buffer')` ~800 ns, `crypto.hash()` hex ~400 ns, this ~200 ns
 * (`test/lib/distribution/bench.ts`). It is unrolled because V8 runs the table-driven loop form about
 * 1.5 times slower, and calls to a per-step helper four times slower. The ring itself is built with
 * `node:crypto`, and the tests check the two against each other.
 */
import { createHash } from 'node:crypto';
import { scratch, writeKey } from './key-bytes.js';

/** Bytes MD5 may write after the message: 0x80, zero fill to 56 mod 64, 8 bytes of bit length. */
export const MD5_SLACK = 72;

// The block words are read through an Int32Array, which is in platform byte order; MD5's are
// little-endian. Big-endian platforms (s390x) take the node:crypto route instead.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Where {@link md5HeadInto} leaves its result. A number returned across a call V8 does not inline (and
 * this function is too large to inline) is boxed into a heap number when it does not fit a small
 * integer (31 bits signed): three hashes in four, an allocation each. A typed array slot holds it unboxed.
 */
export const md5Result = new Uint32Array(1);

/** The first 32 bits (little-endian) of the MD5 digest of `key`'s UTF-8 bytes. */
export function md5Head(key: string): number {
  md5HeadInto(key);
  return md5Result[0];
}

/** {@link md5Head} into `md5Result[0]`, without allocating: the form `pick()` uses. */
export function md5HeadInto(key: string): void {
  const length = writeKey(key, MD5_SLACK);
  if (LITTLE_ENDIAN) md5OfScratch(length);
  else md5Result[0] = createHash('md5').update(scratch.bytes.subarray(0, length)).digest().readUInt32LE(0);
}

/** MD5 of the first `length` bytes of the scratch buffer into `md5Result[0]`; pads in place after them. */
function md5OfScratch(length: number): void {
  const bytes = scratch.bytes;
  const words = scratch.words;
  // Padding: 0x80, zeros up to 8 bytes short of a 64-byte boundary, then the length in bits (64-bit LE).
  const end = (((length + 8) >>> 6) << 6) + 64;
  bytes[length] = 0x80;
  for (let i = length + 1; i < end - 8; i++) bytes[i] = 0;
  words[(end >> 2) - 2] = length << 3;
  words[(end >> 2) - 1] = length >>> 29;

  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  for (let o = 0; o < end >> 2; o += 16) {
    const x0 = words[o + 0];
    const x1 = words[o + 1];
    const x2 = words[o + 2];
    const x3 = words[o + 3];
    const x4 = words[o + 4];
    const x5 = words[o + 5];
    const x6 = words[o + 6];
    const x7 = words[o + 7];
    const x8 = words[o + 8];
    const x9 = words[o + 9];
    const x10 = words[o + 10];
    const x11 = words[o + 11];
    const x12 = words[o + 12];
    const x13 = words[o + 13];
    const x14 = words[o + 14];
    const x15 = words[o + 15];
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let t: number;
    // Round 1: F = (b & c) | (~b & d)
    t = (a + ((b & c) | (~b & d)) + x0 + 0xd76aa478) | 0;
    a = (((t << 7) | (t >>> 25)) + b) | 0;
    t = (d + ((a & b) | (~a & c)) + x1 + 0xe8c7b756) | 0;
    d = (((t << 12) | (t >>> 20)) + a) | 0;
    t = (c + ((d & a) | (~d & b)) + x2 + 0x242070db) | 0;
    c = (((t << 17) | (t >>> 15)) + d) | 0;
    t = (b + ((c & d) | (~c & a)) + x3 + 0xc1bdceee) | 0;
    b = (((t << 22) | (t >>> 10)) + c) | 0;
    t = (a + ((b & c) | (~b & d)) + x4 + 0xf57c0faf) | 0;
    a = (((t << 7) | (t >>> 25)) + b) | 0;
    t = (d + ((a & b) | (~a & c)) + x5 + 0x4787c62a) | 0;
    d = (((t << 12) | (t >>> 20)) + a) | 0;
    t = (c + ((d & a) | (~d & b)) + x6 + 0xa8304613) | 0;
    c = (((t << 17) | (t >>> 15)) + d) | 0;
    t = (b + ((c & d) | (~c & a)) + x7 + 0xfd469501) | 0;
    b = (((t << 22) | (t >>> 10)) + c) | 0;
    t = (a + ((b & c) | (~b & d)) + x8 + 0x698098d8) | 0;
    a = (((t << 7) | (t >>> 25)) + b) | 0;
    t = (d + ((a & b) | (~a & c)) + x9 + 0x8b44f7af) | 0;
    d = (((t << 12) | (t >>> 20)) + a) | 0;
    t = (c + ((d & a) | (~d & b)) + x10 + 0xffff5bb1) | 0;
    c = (((t << 17) | (t >>> 15)) + d) | 0;
    t = (b + ((c & d) | (~c & a)) + x11 + 0x895cd7be) | 0;
    b = (((t << 22) | (t >>> 10)) + c) | 0;
    t = (a + ((b & c) | (~b & d)) + x12 + 0x6b901122) | 0;
    a = (((t << 7) | (t >>> 25)) + b) | 0;
    t = (d + ((a & b) | (~a & c)) + x13 + 0xfd987193) | 0;
    d = (((t << 12) | (t >>> 20)) + a) | 0;
    t = (c + ((d & a) | (~d & b)) + x14 + 0xa679438e) | 0;
    c = (((t << 17) | (t >>> 15)) + d) | 0;
    t = (b + ((c & d) | (~c & a)) + x15 + 0x49b40821) | 0;
    b = (((t << 22) | (t >>> 10)) + c) | 0;
    // Round 2: G = (b & d) | (c & ~d)
    t = (a + ((b & d) | (c & ~d)) + x1 + 0xf61e2562) | 0;
    a = (((t << 5) | (t >>> 27)) + b) | 0;
    t = (d + ((a & c) | (b & ~c)) + x6 + 0xc040b340) | 0;
    d = (((t << 9) | (t >>> 23)) + a) | 0;
    t = (c + ((d & b) | (a & ~b)) + x11 + 0x265e5a51) | 0;
    c = (((t << 14) | (t >>> 18)) + d) | 0;
    t = (b + ((c & a) | (d & ~a)) + x0 + 0xe9b6c7aa) | 0;
    b = (((t << 20) | (t >>> 12)) + c) | 0;
    t = (a + ((b & d) | (c & ~d)) + x5 + 0xd62f105d) | 0;
    a = (((t << 5) | (t >>> 27)) + b) | 0;
    t = (d + ((a & c) | (b & ~c)) + x10 + 0x02441453) | 0;
    d = (((t << 9) | (t >>> 23)) + a) | 0;
    t = (c + ((d & b) | (a & ~b)) + x15 + 0xd8a1e681) | 0;
    c = (((t << 14) | (t >>> 18)) + d) | 0;
    t = (b + ((c & a) | (d & ~a)) + x4 + 0xe7d3fbc8) | 0;
    b = (((t << 20) | (t >>> 12)) + c) | 0;
    t = (a + ((b & d) | (c & ~d)) + x9 + 0x21e1cde6) | 0;
    a = (((t << 5) | (t >>> 27)) + b) | 0;
    t = (d + ((a & c) | (b & ~c)) + x14 + 0xc33707d6) | 0;
    d = (((t << 9) | (t >>> 23)) + a) | 0;
    t = (c + ((d & b) | (a & ~b)) + x3 + 0xf4d50d87) | 0;
    c = (((t << 14) | (t >>> 18)) + d) | 0;
    t = (b + ((c & a) | (d & ~a)) + x8 + 0x455a14ed) | 0;
    b = (((t << 20) | (t >>> 12)) + c) | 0;
    t = (a + ((b & d) | (c & ~d)) + x13 + 0xa9e3e905) | 0;
    a = (((t << 5) | (t >>> 27)) + b) | 0;
    t = (d + ((a & c) | (b & ~c)) + x2 + 0xfcefa3f8) | 0;
    d = (((t << 9) | (t >>> 23)) + a) | 0;
    t = (c + ((d & b) | (a & ~b)) + x7 + 0x676f02d9) | 0;
    c = (((t << 14) | (t >>> 18)) + d) | 0;
    t = (b + ((c & a) | (d & ~a)) + x12 + 0x8d2a4c8a) | 0;
    b = (((t << 20) | (t >>> 12)) + c) | 0;
    // Round 3: H = b ^ c ^ d
    t = (a + (b ^ c ^ d) + x5 + 0xfffa3942) | 0;
    a = (((t << 4) | (t >>> 28)) + b) | 0;
    t = (d + (a ^ b ^ c) + x8 + 0x8771f681) | 0;
    d = (((t << 11) | (t >>> 21)) + a) | 0;
    t = (c + (d ^ a ^ b) + x11 + 0x6d9d6122) | 0;
    c = (((t << 16) | (t >>> 16)) + d) | 0;
    t = (b + (c ^ d ^ a) + x14 + 0xfde5380c) | 0;
    b = (((t << 23) | (t >>> 9)) + c) | 0;
    t = (a + (b ^ c ^ d) + x1 + 0xa4beea44) | 0;
    a = (((t << 4) | (t >>> 28)) + b) | 0;
    t = (d + (a ^ b ^ c) + x4 + 0x4bdecfa9) | 0;
    d = (((t << 11) | (t >>> 21)) + a) | 0;
    t = (c + (d ^ a ^ b) + x7 + 0xf6bb4b60) | 0;
    c = (((t << 16) | (t >>> 16)) + d) | 0;
    t = (b + (c ^ d ^ a) + x10 + 0xbebfbc70) | 0;
    b = (((t << 23) | (t >>> 9)) + c) | 0;
    t = (a + (b ^ c ^ d) + x13 + 0x289b7ec6) | 0;
    a = (((t << 4) | (t >>> 28)) + b) | 0;
    t = (d + (a ^ b ^ c) + x0 + 0xeaa127fa) | 0;
    d = (((t << 11) | (t >>> 21)) + a) | 0;
    t = (c + (d ^ a ^ b) + x3 + 0xd4ef3085) | 0;
    c = (((t << 16) | (t >>> 16)) + d) | 0;
    t = (b + (c ^ d ^ a) + x6 + 0x04881d05) | 0;
    b = (((t << 23) | (t >>> 9)) + c) | 0;
    t = (a + (b ^ c ^ d) + x9 + 0xd9d4d039) | 0;
    a = (((t << 4) | (t >>> 28)) + b) | 0;
    t = (d + (a ^ b ^ c) + x12 + 0xe6db99e5) | 0;
    d = (((t << 11) | (t >>> 21)) + a) | 0;
    t = (c + (d ^ a ^ b) + x15 + 0x1fa27cf8) | 0;
    c = (((t << 16) | (t >>> 16)) + d) | 0;
    t = (b + (c ^ d ^ a) + x2 + 0xc4ac5665) | 0;
    b = (((t << 23) | (t >>> 9)) + c) | 0;
    // Round 4: I = c ^ (b | ~d)
    t = (a + (c ^ (b | ~d)) + x0 + 0xf4292244) | 0;
    a = (((t << 6) | (t >>> 26)) + b) | 0;
    t = (d + (b ^ (a | ~c)) + x7 + 0x432aff97) | 0;
    d = (((t << 10) | (t >>> 22)) + a) | 0;
    t = (c + (a ^ (d | ~b)) + x14 + 0xab9423a7) | 0;
    c = (((t << 15) | (t >>> 17)) + d) | 0;
    t = (b + (d ^ (c | ~a)) + x5 + 0xfc93a039) | 0;
    b = (((t << 21) | (t >>> 11)) + c) | 0;
    t = (a + (c ^ (b | ~d)) + x12 + 0x655b59c3) | 0;
    a = (((t << 6) | (t >>> 26)) + b) | 0;
    t = (d + (b ^ (a | ~c)) + x3 + 0x8f0ccc92) | 0;
    d = (((t << 10) | (t >>> 22)) + a) | 0;
    t = (c + (a ^ (d | ~b)) + x10 + 0xffeff47d) | 0;
    c = (((t << 15) | (t >>> 17)) + d) | 0;
    t = (b + (d ^ (c | ~a)) + x1 + 0x85845dd1) | 0;
    b = (((t << 21) | (t >>> 11)) + c) | 0;
    t = (a + (c ^ (b | ~d)) + x8 + 0x6fa87e4f) | 0;
    a = (((t << 6) | (t >>> 26)) + b) | 0;
    t = (d + (b ^ (a | ~c)) + x15 + 0xfe2ce6e0) | 0;
    d = (((t << 10) | (t >>> 22)) + a) | 0;
    t = (c + (a ^ (d | ~b)) + x6 + 0xa3014314) | 0;
    c = (((t << 15) | (t >>> 17)) + d) | 0;
    t = (b + (d ^ (c | ~a)) + x13 + 0x4e0811a1) | 0;
    b = (((t << 21) | (t >>> 11)) + c) | 0;
    t = (a + (c ^ (b | ~d)) + x4 + 0xf7537e82) | 0;
    a = (((t << 6) | (t >>> 26)) + b) | 0;
    t = (d + (b ^ (a | ~c)) + x11 + 0xbd3af235) | 0;
    d = (((t << 10) | (t >>> 22)) + a) | 0;
    t = (c + (a ^ (d | ~b)) + x2 + 0x2ad7d2bb) | 0;
    c = (((t << 15) | (t >>> 17)) + d) | 0;
    t = (b + (d ^ (c | ~a)) + x9 + 0xeb86d391) | 0;
    b = (((t << 21) | (t >>> 11)) + c) | 0;

    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
  }
  md5Result[0] = h0;
}
