/**
 * The options of {@link RedisClient}: the engine's (servers, timeouts, bounds, TLS, breaker), shared
 * with every client on the engine, plus Redis's own; typed, documented, with frozen defaults,
 * validated in the constructor with an error that names the option.
 */
import * as kit from '../../lib/kit/index.js';
import { InvalidArgumentError } from '../../lib/errors.js';

/** TLS settings: the same as the memcached client's. */
export type RedisTlsOptions = kit.TlsOptions;

/**
 * The settings of a {@link RedisClient}; only `servers` is required. Several servers are shards
 * chosen by the client from each key (`distribution`), not a Redis Cluster: every server is a
 * standalone Redis, and `MOVED`/`ASK` replies are errors.
 */
export interface RedisClientOptions extends kit.EngineOptions {
  /** 2: RESP2 (any Redis); 3: RESP3 via `HELLO 3` on every connection (Redis ≥ 6). @default 2 */
  protocol?: 2 | 3;
  /** Credentials sent on every new connection; `username` defaults to `default`. @default undefined */
  auth?: { username?: string; password: string };
  /** The database `SELECT`ed on every new connection. @default 0 */
  database?: number;
  /** Largest value accepted for writing, and largest bulk string accepted in a reply. @default 16777216 */
  maxValueSize?: number;
  /** Most elements in one reply, over all its nested arrays, maps and sets. @default 1000000 */
  maxElements?: number;
  /** Deepest nesting of arrays, maps and sets in one reply. @default 32 */
  maxDepth?: number;
  /** Longest simple line in a reply (status, error, number). @default 65536 */
  maxLineLength?: number;
}

/**
 * The values {@link RedisClientOptions} falls back to for options left out, frozen; read them to
 * derive your own settings rather than repeating the numbers.
 */
export const REDIS_DEFAULTS = Object.freeze({
  ...kit.ENGINE_DEFAULTS,
  protocol: 2 as const,
  database: 0,
  maxValueSize: 16 * 1024 * 1024,
  maxElements: 1_000_000,
  maxDepth: 32,
  maxLineLength: 64 * 1024,
});

/** {@link RedisClientOptions} with every default filled in and every value checked. */
export interface ResolvedRedisOptions extends kit.ResolvedEngineOptions {
  readonly protocol: 2 | 3;
  readonly auth: RedisClientOptions['auth'];
  readonly database: number;
  readonly maxValueSize: number;
  readonly maxElements: number;
  readonly maxDepth: number;
  readonly maxLineLength: number;
}

/** Fills in the defaults and validates; throws ERR_INVALID_ARGUMENT naming the option. */
export function resolveRedisOptions(options: RedisClientOptions): ResolvedRedisOptions {
  const engine = kit.resolveEngineOptions(options, REDIS_DEFAULTS);
  const protocol = options.protocol ?? REDIS_DEFAULTS.protocol;
  if (protocol !== 2 && protocol !== 3) throw new InvalidArgumentError('protocol must be 2 or 3');
  const auth = options.auth;
  if (auth !== undefined) {
    const shape = '{ username?, password } with string values';
    if (typeof kit.objectOption(auth, 'auth', shape).password !== 'string')
      throw new InvalidArgumentError(`auth must be ${shape}`);
    if (auth.username !== undefined && (typeof auth.username !== 'string' || auth.username === '')) {
      throw new InvalidArgumentError('auth.username must be a non-empty string');
    }
  }
  const own = (name: 'database' | 'maxValueSize' | 'maxElements' | 'maxDepth' | 'maxLineLength', min = 1) =>
    kit.integer(options[name] ?? REDIS_DEFAULTS[name], name, min);
  return {
    ...engine,
    protocol,
    auth,
    database: own('database', 0),
    maxValueSize: own('maxValueSize'),
    maxElements: own('maxElements'),
    maxDepth: own('maxDepth'),
    maxLineLength: own('maxLineLength', 256),
  };
}
