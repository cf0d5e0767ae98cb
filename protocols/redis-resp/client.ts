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
import { clientMetrics, type ClientMetrics } from '../../lib/backend.js';
import { InvalidArgumentError, type MemlineError } from '../../lib/errors.js';
import {
  ClientCore,
  fanOut,
  finishPartial,
  iterable,
  splitByServer,
  type CallOptions,
  type RoutedCallOptions,
} from '../../lib/kit/index.js';
import type { SendOptions } from '../../lib/request-entry.js';
import { entries, flag, int64, positive, RedisArgs, type HashFields, type Value } from './arguments.js';
import { RespCodec } from './codec.js';
import { COMMANDS, commandName, keyOf, specOf } from './commands.js';
import type { RedisArg } from './encoder.js';
import { replyError } from './errors.js';
import { resolveRedisOptions, type RedisClientOptions } from './options.js';
import { bulkOrNull, toBigint, toHash, toNumber } from './replies.js';
import { RedisRequest } from './request.js';
import { RespError, type RespValue } from './values.js';

export type { CallOptions } from '../../lib/kit/index.js';
export type { HashFields, Value } from './arguments.js';

/** Options of `set`. */
export interface SetOptions extends CallOptions {
  /** Expire after this many seconds (`EX`). */
  ex?: number | undefined;
  /** Expire after this many milliseconds (`PX`). */
  px?: number | undefined;
  /** Only set a key that does not exist (`NX`). */
  nx?: boolean | undefined;
  /** Only set a key that exists (`XX`). */
  xx?: boolean | undefined;
}

/**
 * Options of `sendCommand`, `pipeline` and `multi`: where the command goes (`routingKey` instead of
 * the command's own first key, for keys that must share a server; or `server`, `"host:port"` as
 * configured, instead of routing by key).
 */
export type CommandOptions = RoutedCallOptions;

export class RedisClient {
  #core: ClientCore<RedisRequest, unknown, RespValue>;
  #args: RedisArgs;

  constructor(options: RedisClientOptions) {
    const o = resolveRedisOptions(options);
    const codec = new RespCodec({
      protocol: o.protocol,
      ...(o.auth === undefined ? {} : { auth: o.auth }),
      database: o.database,
      maxBulkSize: o.maxValueSize,
      maxElements: o.maxElements,
      maxDepth: o.maxDepth,
      maxLineLength: o.maxLineLength,
    });
    this.#core = new ClientCore(codec, o);
    this.#args = new RedisArgs(o.maxValueSize);
  }

  // ---- strings -------------------------------------------------------------------------------

  /** The value, or `null` when the key does not exist. */
  get(key: string, options?: CallOptions): Promise<Buffer | null> {
    return this.#core.run(options, (so) => {
      const k = this.#args.key(key);
      return this.#send(RedisRequest.command(['GET', k], COMMANDS.GET, k), so).then(bulkOrNull);
    });
  }

  /** Stores the value; `false` when `nx`/`xx` kept it from being set. */
  set(key: string, value: Value, options?: SetOptions): Promise<boolean> {
    return this.#core.run(options, (so) => {
      const k = this.#args.key(key);
      const args: RedisArg[] = ['SET', k, this.#args.value(value)];
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
    return this.#core.run(options, (so) => this.#count('DEL', keys, so));
  }

  /** How many of the keys exist (a key given twice counts twice, as in Redis). */
  exists(keys: string | Iterable<string>, options?: CallOptions): Promise<number> {
    return this.#core.run(options, (so) => this.#count('EXISTS', keys, so));
  }

  /**
   * The values of the keys that exist; missing keys are absent from the map. Keys are split by
   * server, one `MGET` per server, sent in parallel. When some servers fail: ERR_PARTIAL_RESULT, with
   * the values read in `results` and each failed key's error in `errors`.
   */
  mget(keys: Iterable<string>, options?: CallOptions): Promise<Map<string, Buffer>> {
    return this.#core.run(options, async (so) => {
      const list = [...new Set(this.#args.keys(keys))];
      const result = new Map<string, Buffer>();
      const errors = await this.#split(list, so, 'MGET', (part, reply) => {
        (reply as RespValue[]).forEach((v, j) => {
          if (Buffer.isBuffer(v)) result.set(list[part[j]], v);
        });
      });
      return finishPartial(result, errors, list.length);
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
    return this.#core.run(options, (so) => {
      const k = this.#args.key(key);
      const args: RedisArg[] = ['HSET', k];
      if (single) {
        args.push(fieldOrFields, this.#args.value(valueOrOptions));
      } else {
        for (const [field, value] of entries(fieldOrFields))
          args.push(this.#args.field(field), this.#args.value(value));
        if (args.length === 2) throw new InvalidArgumentError('hset needs at least one field');
      }
      return this.#send(RedisRequest.command(args, COMMANDS.HSET, k), so).then(toNumber);
    });
  }

  /** A field's value, or `null` when the hash or the field does not exist. */
  hget(key: string, field: string, options?: CallOptions): Promise<Buffer | null> {
    return this.#core.run(options, (so) => {
      const k = this.#args.key(key);
      const req = RedisRequest.command(['HGET', k, this.#args.field(field)], COMMANDS.HGET, k);
      return this.#send(req, so).then(bulkOrNull);
    });
  }

  /** Every field of a hash, names as UTF-8 strings (empty when the hash does not exist). */
  hgetall(key: string, options?: CallOptions): Promise<Map<string, Buffer>> {
    return this.#core.run(options, (so) => {
      const k = this.#args.key(key);
      return this.#send(RedisRequest.command(['HGETALL', k], COMMANDS.HGETALL, k), so).then(toHash);
    });
  }

  /** Deletes fields of a hash; resolves with how many existed. */
  hdel(key: string, fields: string | Iterable<string>, options?: CallOptions): Promise<number> {
    return this.#core.run(options, (so) => {
      const k = this.#args.key(key);
      const names = typeof fields === 'string' ? [fields] : [...iterable(fields, 'fields')];
      if (names.length === 0) throw new InvalidArgumentError('hdel needs at least one field');
      const req = RedisRequest.command(
        ['HDEL', k, ...names.map((f) => this.#args.field(f))],
        COMMANDS.HDEL,
        k,
      );
      return this.#send(req, so).then(toNumber);
    });
  }

  /** Adds `delta` to a field of a hash; a missing field counts from 0. */
  hincrBy(key: string, field: string, delta: number | bigint, options?: CallOptions): Promise<bigint> {
    return this.#core.run(options, (so) => {
      const k = this.#args.key(key);
      const args = ['HINCRBY', k, this.#args.field(field), int64(delta, 'delta')];
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
    return this.#core.run(options, async (so) => {
      const list = this.#args.commands(commands);
      if (list.length === 0) return [];
      const results = new Array<RespValue | undefined>(list.length).fill(undefined);
      const refused = new Map<string, MemlineError>();
      const parts = splitByServer(this.#core.cluster, keysOf(list), this.#target(options));
      const errors = await fanOut(parts, so, {
        request: (indexes) => RedisRequest.pipeline(indexes.map((i) => list[i])),
        onReply: (replies, indexes) => {
          indexes.forEach((i, j) => {
            const reply = (replies as RespValue[])[j];
            if (reply instanceof RespError) refused.set(String(i), replyError(reply));
            else results[i] = reply;
          });
        },
        name: String,
      });
      for (const [i, err] of refused) errors.set(i, err);
      return finishPartial(results, errors, list.length, 'commands') as RespValue[];
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
    return this.#core.run(options, async (so) => {
      const list = this.#args.commands(commands);
      if (list.length === 0) throw new InvalidArgumentError('multi needs at least one command');
      let backend = this.#target(options);
      if (backend === undefined) {
        const owners = [...splitByServer(this.#core.cluster, keysOf(list)).keys()];
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
      return finishPartial(results, errors, list.length, 'commands') as RespValue[];
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
    return this.#core.run(options, (so) => {
      const [checked] = this.#args.commands([args]);
      const req = RedisRequest.command(checked);
      const backend = this.#target(options) ?? this.#core.cluster.backendFor(req.key);
      return backend.send(req, so) as Promise<RespValue>;
    });
  }

  // ---- servers and lifecycle -----------------------------------------------------------------

  /** The server a key maps to (`"host:port"` as configured). */
  serverFor(key: string): string {
    return this.#core.cluster.backendFor(this.#args.key(key)).server;
  }

  /**
   * Counters per server and in total: connections, pending, in flight, created, reconnects,
   * errors, timeouts, and each server's breaker state.
   */
  get metrics(): ClientMetrics {
    return clientMetrics(this.#core.cluster.stats);
  }

  /** Lets the requests already issued finish, then closes every connection. Later calls reject. */
  close(): Promise<void> {
    return this.#core.close();
  }

  /** Closes every connection now; requests in flight reject with ERR_CLIENT_CLOSED. */
  destroy(): void {
    this.#core.destroy();
  }

  // ---- internals -----------------------------------------------------------------------------

  /** The backend `options` names (by server or routing key), if it names one. */
  #target(options: CommandOptions | undefined) {
    return this.#core.target(options, (key) => this.#args.key(key));
  }

  #send(req: RedisRequest, so: SendOptions): Promise<RespValue> {
    return this.#core.cluster.backendFor(req.key).send(req, so) as Promise<RespValue>;
  }

  #counter(name: 'INCR' | 'DECR' | 'INCRBY' | 'DECRBY', key: string, delta: unknown, options?: CallOptions) {
    return this.#core.run(options, (so) => {
      const k = this.#args.key(key);
      const args: RedisArg[] = delta === undefined ? [name, k] : [name, k, int64(delta, 'delta')];
      return this.#send(RedisRequest.command(args, COMMANDS[name], k), so).then(toBigint);
    });
  }

  /** DEL and EXISTS over keys that may live on several servers: one command per server, counts summed. */
  async #count(name: 'DEL' | 'EXISTS', keys: string | Iterable<string>, so: SendOptions): Promise<number> {
    const list = this.#args.keys(keys);
    let total = 0;
    const errors = await this.#split(list, so, name, (_part, reply) => (total += toNumber(reply)));
    return finishPartial(total, errors, list.length);
  }

  /**
   * Splits `keys` by server and sends `<name> <keys of that server>` to each, in parallel; hands
   * each reply to `onReply` with the indexes of that server's keys. Resolves with the errors of the
   * servers that failed, by key: a failing server fails only its own keys.
   */
  #split(
    keys: string[],
    so: SendOptions,
    name: 'MGET' | 'DEL' | 'EXISTS',
    onReply: (part: readonly number[], reply: RespValue) => void,
  ): Promise<Map<string, MemlineError>> {
    return fanOut(splitByServer(this.#core.cluster, keys), so, {
      request: (indexes) => {
        const part = indexes.map((i) => keys[i]);
        return RedisRequest.command([name, ...part], COMMANDS[name], part[0]);
      },
      onReply: (reply, indexes) => onReply(indexes, reply as RespValue),
      name: (i) => keys[i],
    });
  }
}

/** The routing key of each command: its first key, per the command table (none: the first server). */
function keysOf(list: readonly RedisArg[][]): (string | undefined)[] {
  return list.map((args) => keyOf(specOf(commandName(args)), args));
}
