/**
 * Reading through one route to another, as warm-up and migrate routes do: a plain read that misses
 * on the first route reads the second (`mg … t f v`) and, on a hit, adds the value to the first in
 * the background with the same remaining TTL and flags (`ms … ME`: an add, never over a newer
 * value).
 */

import type { SendOptions } from '../../../lib/request-entry.js';
import type { MemlineError } from '../../../lib/errors.js';
import type { MetaBackend } from '../dispatch.js';
import { type MetaFrame, returnedFlags } from '../frame.js';
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
  const frame = (await second.send(secondReq, c)) as MetaFrame;
  if (frame.status !== 'VA' || frame.value === undefined) return reply;
  fill.stats[fill.hits]++;
  backfill(fill, first, req.key!, frame, c);
  if (sink === undefined) return frame;
  const server = c.target?.server ?? '';
  const item = toItem(req.key!.original, frame);
  if (item === null) return reply;
  fill.host.counters.count(server, true);
  item.cas = fill.host.casTags.tag(item.cas, server);
  return item;
}

/** Adds `frame`'s value to `node` in the background (`ms … ME`) with its remaining TTL and flags. */
function backfill(fill: Filler, node: Node, key: WireKey, frame: MetaFrame, c: Call): void {
  const f = returnedFlags(frame);
  const ttl = f.t ?? -1;
  if (ttl === 0) return; // expiring now: nothing to copy
  const flags = ' ME' + (ttl > 0 ? ` T${ttl}` : '') + (f.f ? ` F${f.f}` : '');
  const req = MetaRequest.meta('ms', key, flags, frame.value, false);
  const timeout = c.so.timeout;
  const queued = fill.background(() => {
    const so = { deadline: performance.now() + timeout, timeout, signal: undefined };
    fill.stats.backfills++;
    return node.send(req, { ...c, so, target: undefined, cas: false }).catch((err: unknown) => {
      fill.stats.backfillErrors++;
      fill.host.warn({ route: fill.path, err }, 'memline: back-fill failed');
    });
  });
  if (!queued) fill.stats.dropped++;
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
  const filled = new Set<string>();
  const failed = await second.bulk(again, so, {
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
      backfill(fill, first, wk, f, c);
      how.onReply(b, wk, f);
    },
  });
  for (const item of again) {
    const key = item.wk.original;
    const err = failed.get(key);
    if (err !== undefined) errors.set(key, err);
    else if (!filled.has(key)) how.onReply(missed.get(key)!, item.wk, undefined);
  }
  return errors;
}
