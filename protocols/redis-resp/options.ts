/**
 * The options of {@link RedisClient}: typed, documented, with frozen defaults, validated in the
 * constructor with an error that names the option.
 */
import { resolveBreaker, resolveTls, type TlsOptions } from '../../lib/client-options.js';
import type { ConnectionOptions as TlsConnectOptions } from 'node:tls';
import type { EngineLogger } from '../../lib/backend.js';
import type { BreakerOptions } from '../../lib/breaker.js';
import type { ServerSpec } from '../../lib/cluster.js';
import type { DistributionKind } from '../../lib/distribution/index.js';
import { InvalidArgumentError } from '../../lib/errors.js';

/** TLS settings. Certificate verification is on unless switched off by its loudly named option. */
/** TLS settings: the same as the memcached client's. */
export type RedisTlsOptions = TlsOptions;

/** The settings of a {@link RedisClient}; only `servers` is required. */
export interface RedisClientOptions {
  /**
   * The servers, as `"host:port"` or `{ host, port, weight? }`. Several servers are shards chosen by
   * the client from each key (`distribution`), not a Redis Cluster: every server is a standalone
   * Redis, and `MOVED`/`ASK` replies are errors.
   */
  servers: readonly ServerSpec[];
  /** How keys map to servers: `'ketama'`, `'jump'`, `'modula'` or a function. @default 'ketama' */
  distribution?: DistributionKind;
  /** 2: RESP2 (any Redis); 3: RESP3 via `HELLO 3` on every connection (Redis ≥ 6). @default 2 */
  protocol?: 2 | 3;
  /** Credentials sent on every new connection; `username` defaults to `default`. @default undefined */
  auth?: { username?: string; password: string };
  /** The database `SELECT`ed on every new connection. @default 0 */
  database?: number;
  /** ms per call, counted from the call (queueing and connecting included). @default 1000 */
  timeout?: number;
  /** ms to open a connection (TCP, TLS and the handshake). @default 1000 */
  connectTimeout?: number;
  /** TLS: `true` for the system's CAs, or settings. @default undefined (plain TCP) */
  tls?: boolean | RedisTlsOptions;
  /** Connections per server. @default 1 */
  connectionsPerServer?: number;
  /** Requests queued plus in flight per connection; past it ERR_QUEUE_FULL. @default 16384 */
  maxPending?: number;
  /** TCP keepalive initial delay in ms; 0 turns it off. @default 30000 */
  keepAlive?: number;
  /** Largest value accepted for writing, and largest bulk string accepted in a reply. @default 16777216 */
  maxValueSize?: number;
  /** Most elements in one reply, over all its nested arrays, maps and sets. @default 1000000 */
  maxElements?: number;
  /** Deepest nesting of arrays, maps and sets in one reply. @default 32 */
  maxDepth?: number;
  /** Longest simple line in a reply (status, error, number). @default 65536 */
  maxLineLength?: number;
  /** Bytes queued for one connection and not yet taken by the kernel; past it ERR_QUEUE_FULL. @default 67108864 */
  maxQueuedBytes?: number;
  /**
   * ms a connection may go without a byte while requests are in flight before it is considered dead;
   * 0: never. @default 2000
   */
  silentTimeout?: number;
  /** Per-server circuit breaker, as in the memcached client. @default { threshold: 5, openTime: 1000, maxOpenTime: 5000 } */
  breaker?: { threshold?: number; openTime?: number; maxOpenTime?: number };
  /** First reconnect delay after a failed connect, in ms. @default 50 */
  reconnectBase?: number;
  /** Longest reconnect delay, in ms. @default 2000 */
  reconnectCap?: number;
  /** A pino logger. @default undefined (silent) */
  logger?: EngineLogger;
}

/**
 * The values {@link RedisClientOptions} falls back to for options left out, frozen; read them to
 * derive your own settings rather than repeating the numbers.
 */
export const REDIS_DEFAULTS = Object.freeze({
  distribution: 'ketama' as const,
  protocol: 2 as const,
  database: 0,
  timeout: 1000,
  connectTimeout: 1000,
  connectionsPerServer: 1,
  maxPending: 16384,
  keepAlive: 30_000,
  maxValueSize: 16 * 1024 * 1024,
  maxElements: 1_000_000,
  maxDepth: 32,
  maxLineLength: 64 * 1024,
  maxQueuedBytes: 64 * 1024 * 1024,
  silentTimeout: 2000,
  reconnectBase: 50,
  reconnectCap: 2000,
  breaker: Object.freeze({ threshold: 5, openTime: 1000, maxOpenTime: 5000 }),
});

type IntOption = {
  [K in keyof typeof REDIS_DEFAULTS]: (typeof REDIS_DEFAULTS)[K] extends number ? K : never;
}[keyof typeof REDIS_DEFAULTS];

export type ResolvedRedisOptions = Required<Omit<RedisClientOptions, 'tls' | 'auth' | 'logger' | 'breaker'>> &
  Pick<RedisClientOptions, 'auth' | 'logger'> & {
    tls: TlsConnectOptions | undefined;
    breaker: BreakerOptions;
  };

/** The longest delay a Node timer takes. */
const MAX_MS = 2 ** 31 - 1;
const DURATIONS: ReadonlySet<string> = new Set([
  'timeout',
  'connectTimeout',
  'keepAlive',
  'silentTimeout',
  'reconnectBase',
  'reconnectCap',
]);

function int(options: RedisClientOptions, name: IntOption, min = 1): number {
  const value = options[name] ?? REDIS_DEFAULTS[name];
  const max = DURATIONS.has(name) ? MAX_MS : Number.MAX_SAFE_INTEGER;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** Fills in the defaults and validates; throws ERR_INVALID_ARGUMENT naming the option. */
export function resolveRedisOptions(options: RedisClientOptions): ResolvedRedisOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options must be an object with at least `servers`');
  }
  const distribution = options.distribution ?? REDIS_DEFAULTS.distribution;
  if (typeof distribution !== 'function' && !['ketama', 'jump', 'modula'].includes(distribution)) {
    throw new InvalidArgumentError(
      `distribution "${String(distribution)}" is unknown: use 'ketama', 'jump', 'modula' or a function`,
    );
  }
  const protocol = options.protocol ?? REDIS_DEFAULTS.protocol;
  if (protocol !== 2 && protocol !== 3) throw new InvalidArgumentError('protocol must be 2 or 3');
  const auth = options.auth;
  if (auth !== undefined) {
    if (typeof auth !== 'object' || auth === null || typeof auth.password !== 'string') {
      throw new InvalidArgumentError('auth must be { username?, password } with string values');
    }
    if (auth.username !== undefined && (typeof auth.username !== 'string' || auth.username === '')) {
      throw new InvalidArgumentError('auth.username must be a non-empty string');
    }
  }
  return {
    servers: options.servers,
    distribution,
    protocol,
    auth,
    database: int(options, 'database', 0),
    timeout: int(options, 'timeout'),
    connectTimeout: int(options, 'connectTimeout'),
    tls: resolveTls(options.tls),
    connectionsPerServer: int(options, 'connectionsPerServer'),
    maxPending: int(options, 'maxPending'),
    keepAlive: int(options, 'keepAlive', 0),
    maxValueSize: int(options, 'maxValueSize'),
    maxElements: int(options, 'maxElements'),
    maxDepth: int(options, 'maxDepth'),
    maxLineLength: int(options, 'maxLineLength', 256),
    maxQueuedBytes: int(options, 'maxQueuedBytes'),
    silentTimeout: int(options, 'silentTimeout', 0),
    breaker: resolveBreaker(options.breaker, REDIS_DEFAULTS.breaker),
    reconnectBase: int(options, 'reconnectBase'),
    reconnectCap: int(options, 'reconnectCap'),
    logger: options.logger,
  };
}
