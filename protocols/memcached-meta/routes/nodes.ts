/** The pool, prefix and failover nodes of a route tree, and the TTL clamp of gutter pools. */

import type { SendOptions } from '../../../lib/request-entry.js';
import type { Ejector } from '../../../lib/eject.js';
import type { MemlineError } from '../../../lib/errors.js';
import { TimeoutError } from '../../../lib/errors.js';
import { fanOut } from '../../../lib/kit/index.js';
import type { MetaBackend } from '../dispatch.js';
import type { MetaFrame } from '../frame.js';
import { MetaRequest, type WireKey } from '../request.js';
import type { ResolvedPool } from './pools.js';
import type { Call, BulkItem, BulkHow, Node } from './node.js';
import { failsOver, isMiss, isRead, copy, slice } from './node.js';
import type { RouterHost, RouteCounters } from './router.js';

/** The maximum TTL, in seconds, memcached takes as relative; above it a TTL is a Unix time. */
export const RELATIVE_MAX = 2_592_000;

/**
 * `flags` with every TTL a write sets (`T` of ms/mg/md, `N` of a vivify) clamped to `max` seconds;
 * a store that sets a TTL of 0 (never expires), or none, gets `max`. Append and prepend keep the
 * item's TTL: only their vivify (`N`) is clamped.
 */
export function clampTtl(command: string, flags: string, max: number): string {
  const clamp = (n: number): number => {
    const relative = n > RELATIVE_MAX ? n - Math.floor(Date.now() / 1000) : n;
    return n === 0 || relative > max ? max : Math.max(1, relative);
  };
  let out = flags.replace(/ ([TN])(\d+)/g, (_, f: string, n: string) => ` ${f}${clamp(Number(n))}`);
  if (command === 'ms' && !/ T\d/.test(out) && !/ M[AaPp]/.test(out)) out += ` T${max}`;
  return out;
}

/**
 * `pool(name)` and `gutter(name)`: a ring over the pool's servers; with the pool's `eject`, the
 * ring leaves out the servers that failed (lib/eject.ts) and every call's outcome is reported.
 */
export class PoolNode implements Node {
  readonly #backends: MetaBackend[];
  readonly #pool: ResolvedPool;
  readonly #host: RouterHost;
  readonly #eject: Ejector | undefined;

  constructor(
    readonly path: string,
    host: RouterHost,
    pool: ResolvedPool,
    readonly maxTtl: number | undefined,
    eject?: Ejector,
  ) {
    this.#host = host;
    this.#pool = pool;
    this.#backends = pool.addresses.map((a) => host.core.backendNamed(a.address));
    this.#eject = eject;
  }

  get name(): string {
    return this.#pool.name;
  }

  #index(hash: string): number {
    if (this.#backends.length === 1) return 0;
    const e = this.#eject;
    return e === undefined ? this.#pool.distribution.pick(hash) : e.pick(hash);
  }

  #pick(hash: string): MetaBackend {
    return this.#backends[this.#index(hash)];
  }

  #adjust(req: MetaRequest): MetaRequest {
    if (this.maxTtl === undefined || req.command === undefined) return req;
    const flags = clampTtl(req.command, req.flags, this.maxTtl);
    return flags === req.flags ? req : copy(req, flags);
  }

  home(c: Call): MetaBackend {
    return this.#pick(c.hash);
  }

  send(req: MetaRequest, c: Call): Promise<unknown> {
    const i = this.#index(c.hash);
    const backend = this.#backends[i];
    const r = this.#adjust(req);
    if (r.itemSink !== undefined) r.itemSink = this.#host.readsOf(backend);
    const e = this.#eject;
    const sent = e === undefined ? backend.send(r, c.so) : watch(backend.send(r, c.so), e, i);
    this.#host.journal?.watch(backend.server, r, sent);
    const target = c.target;
    if (target === undefined) return sent;
    return sent.then((reply) => {
      target.server = backend.server;
      return reply;
    });
  }

  async bulk(items: readonly BulkItem[], so: SendOptions, how: BulkHow): Promise<Map<string, MemlineError>> {
    const parts = new Map<MetaBackend, number[]>();
    items.forEach((item, i) => {
      const b = this.#pick(item.hash);
      const part = parts.get(b);
      if (part === undefined) parts.set(b, [i]);
      else part.push(i);
    });
    const errors = await fanOut(parts, so, {
      request: (indexes) => MetaRequest.batch(indexes.map((i) => this.#adjust(how.make(items[i].wk)))),
      onReply: (replies, indexes, backend) => {
        const frames = replies as (MetaFrame | undefined)[];
        indexes.forEach((i, j) => how.onReply(backend, items[i].wk, frames[j]));
      },
      name: (i) => items[i].wk.original,
      sent: this.#host.journal?.sent,
    });
    const e = this.#eject;
    if (e !== undefined) {
      // One outcome per server's batch: its error is on each of its keys, or on none.
      for (const [backend, indexes] of parts) {
        e.outcome(this.#backends.indexOf(backend), errors.get(items[indexes[0]].wk.original));
      }
    }
    return errors;
  }
}

/** Reports the outcome of a call on server `i` to the pool's ejector. */
function watch(sent: Promise<unknown>, e: Ejector, i: number): Promise<unknown> {
  return sent.then(
    (reply) => {
      e.outcome(i);
      return reply;
    },
    (err: unknown) => {
      e.outcome(i, err);
      throw err;
    },
  );
}

/** `byPrefix`: the longest matching prefix's child, else the default. */
export class PrefixNode implements Node {
  readonly #table: (readonly [string, Node])[];

  constructor(
    readonly path: string,
    table: readonly (readonly [string, Node])[],
    readonly fallback: Node,
  ) {
    this.#table = [...table].sort((a, b) => b[0].length - a[0].length);
  }

  #child(key: string): Node {
    for (const [prefix, node] of this.#table) if (key.startsWith(prefix)) return node;
    return this.fallback;
  }

  home(c: Call): MetaBackend {
    return this.#child(c.key).home(c);
  }

  send(req: MetaRequest, c: Call): Promise<unknown> {
    return this.#child(c.key).send(req, c);
  }

  async bulk(items: readonly BulkItem[], so: SendOptions, how: BulkHow): Promise<Map<string, MemlineError>> {
    const groups = new Map<Node, BulkItem[]>();
    for (const item of items) {
      const node = this.#child(item.key);
      const group = groups.get(node);
      if (group === undefined) groups.set(node, [item]);
      else group.push(item);
    }
    const results = await Promise.all([...groups].map(([node, group]) => node.bulk(group, so, how)));
    return merge(results);
  }
}

export function merge(maps: readonly Map<string, MemlineError>[]): Map<string, MemlineError> {
  if (maps.length === 1) return maps[0];
  const out = new Map<string, MemlineError>();
  for (const m of maps) for (const [k, v] of m) out.set(k, v);
  return out;
}

/**
 * Tries `children` in order within the call's deadline: each try but the last gets
 * `attemptTimeout` (or an even share of the time left); an error that means the server is down,
 * slow or shed moves to the next child, and so does a read's miss with `onMiss`. A miss beats the
 * last error.
 */
export async function inOrder(
  children: readonly Node[],
  tries: number,
  onMiss: boolean,
  attemptTimeout: number | undefined,
  req: MetaRequest,
  c: Call,
  stats: RouteCounters,
  label: (i: number) => string,
): Promise<unknown> {
  let lastError: MemlineError | undefined;
  let miss: { reply: unknown } | undefined;
  const read = isRead(req);
  for (let i = 0; i < tries; i++) {
    const left = c.so.deadline - performance.now();
    if (left <= 0 && i > 0) break;
    const last = i === tries - 1;
    const so = last ? c.so : slice(c.so, Math.min(attemptTimeout ?? left / (tries - i), left));
    try {
      const reply = await children[i].send(i === 0 ? req : copy(req), { ...c, so });
      if (onMiss && read && !last && isMiss(reply)) {
        miss = { reply };
        stats.missFailovers++;
        continue;
      }
      stats.answeredBy[label(i)] = (stats.answeredBy[label(i)] ?? 0) + 1;
      return reply;
    } catch (err) {
      if (!failsOver(err)) throw err;
      lastError = err;
      if (!last) stats.failovers++;
    }
  }
  if (miss !== undefined) return miss.reply;
  throw lastError ?? new TimeoutError(`no time left to fail over (timeout ${c.so.timeout} ms)`, 'request');
}

/** The same over a bulk call: the keys a child failed (or missed, with `onMiss`) go to the next. */
export async function bulkInOrder(
  children: readonly Node[],
  tries: number,
  onMiss: boolean,
  attemptTimeout: number | undefined,
  items: readonly BulkItem[],
  so: SendOptions,
  how: BulkHow,
  stats: RouteCounters,
): Promise<Map<string, MemlineError>> {
  const errors = new Map<string, MemlineError>();
  const misses = new Map<string, [MetaBackend, WireKey]>();
  let pending = items;
  for (let i = 0; i < tries && pending.length > 0; i++) {
    const left = so.deadline - performance.now();
    if (left <= 0 && i > 0) break;
    const last = i === tries - 1;
    const attempt = last ? so : slice(so, Math.min(attemptTimeout ?? left / (tries - i), left));
    let reads = false;
    const missed = new Set<string>();
    const wrapped: BulkHow = {
      make: (wk) => {
        const r = how.make(wk);
        reads ||= r.command === 'mg' && isRead(r);
        return r;
      },
      onReply: (b, wk, f) => {
        if (onMiss && reads && !last && (f === undefined || f.status === 'EN')) {
          missed.add(wk.original);
          misses.set(wk.original, [b, wk]);
          return;
        }
        misses.delete(wk.original);
        how.onReply(b, wk, f);
      },
    };
    const failed = await children[i].bulk(pending, attempt, wrapped);
    const next: BulkItem[] = [];
    for (const item of pending) {
      const err = failed.get(item.wk.original);
      if (err !== undefined) {
        errors.set(item.wk.original, err);
        if (!last && failsOver(err)) next.push(item);
      } else if (missed.has(item.wk.original)) next.push(item);
      else errors.delete(item.wk.original);
    }
    for (const item of next) {
      if (errors.has(item.wk.original)) stats.failovers++;
      else stats.missFailovers++;
    }
    pending = next;
  }
  // A miss beats the last error: a key that missed somewhere is a miss.
  for (const [key, [b, wk]] of misses) {
    errors.delete(key);
    how.onReply(b, wk, undefined);
  }
  return errors;
}

/** `failover(primary, ...fallbacks)`. */
export class FailoverNode implements Node {
  constructor(
    readonly path: string,
    readonly children: readonly Node[],
    readonly tries: number,
    readonly onMiss: boolean,
    readonly attemptTimeout: number | undefined,
    readonly stats: RouteCounters,
  ) {}

  home(c: Call): MetaBackend {
    return this.children[0].home(c);
  }

  send(req: MetaRequest, c: Call): Promise<unknown> {
    if (c.cas) return this.children[0].send(req, c);
    return inOrder(this.children, this.tries, this.onMiss, this.attemptTimeout, req, c, this.stats, String);
  }

  bulk(items: readonly BulkItem[], so: SendOptions, how: BulkHow): Promise<Map<string, MemlineError>> {
    const { children, tries, onMiss, attemptTimeout, stats } = this;
    return bulkInOrder(children, tries, onMiss, attemptTimeout, items, so, how, stats);
  }
}
