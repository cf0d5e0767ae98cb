/**
 * Serializers: how a value that is not bytes is stored, and how the client flags stored with it say
 * what it was. Two layouts are built in:
 *
 * ```
 * memline                                     php (the PHP `memcached` extension's, php_memcached.c)
 * bits 0–3   type                             bits 0–3   type
 *   0 bytes (Buffer)                            0 string        4 serialize()  (not readable)
 *   1 string (UTF-8)                            1 long          5 igbinary     (not readable)
 *   2 JSON (UTF-8 JSON text)                    2 double        6 JSON
 *   3 number (decimal text)                     3 bool          7 msgpack      (not readable)
 *   4 bigint (decimal text)                   bit 4      compressed
 * bit 4      compressed with deflate          bit 5      … with zlib   (bits 6, 7: fastlz, zstd)
 * bit 5      compressed with brotli           bits 16–31 the application's own flags (ignored)
 * bits 6–31  0
 * ```
 *
 * Compression (`compression.ts`) is the client's business: a layout only says which bits mark it.
 */
import { InvalidArgumentError } from '../../lib/errors.js';

/** A value as it is stored: its bytes and the client flags that say how to read them back. */
export interface SerializedValue {
  value: Buffer;
  /** Client flags, a 32-bit unsigned integer. */
  flags: number;
}

/**
 * Turns values into bytes plus client flags and back. Both methods are synchronous; throw to refuse
 * a value (the write rejects with ERR_INVALID_ARGUMENT) or to refuse stored bytes (the read rejects
 * with ERR_PROTOCOL).
 */
export interface Serializer<T = unknown> {
  /** Encodes a value for a write; throw to refuse it. */
  serialize(value: T): SerializedValue;
  /** Decodes stored bytes given the client flags they were stored with; throw for bytes it cannot read. */
  deserialize(value: Buffer, flags: number): T;
}

/** A compression algorithm the client can apply (zlib's deflate in the zlib format, or brotli). */
export type CompressionAlgorithm = 'deflate' | 'brotli';

/**
 * How a built-in layout marks compressed values in the client flags. Custom serializers have none,
 * so the client does not compress for them.
 * @internal
 */
export interface CompressionLayout {
  /** The flag bits of a value compressed with `algorithm`; `undefined` if the layout has none. */
  bits(algorithm: CompressionAlgorithm): number | undefined;
  /** The algorithm a stored value was compressed with, or `undefined`. Throws for one it cannot read. */
  algorithm(flags: number): CompressionAlgorithm | undefined;
  /** `flags` without the compression bits: what `deserialize` is given. */
  strip(flags: number): number;
  /** Whether a value of this (uncompressed) type may be compressed. */
  compressible(flags: number): boolean;
  /** A compressed payload starts with the uncompressed length, 32-bit little-endian (PHP's framing). */
  readonly lengthPrefix: boolean;
}

/** Where a built-in serializer keeps its {@link CompressionLayout}. @internal */
export const kCompression = Symbol('memline.compressionLayout');

/** A serializer that can carry a compression layout. @internal */
export type LayoutSerializer = Serializer & { readonly [kCompression]?: CompressionLayout };

/** Thrown by `deserialize` for stored bytes it cannot read; the client turns it into ERR_PROTOCOL. */
export class UnreadableValue extends Error {
  override get name(): string {
    return 'UnreadableValue';
  }
}

const TYPE_MASK = 0x0f;

// ---- memline ---------------------------------------------------------------------------------

const M_BYTES = 0;
const M_STRING = 1;
const M_JSON = 2;
const M_NUMBER = 3;
const M_BIGINT = 4;
const M_DEFLATE = 0x10;
const M_BROTLI = 0x20;

/** What `String(number)` writes (and `-0`), and nothing else. */
const NUMBER_TEXT = /^-?(?:Infinity|\d+(?:\.\d+)?(?:e[+-]\d+)?)$|^NaN$/;
const INTEGER_TEXT = /^-?\d+$/;

const memlineLayout: CompressionLayout = {
  bits: (algorithm) => (algorithm === 'deflate' ? M_DEFLATE : M_BROTLI),
  algorithm(flags) {
    switch (flags & (M_DEFLATE | M_BROTLI)) {
      case 0:
        return undefined;
      case M_DEFLATE:
        return 'deflate';
      case M_BROTLI:
        return 'brotli';
      default:
        throw new UnreadableValue(`flags 0x${hex(flags)} mark the value compressed twice`);
    }
  },
  strip: (flags) => flags & ~(M_DEFLATE | M_BROTLI),
  compressible: () => true,
  lengthPrefix: false,
};

/**
 * memline's own layout: Buffers (and other Uint8Arrays) as they are with flags 0, so raw `set`/`get`
 * and this serializer read each other's bytes; strings as UTF-8; numbers and bigints as decimal
 * text; everything else (objects, arrays, booleans, null) as JSON, with `JSON.stringify`'s rules
 * (a Date becomes its ISO string, a Map `{}`). `undefined`, functions and symbols are refused.
 * Read back: a Buffer, a string, a number (NaN, ±Infinity and -0 included), a bigint or a JSON value.
 */
export const memlineSerializer: Serializer & { readonly [kCompression]: CompressionLayout } = Object.freeze({
  [kCompression]: memlineLayout,
  serialize(value: unknown): SerializedValue {
    if (Buffer.isBuffer(value)) return { value, flags: M_BYTES };
    switch (typeof value) {
      case 'string':
        return { value: Buffer.from(value, 'utf8'), flags: M_STRING };
      case 'number':
        return { value: Buffer.from(Object.is(value, -0) ? '-0' : String(value), 'latin1'), flags: M_NUMBER };
      case 'bigint':
        return { value: Buffer.from(value.toString(), 'latin1'), flags: M_BIGINT };
    }
    if (value instanceof Uint8Array) return { value: bufferOf(value), flags: M_BYTES };
    return { value: Buffer.from(json(value), 'utf8'), flags: M_JSON };
  },
  deserialize(value: Buffer, flags: number): unknown {
    if (flags > TYPE_MASK) throw new UnreadableValue(`flags 0x${hex(flags)} are not memline's layout`);
    switch (flags) {
      case M_BYTES:
        return value;
      case M_STRING:
        return value.toString('utf8');
      case M_JSON:
        return parseJson(value);
      case M_NUMBER: {
        const text = value.toString('latin1');
        if (!NUMBER_TEXT.test(text)) throw new UnreadableValue('a number value is not a decimal number');
        return Number(text);
      }
      case M_BIGINT: {
        const text = value.toString('latin1');
        if (!INTEGER_TEXT.test(text)) throw new UnreadableValue('a bigint value is not a decimal integer');
        return BigInt(text);
      }
      default:
        throw new UnreadableValue(`type ${flags} is not a type of memline's layout`);
    }
  },
});

// ---- php -------------------------------------------------------------------------------------

const P_STRING = 0;
const P_LONG = 1;
const P_DOUBLE = 2;
const P_BOOL = 3;
const P_SERIALIZED = 4;
const P_IGBINARY = 5;
const P_JSON = 6;
const P_MSGPACK = 7;
const P_COMPRESSED = 0x10;
const P_ZLIB = 0x20;
const P_FASTLZ = 0x40;
const P_ZSTD = 0x80;
/** Bits 4–15: the extension's internal flags. */
const P_INTERNAL = 0xfff0;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** What PHP's g_fmt writes for a double, and what JavaScript's `String(number)` writes. */
const DOUBLE_TEXT = /^[+-]?(?:Infinity|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$/;

const phpLayout: CompressionLayout = {
  bits: (algorithm) => (algorithm === 'deflate' ? P_COMPRESSED | P_ZLIB : undefined),
  algorithm(flags) {
    if ((flags & P_COMPRESSED) === 0) return undefined;
    if ((flags & P_ZLIB) !== 0) return 'deflate';
    const which = (flags & P_FASTLZ) !== 0 ? 'fastlz' : (flags & P_ZSTD) !== 0 ? 'zstd' : 'an unknown method';
    throw new UnreadableValue(
      `the value was compressed with ${which}; memline reads zlib only (PHP: memcached.compression_type=zlib)`,
    );
  },
  strip: (flags) => flags & ~P_INTERNAL,
  compressible: (flags) => {
    const type = flags & TYPE_MASK;
    return type === P_STRING || type === P_JSON;
  },
  lengthPrefix: true,
};

/**
 * The layout of PHP's `memcached` extension (php-memcached), with its JSON serializer: a PHP
 * application using `Memcached::SERIALIZER_JSON` (or `SERIALIZER_JSON_ARRAY`) and zlib compression
 * reads what this writes, and the reverse. Strings and Buffers are stored as PHP strings (read back as
 * UTF-8 strings); safe integers and bigints within 64 bits as PHP ints (read back as a number when
 * safe, else a bigint); other numbers as doubles; booleans as bools; everything else as JSON. Values
 * written with PHP's `serialize()`, igbinary or msgpack, and values compressed with fastlz (PHP's
 * default `compression_type`) or zstd, cannot be read: they reject with ERR_PROTOCOL.
 */
export const phpSerializer: Serializer & { readonly [kCompression]: CompressionLayout } = Object.freeze({
  [kCompression]: phpLayout,
  serialize(value: unknown): SerializedValue {
    if (Buffer.isBuffer(value)) return { value, flags: P_STRING };
    switch (typeof value) {
      case 'string':
        return { value: Buffer.from(value, 'utf8'), flags: P_STRING };
      case 'number':
        return Number.isSafeInteger(value)
          ? { value: Buffer.from(String(value), 'latin1'), flags: P_LONG }
          : { value: Buffer.from(String(value), 'latin1'), flags: P_DOUBLE };
      case 'bigint':
        if (value < INT64_MIN || value > INT64_MAX) {
          throw new InvalidArgumentError('a bigint outside 64 bits cannot be stored as a PHP int');
        }
        return { value: Buffer.from(value.toString(), 'latin1'), flags: P_LONG };
      case 'boolean':
        return { value: Buffer.from(value ? '1' : '', 'latin1'), flags: P_BOOL };
    }
    if (value instanceof Uint8Array) return { value: bufferOf(value), flags: P_STRING };
    return { value: Buffer.from(json(value), 'utf8'), flags: P_JSON };
  },
  deserialize(value: Buffer, flags: number): unknown {
    const type = flags & TYPE_MASK;
    switch (type) {
      case P_STRING:
        return value.toString('utf8');
      case P_LONG: {
        const text = value.toString('latin1');
        if (!INTEGER_TEXT.test(text)) throw new UnreadableValue('a PHP int value is not a decimal integer');
        const n = Number(text);
        return Number.isSafeInteger(n) ? n : BigInt(text);
      }
      case P_DOUBLE: {
        const text = value.toString('latin1');
        if (!DOUBLE_TEXT.test(text)) throw new UnreadableValue('a PHP double value is not a number');
        return Number(text);
      }
      case P_BOOL:
        return value.length > 0 && value[0] === 0x31;
      case P_JSON:
        return parseJson(value);
      case P_SERIALIZED:
      case P_IGBINARY:
      case P_MSGPACK: {
        const name = type === P_SERIALIZED ? 'serialize()' : type === P_IGBINARY ? 'igbinary' : 'msgpack';
        throw new UnreadableValue(
          `the value was written with PHP's ${name}; memline reads PHP values written with SERIALIZER_JSON`,
        );
      }
      default:
        throw new UnreadableValue(`type ${type} is not a type of the PHP memcached layout`);
    }
  },
});

/** The built-in serializers, for the client's `serializer` option. */
export const serializers = Object.freeze({
  /** memline's layout (see {@link memlineSerializer}). */
  memline: memlineSerializer,
  /** PHP memcached's layout (see {@link phpSerializer}). */
  php: phpSerializer,
});

function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function json(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new InvalidArgumentError(`the value cannot be stored as JSON: ${(err as Error).message}`);
  }
  if (text === undefined) {
    throw new InvalidArgumentError(`a value of type ${typeof value} cannot be stored (it has no JSON form)`);
  }
  return text;
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (err) {
    throw new UnreadableValue(`a JSON value does not parse: ${(err as Error).message}`);
  }
}

function hex(flags: number): string {
  return flags.toString(16);
}
