/**
 * The value pipeline of a client with a `serializer`: serialize, compress above the threshold, flag;
 * and back: read the flags, decompress within the cap, deserialize. Used only by the methods that
 * deal in values (`getValue`, `setValue`, `getValues`, `getOrSet`); `get`/`set` never come here.
 */
import {
  InvalidArgumentError,
  MemlineError,
  PartialResultError,
  ProtocolError,
  ResponseTooLargeError,
  ValueTooLargeError,
} from '../../lib/errors.js';
import { compress, decompress, isOverLimit, type CompressionSettings } from './compression.js';
import type { Item } from './results.js';
import {
  kCompression,
  type CompressionLayout,
  type LayoutSerializer,
  type SerializedValue,
} from './serializers.js';

const MAX_U32 = 2 ** 32 - 1;
const LENGTH_PREFIX = 4;

/** A serializer with the client's compression settings and caps. */
export class ValueCodec {
  readonly #serializer: LayoutSerializer;
  readonly #layout: CompressionLayout | undefined;
  readonly #compression: CompressionSettings | undefined;
  readonly #maxDecompressedSize: number;

  constructor(
    serializer: LayoutSerializer,
    compression: CompressionSettings | undefined,
    maxDecompressedSize: number,
  ) {
    this.#serializer = serializer;
    this.#layout = serializer[kCompression];
    this.#compression = compression;
    this.#maxDecompressedSize = maxDecompressedSize;
    if (compression !== undefined) {
      if (this.#layout === undefined) {
        throw new InvalidArgumentError(
          'compression needs a built-in serializer (serializers.memline or serializers.php): a custom ' +
            'serializer has no flag bits for it; compress inside the serializer instead',
        );
      }
      if (this.#layout.bits(compression.algorithm) === undefined) {
        throw new InvalidArgumentError(
          `compression.algorithm '${compression.algorithm}' cannot be flagged in this serializer's layout`,
        );
      }
    }
  }

  /**
   * The bytes and flags to store for `value`. Synchronous unless a large value is compressed.
   * @throws InvalidArgumentError when the serializer refuses the value
   */
  encode(value: unknown): SerializedValue | Promise<SerializedValue> {
    let out: SerializedValue;
    try {
      out = this.#serializer.serialize(value);
    } catch (err) {
      if (err instanceof MemlineError) throw err;
      throw new InvalidArgumentError(`the serializer refused the value: ${String((err as Error)?.message)}`);
    }
    if (typeof out !== 'object' || out === null || !Buffer.isBuffer(out.value)) {
      throw new InvalidArgumentError('the serializer must return { value: Buffer, flags: number }');
    }
    const flags = out.flags;
    if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || flags > MAX_U32) {
      throw new InvalidArgumentError('the serializer returned flags that are not a 32-bit unsigned integer');
    }
    const settings = this.#compression;
    const layout = this.#layout;
    if (settings === undefined || layout === undefined) return out;
    const size = out.value.length;
    if (size > this.#maxDecompressedSize) {
      throw new ValueTooLargeError(
        `value of ${size} bytes is over maxDecompressedSize (${this.#maxDecompressedSize}): it could not be read back`,
      );
    }
    if (size < settings.threshold || !layout.compressible(flags)) return out;
    const compressed = compress(out.value, settings);
    const bits = layout.bits(settings.algorithm)!;
    return compressed instanceof Promise
      ? compressed.then((c) => framed(out, c, bits, layout))
      : framed(out, compressed, bits, layout);
  }

  /**
   * The value stored as `bytes` with `flags`. Synchronous unless it has to be decompressed off the
   * event loop (the caller adds the server to errors). Rejects with ERR_RESPONSE_TOO_LARGE past `maxDecompressedSize`, ERR_PROTOCOL when the
   * bytes cannot be read (corrupt compressed data, a type the serializer does not know).
   */
  decode(bytes: Buffer, flags: number): unknown {
    const layout = this.#layout;
    if (layout === undefined) return this.#deserialize(bytes, flags);
    let algorithm;
    try {
      algorithm = layout.algorithm(flags);
    } catch (err) {
      throw unreadable(err, flags);
    }
    if (algorithm === undefined) return this.#deserialize(bytes, flags);
    let payload = bytes;
    let limit = this.#maxDecompressedSize;
    let declared = -1;
    if (layout.lengthPrefix) {
      if (bytes.length < LENGTH_PREFIX) throw unreadable(new Error('no length prefix'), flags);
      declared = bytes.readUInt32LE(0);
      if (declared > limit) throw tooLarge(declared, limit);
      payload = bytes.subarray(LENGTH_PREFIX);
      limit = declared;
    }
    const plainFlags = layout.strip(flags);
    const finish = (out: Buffer): unknown => {
      if (declared !== -1 && out.length !== declared) {
        throw unreadable(new Error(`${out.length} bytes where ${declared} were declared`), flags);
      }
      return this.#deserialize(out, plainFlags);
    };
    const fail = (err: unknown): never => {
      if (!isOverLimit(err)) throw unreadable(err, flags);
      if (declared !== -1) throw unreadable(new Error(`longer than the ${declared} bytes declared`), flags);
      throw tooLarge(undefined, limit);
    };
    let result: Buffer | Promise<Buffer>;
    try {
      result = decompress(payload, algorithm, limit);
    } catch (err) {
      return fail(err);
    }
    return result instanceof Promise ? result.then(finish, fail) : finish(result);
  }

  #deserialize(bytes: Buffer, flags: number): unknown {
    try {
      return this.#serializer.deserialize(bytes, flags);
    } catch (err) {
      throw unreadable(err, flags);
    }
  }
}

function framed(
  plain: SerializedValue,
  compressed: Buffer,
  bits: number,
  layout: CompressionLayout,
): SerializedValue {
  const extra = layout.lengthPrefix ? LENGTH_PREFIX : 0;
  // Keep the plain form unless compression actually saves space.
  if (compressed.length + extra >= plain.value.length) return plain;
  const flags = (plain.flags | bits) >>> 0;
  if (!layout.lengthPrefix) return { value: compressed, flags };
  const value = Buffer.allocUnsafe(LENGTH_PREFIX + compressed.length);
  value.writeUInt32LE(plain.value.length, 0);
  compressed.copy(value, LENGTH_PREFIX);
  return { value, flags };
}

/** ERR_PROTOCOL: the stored bytes cannot be read (the connection is fine and kept). */
function unreadable(err: unknown, flags: number): MemlineError {
  if (err instanceof MemlineError) return err;
  const why = err instanceof Error ? err.message : String(err);
  return new ProtocolError(`a stored value (flags ${flags}) cannot be decoded: ${why}`, {
    cause: err,
    mayHaveExecuted: true,
  });
}

function tooLarge(size: number | undefined, limit: number): MemlineError {
  const what = size === undefined ? 'more than' : `${size} bytes,`;
  return new ResponseTooLargeError(
    `a stored value decompresses to ${what} over maxDecompressedSize (${limit})`,
    {
      mayHaveExecuted: true,
    },
  );
}

/**
 * Every item's value through `decode` (which may be asynchronous). Decoding failures join `errors`;
 * resolves with the values, or rejects with ERR_PARTIAL_RESULT naming the keys that failed.
 */
export async function decodeAll<T>(
  items: Map<string, Item>,
  errors: Map<string, MemlineError>,
  decode: ((item: Item) => unknown) | undefined,
): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  const pending: Promise<void>[] = [];
  for (const [key, item] of items) {
    if (decode === undefined) {
      out.set(key, item.value as T);
      continue;
    }
    try {
      const value = decode(item);
      if (value instanceof Promise) {
        pending.push(
          value.then(
            (v) => void out.set(key, v as T),
            (err: MemlineError) => void errors.set(key, err),
          ),
        );
      } else {
        out.set(key, value as T);
      }
    } catch (err) {
      errors.set(key, err as MemlineError);
    }
  }
  if (pending.length > 0) await Promise.all(pending);
  if (errors.size === 0) return out;
  throw new PartialResultError(`${errors.size} keys failed`, out, errors);
}
