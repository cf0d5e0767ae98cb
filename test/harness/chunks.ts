/**
 * Bytes for the codec tests of every protocol: a reply delivered whole, byte by byte, or cut at given
 * positions, and what an encoder wrote into an {@link OutBuffer}.
 */
import { OutBuffer } from '../../lib/out-buffer.js';

/** `buf` one byte per chunk. */
export function byteByByte(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) out.push(buf.subarray(i, i + 1));
  return out;
}

/** `buf` cut at the given positions (sorted and deduplicated here, clamped to its length). */
export function cutAt(buf: Buffer, points: readonly number[]): Buffer[] {
  const sorted = [...new Set(points.map((p) => Math.min(p, buf.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of sorted) {
    out.push(buf.subarray(from, p));
    from = p;
  }
  out.push(buf.subarray(from));
  return out;
}

/** Every way of delivering `buf` the tests use: whole, byte by byte, and in two at every position. */
export function* splittings(buf: Buffer): Generator<{ name: string; chunks: Buffer[] }> {
  yield { name: 'one chunk', chunks: [buf] };
  yield { name: 'byte by byte', chunks: byteByByte(buf) };
  for (let i = 0; i <= buf.length; i++) yield { name: `split at ${i}`, chunks: cutAt(buf, [i]) };
}

/** Every byte written by `write` into a fresh OutBuffer (small slabs, to cross their edges). */
export function written(write: (out: OutBuffer) => void, out = new OutBuffer(256, 64)): Buffer {
  write(out);
  const taken = out.take();
  if (taken === undefined) return Buffer.alloc(0);
  return Array.isArray(taken) ? Buffer.concat(taken) : Buffer.from(taken);
}
