/**
 * What only the meta protocol can do, built from low-level meta requests
 * (see docs/meta-protocol.md):
 *
 * - `getOrSet`: stampede protection with the `N` lease: on a miss `mg … N<lease>` creates an empty
 *   placeholder and hands exactly one caller a win (`W`); the others see `Z` and wait, or, when the
 *   item was invalidated (`X`), are served the stale value while the winner recomputes. With
 *   `recache`, `R<s>` hands one caller a win once the remaining TTL drops under `s` seconds while
 *   everyone else keeps the current value.
 * - `update`: compare-and-swap read-modify-write with a bounded number of retries.
 * - `lock`: an advisory lock (`ms … ME` with a random token), released and extended by CAS.
 *
 * ```
 * mg k N<lease> [R<s> t] v f c        reply              this caller
 * ------------------------------     ----------------   ------------------------------------------
 * hit                                VA …                returns the value
 * miss (placeholder created)         VA 0 … W            runs the loader, ms C<cas>; on failure md C<cas>
 * placeholder, someone computing     VA 0 … Z            waits (backoff), asks again
 * stale after md I                   VA … X W / X Z      W: recomputes; Z: returns the stale value
 * remaining TTL < s (recache)        VA … W / Z          W: recomputes inline; Z: returns the value
 * ```
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortedError, InvalidArgumentError, TimeoutError } from '../../lib/errors.js';
import { CasConflictError } from './errors.js';
import { MAX_TIMER_MS, prepareCall } from '../../lib/kit/index.js';
import type { CasTags } from './cas-token.js';
import type { CallOptions, ExpiryOptions, MetaRequestSpec, StoreOptions } from './call-options.js';
import { valueBytes, type Item, type MetaResult, type Value } from './results.js';
import type { SerializedValue } from './serializers.js';
import * as validate from './validate.js';

export interface GetOrSetOptions extends CallOptions, ExpiryOptions {
  /** Client flags of the stored value (not with a serializer: it chooses them). @default 0 */
  flags?: number | undefined;
  /**
   * Seconds the winner has to run the loader; if it fails the lease is given back at once, and if
   * it takes longer (or its process dies) the placeholder expires and the next caller wins, so a
   * stuck loader delays the others by at most this. @default 30
   */
  leaseTtl?: number | undefined;
  /** ms a caller waits for another's loader before giving up with ERR_TIMEOUT. @default 5000 */
  waitTimeout?: number | undefined;
  /**
   * Stale-while-revalidate: once the item's remaining TTL drops under this many seconds, exactly one
   * caller (across all clients) gets to refresh it, inline: its call runs the loader and stores the
   * result, while every other caller keeps getting the current value at once. If the refresh fails,
   * that caller gets the error and the item lives out its TTL. Needs a `ttl`. @default undefined
   */
  recache?: number | undefined;
}

/** How getOrSet turns values into bytes and back when the client has a serializer. @internal */
export interface ValueIo {
  encode(value: unknown): SerializedValue | Promise<SerializedValue>;
  decode(bytes: Buffer, flags: number): unknown;
}

/** The client operations the recipes are built from (`MemcacheClient` has them). */
export interface RecipeClient {
  /** Sends a low-level meta request. */
  meta(request: MetaRequestSpec, options?: CallOptions): Promise<MetaResult>;
  /** Stores only if the key does not exist. */
  add(key: string, value: Value, options?: StoreOptions): Promise<boolean>;
  /** Stores only if the item's CAS is still `cas`. */
  cas(key: string, value: Value, cas: bigint | number, options?: StoreOptions): Promise<boolean>;
  /** The server a key maps to now. */
  serverFor(key: string): string;
}

/** `ttl` (seconds from now) or `expiresAt` to store with; by default the item keeps its remaining TTL. */
export interface UpdateOptions extends CallOptions, ExpiryOptions {
  /** Client flags to store with; by default the item's own. */
  flags?: number | undefined;
  /** Attempts after the first when another writer wins the race. @default 10 */
  maxRetries?: number | undefined;
}

/** A held lock. Advisory: it relies on every party using it, and is not a fencing lock. */
export interface LockHandle {
  readonly key: string;
  /** The random value stored under the key while the lock is held. */
  readonly token: string;
  /** Releases the lock; `false` if it had already expired or been taken over. */
  release(options?: CallOptions): Promise<boolean>;
  /**
   * Sets a new TTL (at least 1 second); `false` if the lock was lost (expired, or taken by another
   * holder since), in which case nothing is changed.
   */
  extend(ttl: number, options?: CallOptions): Promise<boolean>;
}

const EMPTY = Buffer.alloc(0);

function callOptions(options: CallOptions): CallOptions {
  const out: CallOptions = {};
  if (options.signal !== undefined) out.signal = options.signal;
  if (options.timeout !== undefined) out.timeout = options.timeout;
  return out;
}

/** The bytes of a value; its size is checked by the request that stores it. */
function toBuffer(value: Value): Buffer {
  return valueBytes(value, Number.MAX_SAFE_INTEGER);
}

export async function getOrSet(
  client: RecipeClient,
  io: ValueIo | undefined,
  key: string,
  loader: (signal: AbortSignal) => unknown,
  options: GetOrSetOptions,
): Promise<unknown> {
  if (typeof loader !== 'function') throw new InvalidArgumentError('loader must be a function');
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError('options must be an object');
  const ttl = validate.expiry(options) ?? 0;
  if (io !== undefined && options.flags !== undefined) {
    throw new InvalidArgumentError('getOrSet takes no flags with a serializer: it chooses them');
  }
  const flags = validate.clientFlags(options.flags ?? 0);
  const leaseTtl = validate.relativeTtl(options.leaseTtl ?? 30, 'leaseTtl');
  if (leaseTtl < 1) throw new InvalidArgumentError('leaseTtl must be at least 1 second');
  const waitTimeout = validate.nonNegativeInt(options.waitTimeout ?? 5000, 'waitTimeout', MAX_TIMER_MS);
  const recache = options.recache === undefined ? undefined : validate.ttl(options.recache, 'recache');
  if (recache !== undefined) {
    if (recache < 1) throw new InvalidArgumentError('recache must be at least 1 second');
    // memcached never hands out an early win for an item without a TTL (the R flag).
    if (ttl === 0)
      throw new InvalidArgumentError('recache needs a ttl: an item that never expires is never refreshed');
  }
  // The call's own timeout and signal, checked as every call's are (no timeout: no deadline).
  prepareCall(options, MAX_TIMER_MS);
  const { timeout, signal } = options;
  // The call ends when its signal fires or its `timeout` (counted from the call, loader included)
  // passes: it settles then, whatever the loader or the server is doing, and the loader is told
  // through the signal it was given.
  const stop = new AbortController();
  const onAbort = (): void =>
    stop.abort(new AbortedError('getOrSet was aborted', { cause: signal?.reason as unknown }));
  if (signal?.aborted === true) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  const deadline = timeout === undefined ? undefined : performance.now() + timeout;
  const timer =
    timeout === undefined
      ? undefined
      : setTimeout(
          () =>
            stop.abort(
              new TimeoutError(`getOrSet did not finish within its timeout of ${timeout} ms`, 'request'),
            ),
          timeout,
        );
  try {
    return await getOrSetUntil(client, io, key, loader, stop.signal, deadline, {
      ttl,
      flags,
      leaseTtl,
      waitTimeout,
      recache,
    });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Settles with `promise`, or with the signal's reason as soon as it fires. */
function until<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

async function getOrSetUntil(
  client: RecipeClient,
  io: ValueIo | undefined,
  key: string,
  loader: (signal: AbortSignal) => unknown,
  stop: AbortSignal,
  deadline: number | undefined,
  o: { ttl: number; flags: number; leaseTtl: number; waitTimeout: number; recache: number | undefined },
): Promise<unknown> {
  const { ttl, flags, leaseTtl, waitTimeout, recache } = o;
  /** Options of one request: bound to the call's signal, and to what is left of its deadline. */
  const call = (): CallOptions => {
    const out: CallOptions = { signal: stop };
    if (deadline !== undefined) out.timeout = Math.max(1, deadline - performance.now());
    return out;
  };
  const mgFlags = { N: leaseTtl, R: recache, v: true, f: true, c: true, t: recache !== undefined };
  const decode = (bytes: Buffer, f: number): unknown => (io === undefined ? bytes : io.decode(bytes, f));
  const started = performance.now();
  let backoff = 5;
  for (;;) {
    // The server this read goes to (routing is synchronous): a lease is only good there.
    const server = client.serverFor(key);
    const r = await until(client.meta({ command: 'mg', key, flags: mgFlags }, call()), stop);
    const value = r.value ?? EMPTY;
    const f = r.flags.f ?? 0;
    // The empty item `N` creates (no data, flags 0) while its winner computes the value. A stored
    // empty value with flags 0 looks the same: callers then wait for its refresh like for a miss.
    const placeholder = value.length === 0 && f === 0 && !r.flags.X;
    if (r.flags.W) {
      // We won: a fresh placeholder (miss), a stale item (X) or an early refresh (R) to compute.
      const cas = r.flags.c ?? 0n;
      try {
        const fresh: unknown = await until(
          Promise.resolve().then(() => loader(stop)),
          stop,
        );
        const stored =
          io === undefined
            ? { value: toBuffer(fresh as Value), flags }
            : await until(Promise.resolve(io.encode(fresh)), stop);
        const setFlags = { T: ttl, F: stored.flags, C: cas > 0n ? cas : undefined };
        // With C, a store that lost to another writer (EX) or outlived its lease (NF) changes nothing.
        // If the key moved to another server meanwhile, the lease (and its CAS) means nothing there:
        // the value is returned but not stored.
        if (client.serverFor(key) === server) {
          await until(
            client.meta({ command: 'ms', key, flags: setFlags, value: stored.value }, call()),
            stop,
          );
        }
        return io === undefined ? stored.value : fresh;
      } catch (err) {
        // Give the lease back so that another caller can try at once. A stale or still-current
        // value is kept: it is worth serving until it expires.
        if (placeholder && cas > 0n && client.serverFor(key) === server) {
          // Not bound to the call's signal: an aborted or timed-out call gives the lease back too,
          // at once, and settles without waiting for the answer.
          const release = client.meta({ command: 'md', key, flags: { C: cas } }).catch(() => undefined);
          if (!stop.aborted) await release;
        }
        throw err;
      }
    }
    // A hit, a stale value someone else recomputes (Z X), or a value someone else refreshes early.
    if (!r.flags.Z || !placeholder) return decode(value, f);
    if (performance.now() - started + backoff > waitTimeout) {
      throw new TimeoutError(`waited ${waitTimeout} ms for another caller's loader`, 'request');
    }
    if (stop.aborted) throw stop.reason as Error;
    await sleep(backoff, undefined, { signal: stop }).catch(() => {
      throw stop.reason as Error;
    });
    backoff = Math.min(backoff * 2, 100);
  }
}

export async function update(
  client: RecipeClient,
  tags: CasTags,
  key: string,
  fn: (current: Item | null) => Promise<Value | undefined> | Value | undefined,
  options: UpdateOptions,
): Promise<Buffer | null> {
  if (typeof fn !== 'function') throw new InvalidArgumentError('fn must be a function');
  const maxRetries = validate.nonNegativeInt(options.maxRetries ?? 10, 'maxRetries', 1000);
  // Validated here, before any I/O; passed on as given (the store converts it).
  const given = validate.expiry(options);
  const expiry: ExpiryOptions | undefined =
    given === undefined
      ? undefined
      : options.expiresAt !== undefined
        ? { expiresAt: options.expiresAt }
        : { ttl: options.ttl! };
  const flags = options.flags === undefined ? undefined : validate.clientFlags(options.flags);
  const call = callOptions(options);
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    const server = client.serverFor(key);
    const r = await client.meta({ command: 'mg', key, flags: { v: true, f: true, c: true, t: true } }, call);
    // Tagged with its server: cas() refuses it (false, nothing sent) if the key has moved since.
    const item: Item | null =
      r.status === 'VA'
        ? { key, value: r.value!, flags: r.flags.f ?? 0, cas: tags.tag(r.flags.c ?? 0n, server) }
        : null;
    const next = await fn(item);
    if (next === undefined) return null;
    const bytes = toBuffer(next);
    // Keep the remaining TTL unless told otherwise (a plain ms would make the item immortal).
    const store = { ...call, ...(expiry ?? { ttl: keptTtl(r.flags.t) }), flags: flags ?? item?.flags ?? 0 };
    const ok =
      item === null ? await client.add(key, bytes, store) : await client.cas(key, bytes, item.cas, store);
    if (ok) return bytes;
  }
  throw new CasConflictError(`update of a key lost the race ${maxRetries + 1} times`);
}

/**
 * The TTL (seconds from now) that keeps an item's remaining lifetime: `t` -1 (never expires) → 0;
 * 0 or expired (-2, or ≥ 2^31) → 1 second, never 0 (which would make it immortal). The store
 * sends one past 30 days as a Unix time.
 */
function keptTtl(t: number | undefined): number {
  if (t === undefined || t === -1) return 0;
  if (t <= 0 || t >= 2 ** 31) return 1;
  return t;
}

export async function lock(
  client: Pick<RecipeClient, 'meta' | 'serverFor'>,
  key: string,
  options: CallOptions & { ttl: number },
): Promise<LockHandle | null> {
  const ttl = validate.relativeTtl(options?.ttl, 'ttl');
  if (ttl < 1) throw new InvalidArgumentError('a lock needs a ttl of at least 1 second');
  const token = randomBytes(12).toString('hex');
  // The lock lives on this server; if the key moves, it is lost (its CAS means nothing elsewhere).
  const server = client.serverFor(key);
  const r = await client.meta(
    { command: 'ms', key, flags: { M: 'E', T: ttl, c: true }, value: token },
    callOptions(options),
  );
  if (r.status !== 'HD') return null;
  let cas = r.flags.c ?? 0n;
  return {
    key,
    token,
    async release(opts?: CallOptions) {
      if (client.serverFor(key) !== server) return false;
      const d = await client.meta({ command: 'md', key, flags: { C: cas } }, opts);
      return d.status === 'HD';
    },
    async extend(newTtl: number, opts?: CallOptions) {
      const t = validate.relativeTtl(newTtl, 'ttl');
      // TTL 0 would make the lock immortal: a holder that dies would hold it forever.
      if (t < 1) throw new InvalidArgumentError('a lock needs a ttl of at least 1 second');
      if (client.serverFor(key) !== server) return false;
      const s = await client.meta(
        { command: 'ms', key, flags: { C: cas, T: t, c: true }, value: token },
        opts,
      );
      if (s.status !== 'HD') return false;
      cas = s.flags.c ?? cas;
      return true;
    },
  };
}
