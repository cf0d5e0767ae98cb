/**
 * The option and result types of `MemcacheClient`'s methods.
 */
import type { ClientMetrics as EngineMetrics } from '../../lib/backend.js';
import type { MetaFlags } from './commands.js';
import type { MetaCommand } from './request.js';
import type { ItemMetaField, Value } from './results.js';

/** Options every call takes, always as its last argument. */
export interface CallOptions {
  /** Rejects the call with ERR_ABORTED when it fires. */
  signal?: AbortSignal;
  /** ms for this call, counted from the call. @default the client's `timeout` */
  timeout?: number;
  /**
   * Route by this key instead of the item's own, so that related keys land on one server
   * (for bulk calls: every key of the call goes to that server).
   */
  routingKey?: string;
}

/** Options of a read (`get`, `getValue`). */
export interface ReadOptions extends CallOptions {
  /**
   * Metadata to return on the Item: `'ttl'` (remaining TTL, -1: never expires), `'lastAccess'`
   * (seconds since the last access), `'fetched'` (read before?), `'size'` (value bytes); the last two
   * describe the item as it was before this read. Costs nothing unless asked for. @default []
   */
  meta?: readonly ItemMetaField[];
  /** On a hit, set the item's TTL to this many seconds from now (get and touch, like `gat`). */
  touch?: number;
}

/** When an item expires: `ttl` seconds from now, or at `expiresAt`; never both. */
export interface ExpiryOptions {
  /**
   * Seconds to live, counted from now, whatever their length (over 30 days they are sent as a Unix
   * time by the client's clock). @default 0 (never expires)
   */
  ttl?: number;
  /** Expire at this time instead: a `Date` or Unix seconds (not with `ttl`). */
  expiresAt?: Date | number;
}

export interface StoreOptions extends CallOptions, ExpiryOptions {
  /** Client flags stored with the item (u32). @default 0 */
  flags?: number;
  /**
   * The CAS value the stored item gets, chosen by you instead of the server (`E`). Needs memcached
   * ≥ 1.6.27: checked with `version` first, and refused with ERR_INVALID_ARGUMENT on older servers.
   */
  newCas?: bigint | number;
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
  vivify?: number;
}

/** Options of `delete`. */
export interface DeleteOptions extends CallOptions {
  /**
   * Empty the value but keep the item in place (`md … x`). Needs memcached ≥ 1.6.27 (checked with
   * `version` first). @default false
   */
  keepItem?: boolean;
}

/** Options of `incr` and `decr`; `ttl`/`expiresAt` apply to the item created from `initial`. */
export interface CounterOptions extends CallOptions, ExpiryOptions {
  /** Stored and returned (the delta not applied) when the key is missing. */
  initial?: number | bigint;
}

/** A low-level meta request. */
export interface MetaRequestSpec {
  command: MetaCommand;
  /** Required by every command but `mn`. */
  key?: string | Uint8Array;
  /** Flags, e.g. `{ v: true, t: true, T: 30 }`; sent in the protocol's canonical order. */
  flags?: MetaFlags;
  /** The data block of an `ms`. */
  value?: Value;
}

/**
 * What `MemcacheClient.metrics` returns: the engine's stats per server and in total, with the
 * client's read counters `hits`, `misses` and `errorMisses` (reads answered as misses because their
 * server failed, with `missOnError`).
 */
export type ClientMetrics = EngineMetrics<'hits' | 'misses' | 'errorMisses'>;
