/**
 * The options of {@link MemcacheClient}: typed, documented, with frozen defaults, validated in the
 * constructor with an error that names the option.
 */
import { InvalidArgumentError, type MemlineError } from '../../lib/errors.js';
import type { ServerSpec } from '../../lib/cluster.js';
import type { DiscoverySource } from '../../lib/discovery.js';
import type { DistributionKind } from '../../lib/distribution/index.js';
import { DEFAULT_BROTLI_QUALITY, type CompressionSettings } from './compression.js';
import type { CompressionAlgorithm, Serializer } from './serializers.js';
import { ValueCodec } from './values.js';
import { resolveNearCacheOptions, type NearCacheOptions } from './hot-keys/near-cache.js';
import type { PoolOptions } from './routes/pools.js';
import { resolveRouting } from './routes/options.js';
import type { Routing } from './routes/router.js';
import type { Route } from './routes/tree.js';
import {
  resolveReliableDeletes,
  type ReliableDeletesOptions,
  type ResolvedReliableDeletes,
} from './reliable-deletes.js';

import {
  bool,
  checkNames,
  ENGINE_DEFAULTS,
  integer,
  objectOption,
  resolveEngineOptions,
  type EngineOptions,
  type ResolvedEngineOptions,
  type TlsOptions,
} from '../../lib/kit/index.js';

/** TLS settings (shared by the clients built on the engine). */
export type { TlsOptions } from '../../lib/kit/index.js';

/** A pino-compatible logger; memline logs nothing when absent. */
export interface Logger {
  /** Routine events worth a trace: a connection failed, the server list changed, a breaker moved. */
  debug(obj: object, msg?: string): void;
  /** Events an operator should see: a server marked down, discovery failing or giving a bad list. */
  warn(obj: object, msg?: string): void;
}

/** The `compression` option. */
export interface CompressionOptions {
  /** `'deflate'` (zlib format; the only one the `php` layout has) or `'brotli'`. @default 'deflate' */
  algorithm?: CompressionAlgorithm;
  /** Serialized values of at least this many bytes are compressed. @default 4096 */
  threshold?: number;
  /** deflate level 0–9 or brotli quality 0–11. @default zlib's 6; brotli 4 */
  level?: number;
}

/**
 * The client's options. `V` is the type of the values `getValue`/`getOrSet` return: `Buffer` without
 * a serializer, the serializer's type with one.
 */
export interface MemcacheClientOptions<V = Buffer> {
  /**
   * The servers: `"host:port"`, `"[::1]:11211"`, `"memcached://host:port"`, a Unix socket path
   * (`"/run/memcached.sock"`), or `{ host, port, weight? }`; or one comma-separated string
   * (`"a:11211,b:11211"`). Required unless `pools` is given.
   */
  servers?: readonly ServerSpec[] | string;
  /**
   * Named pools of servers, instead of `servers`: each a server list or `{ servers, distribution }`.
   * The `route` decides which pools a request goes to (docs/routes.md). @default undefined
   */
  pools?: Readonly<Record<string, PoolOptions>>;
  /**
   * The route tree over `pools`, built with `routes` (or loaded as JSON). Optional with one pool.
   * @default pool(<the only pool>)
   */
  route?: Route | string;
  /**
   * How keys map to servers: `'ketama'` (libmemcached-compatible weighted ketama: the same key lands
   * on the same server as in PHP/Python/C clients using libmemcached's ketama_weighted), `'jump'`,
   * `'modula'`, `'proxy'` (memcached's built-in proxy with its defaults: XXH3 and jump hash over the
   * servers in list order, so clients and proxy-routed clients agree), or your own
   * `(key, servers) => index`. @default 'ketama'
   */
  distribution?: DistributionKind;
  /**
   * Hash the key with its `keyPrefix`. Set to false to hash only the key, as libmemcached does with a
   * namespace unless HASH_WITH_PREFIX_KEY is on. @default true
   */
  hashKeyPrefix?: boolean;
  /** ms after which a connection is replaced (gracefully) when next used; 0: never. @default 0 */
  maxConnectionAge?: number;
  /** ms without requests after which a connection is closed; 0: never. @default 0 */
  idleTimeout?: number;
  /**
   * Where the server list comes from when it changes at runtime (e.g. {@link ElastiCacheDiscovery}).
   * `servers` is the list until the source first answers. @default undefined
   */
  discovery?: DiscoverySource;
  /** ms per request, counted from the call (queueing and connecting included). @default 1000 */
  timeout?: number;
  /** ms to open a connection (TCP, TLS and authentication). @default 1000 */
  connectTimeout?: number;
  /** TLS: `true` for the system's CAs, or settings. @default undefined (plain TCP) */
  tls?: boolean | TlsOptions;
  /** memcached `-Y` credentials, sent first on every new connection. @default undefined */
  auth?: { username: string; password: string };
  /** Prepended to every key (and counted in its 250-byte limit). @default '' */
  keyPrefix?: string;
  /**
   * Send every key base64-encoded with the `b` flag, so any string (spaces, newlines, any length
   * up to 186 UTF-8 bytes) is a valid key. The server stores the decoded bytes, so a key that is also
   * a valid text key names the same item as its text form (memcached 1.6.18, verified).
   * @default false
   */
  binaryKeys?: boolean;
  /**
   * Replace a key too long for memcached (over 250 bytes with the prefix, or 186 bytes as a binary
   * key) by a head of it, `~` and the SHA-256 of the whole key, instead of refusing it. Short keys
   * are unchanged. @default false
   */
  hashLongKeys?: boolean;
  /**
   * How `getValue`, `setValue`, `getValues` and `getOrSet` turn values into bytes and client flags
   * and back: `serializers.memline`, `serializers.php`, or your own. Without one those methods deal
   * in bytes like `get`/`set`, and nothing is serialized anywhere. @default undefined
   */
  serializer?: Serializer<V>;
  /**
   * Compress serialized values from `threshold` bytes on, flagged in the client flags (built-in
   * serializers only). `true` takes every default. @default false
   */
  compression?: boolean | CompressionOptions;
  /**
   * The most bytes a compressed value may expand to when read (past it: ERR_RESPONSE_TOO_LARGE, and
   * the decompression stops there); larger values are refused on write. @default 8388608 (8 MiB)
   */
  maxDecompressedSize?: number;
  /**
   * Largest value accepted for writing and reading, in bytes (memcached's `-I`). @default 1048576
   *
   * Unset, reads take up to 1 MiB but writes stop at {@link DEFAULT_MAX_STORE_SIZE} (1,048,263
   * bytes): memcached's `-I 1m` counts the item's header, key and flags too, so that is the largest
   * value a default 1.6.18 stores under any key (250 bytes, non-zero flags); larger ones would be
   * refused after being sent, and the key's old item deleted. Set it to your server's `-I` (then it
   * is the bound both ways).
   */
  maxValueSize?: number;
  /** Longest reply line accepted before the connection is considered broken. @default 16384 */
  maxLineLength?: number;
  /** Connections per server. @default 1 */
  connectionsPerServer?: number;
  /** Requests queued plus in flight per connection; past it calls fail with ERR_QUEUE_FULL. @default 16384 */
  maxPending?: number;
  /** TCP keepalive initial delay in ms; 0 turns keepalive off. @default 30000 */
  keepAlive?: number;
  /** A pino logger. @default undefined (silent) */
  logger?: Logger;
  /**
   * Per-server circuit breaker: after `threshold` consecutive failures (refused or dropped
   * connections, timeouts) calls to that server fail at once with ERR_CIRCUIT_OPEN for `openTime` ms;
   * then one probe request goes through, and the breaker closes when the server answers. The open
   * time doubles after each failed probe up to `maxOpenTime`. `threshold: 0` turns it off.
   * @default { threshold: 5, openTime: 1000, maxOpenTime: 5000 }
   */
  breaker?: { threshold?: number; openTime?: number; maxOpenTime?: number };
  /** First reconnect delay after a failed connect, in ms (doubling, with jitter). @default 50 */
  reconnectBase?: number;
  /** Longest reconnect delay, in ms. @default 2000 */
  reconnectCap?: number;
  /**
   * ms a connection may go without receiving a byte while requests are in flight before it is
   * considered dead, destroyed and replaced; 0: never. @default 2000
   */
  silentTimeout?: number;
  /** Bytes queued for one connection and not yet taken by the kernel; past it ERR_QUEUE_FULL. @default 67108864 */
  maxQueuedBytes?: number;
  /**
   * Reads (get, gat, getMulti, gatMulti) answer a miss instead of failing when their server fails;
   * each such error goes to `onError` and is counted in `metrics` as `errorMisses`, so it can be
   * told apart from a real miss. Validation errors are still thrown. @default false
   */
  missOnError?: boolean;
  /** Called with the errors `missOnError` turned into misses. @default undefined */
  onError?: (error: MemlineError) => void;
  /**
   * Concurrent reads of one key share one request in flight (`get`, `getValue`, and the keys of
   * `getMulti`/`getValues` that have one in flight). A read issued after this client's write to the
   * key never shares a request issued before it. Per call: the `coalesce` read option. Off by default:
   * it keeps about 240 bytes more per read in flight (the benchmark's memory cell). @default false
   */
  coalesce?: boolean;
  /**
   * A near cache: an in-process copy of the keys the server reports as hot (read before, and
   * accessed within `hotWithin` seconds; promoted with probability `promoteChance`). A copy is
   * served for at most `maxAge` ms after the read that fetched it and never past the item's TTL;
   * this client's own writes, deletes, touches and counter updates drop it at once. Bounded by
   * `maxEntries` and `maxBytes`. Only plain reads use it (not `meta`, `touch`, `gat` or leases).
   * @default undefined (off)
   */
  nearCache?: NearCacheOptions;
  /**
   * Reliable deletes: a delete (`delete`, `deleteMulti`) that fails because its server is down, slow
   * or shed (ERR_CONNECTION, ERR_TIMEOUT, ERR_CIRCUIT_OPEN) still rejects, and is journaled and
   * replayed in the background until that server takes it; a later store of the key by this client
   * cancels it. Applies to `servers` and to every pool. `true` takes every default; counted in
   * `metrics.reliableDeletes`. @default undefined (off)
   */
  reliableDeletes?: boolean | ReliableDeletesOptions;
}

/**
 * The values {@link MemcacheClientOptions} falls back to for options left out, frozen; read them to
 * derive your own settings (e.g. `DEFAULTS.timeout * 2`) rather than repeating the numbers.
 */
export const DEFAULTS = Object.freeze({
  ...ENGINE_DEFAULTS,
  keyPrefix: '',
  binaryKeys: false,
  hashLongKeys: false,
  maxDecompressedSize: 8 * 1024 * 1024,
  compression: Object.freeze({ algorithm: 'deflate' as const, threshold: 4096 }),
  maxValueSize: 1024 * 1024,
  maxLineLength: 16 * 1024,
  hashKeyPrefix: true,
  missOnError: false,
  coalesce: false,
});

/** {@link MemcacheClientOptions} with every default filled in and every value checked. */
export interface ResolvedOptions extends ResolvedEngineOptions {
  readonly keyPrefix: string;
  readonly binaryKeys: boolean;
  readonly hashLongKeys: boolean;
  readonly hashKeyPrefix: boolean;
  readonly maxDecompressedSize: number;
  readonly maxValueSize: number;
  readonly maxLineLength: number;
  readonly missOnError: boolean;
  readonly coalesce: boolean;
  /** The near cache's options (checked when the client builds it), or undefined: off. */
  readonly nearCache: NearCacheOptions | undefined;
  readonly onError: ((error: MemlineError) => void) | undefined;
  readonly auth: { username: string; password: string } | undefined;
  readonly discovery: DiscoverySource | undefined;
  /** The value pipeline, when a serializer is configured. */
  readonly values: ValueCodec | undefined;
  /** The largest value a write sends: `maxValueSize` when given, else {@link DEFAULT_MAX_STORE_SIZE}. */
  readonly maxStoreSize: number;
  /** The pools and route tree, when `pools` is given. */
  readonly routing: Routing | undefined;
  /** The delete journal's settings, or undefined: off. */
  readonly reliableDeletes: ResolvedReliableDeletes | undefined;
}

/**
 * The largest value a memcached 1.6.18 with the default `-I 1m` stores under a 250-byte key with
 * non-zero client flags: 1 MiB less the item header (48), CAS (8), key and its NUL (251), flags (4)
 * and the data's CRLF (2). Measured: 1,048,263 bytes are stored, 1,048,264 are
 * `SERVER_ERROR object too large for cache` (see docs/meta-protocol.md).
 */
export const DEFAULT_MAX_STORE_SIZE = 1024 * 1024 - 48 - 8 - 251 - 4 - 2;

function resolveCompression(given: MemcacheClientOptions['compression']): CompressionSettings | undefined {
  if (given === undefined || given === false) return undefined;
  const o = given === true ? {} : given;
  if (typeof o !== 'object' || o === null) {
    throw new InvalidArgumentError('compression must be true, false or { algorithm, threshold, level }');
  }
  const algorithm = o.algorithm ?? DEFAULTS.compression.algorithm;
  if (algorithm !== 'deflate' && algorithm !== 'brotli') {
    throw new InvalidArgumentError(`compression.algorithm must be 'deflate' or 'brotli'`);
  }
  const threshold = o.threshold ?? DEFAULTS.compression.threshold;
  if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 0) {
    throw new InvalidArgumentError('compression.threshold must be an integer ≥ 0');
  }
  const max = algorithm === 'deflate' ? 9 : 11;
  const level = o.level;
  if (
    level !== undefined &&
    (typeof level !== 'number' || !Number.isInteger(level) || level < 0 || level > max)
  ) {
    throw new InvalidArgumentError(`compression.level must be an integer from 0 to ${max} for ${algorithm}`);
  }
  return {
    algorithm,
    threshold,
    level: level ?? (algorithm === 'brotli' ? DEFAULT_BROTLI_QUALITY : undefined),
  };
}

function resolveValues(options: MemcacheClientOptions<unknown>, maxDecompressedSize: number) {
  const serializer = options.serializer;
  const compression = resolveCompression(options.compression);
  if (serializer === undefined) {
    if (compression !== undefined) {
      throw new InvalidArgumentError('compression needs a serializer: without one values are not flagged');
    }
    return undefined;
  }
  if (
    typeof serializer !== 'object' ||
    serializer === null ||
    typeof serializer.serialize !== 'function' ||
    typeof serializer.deserialize !== 'function'
  ) {
    throw new InvalidArgumentError('serializer must have serialize() and deserialize()');
  }
  return new ValueCodec(serializer, compression, maxDecompressedSize);
}

/** Every option name, so that a typo (`tiemout`) is an error rather than silently ignored. */
const OPTION_NAMES: ReadonlySet<string> = new Set<keyof MemcacheClientOptions>([
  'servers',
  'pools',
  'route',
  'distribution',
  'hashKeyPrefix',
  'maxConnectionAge',
  'idleTimeout',
  'discovery',
  'timeout',
  'connectTimeout',
  'tls',
  'auth',
  'keyPrefix',
  'binaryKeys',
  'hashLongKeys',
  'serializer',
  'compression',
  'maxDecompressedSize',
  'maxValueSize',
  'maxLineLength',
  'connectionsPerServer',
  'maxPending',
  'keepAlive',
  'logger',
  'breaker',
  'reconnectBase',
  'reconnectCap',
  'silentTimeout',
  'maxQueuedBytes',
  'missOnError',
  'onError',
  'coalesce',
  'nearCache',
  'reliableDeletes',
]);

/**
 * A key prefix some key can follow: the characters a text key may hold (with `binaryKeys`, any but
 * lone surrogates), leaving room for at least one byte of key.
 */
function checkKeyPrefix(prefix: string, binary: boolean): void {
  const bytes = Buffer.byteLength(prefix);
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(prefix))
    throw new InvalidArgumentError('keyPrefix holds a lone surrogate');
  if (!binary && Array.from(prefix, (ch) => ch.charCodeAt(0)).some((c) => c <= 0x20 || c === 0x7f)) {
    throw new InvalidArgumentError('keyPrefix may not hold spaces, control characters or DEL');
  }
  const max = binary ? 185 : 249;
  if (bytes > max)
    throw new InvalidArgumentError(`keyPrefix is ${bytes} bytes: at most ${max} leave room for a key`);
}

/** Fills in the defaults and validates; throws ERR_INVALID_ARGUMENT naming the option. */
export function resolveOptions(options: MemcacheClientOptions<unknown>): ResolvedOptions {
  objectOption(options, 'options', 'an object with at least `servers`');
  checkNames(options, OPTION_NAMES, 'option');
  if (typeof options.auth === 'object' && options.auth !== null) {
    checkNames(options.auth, new Set(['username', 'password']), 'auth option');
  }
  if (typeof options.compression === 'object' && options.compression !== null) {
    checkNames(options.compression, new Set(['algorithm', 'threshold', 'level']), 'compression option');
  }
  const engine = resolveEngineOptions(options as EngineOptions, DEFAULTS);
  const routed = resolveRouting(options, engine.distribution);
  const discovery = options.discovery;
  if (
    discovery !== undefined &&
    (typeof discovery?.start !== 'function' || typeof discovery.stop !== 'function')
  ) {
    throw new InvalidArgumentError('discovery must have start() and stop()');
  }
  const keyPrefix = options.keyPrefix ?? DEFAULTS.keyPrefix;
  if (typeof keyPrefix !== 'string') throw new InvalidArgumentError('keyPrefix must be a string');
  checkKeyPrefix(keyPrefix, options.binaryKeys === true);
  const auth = options.auth;
  if (auth !== undefined) {
    if (typeof auth?.username !== 'string' || typeof auth.password !== 'string' || auth.username === '') {
      throw new InvalidArgumentError('auth must be { username, password } with string values');
    }
    if (/[\s]/.test(auth.username) || /[\r\n]/.test(auth.password)) {
      throw new InvalidArgumentError(
        'auth: the username may not contain whitespace, nor the password a newline',
      );
    }
  }
  const own = (name: 'maxDecompressedSize' | 'maxValueSize' | 'maxLineLength', min = 1) =>
    integer(options[name] ?? DEFAULTS[name], name, min);
  const flag = (name: 'hashKeyPrefix' | 'binaryKeys' | 'missOnError' | 'hashLongKeys' | 'coalesce') =>
    bool(options[name] ?? DEFAULTS[name], name);
  const maxDecompressedSize = own('maxDecompressedSize');
  return {
    ...engine,
    servers: routed?.servers ?? (options.servers as ResolvedOptions['servers']),
    routing: routed?.routing,
    keyPrefix,
    binaryKeys: flag('binaryKeys'),
    hashLongKeys: flag('hashLongKeys'),
    hashKeyPrefix: flag('hashKeyPrefix'),
    maxDecompressedSize,
    values: resolveValues(options, maxDecompressedSize),
    maxValueSize: own('maxValueSize'),
    maxStoreSize: options.maxValueSize === undefined ? DEFAULT_MAX_STORE_SIZE : own('maxValueSize'),
    maxLineLength: own('maxLineLength', 1024),
    discovery,
    missOnError: flag('missOnError'),
    coalesce: flag('coalesce'),
    nearCache: options.nearCache === undefined ? undefined : resolveNearCacheOptions(options.nearCache),
    reliableDeletes: resolveReliableDeletes(options.reliableDeletes),
    onError: typeof options.onError === 'function' ? options.onError : undefined,
    auth,
  };
}
