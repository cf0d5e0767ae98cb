/**
 * What only the meta protocol can do, built from low-level meta requests
 * (reference: meta-protocol.md section 8):
 *
 * - `getOrSet`: stampede protection with the `N` lease: on a miss `mg … N<lease>` creates an empty
 *   placeholder and hands exactly one caller a win (`W`); the others see `Z` and wait, or, when the
 *   item was invalidated (`X`), are served the stale value while the winner recomputes.
 * - `update`: compare-and-swap read-modify-write with a bounded number of retries.
 * - `lock`: an advisory lock (`ms … ME` with a random token), released and extended by CAS.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortedError, CasConflictError, InvalidArgumentError, TimeoutError } from '../../lib/errors.js';
import type { CallOptions, MemcacheClient } from './client.js';
import { valueBytes, type Item, type Value } from './results.js';
import * as validate from './validate.js';

export interface GetOrSetOptions extends CallOptions {
  /** TTL of the stored value in seconds. @default 0 (never expires) */
  ttl?: number;
  /** Client flags of the stored value. @default 0 */
  flags?: number;
  /**
   * Seconds the winner has to run the loader; if it fails or dies the placeholder expires and
   * another caller wins. @default 30
   */
  leaseTtl?: number;
  /** ms a caller waits for another's loader before giving up with ERR_TIMEOUT. @default 5000 */
  waitTimeout?: number;
}

export interface UpdateOptions extends CallOptions {
  /** TTL to store with; by default the item keeps its remaining TTL. */
  ttl?: number;
  /** Client flags to store with; by default the item's own. */
  flags?: number;
  /** Attempts after the first when another writer wins the race. @default 10 */
  maxRetries?: number;
}

/** A held lock. Advisory: it relies on every party using it, and is not a fencing lock. */
export interface LockHandle {
  readonly key: string;
  /** The random value stored under the key while the lock is held. */
  readonly token: string;
  /** Releases the lock; `false` if it had already expired or been taken over. */
  release(options?: CallOptions): Promise<boolean>;
  /** Sets a new TTL; `false` if the lock was lost. */
  extend(ttl: number, options?: CallOptions): Promise<boolean>;
}

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
  client: MemcacheClient,
  key: string,
  loader: () => Promise<Value> | Value,
  options: GetOrSetOptions,
): Promise<Buffer> {
  if (typeof loader !== 'function') throw new InvalidArgumentError('loader must be a function');
  const ttl = validate.ttl(options.ttl ?? 0);
  const flags = validate.clientFlags(options.flags ?? 0);
  const leaseTtl = validate.ttl(options.leaseTtl ?? 30, 'leaseTtl');
  if (leaseTtl < 1) throw new InvalidArgumentError('leaseTtl must be at least 1 second');
  const waitTimeout = validate.nonNegativeInt(options.waitTimeout ?? 5000, 'waitTimeout', 2 ** 31 - 1);
  const call = callOptions(options);
  const started = performance.now();
  let backoff = 5;
  for (;;) {
    const r = await client.meta(
      { command: 'mg', key, flags: { N: leaseTtl, v: true, f: true, c: true } },
      call,
    );
    const value = r.value ?? Buffer.alloc(0);
    if (!r.flags.W && !r.flags.Z) return value; // a plain hit
    if (r.flags.W) {
      // We hold the lease: a fresh placeholder (miss) or a stale item (X) to recompute.
      const cas = r.flags.c ?? 0n;
      try {
        const fresh = toBuffer(await loader());
        const setFlags = { T: ttl, F: flags, ...(cas > 0n ? { C: cas } : {}) };
        await client.meta({ command: 'ms', key, flags: setFlags, value: fresh }, call);
        return fresh;
      } catch (err) {
        // Give the lease back so that another caller can try, unless the item is a stale value
        // that is still worth serving.
        if (!r.flags.X && cas > 0n) {
          await client.meta({ command: 'md', key, flags: { C: cas } }, call).catch(() => undefined);
        }
        throw err;
      }
    }
    if (r.flags.X) return value; // stale, and someone else is recomputing: serve it
    if (performance.now() - started + backoff > waitTimeout) {
      throw new TimeoutError(`waited ${waitTimeout} ms for another caller's loader`, 'request');
    }
    if (options.signal?.aborted === true) throw new AbortedError('getOrSet was aborted while waiting');
    await sleep(
      backoff,
      undefined,
      options.signal === undefined ? undefined : { signal: options.signal },
    ).catch((err: unknown) => {
      throw new AbortedError('getOrSet was aborted while waiting', { cause: err });
    });
    backoff = Math.min(backoff * 2, 100);
  }
}

export async function update(
  client: MemcacheClient,
  key: string,
  fn: (current: Item | null) => Promise<Value | undefined> | Value | undefined,
  options: UpdateOptions,
): Promise<Buffer | null> {
  if (typeof fn !== 'function') throw new InvalidArgumentError('fn must be a function');
  const maxRetries = validate.nonNegativeInt(options.maxRetries ?? 10, 'maxRetries', 1000);
  const ttl = options.ttl === undefined ? undefined : validate.ttl(options.ttl);
  const flags = options.flags === undefined ? undefined : validate.clientFlags(options.flags);
  const call = callOptions(options);
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    const r = await client.meta({ command: 'mg', key, flags: { v: true, f: true, c: true, t: true } }, call);
    const item: Item | null =
      r.status === 'VA' ? { key, value: r.value!, flags: r.flags.f ?? 0, cas: r.flags.c ?? 0n } : null;
    const next = await fn(item);
    if (next === undefined) return null;
    const bytes = toBuffer(next);
    // Keep the remaining TTL unless told otherwise (a plain ms would make the item immortal).
    const remaining = r.flags.t !== undefined && r.flags.t > 0 ? r.flags.t : 0;
    const store = { ...call, ttl: ttl ?? remaining, flags: flags ?? item?.flags ?? 0 };
    const ok =
      item === null ? await client.add(key, bytes, store) : await client.cas(key, bytes, item.cas, store);
    if (ok) return bytes;
  }
  throw new CasConflictError(`update of a key lost the race ${maxRetries + 1} times`);
}

export async function lock(
  client: MemcacheClient,
  key: string,
  options: CallOptions & { ttl: number },
): Promise<LockHandle | null> {
  const ttl = validate.ttl(options?.ttl, 'ttl');
  if (ttl < 1) throw new InvalidArgumentError('a lock needs a ttl of at least 1 second');
  const token = randomBytes(12).toString('hex');
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
      const d = await client.meta({ command: 'md', key, flags: { C: cas } }, opts);
      return d.status === 'HD';
    },
    async extend(newTtl: number, opts?: CallOptions) {
      const t = validate.ttl(newTtl, 'ttl');
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
