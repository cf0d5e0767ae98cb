/**
 * MemcacheClient: the typed API over the meta protocol. Every method validates its arguments before
 * any I/O and returns a promise; bad input rejects it with ERR_INVALID_KEY / ERR_INVALID_ARGUMENT /
 * ERR_VALUE_TOO_LARGE (nothing is thrown synchronously). The per-call options object is always last.
 *
 * The class is a facade: each method hands its arguments to the module that does the work (reads,
 * writes, bulk, server-calls, low-level, recipes), all of them built on one {@link Dispatch} (keys,
 * routing, sending, counters) over the client kit's `ClientCore`.
 */
import type { ServerListChange, ServerSpec } from '../../lib/cluster.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import * as bulk from './bulk.js';
import type {
  AppendOptions,
  CallOptions,
  ClientMetrics,
  CounterOptions,
  DeleteOptions,
  MetaRequestSpec,
  ReadManyOptions,
  ReadOptions,
  StoreOptions,
  ValueStoreOptions,
} from './call-options.js';
import { Dispatch } from './dispatch.js';
import type { ServerFeatures } from './features.js';
import { meta } from './low-level.js';
import { resolveOptions, type MemcacheClientOptions } from './options.js';
import * as reads from './reads.js';
import {
  getOrSet,
  lock,
  update,
  type GetOrSetOptions,
  type LockHandle,
  type RecipeClient,
  type UpdateOptions,
} from './recipes.js';
import type { DebugInfo, Item, Key, MetaResult, Value } from './results.js';
import type { RouteMetrics } from './routes/router.js';
import * as servers from './server-calls.js';
import * as writes from './writes.js';
export type {
  AppendOptions,
  CallOptions,
  ClientMetrics,
  CounterOptions,
  DeleteOptions,
  ExpiryOptions,
  MetaRequestSpec,
  ReadManyOptions,
  ReadOptions,
  ServerMetrics,
  StoreOptions,
  ValueStoreOptions,
} from './call-options.js';

/**
 * A memcached client. `V` is the type of the values `getValue`, `getValues` and `getOrSet` return:
 * `Buffer` without a `serializer`, the serializer's type (`unknown` for the built-in ones) with one.
 *
 * Keys are strings or bytes (see {@link Key}); results name a byte key by the base64 of its bytes.
 */
export class MemcacheClient<V = Buffer> implements RecipeClient {
  readonly #d: Dispatch;

  constructor(options: MemcacheClientOptions<V>) {
    const o = resolveOptions(options);
    this.#d = new Dispatch(o);
    o.discovery?.start(
      (list) => {
        try {
          const change = this.setServers(list);
          o.logger?.debug({ ...change }, 'memline: server list changed');
        } catch (err) {
          o.logger?.warn({ err }, 'memline: discovery gave an unusable server list');
        }
      },
      (err) => o.logger?.warn({ code: err.code, server: err.server }, 'memline: discovery failed'),
    );
  }

  // ---- single-key commands -------------------------------------------------------------------

  /** The item, or `null` on a miss. `options.meta` adds metadata to the item, `options.touch` sets its TTL. */
  get(key: Key, options?: ReadOptions): Promise<Item | null> {
    return reads.get(this.#d, key, options);
  }

  /** Get and touch: the item with its TTL set to `ttl`, or `null` on a miss. */
  gat(key: Key, ttl: number, options?: CallOptions): Promise<Item | null> {
    return reads.gat(this.#d, key, ttl, options);
  }

  /** Sets the TTL; `false` when the key does not exist. */
  touch(key: Key, ttl: number, options?: CallOptions): Promise<boolean> {
    return reads.touch(this.#d, key, ttl, options);
  }

  /**
   * The value, decoded by the client's serializer (without one: the bytes), or `null` on a miss.
   * Takes the options of {@link get}.
   */
  getValue<T extends V = V>(key: Key, options?: ReadOptions): Promise<T | null> {
    return reads.getValue(this.#d, key, options) as Promise<T | null>;
  }

  /** Stores a value through the client's serializer (without one: bytes or a string, as {@link set}). */
  setValue(key: Key, value: V | Value, options?: ValueStoreOptions): Promise<void> {
    return writes.setValue(this.#d, key, value, options);
  }

  /** Stores the value unconditionally. */
  set(key: Key, value: Value, options?: StoreOptions): Promise<void> {
    return writes.set(this.#d, key, value, options);
  }

  /** Stores only if the key does not exist; `false` when it does. */
  add(key: Key, value: Value, options?: StoreOptions): Promise<boolean> {
    return writes.store(this.#d, key, value, options, ' ME', undefined).then(writes.stored);
  }

  /** Stores only if the key exists; `false` when it does not. */
  replace(key: Key, value: Value, options?: StoreOptions): Promise<boolean> {
    return writes.store(this.#d, key, value, options, ' MR', undefined).then(writes.stored);
  }

  /**
   * Appends to an existing value (TTL and flags unchanged); `false` when the key does not exist
   * (unless `vivify` creates it).
   */
  append(key: Key, value: Value, options?: AppendOptions): Promise<boolean> {
    return writes.store(this.#d, key, value, options, ' MA', undefined).then(writes.stored);
  }

  /**
   * Prepends to an existing value (TTL and flags unchanged); `false` when the key does not exist
   * (unless `vivify` creates it).
   */
  prepend(key: Key, value: Value, options?: AppendOptions): Promise<boolean> {
    return writes.store(this.#d, key, value, options, ' MP', undefined).then(writes.stored);
  }

  /**
   * Stores only if the item's CAS is still `cas`; `false` when it changed or is gone, or when the
   * token was read from another server than the one the key maps to now (after `setServers` or
   * discovery moved it): then nothing is sent. A missing token is ERR_INVALID_ARGUMENT, never an
   * unconditional write.
   */
  cas(key: Key, value: Value, cas: bigint | number, options?: StoreOptions): Promise<boolean> {
    return writes.casStore(this.#d, key, value, cas, options);
  }

  /** `false` when the key was not found. With `keepItem`, empties the value instead (md x). */
  delete(key: Key, options?: DeleteOptions): Promise<boolean> {
    return writes.remove(this.#d, key, options);
  }

  /** Marks the item stale (`md I`): it is served stale while one `getOrSet` caller recomputes. */
  invalidate(key: Key, options?: CallOptions & { staleTtl?: number | undefined }): Promise<boolean> {
    return writes.invalidate(this.#d, key, options);
  }

  /** Adds `delta` (default 1); `null` when the key is missing and no `initial` was given. Wraps at 2^64. */
  incr(key: Key, delta?: number | bigint, options?: CounterOptions): Promise<bigint | null> {
    return writes.counter(this.#d, key, delta, options, '');
  }

  /** Subtracts `delta` (default 1), stopping at 0; `null` when the key is missing and no `initial`. */
  decr(key: Key, delta?: number | bigint, options?: CounterOptions): Promise<bigint | null> {
    return writes.counter(this.#d, key, delta, options, ' MD');
  }

  /**
   * Whether an item changed since it was read: the same `item` when its CAS still matches (the
   * server sends no value), the new item when it changed, `null` when it is gone (`mg … C<cas>`).
   * Needs memcached ≥ 1.6.40 (checked with `version` first).
   */
  revalidate(item: Item, options?: CallOptions): Promise<Item | null> {
    return reads.revalidate(this.#d, item, options);
  }

  /**
   * What the server's `me` (meta debug) says about a key, or `null` when it is missing. For humans
   * and debugging: it costs a `version` probe the first time per server. Refused for binary keys,
   * whose `me` reply can carry the key's raw bytes (see `AppendOptions.vivify`).
   */
  debug(key: string, options?: CallOptions): Promise<DebugInfo | null> {
    return reads.debug(this.#d, key, options);
  }

  // ---- bulk commands: quiet requests with opaques, fenced by mn ------------------------------

  /**
   * The items found; misses are absent from the map, which is keyed as {@link Item.key} (a byte key
   * by its base64). Keys are split by server and sent in parallel.
   */
  getMulti(keys: Iterable<Key>, options?: ReadManyOptions): Promise<Map<string, Item>> {
    return bulk.getMulti(this.#d, keys, options);
  }

  /**
   * The values found, decoded by the client's serializer (without one: the bytes); misses are
   * absent. A value that cannot be decoded fails its key only (ERR_PARTIAL_RESULT).
   */
  getValues<T extends V = V>(keys: Iterable<Key>, options?: ReadManyOptions): Promise<Map<string, T>> {
    return bulk.getValues(this.#d, keys, options) as Promise<Map<string, T>>;
  }

  /** Get and touch many: the items found, each with its TTL set to `ttl`. */
  gatMulti(keys: Iterable<Key>, ttl: number, options?: CallOptions): Promise<Map<string, Item>> {
    return bulk.gatMulti(this.#d, keys, ttl, options);
  }

  /** Sets the TTL of many keys: `true` for each key found, `false` for each missing. */
  touchMulti(keys: Iterable<Key>, ttl: number, options?: CallOptions): Promise<Map<string, boolean>> {
    return bulk.touchMulti(this.#d, keys, ttl, options);
  }

  /** Stores every entry; rejects with ERR_PARTIAL_RESULT naming the keys that were not stored. */
  setMulti(
    entries: Map<Key, Value> | Iterable<readonly [Key, Value]>,
    options?: StoreOptions,
  ): Promise<void> {
    return bulk.setMulti(this.#d, entries, options);
  }

  /** Deletes every key: `true` for each deleted, `false` for each not found. */
  deleteMulti(keys: Iterable<Key>, options?: CallOptions): Promise<Map<string, boolean>> {
    return bulk.deleteMulti(this.#d, keys, options);
  }

  // ---- per-server commands: every server, or the one `options.server` names --------------------

  /** Each server's version (`"1.6.18"`), keyed by its address as given. */
  version(options?: CallOptions): Promise<Map<string, string>> {
    return servers.version(this.#d, options);
  }

  /**
   * What each server can do beyond memcached 1.6.18 (`E`, `md x`, `mg C`, `ms s`/`N`…), from its
   * `version`, asked now. Methods that need a feature ask by themselves the first time.
   */
  features(options?: CallOptions): Promise<Map<string, ServerFeatures>> {
    return servers.features(this.#d, options);
  }

  /** Each server's `stats [group]`, keyed by its address as given. */
  stats(group?: string, options?: CallOptions): Promise<Map<string, Record<string, string>>> {
    return servers.stats(this.#d, group, options);
  }

  /** Invalidates every item on every server (or on `options.server`), now or after `delay` seconds. */
  flushAll(delay?: number, options?: CallOptions): Promise<void> {
    return servers.flushAll(this.#d, delay, options);
  }

  // ---- recipes (recipes.ts) --------------------------------------------------------------------

  /**
   * The cached value, or on a miss the loader's, computed by one caller across all clients. With a
   * serializer, values go through it (the winner gets what its loader returned, the others the
   * decoded value); without one, the bytes. The loader gets an `AbortSignal` that fires when the
   * call's `signal` fires or its `timeout` (when given: counted from the call, loader included)
   * passes; the call settles then, and a lease it holds is given back at once.
   */
  getOrSet<T extends V = V>(
    key: string,
    loader: (signal: AbortSignal) => Promise<T | Value> | T | Value,
    options?: GetOrSetOptions,
  ): Promise<T> {
    const io = reads.valueIo(this.#d, key, options);
    return this.#d.core.guard(() => getOrSet(this, io, key, loader, options ?? {})) as Promise<T>;
  }

  /** CAS read-modify-write with bounded retries; returns the value written (or `null` if `fn` declined). */
  update(
    key: string,
    fn: (current: Item | null) => Promise<Value | undefined> | Value | undefined,
    options?: UpdateOptions,
  ): Promise<Buffer | null> {
    return this.#d.core.guard(() => update(this, this.#d.casTags, key, fn, options ?? {}));
  }

  /**
   * An advisory lock held until `release()` or `ttl` seconds; `null` if someone else holds it. Not a
   * fencing lock: a holder paused past its TTL does not know it lost the lock.
   */
  lock(key: string, options: CallOptions & { ttl: number }): Promise<LockHandle | null> {
    return this.#d.core.guard(() => lock(this, key, options));
  }

  // ---- low level -------------------------------------------------------------------------------

  /** Sends any meta request (validated against the command table) and returns its parsed reply. */
  meta(request: MetaRequestSpec, options?: CallOptions): Promise<MetaResult> {
    return meta(this.#d, request, options);
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /** Lets the requests already issued finish, then closes every connection. Later calls reject. */
  async close(): Promise<void> {
    // The journal stops first, so no replay round starts while the queue drains.
    await this.#d.journal?.close();
    this.#d.router?.close();
    await this.#d.background?.idle();
    await Promise.all([this.#d.options.discovery?.stop(), this.#d.core.close()]);
  }

  /** Closes every connection now; requests in flight reject with ERR_CLIENT_CLOSED. */
  destroy(): void {
    void this.#d.options.discovery?.stop();
    this.#d.journal?.destroy();
    this.#d.router?.close();
    this.#d.background?.clear();
    this.#d.core.destroy();
  }

  /**
   * Counters per server and for the whole client: connections, pending, in flight, created,
   * reconnects, errors, timeouts, hits, misses; the near cache's and, with `reliableDeletes`, the
   * delete journal's (`depth`, `replayed`, `dropped`…). (Named `metrics` because `stats()` is memcached's
   * own `stats` command.)
   */
  get metrics(): ClientMetrics {
    const metrics = this.#d.counters.metrics(this.#d.core.cluster.stats);
    const near = this.#d.hot.stats();
    const journal = this.#d.journal?.stats;
    if (near === undefined && journal === undefined) return metrics;
    return {
      ...metrics,
      ...(near === undefined ? {} : { nearCache: near }),
      ...(journal === undefined ? {} : { reliableDeletes: journal }),
    };
  }

  /**
   * With `pools`: per route node (by its path in the tree, `route.default.children[1]`) which child
   * answered, failovers, partial replicated writes, shadow and warm-up counts, and the depth of the
   * background queue. `undefined` for a client with `servers`.
   */
  get routeMetrics(): RouteMetrics | undefined {
    return this.#d.router?.metrics;
  }

  /**
   * Replaces the server list at runtime. Servers that stay keep their connections; removed ones
   * finish what they have in flight, then close; only the keys whose owner changed move. Throws
   * ERR_INVALID_ARGUMENT (and changes nothing) on a bad list.
   */
  setServers(servers: readonly ServerSpec[] | string): ServerListChange {
    if (this.#d.router !== undefined) {
      throw new InvalidArgumentError('setServers changes one server list: it does not apply to pools');
    }
    const change = this.#d.core.cluster.setServers(servers);
    if (change.added.length > 0 || change.removed.length > 0) this.#d.hot.clear();
    this.#d.counters.retain(this.#d.core.cluster.backends.map((b) => b.server));
    return change;
  }

  /**
   * The server a key maps to under the configured distribution (`"host:port"` as given), or the one
   * `options` chooses (`server`, else `routingKey`). Throws ERR_INVALID_KEY / ERR_INVALID_ARGUMENT.
   */
  serverFor(key: Key, options?: Pick<CallOptions, 'routingKey' | 'server'>): string {
    return this.#d.backendFor(this.#d.key(key), options).server;
  }
}
