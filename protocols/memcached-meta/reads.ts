/**
 * Single-key reads: `get` (plain, with metadata or a touch), `gat`, `touch`, `revalidate`, `debug`,
 * and values decoded through the client's serializer. A read's hit or miss is counted per server,
 * and with `missOnError` a failed read is a miss (counters.ts).
 */
import { InvalidArgumentError, MemlineError } from '../../lib/errors.js';
import { asError, type RoutedCallOptions } from '../../lib/kit/index.js';
import type { SendOptions } from '../../lib/request-entry.js';
import type { ReadOptions } from './call-options.js';
import type { Dispatch, MetaBackend } from './dispatch.js';
import { renderFlags } from './flags.js';
import type { MetaFrame } from './frame.js';
import { casOf } from './returned-flags.js';
import type { ValueIo } from './recipes.js';
import { MetaRequest, type WireKey } from './request.js';
import { RoutedBackend } from './routes/router.js';
import {
  META_FIELD_FLAGS,
  toDebugInfo,
  toDetailedItem,
  toItem,
  type DebugInfo,
  type Item,
  type ItemMetaField,
  type Key,
} from './results.js';
import * as validate from './validate.js';

/** `get`: the item or `null`; `options.meta` adds metadata, `options.touch` sets the TTL. */
export function get(d: Dispatch, key: Key, options: ReadOptions | undefined): Promise<Item | null> {
  if (options !== undefined && (options.meta !== undefined || options.touch !== undefined)) {
    return getDetailed(d, key, options);
  }
  // The busiest call: written out rather than through d.core.run, which costs a closure per call.
  try {
    const so = d.core.prepare(options);
    const wk = d.key(key);
    const hot = d.hot;
    if (!hot.active || options?.server !== undefined || options?.routingKey !== undefined) {
      return read(d, MetaRequest.read(wk, ' v f c'), wk, so, options);
    }
    return hot.read(
      wk.token,
      so,
      options?.coalesce,
      (epoch) => readOne(d, wk, so, epoch),
      () => d.counters.of(d.backendFor(wk, undefined).server),
    );
  } catch (err) {
    return Promise.reject(asError(err));
  }
}

/** One plain read of `wk` for the hot-key layer: through the near cache's eyes when it is on. */
export function readOne(d: Dispatch, wk: WireKey, so: SendOptions, epoch: number): Promise<Item | null> {
  if (d.hot.near === undefined) {
    return read(d, MetaRequest.read(wk, ' v f c'), wk, so, undefined);
  }
  return readNear(d, wk, so, epoch);
}

/** Get and touch. */
export function gat(d: Dispatch, key: Key, ttl: number, options: RoutedCallOptions | undefined) {
  return d.core.run(options, (so) => {
    const wk = d.key(key);
    const t = validate.relativeTtl(ttl);
    if (d.hot.active) d.hot.wrote(wk.token);
    return read(d, MetaRequest.meta('mg', wk, ` T${t} v f c`, undefined, true), wk, so, options);
  });
}

/**
 * Sets the TTL; `false` when the key does not exist. It asks for the CAS (`c`) too: a touch is an
 * `mg`, which takes a stale item's win like any read, and the CAS is what hands it back.
 */
export function touch(d: Dispatch, key: Key, ttl: number, options: RoutedCallOptions | undefined) {
  return d.core.run(options, (so) => {
    const wk = d.key(key);
    const req = MetaRequest.meta('mg', wk, ` T${validate.relativeTtl(ttl)} c`, undefined, true);
    const backend = d.backendFor(wk, options);
    return d.sendTo(backend, req, so).then((f) => {
      handBackWin(d, backend, wk, f);
      return f.status === 'HD';
    });
  });
}

/**
 * A single read: the item or null. The codec builds the Item and counts the hit or miss in the
 * server's counters (the request's `itemSink`), saving a promise step per get.
 */
function read(
  d: Dispatch,
  req: MetaRequest,
  wk: WireKey,
  so: SendOptions,
  options: RoutedCallOptions | undefined,
): Promise<Item | null> {
  const backend = d.backendFor(wk, options);
  const of = d.serverOf(backend);
  req.itemSink = of;
  return d.counters.orMiss(backend.send(req, so) as Promise<Item | null>, backend.server);
}

/**
 * A plain read that may feed the near cache: `mg … v f c h l t`, whose `h l t` say whether the key is
 * hot. An item carrying `W`, `X` or `Z` (a lease or a stale value) is never held.
 */
function readNear(d: Dispatch, wk: WireKey, so: SendOptions, epoch: number): Promise<Item | null> {
  const backend = d.backendFor(wk, undefined);
  const req = MetaRequest.meta('mg', wk, ' v f c h l t', undefined, true);
  const sent = (backend.send(req, so) as Promise<MetaFrame>).then((f) => {
    const item = nearItem(d, wk, f, backend.server, epoch);
    if (item !== null) handBackWin(d, backend, wk, f);
    d.counters.count(backend.server, item !== null);
    return item;
  });
  return d.counters.orMiss(sent, backend.server);
}

/**
 * The item of a `mg … v f c h l t` reply (null on a miss), its CAS tagged with `server`'s bits; a hot
 * one is offered to the near cache (unless it carries a lease mark).
 */
export function nearItem(d: Dispatch, wk: WireKey, f: MetaFrame, server: string, epoch: number): Item | null {
  const detailed = toDetailedItem(wk.original, f);
  if (detailed === null) return null;
  const cas = d.casTags.tag(detailed.cas, server);
  if (!hasLeaseMark(f)) d.hot.offer(wk.token, { ...detailed, cas }, epoch);
  return { key: detailed.key, value: detailed.value, flags: detailed.flags, cas };
}

/**
 * A plain read or a touch answered with a frame (the near cache's, a routed batch's, a route's
 * read-through) took a stale item's win (`W`): hands it back to the server that gave it, as the
 * codec does for the reads it makes Items of (see {@link Dispatch.serverOf}). `answered` is that
 * server's backend, or its name (`"host:port"`). Never throws: the read itself succeeded.
 */
export function handBackWin(d: Dispatch, answered: MetaBackend | string, wk: WireKey, f: MetaFrame): void {
  if (!f.win || (f.status !== 'VA' && f.status !== 'HD')) return;
  // A route's backend names, once answered, the server that answered.
  const server =
    typeof answered === 'string'
      ? backendNamed(d, answered)
      : (answered as unknown) instanceof RoutedBackend
        ? backendNamed(d, answered.server)
        : answered;
  if (server !== undefined) d.serverOf(server).returnWin(wk, casOf(f));
}

/** The configured backend of the server named `server` (`"host:port"`), if any; never throws. */
function backendNamed(d: Dispatch, server: string): MetaBackend | undefined {
  return d.core.cluster.backends.find((b) => b.server === server);
}

/** Whether a reply carries `W` (win), `X` (stale) or `Z` (a win already handed out). */
export function hasLeaseMark(f: MetaFrame): boolean {
  const line = f.line;
  return line.includes(' W') || line.includes(' X') || line.includes(' Z');
}

/** `get` with metadata or a touch: `mg … [T] v f c [t l h s]`, counted like a get. */
function getDetailed(d: Dispatch, key: Key, options: ReadOptions): Promise<Item | null> {
  return d.core.run(options, (so) => {
    const wk = d.key(key);
    const flags: Record<string, boolean | number> = { v: true, f: true, c: true };
    if (options.touch !== undefined) {
      flags.T = validate.relativeTtl(options.touch, 'touch');
      if (d.hot.active) d.hot.wrote(wk.token);
    }
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
    const backend = d.backendFor(wk, options);
    const sent = (backend.send(req, so) as Promise<MetaFrame>).then((f) => {
      const item = toDetailedItem(wk.original, f);
      d.counters.count(backend.server, item !== null);
      if (item === null) return null;
      handBackWin(d, backend, wk, f);
      item.cas = d.casTags.tag(item.cas, backend.server);
      return item;
    });
    return d.counters.orMiss(sent, backend.server);
  });
}

/** Whether an item changed since it was read (`mg … C<cas>`); needs memcached ≥ 1.6.40. */
export function revalidate(d: Dispatch, item: Item, options: RoutedCallOptions | undefined) {
  return d.core.run(options, (so) => {
    if (typeof item !== 'object' || item === null || typeof item.key !== 'string') {
      throw new InvalidArgumentError('item must be an Item from a read');
    }
    const wk = d.key(item.key);
    const token = validate.casToken(item.cas, 'item.cas');
    const backend = d.backendFor(wk, options);
    const server = backend.server;
    const cas = d.casTags.untag(token, server);
    // Read on another server than the key's now: it cannot be the same version, so read it anew.
    const flags = cas === undefined ? ' v f c' : ` C${cas} v f c`;
    const req = MetaRequest.meta('mg', wk, flags, undefined, true);
    return d.sendGated(req, options, so, 'conditionalGet', 'revalidate()').then((f) => {
      // A read like any other: a stale item's win it took goes back (see handBackWin).
      handBackWin(d, backend, wk, f);
      if (f.status === 'HD' && cas !== undefined) return item;
      const fresh = toItem(item.key, f);
      if (fresh !== null) fresh.cas = d.casTags.tag(fresh.cas, server);
      return fresh;
    });
  });
}

/** What `me` says about a key, or `null` when it is missing. Refused for binary keys. */
export function debug(
  d: Dispatch,
  key: string,
  options: RoutedCallOptions | undefined,
): Promise<DebugInfo | null> {
  return d.core.run(options, (so) => {
    const wk = d.key(key);
    if (wk.base64) throw meOnBinaryKey();
    const backend = d.backendFor(wk, options);
    return d.featuresOf(backend, so).then((features) =>
      (backend.send(MetaRequest.meta('me', wk, '', undefined, true), so) as Promise<MetaFrame>).then((f) => {
        if (f.status === 'EN') return null;
        const info = toDebugInfo(key, f.line, features.debugExpPositive);
        info.cas = d.casTags.tag(info.cas, backend.server);
        return info;
      }),
    );
  });
}

/**
 * memcached (to at least 1.6.45) stores an item that `N` created for a base64 key under its raw
 * bytes without the binary mark, and `me` then prints those bytes as they are: a key holding
 * `\r\nEN\r\n` would add a reply line that the next request in the pipeline would take as its own.
 */
export function meOnBinaryKey(): InvalidArgumentError {
  return new InvalidArgumentError(
    'me (debug) does not take binary keys: the reply can carry the raw key bytes',
  );
}

/** The decoded value of `item` (through the serializer); an error names the item's server. */
export function decodeValue(d: Dispatch, item: Item, options: RoutedCallOptions | undefined): unknown {
  const blame = (err: unknown): never => {
    if (err instanceof MemlineError && err.server === undefined) {
      try {
        err.server = d.backendFor(d.key(item.key), options).server;
      } catch {
        // the key was read a moment ago; it cannot fail now, and the error matters more
      }
    }
    throw err;
  };
  try {
    const value = d.options.values!.decode(item.value, item.flags);
    return value instanceof Promise ? value.catch(blame) : value;
  } catch (err) {
    return blame(err);
  }
}

/** `getValue`: the value of `get`, decoded when the client has a serializer. */
export function getValue(d: Dispatch, key: Key, options: ReadOptions | undefined): Promise<unknown> {
  const read = get(d, key, options);
  if (d.options.values === undefined) return read.then((item) => (item === null ? null : item.value));
  return read.then((item) => (item === null ? null : decodeValue(d, item, options)));
}

/** How getOrSet turns values into bytes and back: through the serializer, if there is one. */
export function valueIo(
  d: Dispatch,
  key: string,
  options: RoutedCallOptions | undefined,
): ValueIo | undefined {
  const values = d.options.values;
  if (values === undefined) return undefined;
  return {
    encode: (value) => values.encode(value),
    decode: (bytes, flags) => decodeValue(d, { key, value: bytes, flags, cas: 0n }, options),
  };
}
