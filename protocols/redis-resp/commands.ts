/**
 * The command table: one row per command the codec knows, read by the codec (idempotency, routing
 * key, reply check) and by `sendCommand` (refusals). A command not in the table is sent as it is:
 * not idempotent, routed by its second word, any reply accepted.
 *
 * Replies are checked against `replies`: a reply of another kind (an integer where GET expects a
 * bulk string) can only mean the stream is out of step with the requests, and is fatal, the way a
 * memcached reply with the wrong opaque is.
 */
import type { RedisArg } from './encoder.js';
import type { ReplyKind } from './values.js';

/** One row of {@link COMMANDS}: what the client needs to know to route, retry and check a command. */
export interface CommandSpec {
  /** Where the first key is among the arguments (the command name is 0); 0: the command has no key. */
  readonly key: number;
  /**
   * Running it twice leaves the data as running it once, so the engine may send it again on another
   * connection after a failure. (The reply of the second run may differ: a repeated DEL counts 0.)
   */
  readonly idempotent: boolean;
  /** Arguments that make an idempotent command conditional, hence not idempotent (`SET … NX`). */
  readonly unlessArgs?: readonly string[];
  /** The kinds of reply the command answers with, besides an error; absent: any. */
  readonly replies?: readonly ReplyKind[] | undefined;
  /** The reply is an array with one element per argument from this position on (MGET, HMGET). */
  readonly onePerArgFrom?: number;
  /**
   * Why `sendCommand` and `pipeline` refuse it: it breaks "one reply per command", blocks the shared
   * connection, or changes per-connection state that the client's options own.
   */
  readonly refused?: string;
  /** Refused only when the argument after the name is one of these (`CLIENT REPLY`). */
  readonly refusedSubcommands?: readonly string[];
  /** Refused only when one of these arguments appears (`XREAD … BLOCK`). */
  readonly refusedWithArgs?: readonly string[];
}

const READ_BULK = ['bulk', 'null'] as const satisfies readonly ReplyKind[];
const INT = ['integer'] as const satisfies readonly ReplyKind[];
const ARRAY = ['array'] as const satisfies readonly ReplyKind[];
const PAIRS = ['array', 'map'] as const satisfies readonly ReplyKind[];
const MEMBERS = ['array', 'set'] as const satisfies readonly ReplyKind[];
const OK = ['simple'] as const satisfies readonly ReplyKind[];
/** INCRBYFLOAT and friends answer a bulk string in RESP2 and RESP3 alike; ZSCORE a double in RESP3. */
const FLOAT = ['bulk', 'double'] as const satisfies readonly ReplyKind[];
const SCORE = ['bulk', 'double', 'null'] as const satisfies readonly ReplyKind[];

const read = (replies?: readonly ReplyKind[], key = 1): CommandSpec => ({ key, idempotent: true, replies });
const write = (replies?: readonly ReplyKind[], key = 1): CommandSpec => ({ key, idempotent: false, replies });
/** Writes that leave the same data when repeated (SET, DEL, HSET, EXPIRE, SADD…). */
const overwrite = (replies?: readonly ReplyKind[], key = 1): CommandSpec => ({
  key,
  idempotent: true,
  replies,
});
const refuse = (refused: string): CommandSpec => ({ key: 0, idempotent: false, refused });

const MODE = 'changes the connection into a mode where replies are no longer one per command';
const SHARED = 'keeps per-connection state that other callers on the shared connection would join';
const OPTION = "is per-connection state set by the client's options (protocol, auth, database)";
const BLOCKS = 'blocks the shared connection for every other caller';

/**
 * The command table, by upper-case command name: which commands the client may send again after a
 * failure, where their key is, which replies it accepts, and which `sendCommand` refuses. Commands
 * not listed are sent as they are: not retried, routed by their second word, any reply accepted.
 */
export const COMMANDS: Readonly<Record<string, CommandSpec>> = Object.freeze({
  // strings
  GET: read(READ_BULK),
  MGET: { ...read(ARRAY), onePerArgFrom: 1 },
  STRLEN: read(INT),
  GETRANGE: read(['bulk']),
  SET: { ...overwrite(['simple', 'null', 'bulk']), unlessArgs: ['NX', 'XX', 'GET'] },
  SETEX: overwrite(OK),
  PSETEX: overwrite(OK),
  MSET: overwrite(OK),
  SETNX: write(INT),
  GETSET: write(READ_BULK),
  GETDEL: write(READ_BULK),
  APPEND: write(INT),
  SETRANGE: write(INT),
  // counters
  INCR: write(INT),
  INCRBY: write(INT),
  DECR: write(INT),
  DECRBY: write(INT),
  INCRBYFLOAT: write(FLOAT),
  // keys
  DEL: overwrite(INT),
  UNLINK: overwrite(INT),
  EXISTS: read(INT),
  TYPE: read(OK),
  TTL: read(INT),
  PTTL: read(INT),
  EXPIRE: overwrite(INT),
  PEXPIRE: overwrite(INT),
  EXPIREAT: overwrite(INT),
  PEXPIREAT: overwrite(INT),
  PERSIST: overwrite(INT),
  // hashes
  HGET: read(READ_BULK),
  HMGET: { ...read(ARRAY), onePerArgFrom: 2 },
  HGETALL: read(PAIRS),
  HKEYS: read(ARRAY),
  HVALS: read(ARRAY),
  HLEN: read(INT),
  HEXISTS: read(INT),
  HSTRLEN: read(INT),
  HSET: overwrite(INT),
  HMSET: overwrite(OK),
  HDEL: overwrite(INT),
  HSETNX: write(INT),
  HINCRBY: write(INT),
  HINCRBYFLOAT: write(FLOAT),
  // lists
  LRANGE: read(ARRAY),
  LLEN: read(INT),
  LINDEX: read(READ_BULK),
  LPUSH: write(INT),
  RPUSH: write(INT),
  LPOP: write(['bulk', 'null', 'array']),
  RPOP: write(['bulk', 'null', 'array']),
  // sets and sorted sets
  SMEMBERS: read(MEMBERS),
  SISMEMBER: read(INT),
  SCARD: read(INT),
  SADD: overwrite(INT),
  SREM: overwrite(INT),
  ZSCORE: read(SCORE),
  ZCARD: read(INT),
  ZRANGE: read(ARRAY),
  ZADD: { ...overwrite(['integer', 'null', 'bulk', 'double']), unlessArgs: ['INCR', 'NX', 'XX', 'GT', 'LT'] },
  ZINCRBY: write(FLOAT),
  // servers (no key: sent to the first server unless a server is named)
  PING: read(['simple', 'bulk'], 0),
  ECHO: read(['bulk'], 0),
  INFO: read(['bulk', 'verbatim'], 0),
  DBSIZE: read(INT, 0),
  TIME: read(ARRAY, 0),
  FLUSHDB: overwrite(OK, 0),
  FLUSHALL: overwrite(OK, 0),
  // streams: a blocking read is refused
  XREAD: { key: 0, idempotent: true, refused: BLOCKS, refusedWithArgs: ['BLOCK'] },
  XREADGROUP: { key: 0, idempotent: false, refused: BLOCKS, refusedWithArgs: ['BLOCK'] },
  // refused
  SUBSCRIBE: refuse(MODE),
  PSUBSCRIBE: refuse(MODE),
  SSUBSCRIBE: refuse(MODE),
  UNSUBSCRIBE: refuse(MODE),
  PUNSUBSCRIBE: refuse(MODE),
  SUNSUBSCRIBE: refuse(MODE),
  MONITOR: refuse(MODE),
  SYNC: refuse(MODE),
  PSYNC: refuse(MODE),
  CLIENT: { ...refuse(MODE), refusedSubcommands: ['REPLY', 'TRACKING'] },
  MULTI: refuse(`${SHARED}: use multi()`),
  EXEC: refuse(`${SHARED}: use multi()`),
  DISCARD: refuse(`${SHARED}: use multi()`),
  WATCH: refuse(SHARED),
  UNWATCH: refuse(SHARED),
  HELLO: refuse(OPTION),
  AUTH: refuse(OPTION),
  SELECT: refuse(OPTION),
  RESET: refuse(OPTION),
  QUIT: refuse(OPTION),
  BLPOP: refuse(BLOCKS),
  BRPOP: refuse(BLOCKS),
  BLMOVE: refuse(BLOCKS),
  BRPOPLPUSH: refuse(BLOCKS),
  BLMPOP: refuse(BLOCKS),
  BZPOPMIN: refuse(BLOCKS),
  BZPOPMAX: refuse(BLOCKS),
  BZMPOP: refuse(BLOCKS),
  WAIT: refuse(BLOCKS),
  WAITAOF: refuse(BLOCKS),
});

/** What a command not in the table is taken to be. */
export const UNKNOWN: CommandSpec = Object.freeze({ key: 1, idempotent: false });

/**
 * A short argument in upper case, for comparing with command names and option words; `""` for
 * anything longer than a word (a value), which then never matches one.
 */
function word(arg: RedisArg | undefined): string {
  if (typeof arg === 'string') return arg.length <= 32 ? arg.toUpperCase() : '';
  if (arg instanceof Uint8Array && arg.length <= 32) {
    return Buffer.from(arg.buffer, arg.byteOffset, arg.length).toString('latin1').toUpperCase();
  }
  return '';
}

/** The upper-case name of a command (`""` when its first argument is not a word). */
export function commandName(args: readonly RedisArg[]): string {
  return word(args[0]);
}

/** The table row of a command, or {@link UNKNOWN}. */
export function specOf(name: string): CommandSpec {
  return Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : UNKNOWN;
}

/** Whether `args` (a command of spec `spec`) may run again after a failure. */
export function isIdempotent(spec: CommandSpec, args: readonly RedisArg[]): boolean {
  if (!spec.idempotent) return false;
  const unless = spec.unlessArgs;
  if (unless === undefined) return true;
  // Conservative: a value that happens to read "NX" also counts.
  for (let i = spec.key + 1; i < args.length; i++) if (unless.includes(word(args[i]))) return false;
  return true;
}

/** Why `args` may not be sent through `sendCommand`, or `undefined`. */
export function refusal(spec: CommandSpec, args: readonly RedisArg[]): string | undefined {
  if (spec.refused === undefined) return undefined;
  if (spec.refusedSubcommands !== undefined) {
    return spec.refusedSubcommands.includes(word(args[1])) ? spec.refused : undefined;
  }
  if (spec.refusedWithArgs !== undefined) {
    const words = spec.refusedWithArgs;
    return args.some((a, i) => i > 0 && words.includes(word(a))) ? spec.refused : undefined;
  }
  return spec.refused;
}

/** The routing key of a command: its first key as text (Buffers as UTF-8), or `undefined`. */
export function keyOf(spec: CommandSpec, args: readonly RedisArg[]): string | undefined {
  if (spec.key === 0 || spec.key >= args.length) return undefined;
  const key = args[spec.key];
  if (typeof key === 'string') return key;
  // Routing needs only "same bytes, same server": a Buffer key and its UTF-8 text route alike.
  if (key instanceof Uint8Array) return Buffer.from(key.buffer, key.byteOffset, key.length).toString('utf8');
  return String(key);
}
