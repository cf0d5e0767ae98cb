/**
 * The option and result types of `MemcacheClient`'s methods.
 */
import type { RoutedCallOptions } from '../../lib/kit/index.js';
import type { MetaFlags } from './commands.js';
import type { MetaCommand } from './request.js';
import type { ItemMetaField, Key, Value } from './results.js';

export type { ClientMetrics, ServerMetrics } from './counters.js';

/**
 * Options every call takes, always as its last argument: `signal`, `timeout`, and where the call
 * goes: `routingKey` (route by this key instead of the item's own; for calls over many keys, every
 * key goes to its server) or `server` (`"host:port"` as configured: this server only, for every
 * call, including `version`, `stats` and `flushAll`, which otherwise ask every server).
 */
export type CallOptions = RoutedCallOptions;

/** Options of a read over many keys (`getMulti`, `getValues`). */
export interface ReadManyOptions extends CallOptions {
  /**
   * Share a request already in flight for the same key (sent by another call of this client, issued
   * after this client's last write to the key, ending no later than this call's deadline).
   * `false`: always send this call's own request. Only without `server` and `routingKey`.
   * @default the client's `coalesce`
   */
  coalesce?: boolean | undefined;
}

/** Options of a read (`get`, `getValue`). */
export interface ReadOptions extends ReadManyOptions {
  /**
   * Metadata to return on the Item: `'ttl'` (remaining TTL, -1: never expires), `'lastAccess'`
   * (seconds since the last access), `'fetched'` (read before?), `'size'` (value bytes); the last two
   * describe the item as it was before this read. Costs nothing unless asked for. @default []
   */
  meta?: readonly ItemMetaField[] | undefined;
  /** On a hit, set the item's TTL to this many seconds from now (get and touch, like `gat`). */
  touch?: number | undefined;
}

/** When an item expires: `ttl` seconds from now, or at `expiresAt`; never both. */
export interface ExpiryOptions {
  /**
   * Seconds to live, counted from now, whatever their length (over 30 days they are sent as a Unix
   * time by the client's clock). @default 0 (never expires)
   */
  ttl?: number | undefined;
  /** Expire at this time instead: a `Date` or Unix seconds (not with `ttl`). */
  expiresAt?: Date | number | undefined;
}

export interface StoreOptions extends CallOptions, ExpiryOptions {
  /** Client flags stored with the item (u32). @default 0 */
  flags?: number | undefined;
  /**
   * The CAS value the stored item gets, chosen by you instead of the server (`E`). Needs memcached
   * ≥ 1.6.27: checked with `version` first, and refused with ERR_INVALID_ARGUMENT on older servers.
   */
  newCas?: bigint | number | undefined;
}

/** Options of `setValue`: the client flags are the serializer's. */
export type ValueStoreOptions = Omit<StoreOptions, 'flags'>;

/** Options of `append` and `prepend`. */
export interface AppendOptions extends CallOptions {
  /**
   * Create the item when it is missing, with this TTL, instead of answering `false` (`ms … N`).
   * Needs memcached ≥ 1.6.20 (checked with `version` first). Refused for binary keys: servers up
   * to at least 1.6.45 store such a created item under its raw bytes without the binary mark.
   */
  vivify?: number | undefined;
}

/** Options of `delete`. */
export interface DeleteOptions extends CallOptions {
  /**
   * Empty the value but keep the item in place (`md … x`). Needs memcached ≥ 1.6.27 (checked with
   * `version` first). @default false
   */
  keepItem?: boolean | undefined;
}

/** Options of `incr` and `decr`; `ttl`/`expiresAt` apply to the item created from `initial`. */
export interface CounterOptions extends CallOptions, ExpiryOptions {
  /** Stored and returned (the delta not applied) when the key is missing. */
  initial?: number | bigint | undefined;
}

/** A low-level meta request. */
export interface MetaRequestSpec {
  command: MetaCommand;
  /** Required by every command but `mn`. */
  key?: Key | undefined;
  /** Flags, e.g. `{ v: true, t: true, T: 30 }`; sent in the protocol's canonical order. */
  flags?: MetaFlags | undefined;
  /** The data block of an `ms`. */
  value?: Value | undefined;
}
