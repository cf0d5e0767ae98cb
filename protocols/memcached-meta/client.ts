/**
 * MemcacheClient: the typed API over the meta protocol. Every method validates its arguments before
 * any I/O and returns a promise; bad input rejects it with ERR_INVALID_KEY / ERR_INVALID_ARGUMENT /
 * ERR_VALUE_TOO_LARGE (nothing is thrown synchronously). The per-call options object is always last.
 */
import { prepareCall } from '../../lib/client-options.js';
import { clientMetrics } from '../../lib/backend.js';
import { Cluster, type ServerListChange, type ServerSpec } from '../../lib/cluster.js';
import type { Backend } from '../../lib/backend.js';
import {
  ClientClosedError,
  ClientErrorReply,
  InvalidArgumentError,
  MemlineError,
  PartialResultError,
  ResponseTooLargeError,
  ServerErrorReply,
} from '../../lib/errors.js';
import { CasConflictError } from './errors.js';
import type { SendOptions } from '../../lib/request-entry.js';
import { CasTags, RAW_CAS_MASK } from './cas-token.js';
import { MetaCodec } from './codec.js';
import { Dispatcher, finishBulk } from './dispatch.js';
import type { MetaFrame } from './frame.js';
import {
  FeatureCache,
  featuresOf,
  FEATURE_SINCE,
  type FeatureName,
  type ServerFeatures,
} from './features.js';
import { renderFlags } from './flags.js';
import { wireKey } from './keys.js';
import { hashedWireKey } from './long-keys.js';
import { resolveOptions, type MemcacheClientOptions, type ResolvedOptions } from './options.js';
import {
  getOrSet,
  lock,
  update,
  type GetOrSetOptions,
  type LockHandle,
  type UpdateOptions,
  type ValueIo,
} from './recipes.js';
import { MetaRequest, type WireKey } from './request.js';
import { decodeAll } from './values.js';
import {
  META_FIELD_FLAGS,
  toCounter,
  toDebugInfo,
  toDetailedItem,
  toItem,
  toMetaResult,
  valueBytes,
  type DebugInfo,
  type Item,
  type ItemMetaField,
  type MetaResult,
  type Value,
} from './results.js';
import * as validate from './validate.js';
import type {
  AppendOptions,
  CallOptions,
  ClientMetrics,
  CounterOptions,
  DeleteOptions,
  MetaRequestSpec,
  ReadOptions,
  StoreOptions,
  ValueStoreOptions,
} from './call-options.js';
export type {
  AppendOptions,
  CallOptions,
  ClientMetrics,
  CounterOptions,
  DeleteOptions,
  ExpiryOptions,
  MetaRequestSpec,
  ReadOptions,
  StoreOptions,
  ValueStoreOptions,
} from './call-options.js';

/**
 * A memcached client. `V` is the type of the values `getValue`, `getValues` and `getOrSet` return:
 * `Buffer` without a `serializer`, the serializer's type (`unknown` for the built-in ones) with one.
 */
export class MemcacheClient<V = Buffer> {
  #options: ResolvedOptions;
  #dispatch: Dispatcher;
  #closed = false;
  /** Each server's features beyond 1.6.18, from its `version`. */
  #features = new FeatureCache();
  /** The server bits of the CAS tokens this client hands out (cas-token.ts). */
  #casTags = new CasTags();
  /** Each backend's read counters (hits, misses, errorMisses), for `metrics`. */
  #reads = new WeakMap<object, { hits: number; misses: number; errorMisses: number }>();

  constructor(options: MemcacheClientOptions<V>) {
    this.#options = resolveOptions(options);
    const o = this.#options;
    const codec = new MetaCodec({
      maxValueSize: o.maxValueSize,
      maxLineLength: o.maxLineLength,
      auth: o.auth,
      maxPending: o.maxPending,
    });
    const cluster = new Cluster<MetaRequest, unknown, MetaFrame>(o.servers, {
      codec,
      distribution: o.distribution,
      tls: o.tls,
      connectTimeout: o.connectTimeout,
      keepAlive: o.keepAlive,
      maxPending: o.maxPending,
      connections: o.connectionsPerServer,
      maxConnectionAge: o.maxConnectionAge,
      idleTimeout: o.idleTimeout,
      silentTimeout: o.silentTimeout,
      maxQueuedBytes: o.maxQueuedBytes,
      maxPendingPerServer: o.maxPending * o.connectionsPerServer,
      breaker: o.breaker,
      reconnect: { base: o.reconnectBase, cap: o.reconnectCap },
      logger: o.logger,
    });
    this.#dispatch = new Dispatcher(cluster, o.hashKeyPrefix);
    o.discovery?.start(
      (servers) => {
        try {
          const change = this.setServers(servers);
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
  get(key: string, options?: ReadOptions): Promise<Item | null> {
    if (options !== undefined && (options.meta !== undefined || options.touch !== undefined)) {
      return this.#getDetailed(key, options);
    }
    // The hot path: no closure, one promise (the codec resolves it with the Item itself).
    try {
      const so = this.#prepare(options);
      const wk = this.#key(key);
      return this.#read(MetaRequest.meta('mg', wk, ' v f c', undefined, true), wk, so, options);
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  /** Get and touch: the item with its TTL set to `ttl`, or `null` on a miss. */
  gat(key: string, ttl: number, options?: CallOptions): Promise<Item | null> {
    return this.#run(options, (_send, so) => {
      const wk = this.#key(key);
      const t = validate.relativeTtl(ttl);
      return this.#read(MetaRequest.meta('mg', wk, ` T${t} v f c`, undefined, true), wk, so, options);
    });
  }

  /** Sets the TTL; `false` when the key does not exist. */
  touch(key: string, ttl: number, options?: CallOptions): Promise<boolean> {
    return this.#run(options, (send) => {
      const req = MetaRequest.meta('mg', this.#key(key), ` T${validate.relativeTtl(ttl)}`, undefined, true);
      return send(req).then((f) => f.status === 'HD');
    });
  }

  /**
   * The value, decoded by the client's serializer (without one: the bytes), or `null` on a miss.
   * Takes the options of {@link get}.
   */
  getValue<T extends V = V>(key: string, options?: ReadOptions): Promise<T | null> {
    const read = this.get(key, options);
    if (this.#options.values === undefined)
      return read.then((item) => (item === null ? null : (item.value as T)));
    return read.then((item) => (item === null ? null : (this.#decode(item, options) as T | Promise<T>)));
  }

  /** Stores a value through the client's serializer (without one: bytes or a string, as {@link set}). */
  setValue(key: string, value: V | Value, options?: ValueStoreOptions): Promise<void> {
    const values = this.#options.values;
    if (values === undefined) return this.set(key, value as Value, options);
    return this.#guard(() => {
      if ((options as { flags?: unknown } | undefined)?.flags !== undefined) {
        throw new InvalidArgumentError('setValue takes no flags: the serializer chooses them');
      }
      const started = performance.now();
      const encoded = values.encode(value);
      if (!(encoded instanceof Promise))
        return this.set(key, encoded.value, { ...options, flags: encoded.flags });
      this.#key(key); // a bad key is refused before the compression work
      return encoded.then((e) => {
        // The deadline still counts from the call, compression included.
        const timeout = (options?.timeout ?? this.#options.timeout) - (performance.now() - started);
        return this.set(key, e.value, { ...options, flags: e.flags, timeout: Math.max(1, timeout) });
      });
    });
  }

  /** Stores the value unconditionally. */
  set(key: string, value: Value, options?: StoreOptions): Promise<void> {
    return this.#store(key, value, options, '', undefined).then((f) => {
      if (f?.status !== 'HD') throw notStored(f);
    });
  }

  /** Stores only if the key does not exist; `false` when it does. */
  add(key: string, value: Value, options?: StoreOptions): Promise<boolean> {
    return this.#store(key, value, options, ' ME', undefined).then(stored);
  }

  /** Stores only if the key exists; `false` when it does not. */
  replace(key: string, value: Value, options?: StoreOptions): Promise<boolean> {
    return this.#store(key, value, options, ' MR', undefined).then(stored);
  }

  /**
   * Appends to an existing value (TTL and flags unchanged); `false` when the key does not exist
   * (unless `vivify` creates it).
   */
  append(key: string, value: Value, options?: AppendOptions): Promise<boolean> {
    return this.#store(key, value, options, ' MA', undefined, false).then(stored);
  }

  /**
   * Prepends to an existing value (TTL and flags unchanged); `false` when the key does not exist
   * (unless `vivify` creates it).
   */
  prepend(key: string, value: Value, options?: AppendOptions): Promise<boolean> {
    return this.#store(key, value, options, ' MP', undefined, false).then(stored);
  }

  /**
   * Stores only if the item's CAS is still `cas`; `false` when it changed or is gone, or when the
   * token was read from another server than the one the key maps to now (after `setServers` or
   * discovery moved it): then nothing is sent.
   */
  cas(key: string, value: Value, cas: bigint | number, options?: StoreOptions): Promise<boolean> {
    // A missing token (`item?.cas` after a miss, from plain JavaScript) must not turn into an
    // unconditional write: #store treats `undefined` as "no CAS".
    if (cas === undefined || cas === null) {
      return Promise.reject(
        new InvalidArgumentError(`cas must be the token of an item (got ${validate.show(cas)})`),
      );
    }
    return this.#store(key, value, options, '', cas).then(stored);
  }

  /** `false` when the key was not found. With `keepItem`, empties the value instead (md x). */
  delete(key: string, options?: DeleteOptions): Promise<boolean> {
    return this.#run(options, (send, so) => {
      const wk = this.#key(key);
      if (options?.keepItem === undefined || options.keepItem === false) {
        return send(MetaRequest.meta('md', wk, '', undefined, true)).then((f) => f.status === 'HD');
      }
      if (options.keepItem !== true) throw new InvalidArgumentError('keepItem must be true or false');
      const req = MetaRequest.meta('md', wk, ' x', undefined, true);
      return this.#sendGated(req, options, so, 'deleteKeepsItem', 'delete({ keepItem })').then(
        (f) => f.status === 'HD',
      );
    });
  }

  /** Marks the item stale (`md I`): it is served stale while one `getOrSet` caller recomputes. */
  invalidate(key: string, options?: CallOptions & { staleTtl?: number }): Promise<boolean> {
    return this.#run(options, (send) => {
      const t = validate.relativeTtl(options?.staleTtl ?? 30, 'staleTtl');
      return send(MetaRequest.meta('md', this.#key(key), ` I T${t}`, undefined, true)).then(
        (f) => f.status === 'HD',
      );
    });
  }

  /** Adds `delta` (default 1); `null` when the key is missing and no `initial` was given. Wraps at 2^64. */
  incr(key: string, delta?: number | bigint, options?: CounterOptions): Promise<bigint | null> {
    return this.#counter(key, delta, options, '');
  }

  /** Subtracts `delta` (default 1), stopping at 0; `null` when the key is missing and no `initial`. */
  decr(key: string, delta?: number | bigint, options?: CounterOptions): Promise<bigint | null> {
    return this.#counter(key, delta, options, ' MD');
  }

  /**
   * Whether an item changed since it was read: the same `item` when its CAS still matches (the
   * server sends no value), the new item when it changed, `null` when it is gone (`mg … C<cas>`).
   * Needs memcached ≥ 1.6.40 (checked with `version` first).
   */
  revalidate(item: Item, options?: CallOptions): Promise<Item | null> {
    return this.#run(options, (_send, so) => {
      if (typeof item !== 'object' || item === null || typeof item.key !== 'string') {
        throw new InvalidArgumentError('item must be an Item from a read');
      }
      const wk = this.#key(item.key);
      const token = validate.casToken(item.cas, 'item.cas');
      const server = this.#dispatch.backendFor(wk, options?.routingKey).server;
      const cas = this.#casTags.untag(token, server);
      // Read on another server than the key's now: it cannot be the same version, so read it anew.
      const flags = cas === undefined ? ' v f c' : ` C${cas} v f c`;
      const req = MetaRequest.meta('mg', wk, flags, undefined, true);
      return this.#sendGated(req, options, so, 'conditionalGet', 'revalidate()').then((f) => {
        if (f.status === 'HD' && cas !== undefined) return item;
        const fresh = toItem(item.key, f);
        if (fresh !== null) fresh.cas = this.#casTags.tag(fresh.cas, server);
        return fresh;
      });
    });
  }

  /**
   * What the server's `me` (meta debug) says about a key, or `null` when it is missing. For humans
   * and debugging: it costs a `version` probe the first time per server. Refused for binary keys,
   * whose `me` reply can carry the key's raw bytes (see `AppendOptions.vivify`).
   */
  debug(key: string, options?: CallOptions): Promise<DebugInfo | null> {
    return this.#run(options, (_send, so) => {
      const wk = this.#key(key);
      if (wk.base64) throw meOnBinaryKey();
      const backend = this.#dispatch.backendFor(wk, options?.routingKey);
      return this.#featuresOf(backend, so).then((features) =>
        (backend.send(MetaRequest.meta('me', wk, '', undefined, true), so) as Promise<MetaFrame>).then(
          (f) => {
            if (f.status === 'EN') return null;
            const info = toDebugInfo(key, f.line, features.debugExpPositive);
            info.cas = this.#casTags.tag(info.cas, backend.server);
            return info;
          },
        ),
      );
    });
  }

  // ---- bulk commands: quiet requests with opaques, fenced by mn ------------------------------

  /** The items found; misses are absent from the map. Keys are split by server and sent in parallel. */
  getMulti(keys: Iterable<string>, options?: CallOptions): Promise<Map<string, Item>> {
    return this.#readMulti(keys, ' v f c', options);
  }

  /**
   * The values found, decoded by the client's serializer (without one: the bytes); misses are
   * absent. A value that cannot be decoded fails its key only (ERR_PARTIAL_RESULT).
   */
  getValues<T extends V = V>(keys: Iterable<string>, options?: CallOptions): Promise<Map<string, T>> {
    return this.getMulti(keys, options).then(
      (items) => decodeAll<T>(items, new Map(), this.#decoder(options)),
      (err: unknown) => {
        if (!(err instanceof PartialResultError)) throw err;
        const partial = err as PartialResultError<Map<string, Item>>;
        return decodeAll<T>(partial.results, partial.errors, this.#decoder(options));
      },
    );
  }

  /** Get and touch many: the items found, each with its TTL set to `ttl`. */
  gatMulti(keys: Iterable<string>, ttl: number, options?: CallOptions): Promise<Map<string, Item>> {
    return this.#run(options, () => this.#readMulti(keys, ` T${validate.relativeTtl(ttl)} v f c`, options));
  }

  /** Sets the TTL of many keys: `true` for each key found, `false` for each missing. */
  touchMulti(keys: Iterable<string>, ttl: number, options?: CallOptions): Promise<Map<string, boolean>> {
    return this.#run(options, (_send, so) => {
      const flags = ` T${validate.relativeTtl(ttl)}`;
      const wks = this.#uniqueKeys(keys);
      const result = new Map<string, boolean>();
      // mg q suppresses only the miss (EN): a touched key answers HD.
      return this.#dispatch
        .bulk(
          wks,
          so,
          options?.routingKey,
          (wk) => MetaRequest.meta('mg', wk, flags, undefined, true),
          (_b, wk, f) => {
            result.set(wk.original, f !== undefined);
          },
        )
        .then((errors) => finishBulk(result, errors, wks.length));
    });
  }

  /** Stores every entry; rejects with ERR_PARTIAL_RESULT naming the keys that were not stored. */
  setMulti(
    entries: Map<string, Value> | Iterable<readonly [string, Value]>,
    options?: StoreOptions,
  ): Promise<void> {
    return this.#run(options, (_send, so) => {
      const flags = this.#storeFlags(options);
      const wks: WireKey[] = [];
      const values = new Map<WireKey, Buffer>();
      const given: unknown = entries;
      if (typeof given !== 'object' || given === null || !(Symbol.iterator in given)) {
        throw new InvalidArgumentError('entries must be a Map or an iterable of [key, value]');
      }
      for (const [key, value] of entries) {
        const wk = this.#key(key);
        wks.push(wk);
        values.set(wk, valueBytes(value, this.#options.maxStoreSize));
      }
      const ok = new Map<string, boolean>();
      const refused = new Map<string, MemlineError>();
      return this.#dispatch
        .bulk(
          wks,
          so,
          options?.routingKey,
          (wk) => MetaRequest.meta('ms', wk, flags, values.get(wk), true),
          (_b, wk, f) => {
            if (f === undefined || f.status === 'HD') ok.set(wk.original, true);
            else refused.set(wk.original, notStored(f));
          },
        )
        .then((errors) => {
          for (const [key, err] of refused) errors.set(key, err);
          finishBulk(ok, errors, wks.length);
        });
    });
  }

  /** Deletes every key: `true` for each deleted, `false` for each not found. */
  deleteMulti(keys: Iterable<string>, options?: CallOptions): Promise<Map<string, boolean>> {
    return this.#run(options, (_send, so) => {
      const wks = this.#uniqueKeys(keys);
      const result = new Map<string, boolean>();
      return this.#dispatch
        .bulk(
          wks,
          so,
          options?.routingKey,
          (wk) => MetaRequest.meta('md', wk, '', undefined, true),
          (_b, wk, f) => {
            result.set(wk.original, f === undefined || f.status === 'HD');
          },
        )
        .then((errors) => finishBulk(result, errors, wks.length));
    });
  }

  // ---- per-server commands -------------------------------------------------------------------

  /** Each server's version (`"1.6.18"`), keyed by its address as given. */
  version(options?: CallOptions): Promise<Map<string, string>> {
    return (this.#eachServer(options, () => MetaRequest.version()) as Promise<Map<string, string>>).then(
      (versions) => {
        for (const [server, v] of versions) this.#features.record(server, v);
        return versions;
      },
    );
  }

  /**
   * What each server can do beyond memcached 1.6.18 (`E`, `md x`, `mg C`, `ms s`/`N`…), from its
   * `version`, asked now. Methods that need a feature ask by themselves the first time.
   */
  features(options?: CallOptions): Promise<Map<string, ServerFeatures>> {
    return this.version(options).then(
      (versions) => new Map([...versions].map(([server, v]) => [server, featuresOf(v)])),
    );
  }

  /** Each server's `stats [group]`, keyed by its address as given. */
  stats(group?: string, options?: CallOptions): Promise<Map<string, Record<string, string>>> {
    return this.#eachServer(options, () =>
      MetaRequest.stats(group === undefined ? undefined : validate.statsGroup(group)),
    ) as Promise<Map<string, Record<string, string>>>;
  }

  /** Invalidates every item on every server, now or after `delay` seconds. */
  async flushAll(delay?: number, options?: CallOptions): Promise<void> {
    await this.#eachServer(options, () =>
      MetaRequest.flushAll(
        delay === undefined ? undefined : validate.nonNegativeInt(delay, 'delay', 2 ** 31 - 1),
      ),
    );
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
    return this.#guard(() =>
      getOrSet(this, this.#io(key, options), key, loader, options ?? {}),
    ) as Promise<T>;
  }

  /** CAS read-modify-write with bounded retries; returns the value written (or `null` if `fn` declined). */
  update(
    key: string,
    fn: (current: Item | null) => Promise<Value | undefined> | Value | undefined,
    options?: UpdateOptions,
  ): Promise<Buffer | null> {
    return this.#guard(() => update(this, this.#casTags, key, fn, options ?? {}));
  }

  /**
   * An advisory lock held until `release()` or `ttl` seconds; `null` if someone else holds it. Not a
   * fencing lock: a holder paused past its TTL does not know it lost the lock.
   */
  lock(key: string, options: CallOptions & { ttl: number }): Promise<LockHandle | null> {
    return this.#guard(() => lock(this, key, options));
  }

  // ---- low level -------------------------------------------------------------------------------

  /** Sends any meta request (validated against the command table) and returns its parsed reply. */
  meta(request: MetaRequestSpec, options?: CallOptions): Promise<MetaResult> {
    return this.#run(options, (send) => {
      if (typeof request !== 'object' || request === null)
        throw new InvalidArgumentError('request must be an object');
      const { command, key, value } = request;
      let flags = request.flags ?? {};
      // The client adds an opaque of its own unless the caller gave one (`mn`, `me` take none).
      const given = typeof flags === 'object' && flags !== null && flags.O !== undefined && flags.O !== false;
      const wk = command === 'mn' ? undefined : this.#key(key as string);
      const token: unknown = (flags as { C?: unknown } | null)?.C;
      if (typeof token === 'bigint' && token > RAW_CAS_MASK && wk !== undefined) {
        // A token from an Item: send the server's value, and only to the server it came from.
        const server = this.#dispatch.backendFor(wk, options?.routingKey).server;
        const raw = this.#casTags.untag(validate.casToken(token, 'C'), server);
        if (raw === undefined) {
          throw new CasConflictError(
            `the CAS token was read from another server than ${server}, where the key maps now; nothing was sent`,
            { server },
          );
        }
        flags = { ...flags, C: raw };
      }
      const rendered = renderFlags(command, flags, command === 'mn' || command === 'me' || given ? 0 : 1);
      if (command === 'me' && wk?.base64 === true) throw meOnBinaryKey();
      let bytes: Buffer | undefined;
      if (command === 'ms') bytes = valueBytes(value, this.#options.maxStoreSize);
      else if (value !== undefined) throw new InvalidArgumentError(`value is only for ms, not ${command}`);
      const idempotent = command === 'mg' || command === 'mn' || command === 'me' || command === 'md';
      return send(MetaRequest.meta(command, wk, rendered, bytes, idempotent)).then(toMetaResult);
    });
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /** Lets the requests already issued finish, then closes every connection. Later calls reject. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([this.#options.discovery?.stop(), this.#dispatch.cluster.close()]);
  }

  /** Closes every connection now; requests in flight reject with ERR_CLIENT_CLOSED. */
  destroy(): void {
    this.#closed = true;
    void this.#options.discovery?.stop();
    this.#dispatch.cluster.destroy(new ClientClosedError('the client was destroyed'));
  }

  /**
   * Counters per server and for the whole client: connections, pending, in flight, created,
   * reconnects, errors, timeouts, hits, misses. (Named `metrics` because `stats()` is memcached's
   * own `stats` command.)
   */
  get metrics(): ClientMetrics {
    const cluster = this.#dispatch.cluster;
    const reads = new Map(cluster.backends.map((b) => [b.server, this.#reads.get(b)]));
    return clientMetrics(cluster.stats, ['hits', 'misses', 'errorMisses'], (server) => reads.get(server));
  }

  /** The read counters of `backend`. */
  #readsOf(backend: object): { hits: number; misses: number; errorMisses: number } {
    let reads = this.#reads.get(backend);
    if (reads === undefined) this.#reads.set(backend, (reads = { hits: 0, misses: 0, errorMisses: 0 }));
    return reads;
  }

  /**
   * Replaces the server list at runtime. Servers that stay keep their connections; removed ones
   * finish what they have in flight, then close; only the keys whose owner changed move. Throws
   * ERR_INVALID_ARGUMENT (and changes nothing) on a bad list.
   */
  setServers(servers: readonly ServerSpec[] | string): ServerListChange {
    return this.#dispatch.cluster.setServers(servers);
  }

  /** The server a key maps to under the configured distribution (`"host:port"` as given). */
  serverFor(key: string, options?: Pick<CallOptions, 'routingKey'>): string {
    return this.#dispatch.backendFor(this.#key(key), options?.routingKey).server;
  }

  // ---- internals -------------------------------------------------------------------------------

  #key(key: string | Uint8Array): WireKey {
    const o = this.#options;
    if (o.hashLongKeys) return hashedWireKey(key, o.keyPrefix, o.binaryKeys);
    return wireKey(key, o.keyPrefix, o.binaryKeys);
  }

  /** `get` with metadata or a touch: `mg … [T] v f c [t l h s]`, counted like a get. */
  #getDetailed(key: string, options: ReadOptions): Promise<Item | null> {
    return this.#run(options, (_send, so) => {
      const wk = this.#key(key);
      const flags: Record<string, boolean | number> = { v: true, f: true, c: true };
      if (options.touch !== undefined) flags.T = validate.relativeTtl(options.touch, 'touch');
      const meta: unknown = options.meta ?? [];
      if (!Array.isArray(meta)) throw new InvalidArgumentError('meta must be an array of field names');
      for (const field of meta as unknown[]) {
        if (typeof field !== 'string' || !Object.hasOwn(META_FIELD_FLAGS, field)) {
          throw new InvalidArgumentError(
            `meta fields are ${Object.keys(META_FIELD_FLAGS).join(', ')} (got ${validate.show(field)})`,
          );
        }
        flags[META_FIELD_FLAGS[field as ItemMetaField]] = true;
      }
      const req = MetaRequest.meta('mg', wk, renderFlags('mg', flags), undefined, true);
      const backend = this.#dispatch.backendFor(wk, options?.routingKey);
      const sent = (backend.send(req, so) as Promise<MetaFrame>).then((f) => {
        const item = toDetailedItem(wk.original, f);
        if (item === null) this.#readsOf(backend).misses++;
        else {
          this.#readsOf(backend).hits++;
          item.cas = this.#casTags.tag(item.cas, backend.server);
        }
        return item;
      });
      if (!this.#options.missOnError) return sent;
      return sent.catch((err: MemlineError) => {
        this.#readsOf(backend).errorMisses++;
        this.#options.onError?.(err);
        return null;
      });
    });
  }

  /** The decoded value of `item`; an error names the item's server. */
  #decode(item: Item, options: CallOptions | undefined): unknown {
    const blame = (err: unknown): never => {
      if (err instanceof MemlineError && err.server === undefined) {
        try {
          err.server = this.serverFor(item.key, options);
        } catch {
          // the key was read a moment ago; it cannot fail now, and the error matters more
        }
      }
      throw err;
    };
    try {
      const value = this.#options.values!.decode(item.value, item.flags);
      return value instanceof Promise ? value.catch(blame) : value;
    } catch (err) {
      return blame(err);
    }
  }

  /** How getOrSet turns values into bytes and back: through the serializer, if there is one. */
  #io(key: string, options: CallOptions | undefined): ValueIo | undefined {
    const values = this.#options.values;
    if (values === undefined) return undefined;
    return {
      encode: (value) => values.encode(value),
      decode: (bytes, flags) => this.#decode({ key, value: bytes, flags, cas: 0n }, options),
    };
  }

  /** `decode` for getValues, or none without a serializer. */
  #decoder(options: CallOptions | undefined): ((item: Item) => unknown) | undefined {
    return this.#options.values === undefined ? undefined : (item) => this.#decode(item, options);
  }

  /** A server's features: from `version`, asked once per server (a failed probe is asked again). */
  #featuresOf(backend: Backend<MetaRequest, unknown, MetaFrame>, so: SendOptions): Promise<ServerFeatures> {
    // The probe is shared by every caller waiting for it, so it is not bound to this caller's signal.
    const probeOptions = { deadline: so.deadline, timeout: so.timeout, signal: undefined };
    return this.#features.get(
      backend.server,
      () => backend.send(MetaRequest.version(), probeOptions) as Promise<string>,
    );
  }

  /**
   * Sends a request that needs `feature` once its server is known to have it; rejects with
   * ERR_INVALID_ARGUMENT (nothing sent) when it does not. A CLIENT_ERROR reply (a downgraded
   * server) makes the next call ask `version` again.
   */
  #sendGated(
    req: MetaRequest,
    options: CallOptions | undefined,
    so: SendOptions,
    feature: FeatureName,
    what: string,
  ): Promise<MetaFrame> {
    const backend = this.#dispatch.backendFor(req.key, options?.routingKey);
    return this.#featuresOf(backend, so).then((features) => {
      if (!features[feature]) {
        const err = new InvalidArgumentError(
          `${what} needs memcached ${FEATURE_SINCE[feature]} or later; ${backend.server} runs ${features.version}`,
        );
        err.server = backend.server;
        throw err;
      }
      return (backend.send(req, so) as Promise<MetaFrame>).catch((err: unknown) => {
        if (err instanceof ClientErrorReply) this.#features.forget(backend.server);
        throw err;
      });
    });
  }

  #uniqueKeys(keys: Iterable<string>): WireKey[] {
    if (keys === null || typeof keys !== 'object' || typeof keys[Symbol.iterator] !== 'function') {
      throw new InvalidArgumentError('keys must be an iterable of strings');
    }
    const seen = new Set<string>();
    const out: WireKey[] = [];
    for (const key of keys) {
      const wk = this.#key(key);
      if (seen.has(wk.token)) continue;
      seen.add(wk.token);
      out.push(wk);
    }
    return out;
  }

  #storeFlags(options: StoreOptions | undefined): string {
    const ttl = validate.expiry(options) ?? 0;
    const flags = options?.flags === undefined ? 0 : validate.clientFlags(options.flags);
    return (ttl === 0 ? '' : ` T${ttl}`) + (flags === 0 ? '' : ` F${flags}`);
  }

  #store(
    key: string,
    value: Value,
    options: (StoreOptions & AppendOptions) | undefined,
    mode: string,
    cas: bigint | number | undefined,
    withTtlAndFlags = true,
  ): Promise<MetaFrame | undefined> {
    return this.#run<MetaFrame | undefined>(options, (send, so) => {
      const wk = this.#key(key);
      const bytes = valueBytes(value, this.#options.maxStoreSize);
      let flags = mode + (withTtlAndFlags ? this.#storeFlags(options) : '');
      if (cas !== undefined) {
        const token = validate.casToken(cas);
        const raw = this.#casTags.untag(token, this.#dispatch.backendFor(wk, options?.routingKey).server);
        if (raw === undefined) {
          // Read from another server: the number may name another version here (reliability.md J2).
          if (options?.newCas !== undefined) validate.cas(options.newCas, 'newCas');
          return Promise.resolve(undefined);
        }
        flags = ` C${raw}` + flags;
      }
      // Only a plain set may be replayed: add/replace/append/prepend/cas could apply twice.
      const idempotent = mode === '' && cas === undefined;
      const newCas = withTtlAndFlags ? options?.newCas : undefined;
      const vivify = withTtlAndFlags ? undefined : options?.vivify;
      if (newCas === undefined && vivify === undefined)
        return send(MetaRequest.meta('ms', wk, flags, bytes, idempotent));
      if (newCas !== undefined) {
        const req = MetaRequest.meta(
          'ms',
          wk,
          flags + ` E${validate.cas(newCas, 'newCas')}`,
          bytes,
          idempotent,
        );
        return this.#sendGated(req, options, so, 'explicitCas', 'newCas');
      }
      if (wk.base64) {
        throw new InvalidArgumentError(
          'vivify is refused for binary keys: the server would store the created item under the raw key bytes',
        );
      }
      const req = MetaRequest.meta(
        'ms',
        wk,
        flags + ` N${validate.relativeTtl(vivify, 'vivify')}`,
        bytes,
        false,
      );
      return this.#sendGated(req, options, so, 'appendVivify', 'append/prepend with vivify');
    });
  }

  #counter(
    key: string,
    delta: number | bigint | undefined,
    options: CounterOptions | undefined,
    mode: string,
  ) {
    return this.#run(options, (send) => {
      const wk = this.#key(key);
      let flags = mode;
      const d = delta === undefined ? 1n : validate.u64(delta, 'delta');
      if (d !== 1n) flags += ` D${d}`;
      if (options?.initial !== undefined) {
        const ttl = validate.expiry(options) ?? 0;
        flags = ` N${ttl} J${validate.u64(options.initial, 'initial')}` + flags;
      } else if (options?.ttl !== undefined || options?.expiresAt !== undefined) {
        throw new InvalidArgumentError(
          'ttl and expiresAt apply to the item created from `initial`; give `initial` too',
        );
      }
      return send(MetaRequest.meta('ma', wk, flags + ' v', undefined, false)).then(toCounter);
    });
  }

  /** getMulti / gatMulti: reads whose hits are items, counted per backend. */
  #readMulti(keys: Iterable<string>, flags: string, options: CallOptions | undefined) {
    return this.#run(options, (_send, so) => {
      const wks = this.#uniqueKeys(keys);
      const result = new Map<string, Item>();
      const tooLarge = new Map<string, MemlineError>();
      return this.#dispatch
        .bulk(
          wks,
          so,
          options?.routingKey,
          (wk) => MetaRequest.meta('mg', wk, flags, undefined, true),
          (b, wk, f) => {
            if (f !== undefined && f.skipped !== -1) {
              // Read past by the decoder: this key fails, the others and the connection are fine.
              tooLarge.set(wk.original, oversize(f, this.#options.maxValueSize, b.server));
              return;
            }
            const item = f === undefined ? null : toItem(wk.original, f);
            if (item === null) this.#readsOf(b).misses++;
            else {
              this.#readsOf(b).hits++;
              item.cas = this.#casTags.tag(item.cas, b.server);
              result.set(item.key, item);
            }
          },
        )
        .then((errors) => {
          for (const [key, err] of tooLarge) errors.set(key, err);
          if (errors.size > 0 && this.#options.missOnError) {
            // One error per failed server part: each counts the keys it failed, once each.
            const keysPerError = new Map<MemlineError, number>();
            for (const err of errors.values()) keysPerError.set(err, (keysPerError.get(err) ?? 0) + 1);
            for (const [err, count] of keysPerError) this.#missedOnError(err, count);
            return result;
          }
          return finishBulk(result, errors, wks.length);
        });
    });
  }

  /** With missOnError: reports a read failure that was answered as `count` misses. */
  #missedOnError(err: MemlineError, count = 1): void {
    const backend = this.#dispatch.cluster.backends.find((b) => b.server === err.server);
    if (backend !== undefined) this.#readsOf(backend).errorMisses += count;
    this.#options.onError?.(err);
  }

  /** A single read: the item or null, counted as a hit or miss of its backend. */
  #read(
    req: MetaRequest,
    wk: WireKey,
    so: SendOptions,
    options: CallOptions | undefined,
  ): Promise<Item | null> {
    const backend = this.#dispatch.backendFor(wk, options?.routingKey);
    req.itemSink = this.#readsOf(backend);
    req.casTag = this.#casTags.tagOf(backend.server);
    const sent = backend.send(req, so) as Promise<Item | null>;
    if (!this.#options.missOnError) return sent;
    return sent.catch((err: MemlineError) => {
      this.#readsOf(backend).errorMisses++;
      this.#options.onError?.(err);
      return null;
    });
  }

  /** Validates, then sends a request made by `make` to every server. */
  async #eachServer(
    options: CallOptions | undefined,
    make: () => MetaRequest,
  ): Promise<Map<string, unknown>> {
    const so = this.#prepare(options);
    make(); // validates before any I/O
    return this.#dispatch.eachServer(so, make);
  }

  /** Validates the per-call options and fixes the deadline (counted from the call). */
  #prepare(options: CallOptions | undefined): SendOptions {
    if (this.#closed) throw new ClientClosedError('the client is closed');
    return prepareCall(options, this.#options.timeout);
  }

  /** Runs `body` with a `send` bound to the call's deadline; anything it throws becomes a rejection. */
  #run<T>(
    options: CallOptions | undefined,
    body: (send: (req: MetaRequest) => Promise<MetaFrame>, so: SendOptions) => Promise<T>,
  ): Promise<T> {
    try {
      const so = this.#prepare(options);
      const send = (req: MetaRequest): Promise<MetaFrame> =>
        this.#dispatch.backendFor(req.key, options?.routingKey).send(req, so) as Promise<MetaFrame>;
      return body(send, so);
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  #guard<T>(body: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new ClientClosedError('the client is closed'));
    try {
      return body();
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }
}

function oversize(frame: MetaFrame, max: number, server: string): MemlineError {
  return new ResponseTooLargeError(
    `the value of ${frame.skipped} bytes is over maxValueSize ${max}; it was read past, not kept`,
    { mayHaveExecuted: true, server },
  );
}

/** Whether a store answered HD; `undefined` (nothing sent: a CAS token from another server) is not. */
function stored(frame: MetaFrame | undefined): boolean {
  return frame?.status === 'HD';
}

function notStored(frame: MetaFrame | undefined): MemlineError {
  return new ServerErrorReply(`the server did not store the item (${frame?.status})`, {
    mayHaveExecuted: true,
  });
}

/**
 * memcached (to at least 1.6.45) stores an item that `N` created for a base64 key under its raw
 * bytes without the binary mark, and `me` then prints those bytes as they are: a key holding
 * `\r\nEN\r\n` would add a reply line that the next request in the pipeline would take as its own.
 */
function meOnBinaryKey(): InvalidArgumentError {
  return new InvalidArgumentError(
    'me (debug) does not take binary keys: the reply can carry the raw key bytes',
  );
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
