/**
 * XXH3-64 with seed 0 and the default secret: the key hash of memcached's built-in proxy
 * (`mcp.pool` hashes keys with `XXH3_64bits_withSeed(key, len, 0)` unless told otherwise).
 *
 * Written from the algorithm's description (xxHash's doc/xxhash_spec.md) in 32-bit halves: a
 * 64-bit value is a pair (hi, lo) of unsigned 32-bit numbers, and every product is built from
 * pieces small enough to be exact in a double. No BigInt (an allocation and a slow path per key),
 * and nothing allocated per call: results go through two small typed arrays.
 *
 * Every length class of XXH3-64 is here: 0, 1–3, 4–8, 9–16, 17–128, 129–240 and the long-input
 * loop (stripes of 64 bytes, blocks of 16 stripes, the accumulators scrambled after each block).
 * Keys memcached accepts stop at 250 bytes, but a routing key may be longer.
 */
import { scratch, writeKey } from './key-bytes.js';

/** The default secret (192 bytes), as the specification gives it. */
const SECRET = Buffer.from(
  'b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671fcb79e64eccc0e578825ad07dccff7221' +
    'b8084674f743248ee03590e6813a264c3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8' +
    'a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364eac5ac8334d3ebc3c581a0fffa1363eb' +
    '170ddd51b7f0da49d316552629d4689e2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e',
  'hex',
);

/** `S[i]`: the little-endian 32-bit word of the secret at byte offset i (reads are unaligned). */
const S = new Uint32Array(SECRET.length - 3);
for (let i = 0; i < S.length; i++) S[i] = SECRET.readUInt32LE(i);

// 64-bit constants as [hi, lo].
const P64_1_HI = 0x9e3779b1;
const P64_1_LO = 0x85ebca87;
const P64_2_HI = 0xc2b2ae3d;
const P64_2_LO = 0x27d4eb4f;
const P64_3_HI = 0x165667b1;
const P64_3_LO = 0x9e3779f9;
const MX1_HI = 0x16566791;
const MX1_LO = 0x9e3779f9;
const MX2_HI = 0x9fb21c65;
const MX2_LO = 0x1e98df25;
const P32_1 = 0x9e3779b1;
/** The accumulators' start for long inputs: PRIME32_3, PRIME64_1…4, PRIME32_2, PRIME64_5, PRIME32_1. */
const INIT_ACC = [
  0,
  0xc2b2ae3d,
  P64_1_HI,
  P64_1_LO,
  P64_2_HI,
  P64_2_LO,
  P64_3_HI,
  P64_3_LO,
  0x85ebca77,
  0xc2b2ae63,
  0,
  0x85ebca77,
  0x27d4eb2f,
  0x165667c5,
  0,
  P32_1,
];

const TWO32 = 0x100000000;

/** The result of the last helper call: [hi, lo]. */
const T = new Uint32Array(2);
/** The result of the last {@link hashBytes}: [hi, lo]. */
export const xxh3Result = new Uint32Array(2);
/** The eight accumulators of a long input, as [hi, lo] pairs. */
const ACC = new Uint32Array(16);

function r32(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

/** T = the full product of two unsigned 32-bit numbers. */
function wide(a: number, b: number): void {
  const p0 = (a & 0xffff) * b; // < 2^48
  const p1 = (a >>> 16) * b; // < 2^48
  const low = p0 + (p1 & 0xffff) * 0x10000; // < 2^49, exact
  T[1] = low >>> 0;
  T[0] = Math.floor(low / TWO32) + Math.floor(p1 / 0x10000);
}

/** T = (ah:al × bh:bl) mod 2^64. */
function mul64(ah: number, al: number, bh: number, bl: number): void {
  wide(al, bl);
  T[0] = T[0] + Math.imul(al, bh) + Math.imul(ah, bl);
}

/**
 * T = the high and low 64-bit halves of the 128-bit product ah:al × bh:bl, xored together. The
 * four 32 × 32 products as in {@link wide}, kept in locals (measured faster than calling it).
 */
function fold(ah: number, al: number, bh: number, bl: number): void {
  let p0 = (al & 0xffff) * bl;
  let p1 = (al >>> 16) * bl;
  let low = p0 + (p1 & 0xffff) * 0x10000;
  const w0 = low >>> 0;
  let w1 = Math.floor(low / TWO32) + Math.floor(p1 / 0x10000);
  p0 = (al & 0xffff) * bh;
  p1 = (al >>> 16) * bh;
  low = p0 + (p1 & 0xffff) * 0x10000;
  w1 += low >>> 0;
  let w2 = Math.floor(low / TWO32) + Math.floor(p1 / 0x10000);
  p0 = (ah & 0xffff) * bl;
  p1 = (ah >>> 16) * bl;
  low = p0 + (p1 & 0xffff) * 0x10000;
  w1 += low >>> 0;
  w2 += Math.floor(low / TWO32) + Math.floor(p1 / 0x10000);
  p0 = (ah & 0xffff) * bh;
  p1 = (ah >>> 16) * bh;
  low = p0 + (p1 & 0xffff) * 0x10000;
  // w1 < 3 × 2^32 and w2 < 4 × 2^32: their carries are exact in a double.
  w2 += (low >>> 0) + Math.floor(w1 / TWO32);
  const w3 = Math.floor(low / TWO32) + Math.floor(p1 / 0x10000) + Math.floor(w2 / TWO32);
  T[0] = w1 ^ w3;
  T[1] = w0 ^ w2;
}

/** T = XXH3's avalanche of hi:lo: xorshift 37, multiply, xorshift 32. */
function avalanche(hi: number, lo: number): void {
  mul64(hi, (lo ^ (hi >>> 5)) >>> 0, MX1_HI, MX1_LO);
  T[1] = T[1] ^ T[0];
}

/** T = XXH64's avalanche of hi:lo. */
function avalanche64(hi: number, lo: number): void {
  mul64(hi, (lo ^ (hi >>> 1)) >>> 0, P64_2_HI, P64_2_LO);
  hi = T[0];
  lo = T[1];
  mul64((hi ^ (hi >>> 29)) >>> 0, (lo ^ ((hi << 3) | (lo >>> 29))) >>> 0, P64_3_HI, P64_3_LO);
  T[1] = T[1] ^ T[0];
}

/** T = the rrmxmx mix of hi:lo for 4–8 byte inputs. */
function rrmxmx(hi: number, lo: number, len: number): void {
  // h ^= rotl(h, 49) ^ rotl(h, 24)
  const h = hi ^ ((lo << 17) | (hi >>> 15)) ^ ((hi << 24) | (lo >>> 8));
  const l = lo ^ ((hi << 17) | (lo >>> 15)) ^ ((lo << 24) | (hi >>> 8));
  mul64(h >>> 0, l >>> 0, MX2_HI, MX2_LO);
  hi = T[0];
  lo = (T[1] ^ ((hi >>> 3) + len)) >>> 0;
  mul64(hi, lo, MX2_HI, MX2_LO);
  hi = T[0];
  lo = T[1];
  T[0] = hi ^ (hi >>> 28);
  T[1] = lo ^ ((hi << 4) | (lo >>> 28));
}

/** T = mix16B: the fold of 16 input bytes at `i` xored with 16 secret bytes at `s`. */
function mix16(b: Uint8Array, i: number, s: number): void {
  fold(
    (r32(b, i + 4) ^ S[s + 4]) >>> 0,
    (r32(b, i) ^ S[s]) >>> 0,
    (r32(b, i + 12) ^ S[s + 12]) >>> 0,
    (r32(b, i + 8) ^ S[s + 8]) >>> 0,
  );
}

function hashShort(b: Uint8Array, len: number): void {
  if (len > 8) {
    const lo0 = (r32(b, 0) ^ S[24] ^ S[32]) >>> 0;
    const hi0 = (r32(b, 4) ^ S[28] ^ S[36]) >>> 0;
    const lo1 = (r32(b, len - 8) ^ S[40] ^ S[48]) >>> 0;
    const hi1 = (r32(b, len - 4) ^ S[44] ^ S[52]) >>> 0;
    fold(hi0, lo0, hi1, lo1);
    // acc = len + swap64(input_lo) + input_hi + fold
    const l = len + bswap(hi0) + lo1 + T[1];
    const h = bswap(lo0) + hi1 + T[0] + Math.floor(l / TWO32);
    avalanche(h >>> 0, l >>> 0);
  } else if (len >= 4) {
    const keyedHi = (r32(b, 0) ^ S[12] ^ S[20]) >>> 0;
    const keyedLo = (r32(b, len - 4) ^ S[8] ^ S[16]) >>> 0;
    rrmxmx(keyedHi, keyedLo, len);
  } else if (len > 0) {
    const combined = (b[0] << 16) | (b[len >> 1] << 24) | b[len - 1] | (len << 8);
    avalanche64(0, (combined ^ S[0] ^ S[4]) >>> 0);
  } else {
    avalanche64((S[60] ^ S[68]) >>> 0, (S[56] ^ S[64]) >>> 0);
  }
}

function bswap(x: number): number {
  return ((x << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

/** hi:lo = len × PRIME64_1, the start of the 17–240 byte classes and of the final merge. */
function lengthTimesPrime(len: number): void {
  mul64(0, len >>> 0, P64_1_HI, P64_1_LO);
  // Lengths of 2^32 bytes and more: the high word of the length times the prime's low half.
  if (len >= TWO32) T[0] = T[0] + Math.imul(Math.floor(len / TWO32), P64_1_LO);
}

/** SUM += T (mod 2^64): the running sum of the 17–240 byte classes, [hi, lo]. */
const SUM = new Uint32Array(2);

function addT(): void {
  const lo = SUM[1] + T[1];
  SUM[0] = SUM[0] + T[0] + (lo >= TWO32 ? 1 : 0);
  SUM[1] = lo;
}

function hashMid(b: Uint8Array, len: number): void {
  lengthTimesPrime(len);
  SUM[0] = T[0];
  SUM[1] = T[1];
  if (len <= 128) {
    if (len > 32) {
      if (len > 64) {
        if (len > 96) {
          mix16(b, 48, 96);
          addT();
          mix16(b, len - 64, 112);
          addT();
        }
        mix16(b, 32, 64);
        addT();
        mix16(b, len - 48, 80);
        addT();
      }
      mix16(b, 16, 32);
      addT();
      mix16(b, len - 32, 48);
      addT();
    }
    mix16(b, 0, 0);
    addT();
    mix16(b, len - 16, 16);
    addT();
    avalanche(SUM[0], SUM[1]);
    return;
  }
  for (let i = 0; i < 8; i++) {
    mix16(b, 16 * i, 16 * i);
    addT();
  }
  avalanche(SUM[0], SUM[1]);
  SUM[0] = T[0];
  SUM[1] = T[1];
  const rounds = len >>> 4;
  for (let i = 8; i < rounds; i++) {
    mix16(b, 16 * i, 16 * (i - 8) + 3);
    addT();
  }
  // The last 16 bytes, with the secret at 136 − 17.
  mix16(b, len - 16, 119);
  addT();
  avalanche(SUM[0], SUM[1]);
}

/** One stripe of 64 input bytes at `i` into the accumulators, with the secret at `s`. */
function accumulate(b: Uint8Array, i: number, s: number): void {
  for (let lane = 0; lane < 8; lane++) {
    const dLo = r32(b, i + 8 * lane);
    const dHi = r32(b, i + 8 * lane + 4);
    // acc[lane ^ 1] += data
    const o = 2 * (lane ^ 1);
    let lo = ACC[o + 1] + dLo;
    ACC[o] = ACC[o] + dHi + (lo >= TWO32 ? 1 : 0);
    ACC[o + 1] = lo;
    // acc[lane] += lo32(key) × hi32(key), key = data ^ secret
    wide((dLo ^ S[s + 8 * lane]) >>> 0, (dHi ^ S[s + 8 * lane + 4]) >>> 0);
    const a = 2 * lane;
    lo = ACC[a + 1] + T[1];
    ACC[a] = ACC[a] + T[0] + (lo >= TWO32 ? 1 : 0);
    ACC[a + 1] = lo;
  }
}

/** After each block: acc = (acc ^ (acc >> 47) ^ secret) × PRIME32_1, with the secret's last 64 bytes. */
function scramble(): void {
  const s = SECRET.length - 64;
  for (let lane = 0; lane < 8; lane++) {
    const hi = ACC[2 * lane];
    const lo = ACC[2 * lane + 1];
    mul64((hi ^ S[s + 8 * lane + 4]) >>> 0, (lo ^ (hi >>> 15) ^ S[s + 8 * lane]) >>> 0, 0, P32_1);
    ACC[2 * lane] = T[0];
    ACC[2 * lane + 1] = T[1];
  }
}

const STRIPE = 64;
/** Stripes per block: (secret size − 64) / 8. */
const STRIPES_PER_BLOCK = (SECRET.length - STRIPE) / 8;
const BLOCK = STRIPE * STRIPES_PER_BLOCK;

function hashLong(b: Uint8Array, len: number): void {
  ACC.set(INIT_ACC);
  const blocks = Math.floor((len - 1) / BLOCK);
  for (let n = 0; n < blocks; n++) {
    for (let k = 0; k < STRIPES_PER_BLOCK; k++) accumulate(b, n * BLOCK + k * STRIPE, k * 8);
    scramble();
  }
  const stripes = Math.floor((len - 1 - blocks * BLOCK) / STRIPE);
  for (let k = 0; k < stripes; k++) accumulate(b, blocks * BLOCK + k * STRIPE, k * 8);
  // The last stripe (overlapping the one before when len is not a multiple of 64), secret at 192 − 64 − 7.
  accumulate(b, len - STRIPE, SECRET.length - STRIPE - 7);
  // Merge: start at len × PRIME64_1, add the fold of each pair of accumulators with the secret at 11.
  lengthTimesPrime(len);
  SUM[0] = T[0];
  SUM[1] = T[1];
  for (let p = 0; p < 4; p++) {
    const s = 11 + 16 * p;
    fold(
      (ACC[4 * p] ^ S[s + 4]) >>> 0,
      (ACC[4 * p + 1] ^ S[s]) >>> 0,
      (ACC[4 * p + 2] ^ S[s + 12]) >>> 0,
      (ACC[4 * p + 3] ^ S[s + 8]) >>> 0,
    );
    addT();
  }
  avalanche(SUM[0], SUM[1]);
}

/** XXH3-64 (seed 0) of the first `len` bytes of `b`, into {@link xxh3Result} as [hi, lo]. */
export function hashBytes(b: Uint8Array, len: number): void {
  if (len <= 16) hashShort(b, len);
  else if (len <= 240) hashMid(b, len);
  else hashLong(b, len);
  xxh3Result[0] = T[0];
  xxh3Result[1] = T[1];
}

/** Keys up to this many characters are copied into the scratch by a loop when ASCII. */
const ASCII_LOOP = 128;

/** XXH3-64 (seed 0) of `key`'s UTF-8 bytes, into {@link xxh3Result} as [hi, lo]. */
export function hashKeyXxh3(key: string): void {
  const n = key.length;
  if (n <= ASCII_LOOP) {
    // The scratch holds at least 1024 bytes. A loop beats the native encoder for ASCII keys of
    // this size (measured about 10 ns against 100 ns for 30 characters).
    const bytes = scratch.bytes;
    let i = 0;
    for (; i < n; i++) {
      const c = key.charCodeAt(i);
      if (c > 0x7f) break;
      bytes[i] = c;
    }
    if (i === n) {
      hashBytes(bytes, n);
      return;
    }
  }
  hashBytes(scratch.bytes, writeKey(key, 0));
}

/** XXH3-64 (seed 0) of `input` (a string is hashed as UTF-8), as a bigint: for tests and tools. */
export function xxh3(input: string | Uint8Array): bigint {
  if (typeof input === 'string') hashKeyXxh3(input);
  else hashBytes(input, input.length);
  return (BigInt(xxh3Result[0]) << 32n) | BigInt(xxh3Result[1]);
}
