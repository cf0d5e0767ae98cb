/**
 * Reading through one route to another, as warm-up and migrate routes do: a plain read that misses
 * on the first route reads the second (`mg … t f v`) and, on a hit, adds the value to the first in
 * the background with the same remaining TTL and flags (`ms … ME`: an add, never over a newer
 * value).
 *
 * An add never overwrites a value written meanwhile, but it could bring back one deleted
 * meanwhile: the read of the second route sees the value, the caller deletes the key (from both
 * routes), then the back-fill adds it again. The node's {@link FillGuard} closes that window for
 * this client's deletes:
 *
 * ```
 *   read second ──► begin(key) ─────────── back-fill job ──── ms ME c ───► HD c<cas> ──── end(key)
 *                       │  a delete of key issued or settled:  │ skipped            │ followed by
 *                       └────────────── deleting(key) ─────────┴────────────────────┴► md C<cas>
 * ```
 *
 * A back-fill whose key saw a delete since its read began is not sent; one already sent, that
 * stored, is followed by a delete of the version it stored only (`md <key> C<cas>`), so a value
 * written after it survives. Counted in `cancelledBackfills`. Deletes by other clients are not
 * seen: one that lands between the read of the second route and the back-fill can still be undone
 * (a window of one round trip plus the queue's wait).
 */
import type { SendOptions } from '../../../lib/request-entry.js';
import type { MemlineError } from '../../../lib/errors.js';
import type { MetaBackend } from '../dispatch.js';
import { type MetaFrame } from '../frame.js';
import { casOf, returnedFlags } from '../returned-flags.js';
import { MetaRequest, type WireKey } from '../request.js';
import { toItem } from '../results.js';
import type { Call, BulkItem, BulkHow, Node } from './node.js';
import { isMiss, isRead, copy } from './node.js';
import type { RouterHost, RouteCounters } from './router.js';

/** What a read-through needs from the node that does it. */
export interface Filler {
  readonly path: string;
  readonly stats: RouteCounters;
  readonly host: RouterHost;
  readonly background: (job: () => Promise<unknown>) => boolean;
  /** The counter of reads answered by the second route. */
  readonly hits: 'warmHits' | 'fallbacks';
  /** The node's back-fills and deletes in flight, by key. */
  readonly guard: FillGuard;
}

/**
 * Per key (its wire token): the read-throughs and back-fills in flight, the deletes in flight,
 * and a count bumped when a delete is issued and when it settles. A back-fill compares the count
 * with the one at the start of its read: a delete issued since, or in flight then and settled
 * since, makes it stale. Keys are kept only while something of theirs is in flight.
 */
export class FillGuard {
  readonly #keys = new Map<string, { fills: number; deletes: number; count: number }>();

  #entry(token: string): { fills: number; deletes: number; count: number } {
    let e = this.#keys.get(token);
    if (e === undefined) this.#keys.set(token, (e = { fills: 0, deletes: 0, count: 0 }));
    return e;
  }

  #release(token: string, e: { fills: number; deletes: number }): void {
    if (e.fills === 0 && e.deletes === 0) this.#keys.delete(token);
  }

  /** A read of the second route begins; returns the mark {@link stale} compares with. */
  begin(token: string): number {
    const e = this.#entry(token);
    e.fills++;
    return e.count;
  }

  /** The read (and its back-fill, if any) is over. */
  end(token: string): void {
    const e = this.#keys.get(token)!;
    e.fills--;
    this.#release(token, e);
  }

  /** Whether a delete of the key was issued or settled since {@link begin} returned `mark`. */
  stale(token: string, mark: number): boolean {
    return this.#keys.get(token)!.count !== mark;
  }

  /** A delete of the key is issued; call the returned function once it has settled. */
  deleting(token: string): () => void {
    const e = this.#entry(token);
    e.deletes++;
    e.count++;
    return () => {
      e.deletes--;
      e.count++;
      this.#release(token, e);
    };
  }

  /** Keys followed now (for tests). */
  get size(): number {
    return this.#keys.size;
  }
}

/** Runs `send` as a delete of `tokens`: back-fills of those keys begun before it settles are stale. */
export async function deleting<T>(
  guard: FillGuard,
  tokens: readonly string[],
  send: () => Promise<T>,
): Promise<T> {
  const done = tokens.map((t) => guard.deleting(t));
  try {
    return await send();
  } finally {
    for (const d of done) d();
  }
}

/** Whether a read may be filled from another route: an `mg` that returns the value and changes nothing. */
export function fillable(req: MetaRequest): boolean {
  return req.command === 'mg' && isRead(req) && / v/.test(req.flags);
}

/** `flags` with `t` and `f`: the remaining TTL and the client flags a back-fill needs. */
function withTtlAndFlags(flags: string): string {
  const tokens = flags.split(' ');
  for (const f of ['t', 'f']) if (!tokens.includes(f)) flags += ` ${f}`;
  return flags;
}

/** A plain read (see {@link fillable}) of `first`; on a miss, of `second`, whose hit is added to `first`. */
export async function readThrough(
  fill: Filler,
  first: Node,
  second: Node,
  req: MetaRequest,
  c: Call,
): Promise<unknown> {
  const sink = req.itemSink;
  const reply = await first.send(req, c);
  if (!isMiss(reply)) return reply;
  // No item sink: the frame itself, whose `t` the back-fill reads.
  const secondReq = MetaRequest.meta('mg', req.key, withTtlAndFlags(req.flags), undefined, true);
  const token = req.key!.token;
  const mark = fill.guard.begin(token);
  let frame: MetaFrame;
  try {
    frame = (await second.send(secondReq, c)) as MetaFrame;
  } catch (err) {
    fill.guard.end(token);
    throw err;
  }
  if (frame.status !== 'VA' || frame.value === undefined) {
    fill.guard.end(token);
    return reply;
  }
  fill.stats[fill.hits]++;
  // A plain read like the caller's: a stale item's win it took goes back to the server that answered.
  if (c.target !== undefined) fill.host.handBack(c.target.server, req.key!, frame);
  backfill(fill, first, req.key!, frame, c, mark);
  if (sink === undefined) return frame;
  const server = c.target?.server ?? '';
  const item = toItem(req.key!.original, frame);
  if (item === null) return reply;
  fill.host.counters.count(server, true);
  item.cas = fill.host.casTags.tag(item.cas, server);
  return item;
}

/**
 * Adds `frame`'s value to `node` in the background (`ms … ME c`) with its remaining TTL and flags,
 * unless a delete of the key made it stale ({@link FillGuard}); ends the key's guard.
 */
function backfill(fill: Filler, node: Node, key: WireKey, frame: MetaFrame, c: Call, mark: number): void {
  const f = returnedFlags(frame);
  const ttl = f.t ?? -1;
  const guard = fill.guard;
  if (ttl === 0) {
    guard.end(key.token); // expiring now: nothing to copy
    return;
  }
  const flags = ' ME' + (ttl > 0 ? ` T${ttl}` : '') + (f.f ? ` F${f.f}` : '') + ' c';
  const req = MetaRequest.meta('ms', key, flags, frame.value, false);
  const timeout = c.so.timeout;
  const so = () => ({ deadline: performance.now() + timeout, timeout, signal: undefined });
  const cancelled = () => {
    fill.stats.cancelledBackfills++;
    return undefined;
  };
  const queued = fill.background(async () => {
    try {
      if (guard.stale(key.token, mark)) return cancelled();
      fill.stats.backfills++;
      const reply = (await node.send(req, { ...c, so: so(), target: undefined, cas: false })) as MetaFrame;
      if (reply.status !== 'HD' || !guard.stale(key.token, mark)) return;
      // Deleted while the add was on its way: take back the version it stored, and only that one.
      cancelled();
      const undo = MetaRequest.meta('md', key, ` C${casOf(reply)}`, undefined, true);
      await node.send(undo, { ...c, so: so(), target: undefined, cas: false });
    } catch (err) {
      fill.stats.backfillErrors++;
      fill.host.warn({ route: fill.path, err }, 'memline: back-fill failed');
    } finally {
      guard.end(key.token);
    }
  });
  if (!queued) {
    fill.stats.dropped++;
    guard.end(key.token);
  }
}

/**
 * {@link readThrough} over a bulk read: the keys that missed on `first` are read from `second` in
 * one more bulk call; each key is answered once (a miss on both with `first`'s server).
 */
export async function bulkReadThrough(
  fill: Filler,
  first: Node,
  second: Node,
  items: readonly BulkItem[],
  so: SendOptions,
  how: BulkHow,
): Promise<Map<string, MemlineError>> {
  const missed = new Map<string, MetaBackend>();
  const errors = await first.bulk(items, so, {
    make: (wk) => how.make(wk),
    onReply: (b, wk, f) => {
      if (f === undefined || f.status === 'EN') missed.set(wk.original, b);
      else how.onReply(b, wk, f);
    },
  });
  const again = items.filter((item) => missed.has(item.wk.original));
  if (again.length === 0) return errors;
  const byKey = new Map(again.map((item) => [item.wk.original, item]));
  const marks = new Map(again.map((item) => [item.wk.original, fill.guard.begin(item.wk.token)]));
  const filled = new Set<string>();
  let failed: Map<string, MemlineError>;
  try {
    failed = await second.bulk(again, so, {
      make: (wk) => {
        const r = how.make(wk);
        return copy(r, withTtlAndFlags(r.flags));
      },
      onReply: (b, wk, f) => {
        if (f === undefined || f.status !== 'VA' || f.value === undefined) return;
        filled.add(wk.original);
        fill.stats[fill.hits]++;
        const item = byKey.get(wk.original)!;
        const c: Call = { key: item.key, hash: item.hash, so, target: undefined, cas: false };
        backfill(fill, first, wk, f, c, marks.get(wk.original)!);
        how.onReply(b, wk, f);
      },
    });
  } finally {
    // Keys not back-filled: their read is over.
    for (const item of again) if (!filled.has(item.wk.original)) fill.guard.end(item.wk.token);
  }
  for (const item of again) {
    const key = item.wk.original;
    const err = failed.get(key);
    if (err !== undefined) errors.set(key, err);
    else if (!filled.has(key)) how.onReply(missed.get(key)!, item.wk, undefined);
  }
  return errors;
}
