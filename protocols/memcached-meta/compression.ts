/**
 * Compression of stored values, bounded on the way back in.
 *
 * Decompressing is where a cache value can hurt: a few kilobytes of deflate expand to megabytes, and
 * brotli further still. So every decompression has an output cap (zlib's `maxOutputLength`: the work
 * stops as soon as the cap is passed, nothing larger is allocated), and only small inputs with small
 * outputs are handled synchronously; anything else runs on libuv's thread pool, so that no value
 * blocks the event loop for more than a fraction of a millisecond.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { CompressionAlgorithm } from './serializers.js';

/** Inputs up to this size are compressed synchronously (deflate of 64 KiB takes about 1 ms). */
const SYNC_COMPRESS_BYTES = 64 * 1024;
/** Compressed inputs up to this size are first tried synchronously… */
const SYNC_INPUT_BYTES = 16 * 1024;
/** …with the output capped at this; a larger output is redone on the thread pool. */
const SYNC_OUTPUT_BYTES = 256 * 1024;

const deflateAsync = promisify<zlib.InputType, zlib.ZlibOptions, Buffer>(zlib.deflate);
const inflateAsync = promisify<zlib.InputType, zlib.ZlibOptions, Buffer>(zlib.inflate);
const brotliCompressAsync = promisify<zlib.InputType, zlib.BrotliOptions, Buffer>(zlib.brotliCompress);
const brotliDecompressAsync = promisify<zlib.InputType, zlib.BrotliOptions, Buffer>(zlib.brotliDecompress);

/** Resolved compression settings. */
export interface CompressionSettings {
  algorithm: CompressionAlgorithm;
  /** Values of at least this many bytes (serialized) are compressed. */
  threshold: number;
  /** deflate level (0–9) or brotli quality (0–11); `undefined`: the algorithm's default. */
  level: number | undefined;
}

/** The brotli quality used when none is given: 11 (Node's default) compresses at about 1 MB/s. */
export const DEFAULT_BROTLI_QUALITY = 4;

/** `bytes` compressed; synchronous for small inputs. */
export function compress(bytes: Buffer, settings: CompressionSettings): Buffer | Promise<Buffer> {
  const sync = bytes.length <= SYNC_COMPRESS_BYTES;
  if (settings.algorithm === 'deflate') {
    const options: zlib.ZlibOptions = settings.level === undefined ? {} : { level: settings.level };
    return sync ? zlib.deflateSync(bytes, options) : deflateAsync(bytes, options);
  }
  const options: zlib.BrotliOptions = {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: settings.level ?? DEFAULT_BROTLI_QUALITY,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  };
  return sync ? zlib.brotliCompressSync(bytes, options) : brotliCompressAsync(bytes, options);
}

/** The output passed `limit`: what {@link decompress} rejects with (zlib's ERR_BUFFER_TOO_LARGE). */
export function isOverLimit(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'ERR_BUFFER_TOO_LARGE';
}

/**
 * `bytes` decompressed, never more than `limit` bytes of output (past it: an error for which
 * {@link isOverLimit} is true). Synchronous only when both the input and the output are small.
 */
export function decompress(
  bytes: Buffer,
  algorithm: CompressionAlgorithm,
  limit: number,
): Buffer | Promise<Buffer> {
  if (bytes.length <= SYNC_INPUT_BYTES) {
    const syncLimit = Math.min(limit, SYNC_OUTPUT_BYTES);
    try {
      return algorithm === 'deflate'
        ? zlib.inflateSync(bytes, { maxOutputLength: syncLimit })
        : zlib.brotliDecompressSync(bytes, { maxOutputLength: syncLimit });
    } catch (err) {
      if (!isOverLimit(err) || syncLimit === limit) throw err;
      // Larger than a synchronous step should be: start again off the event loop.
    }
  }
  return algorithm === 'deflate'
    ? inflateAsync(bytes, { maxOutputLength: limit })
    : brotliDecompressAsync(bytes, { maxOutputLength: limit });
}
