/**
 * RedisClient: a small typed Redis client on memline's engine, the same `Cluster`, `Backend` and
 * `Connection` the memcached client runs on.
 *
 * Several servers are shards chosen by the client: each key goes to the server the distribution
 * (ketama by default) maps it to, and calls over many keys (`mget`, `del`, `exists`, `pipeline`) are
 * split by server and sent in parallel. This is client-side sharding of standalone Redis servers,
 * not Redis Cluster: there are no hash slots, and a `MOVED` reply is an error.
 *
 * Every method validates its arguments before any I/O and returns a promise; bad input rejects it
 * (nothing is thrown synchronously). The per-call options object is always the last argument.
 */
import { prepareCall } from '../../lib/client-options.js';
import type { Backend, BackendStats } from '../../lib/backend.js';
import { Cluster } from '../../lib/cluster.js';
import {
  ClientClosedError,
  InvalidArgumentError,
  InvalidKeyError,
  PartialResultError,
  ValueTooLargeError,
  type MemlineError,
} from '../../lib/errors.js';
import type { SendOptions } from '../../lib/request-entry.js';
import { RespCodec } from './codec.js';
import { COMMANDS, commandName, keyOf, refusal, specOf } from './commands.js';
import type { RedisArg } from './encoder.js';
import { replyError } from './errors.js';
import { resolveRedisOptions, type RedisClientOptions, type ResolvedRedisOptions } from './options.js';
import { RedisRequest } from './request.js';
import { RespError, type RespValue } from './values.js';

/** A value to store: bytes, or a string (stored as UTF-8). */
export type Value = string | Buffer | Uint8Array;

/** Options every call takes, always as its last argument. */
export interface CallOptions {
  /** Rejects the call with ERR_ABORTED when it fires. */
  signal?: AbortSignal;
  /** ms for this call, counted from the call. @default the client's `timeout` */
  timeout?: number;
}

/** Options of `set`. */
export interface SetOptions extends CallOptions {
  /** Expire after this many seconds (`EX`). */
  ex?: number;
  /** Expire after this many milliseconds (`PX`). */
  px?: number;
  /** Only set a key that does not exist (`NX`). */
  nx?: boolean;
  /** Only set a key that exists (`XX`). */
  xx?: boolean;
}

/** Options of `sendCommand`, `pipeline` and `multi`: where the command goes. */
export interface CommandOptions extends CallOptions {
  /** Route by this key instead of the command's own first key (for keys that must share a server). */
  routingKey?: string;
  /** Send to this server, `"host:port"` as configured, instead of routing by key. */
  server?: string;
}

/** Fields of a hash to set. */
export type HashFields = Map<string, Value> | Record<string, Value> | Iterable<readonly [string, Value]>;

type AnyBackend = Backend<RedisRequest, unknown, RespValue>;

export class RedisClient {
  #options: ResolvedRedisOptions;
  #cluster: Cluster<RedisRequest, unknown, RespValue>;
  #closed = false;

  constructor(options: RedisClientOptions) {
    const o = (this.#options = resolveRedisOptions(options));
    const codec = new RespCodec({
      protocol: o.protocol,
      auth: o.auth,
      database: o.database,
      maxBulkSize: o.maxValueSize,
      maxElements: o.maxElements,
      maxDepth: o.maxDepth,
      maxLineLength: o.maxLineLength,
    });
    this.#cluster = new Cluster<RedisRequest, unknown, RespValue>(o.servers, {
      codec,
      distribution: o.distribution,
      tls: o.tls,
      connectTimeout: o.connectTimeout,
      keepAlive: o.keepAlive,
      maxPending: o.maxPending,
      connections: o.connectionsPerServer,
      silentTimeout: o.silentTimeout,
      maxQueuedBytes: o.maxQueuedBytes,
      maxPendingPerServer: o.maxPending * o.connectionsPerServer,
      breaker: o.breaker,
      reconnect: { base: o.reconnectBase, cap: o.reconnectCap },
      logger: o.logger,
    });
  }

  // ---- strings -------------------------------------------------------------------------------

  /** The value, or `null` when the key does not exist. */
  get(key: string, options?: CallOptions): Promise<Buffer | null> {
    return this.#run(options, (so) => {
      const k = this.#key(key);
      return this.#send(RedisRequest.command(['GET', k], COMMANDS.GET, k), so).then(bulkOrNull);
    });
  }

  /** Stores the value; `false` when `nx`/`xx` kept it from being set. */
  set(key: string, value: Value, options?: SetOptions): Promise<boolean> {
    return this.#run(options, (so) => {
      const k = this.#key(key);
      const args: RedisArg[] = ['SET', k, this.#value(value)];
      if (options !== undefined) {
        const { ex, px, nx, xx } = options;
        if (ex !== undefined && px !== undefined) throw new InvalidArgumentError('give ex or px, not both');
        if (ex !== undefined) args.push('EX', positive(ex, 'ex'));
        if (px !== undefined) args.push('PX', positive(px, 'px'));
        if (flag(nx, 'nx') && flag(xx, 'xx')) throw new InvalidArgumentError('give nx or xx, not both');
        if (nx === true) args.push('NX');
        if (xx === true) args.push('XX');
      }
      return this.#send(RedisRequest.command(args, COMMANDS.SET, k), so).then((r) => r !== null);
    });
  }

  /** Deletes the keys; resolves with how many existed. Keys on several servers are deleted in parallel. */
  del(keys: string | Iterable<string>, options?: CallOptions): Promise<number> {
    return this.#run(options, (so) => this.#count('DEL', keys, so));
  }

  /** How many of the keys exist (a key given twice counts twice, as in Redis). */
  exists(keys: string | Iterable<string>, options?: CallOptions): Promise<number> {
    return this.#run(options, (so) => this.#count('EXISTS', keys, so));
  }

  /**
   * The values of the keys that exist; missing keys are absent from the map. Keys are split by
   * server, one `MGET` per server, sent in parallel. When some servers fail: ERR_PARTIAL_RESULT, with
   * the values read in `results` and each failed key's error in `errors`.
   */
  mget(keys: Iterable<string>, options?: CallOptions): Promise<Map<string, Buffer>> {
    return this.#run(options, async (so) => {
      const list = [...new Set(this.#keys(keys))];
      const result = new Map<string, Buffer>();
      const errors = await this.#split(list, so, 'MGET', (part, reply) => {
        (reply as RespValue[]).forEach((v, j) => {
          if (Buffer.isBuffer(v)) result.set(part[j], v);
        });
      });
      return finish(result, errors, list.length, 'keys');
    });
  }

  // ---- counters ------------------------------------------------------------------------------

  /** Adds 1; a missing key counts from 0. Not retried after a failure (it could apply twice). */
  incr(key: string, options?: CallOptions): Promise<bigint> {
    return this.#counter('INCR', key, undefined, options);
  }

  /** Adds `delta` (a signed 64-bit integer). */
  incrBy(key: string, delta: number | bigint, options?: CallOptions): Promise<bigint> {
    return this.#counter('INCRBY', key, delta, options);
  }

  /** Subtracts 1. */
  decr(key: string, options?: CallOptions): Promise<bigint> {
    return this.#counter('DECR', key, undefined, options);
  }

  /** Subtracts `delta`. */
  decrBy(key: string, delta: number | bigint, options?: CallOptions): Promise<bigint> {
    return this.#counter('DECRBY', key, delta, options);
  }

  // ---- hashes --------------------------------------------------------------------------------

  /** Sets fields of a hash; resolves with how many fields were new. */
  hset(key: string, field: string, value: Value, options?: CallOptions): Promise<number>;
  hset(key: string, fields: HashFields, options?: CallOptions): Promise<number>;
  hset(
    key: string,
    fieldOrFields: string | HashFields,
    valueOrOptions?: Value | CallOptions,
    maybeOptions?: CallOptions,
  ): Promise<number> {
    const single = typeof fieldOrFields === 'string';
    const options = single ? maybeOptions : (valueOrOptions as CallOptions | undefined);
    return this.#run(options, (so) => {
      const k = this.#key(key);
      const args: RedisArg[] = ['HSET', k];
      if (single) {
        args.push(fieldOrFields, this.#value(valueOrOptions));
      } else {
        for (const [field, value] of entries(fieldOrFields))
          args.push(this.#field(field), this.#value(value));
        if (args.length === 2) throw new InvalidArgumentError('hset needs at least one field');
      }
      return this.#send(RedisRequest.command(args, COMMANDS.HSET, k), so).then(toNumber);
    });
  }

  /** A field's value, or `null` when the hash or the field does not exist. */
  hget(key: string, field: string, options?: CallOptions): Promise<Buffer | null> {
    return this.#run(options, (so) => {
      const k = this.#key(key);
      const req = RedisRequest.command(['HGET', k, this.#field(field)], COMMANDS.HGET, k);
      return this.#send(req, so).then(bulkOrNull);
    });
  }

  /** Every field of a hash, names as UTF-8 strings (empty when the hash does not exist). */
  hgetall(key: string, options?: CallOptions): Promise<Map<string, Buffer>> {
    return this.#run(options, (so) => {
      const k = this.#key(key);
      return this.#send(RedisRequest.command(['HGETALL', k], COMMANDS.HGETALL, k), so).then(toHash);
    });
  }

  /** Deletes fields of a hash; resolves with how many existed. */
  hdel(key: string, fields: string | Iterable<string>, options?: CallOptions): Promise<number> {
    return this.#run(options, (so) => {
      const k = this.#key(key);
      const names = typeof fields === 'string' ? [fields] : [...iterable(fields, 'fields')];
      if (names.length === 0) throw new InvalidArgumentError('hdel needs at least one field');
      const req = RedisRequest.command(['HDEL', k, ...names.map((f) => this.#field(f))], COMMANDS.HDEL, k);
      return this.#send(req, so).then(toNumber);
    });
  }

  /** Adds `delta` to a field of a hash; a missing field counts from 0. */
  hincrBy(key: string, field: string, delta: number | bigint, options?: CallOptions): Promise<bigint> {
    return this.#run(options, (so) => {
      const k = this.#key(key);
      const args = ['HINCRBY', k, this.#field(field), int64(delta, 'delta')];
      return this.#send(RedisRequest.command(args, COMMANDS.HINCRBY, k), so).then(toBigint);
    });
  }

  // ---- several commands ----------------------------------------------------------------------

  /**
   * Sends several commands at once and resolves with their replies, in order. Commands are routed
   * each by its own key (those without one go to the first server) and the commands for one server
   * are written together; servers are sent to in parallel. Not atomic: see {@link multi}.
   *
   * When some commands fail (a Redis error reply, or their server failed): ERR_PARTIAL_RESULT, whose
   * `results` is the array of replies with `undefined` where a command failed, and whose `errors`
   * maps each failed command's index (`"2"`) to its error.
   */
  pipeline(commands: readonly (readonly RedisArg[])[], options?: CommandOptions): Promise<RespValue[]> {
    return this.#run(options, async (so) => {
      const list = this.#commands(commands);
      const results = new Array<RespValue | undefined>(list.length).fill(undefined);
      const errors = new Map<string, MemlineError>();
      if (list.length === 0) return [];
      const target = this.#target(options);
      const parts = target !== undefined ? new Map([[target, list.map((_, i) => i)]]) : this.#byServer(list);
      await Promise.all(
        [...parts].map(([backend, indexes]) =>
          this.#toBackend(backend, indexes, list, so).then(
            (replies) => {
              indexes.forEach((i, j) => {
                const reply = replies[j];
                if (reply instanceof RespError) errors.set(String(i), replyError(reply));
                else results[i] = reply;
              });
            },
            (err: MemlineError) => {
              for (const i of indexes) errors.set(String(i), err);
            },
          ),
        ),
      );
      return finish(results, errors, list.length, 'commands') as RespValue[];
    });
  }

  /**
   * A transaction: `MULTI`, the commands, `EXEC`, written together on one connection, so no other
   * caller's command runs in between. Every key must live on one server (or pass `routingKey` or
   * `server`). Resolves with the replies in order. A command that fails when it runs (WRONGTYPE)
   * does not undo the others, as in Redis: ERR_PARTIAL_RESULT as for {@link pipeline}. A command
   * that cannot be queued (unknown command, wrong arity) fails the whole call, and nothing runs.
   */
  multi(commands: readonly (readonly RedisArg[])[], options?: CommandOptions): Promise<RespValue[]> {
    return this.#run(options, async (so) => {
      const list = this.#commands(commands);
      if (list.length === 0) throw new InvalidArgumentError('multi needs at least one command');
      let backend = this.#target(options);
      if (backend === undefined) {
        const owners = [...this.#byServer(list).keys()];
        if (owners.length > 1) {
          throw new InvalidArgumentError(
            'the keys of a transaction live on several servers; pass routingKey',
          );
        }
        backend = owners[0];
      }
      const replies = (await backend.send(RedisRequest.transaction(list), so)) as RespValue[];
      const errors = new Map<string, MemlineError>();
      const results = replies.map((reply, i) => {
        if (!(reply instanceof RespError)) return reply;
        errors.set(String(i), replyError(reply));
        return undefined;
      });
      return finish(results, errors, list.length, 'commands') as RespValue[];
    });
  }

  /**
   * Any command, as its arguments (name first), resolved with the decoded reply (see
   * {@link RespValue}). Routed by the command's first key when the table knows the command, else by
   * its second argument; `routingKey` or `server` choose instead. Commands that break "one reply
   * per command" or per-connection state (SUBSCRIBE, MULTI, SELECT, BLPOP…) are refused with
   * ERR_INVALID_ARGUMENT.
   */
  sendCommand(args: readonly RedisArg[], options?: CommandOptions): Promise<RespValue> {
    return this.#run(options, (so) => {
      const [checked] = this.#commands([args]);
      const req = RedisRequest.command(checked);
      const backend = this.#target(options) ?? this.#cluster.backendFor(req.key);
      return backend.send(req, so) as Promise<RespValue>;
    });
  }

  // ---- servers and lifecycle -----------------------------------------------------------------

  /** The server a key maps to (`"host:port"` as configured). */
  serverFor(key: string): string {
    return this.#cluster.backendFor(this.#key(key)).server;
  }

  /** Counters per server: connections, pending, in flight, errors, timeouts, breaker state. */
  get metrics(): BackendStats[] {
    return this.#cluster.stats;
  }

  /** Lets the requests already issued finish, then closes every connection. Later calls reject. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#cluster.close();
  }

  /** Closes every connection now; requests in flight reject with ERR_CLIENT_CLOSED. */
  destroy(): void {
    this.#closed = true;
    this.#cluster.destroy(new ClientClosedError('the client was destroyed'));
  }

  // ---- internals -----------------------------------------------------------------------------

  #key(key: unknown): string {
    if (typeof key !== 'string') throw new InvalidKeyError('a key must be a string');
    if (key.length > this.#options.maxValueSize) throw new InvalidKeyError('the key is over maxValueSize');
    return key;
  }

  #keys(keys: string | Iterable<string>): string[] {
    if (typeof keys === 'string') return [keys];
    return [...iterable(keys, 'keys')].map((k) => this.#key(k));
  }

  #field(field: unknown): string {
    if (typeof field !== 'string') throw new InvalidArgumentError('a hash field must be a string');
    return field;
  }

  /** A value as it goes on the wire, checked against maxValueSize. */
  #value(value: unknown): string | Buffer | Uint8Array {
    const max = this.#options.maxValueSize;
    if (typeof value === 'string') {
      if (value.length > max || (value.length * 3 > max && Buffer.byteLength(value) > max)) {
        throw new ValueTooLargeError(`a value is over maxValueSize ${max}`);
      }
      return value;
    }
    if (value instanceof Uint8Array) {
      if (value.length > max)
        throw new ValueTooLargeError(`a value of ${value.length} bytes is over maxValueSize ${max}`);
      return value;
    }
    throw new InvalidArgumentError('a value must be a string, a Buffer or a Uint8Array');
  }

  /** Validated commands: arrays of arguments, known to be safe to send on a shared connection. */
  #commands(commands: readonly (readonly RedisArg[])[]): RedisArg[][] {
    if (!Array.isArray(commands))
      throw new InvalidArgumentError('commands must be an array of argument arrays');
    return commands.map((args: unknown) => {
      if (!Array.isArray(args) || args.length === 0) {
        throw new InvalidArgumentError('a command is a non-empty array of arguments, its name first');
      }
      const out = (args as unknown[]).map((arg) => {
        if (typeof arg === 'number') {
          if (!Number.isFinite(arg)) throw new InvalidArgumentError('a number argument must be finite');
          return arg;
        }
        if (typeof arg === 'bigint') return arg;
        return this.#value(arg);
      });
      const name = commandName(out);
      if (name === '') throw new InvalidArgumentError('a command name must be a word');
      const why = refusal(specOf(name), out);
      if (why !== undefined) throw new InvalidArgumentError(`${name} is refused: it ${why}`);
      return out;
    });
  }

  /** The backend `options` names (by server or routing key), if it names one. */
  #target(options: CommandOptions | undefined): AnyBackend | undefined {
    if (options === undefined) return undefined;
    const { server, routingKey } = options;
    if (server !== undefined) {
      const backend = this.#cluster.backends.find((b) => b.server === server);
      if (backend === undefined)
        throw new InvalidArgumentError(`server "${String(server)}" is not configured`);
      return backend;
    }
    if (routingKey !== undefined) return this.#cluster.backendFor(this.#key(routingKey));
    return undefined;
  }

  /** Commands grouped by the server of their first key (no key: the first server), each in order. */
  #byServer(list: readonly RedisArg[][]): Map<AnyBackend, number[]> {
    const parts = new Map<AnyBackend, number[]>();
    list.forEach((args, i) => {
      const backend = this.#cluster.backendFor(keyOf(specOf(commandName(args)), args));
      const part = parts.get(backend);
      if (part === undefined) parts.set(backend, [i]);
      else part.push(i);
    });
    return parts;
  }

  #send(req: RedisRequest, so: SendOptions): Promise<RespValue> {
    return this.#cluster.backendFor(req.key).send(req, so) as Promise<RespValue>;
  }

  /** One server's share of a pipeline: one request, one reply per command. */
  #toBackend(
    backend: AnyBackend,
    indexes: number[],
    list: RedisArg[][],
    so: SendOptions,
  ): Promise<RespValue[]> {
    return backend.send(RedisRequest.pipeline(indexes.map((i) => list[i])), so) as Promise<RespValue[]>;
  }

  #counter(name: 'INCR' | 'DECR' | 'INCRBY' | 'DECRBY', key: string, delta: unknown, options?: CallOptions) {
    return this.#run(options, (so) => {
      const k = this.#key(key);
      const args: RedisArg[] = delta === undefined ? [name, k] : [name, k, int64(delta, 'delta')];
      return this.#send(RedisRequest.command(args, COMMANDS[name], k), so).then(toBigint);
    });
  }

  /** DEL and EXISTS over keys that may live on several servers: one command per server, counts summed. */
  async #count(name: 'DEL' | 'EXISTS', keys: string | Iterable<string>, so: SendOptions): Promise<number> {
    const list = this.#keys(keys);
    let total = 0;
    const errors = await this.#split(list, so, name, (_part, reply) => (total += toNumber(reply)));
    if (errors.size === 0) return total;
    return finish(total, errors, list.length, 'keys');
  }

  /**
   * Splits `keys` by server and sends `<name> <keys of that server>` to each, in parallel; hands
   * each reply to `onReply` with that server's keys. Resolves with the errors of the servers that
   * failed, by key: a failing server fails only its own keys.
   */
  async #split(
    keys: string[],
    so: SendOptions,
    name: 'MGET' | 'DEL' | 'EXISTS',
    onReply: (part: string[], reply: RespValue) => void,
  ): Promise<Map<string, MemlineError>> {
    const errors = new Map<string, MemlineError>();
    if (keys.length === 0) return errors;
    await Promise.all(
      [...this.#cluster.partition(keys)].map(([backend, indexes]) => {
        const part = indexes.map((i) => keys[i]);
        const req = RedisRequest.command([name, ...part], COMMANDS[name], part[0]);
        return backend.send(req, so).then(
          (reply) => onReply(part, reply as RespValue),
          (err: MemlineError) => {
            for (const key of part) errors.set(key, err);
          },
        );
      }),
    );
    return errors;
  }

  /** Validates the per-call options and fixes the deadline (counted from the call). */
  #prepare(options: CallOptions | undefined): SendOptions {
    if (this.#closed) throw new ClientClosedError('the client is closed');
    return prepareCall(options, this.#options.timeout);
  }

  /** Runs `body` with the call's deadline; anything it throws becomes a rejection. */
  #run<T>(options: CallOptions | undefined, body: (so: SendOptions) => Promise<T>): Promise<T> {
    try {
      return body(this.#prepare(options));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

/**
 * Ends a call over many keys or commands: the result, or ERR_PARTIAL_RESULT when some failed (the
 * error itself when all failed for one reason, e.g. the only server is down).
 */
function finish<R>(result: R, errors: Map<string, MemlineError>, total: number, what: string): R {
  if (errors.size === 0) return result;
  const distinct = new Set(errors.values());
  if (errors.size === total && distinct.size === 1) throw distinct.values().next().value!;
  throw new PartialResultError(`${errors.size} of ${total} ${what} failed`, result, errors);
}

function bulkOrNull(reply: RespValue): Buffer | null {
  return Buffer.isBuffer(reply) ? reply : null;
}

function toBigint(reply: RespValue): bigint {
  return reply as bigint;
}

function toNumber(reply: RespValue): number {
  return Number(reply);
}

/** HGETALL: a flat array of names and values (RESP2) or a map (RESP3). */
function toHash(reply: RespValue): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (reply instanceof Map) {
    for (const [name, value] of reply) out.set((name as Buffer).toString('utf8'), value as Buffer);
  } else {
    const flat = reply as Buffer[];
    for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i].toString('utf8'), flat[i + 1]);
  }
  return out;
}

function positive(n: unknown, name: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`${name} must be a positive integer`);
  }
  return n;
}

function flag(value: unknown, name: string): boolean {
  if (value !== undefined && typeof value !== 'boolean')
    throw new InvalidArgumentError(`${name} must be true or false`);
  return value === true;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function int64(n: unknown, name: string): bigint | number {
  if (typeof n === 'number' && Number.isSafeInteger(n)) return n;
  if (typeof n === 'bigint' && n >= INT64_MIN && n <= INT64_MAX) return n;
  throw new InvalidArgumentError(`${name} must be a safe integer or a bigint within signed 64 bits`);
}

function iterable<T>(value: Iterable<T>, name: string): Iterable<T> {
  if (typeof value !== 'object' || value === null || typeof value[Symbol.iterator] !== 'function') {
    throw new InvalidArgumentError(`${name} must be an iterable`);
  }
  return value;
}

function entries(fields: HashFields): Iterable<readonly [string, Value]> {
  if (typeof fields !== 'object' || fields === null) {
    throw new InvalidArgumentError('fields must be a Map, an object or an iterable of [field, value]');
  }
  if (Symbol.iterator in fields) return fields as Iterable<readonly [string, Value]>;
  return Object.entries(fields);
}
