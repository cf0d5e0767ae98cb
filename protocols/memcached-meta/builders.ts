/**
 * Structured builders of meta requests, read from the command table (`commands.ts`): each returns
 * an immutable {@link MetaRequest} ready to encode, its flags checked and rendered by `flags.ts`,
 * its idempotence taken from the table row (narrowed where the request says so: an append, a CAS,
 * an arithmetic change).
 *
 * ```ts
 * meta.get(key, { fetch: ['v', 'f', 'c'], touch: 30 });
 * meta.set(key, value, { ttl: 60, flags: 3 });
 * meta.delete(key);
 * meta.arith(key, { delta: 2n, mode: 'decr' });
 * meta.noop();
 * ```
 *
 * Keys come from `keys.ts` (`wireKey`), already validated. A bad option throws
 * `InvalidArgumentError` synchronously: a client builds requests inside the function whose promise
 * it returns, so the caller sees a rejection before any I/O.
 */
import { COMMANDS } from './commands.js';
import { renderFlags } from './flags.js';
import { MetaRequest, type WireKey } from './request.js';

/** Returned flags an `mg` may ask for. */
export type FetchFlag = 'v' | 'f' | 'c' | 't' | 's' | 'k' | 'h' | 'l';

/** Options of `meta.get` (`mg`). */
export interface MetaGetOptions {
  /** What to return. @default ['v', 'f', 'c'] */
  readonly fetch?: readonly FetchFlag[];
  /** Also set the TTL, in seconds (`T`). */
  readonly touch?: number;
}

/** Options of `meta.set` (`ms`). */
export interface MetaSetOptions {
  /** TTL in seconds (`T`); 0: never expires. */
  readonly ttl?: number;
  /** Client flags (`F`). */
  readonly flags?: number;
  /** Store only if the item's CAS is this (`C`, the server's value). */
  readonly cas?: bigint;
  /** `M` mode: E add, A append, P prepend, R replace, S set. @default 'S' */
  readonly mode?: 'E' | 'A' | 'P' | 'R' | 'S';
}

/** Options of `meta.delete` (`md`). */
export interface MetaDeleteOptions {
  readonly cas?: bigint;
  /** Mark stale instead of removing (`I`), with this TTL (`T`). */
  readonly invalidate?: number;
}

/** Options of `meta.arith` (`ma`); the new value is always returned (`v`). */
export interface MetaArithOptions {
  /** @default 1n */
  readonly delta?: bigint;
  /** Create a missing counter with `initial`, for `ttl` seconds (`N`, `J`). */
  readonly autoVivify?: { readonly ttl: number; readonly initial?: bigint };
  /** @default 'incr' */
  readonly mode?: 'incr' | 'decr';
}

function fetchFlags(fetch: readonly FetchFlag[]): Record<string, boolean> {
  const flags: Record<string, boolean> = {};
  for (const f of fetch) flags[f] = true;
  return flags;
}

/** The builders (see the module comment). */
export const meta = Object.freeze({
  /** `mg`: a read. */
  get(key: WireKey, options: MetaGetOptions = {}): MetaRequest {
    const flags = fetchFlags(options.fetch ?? ['v', 'f', 'c']);
    const rendered = renderFlags('mg', { ...flags, T: options.touch }, key.base64 ? 1 : 0);
    return MetaRequest.meta('mg', key, rendered, undefined, COMMANDS.mg.idempotent);
  },

  /** `ms`: a store; `value` is the data block. */
  set(key: WireKey, value: Buffer, options: MetaSetOptions = {}): MetaRequest {
    const mode = options.mode;
    const flags = { T: options.ttl, F: options.flags, C: options.cas, M: mode };
    const rendered = renderFlags('ms', flags, key.base64 ? 1 : 0);
    // Appending twice appends twice; a CAS store fails the second time.
    const idempotent = COMMANDS.ms.idempotent && mode !== 'A' && mode !== 'P' && options.cas === undefined;
    return MetaRequest.meta('ms', key, rendered, value, idempotent);
  },

  /** `md`: a delete, or an invalidation (`I`). */
  delete(key: WireKey, options: MetaDeleteOptions = {}): MetaRequest {
    const invalidate = options.invalidate !== undefined;
    const flags = { C: options.cas, I: invalidate, T: options.invalidate };
    const rendered = renderFlags('md', flags, key.base64 ? 1 : 0);
    return MetaRequest.meta('md', key, rendered, undefined, COMMANDS.md.idempotent);
  },

  /** `ma`: increment or decrement; never idempotent. */
  arith(key: WireKey, options: MetaArithOptions = {}): MetaRequest {
    const viv = options.autoVivify;
    const flags = {
      N: viv?.ttl,
      J: viv?.initial,
      D: options.delta,
      M: options.mode === 'decr' ? 'D' : undefined,
      v: true,
    };
    const rendered = renderFlags('ma', flags, key.base64 ? 1 : 0);
    return MetaRequest.meta('ma', key, rendered, undefined, COMMANDS.ma.idempotent);
  },

  /** `mn`: answered by `MN`, in order. */
  noop(): MetaRequest {
    return MetaRequest.meta('mn', undefined, '', undefined, COMMANDS.mn.idempotent);
  },
});
