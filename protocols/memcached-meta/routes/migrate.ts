/**
 * `migrate({ from, to, start, duration })`: each key moves from `from` to `to` at a moment its hash
 * fixes inside the window, so a pool change spreads its misses over the window instead of taking
 * them all at once.
 *
 * ```
 *            start                                 start + duration
 *   ───────────┼──────────────────────────────────────────┼───────────▶ time
 *   all keys   │ a key: from ───────────▶│ to (a miss     │ all keys
 *   on from    │   reads and writes      │ falls back to  │ on to
 *              │                         │ from, back-    │
 *              │   deletes: both pools ──┼── fills to)    │
 *                                 its moment: start + unit(hash) × duration
 * ```
 *
 * A key has one owner at every moment, and it changes once. The clocks of the clients that share
 * the pools should agree: two clients a second apart disagree on the owner of the keys whose
 * moment falls in that second.
 */

import type { SendOptions } from '../../../lib/request-entry.js';
import type { MemlineError } from '../../../lib/errors.js';
import type { MetaBackend } from '../dispatch.js';
import { MetaFrame } from '../frame.js';
import type { MetaRequest, WireKey } from '../request.js';
import type { Call, BulkItem, BulkHow, Node } from './node.js';
import { CAS_COMPARE, copy, unit } from './node.js';
import { merge } from './nodes.js';
import { type Filler, FillGuard, deleting, fillable, readThrough, bulkReadThrough } from './fill.js';
import type { RouterHost, RouteCounters } from './router.js';

/** A delete's answer that found the item: `HD`, or none in a quiet batch. */
function deleted(reply: unknown): boolean {
  return reply === undefined || (reply instanceof MetaFrame && reply.status === 'HD');
}

export class MigrateNode implements Node {
  readonly #fill: Filler;
  readonly #end: number;

  constructor(
    readonly path: string,
    readonly from: Node,
    readonly to: Node,
    /** ms since the epoch, on the clock of {@link now}. */
    readonly start: number,
    readonly duration: number,
    readonly stats: RouteCounters,
    host: RouterHost,
    background: (job: () => Promise<unknown>) => boolean,
    /** The clock: `Date.now` in a client, a fake one in tests. */
    readonly now: () => number,
  ) {
    this.#fill = { path, stats, host, background, hits: 'fallbacks', guard: new FillGuard() };
    this.#end = start + duration;
  }

  /** The moment the key of `hash` moves to `to`: in [start, start + duration). */
  movesAt(hash: string): number {
    return this.start + unit(hash) * this.duration;
  }

  /** The key's owner at `t`. */
  owner(hash: string, t: number): Node {
    return t >= this.movesAt(hash) ? this.to : this.from;
  }

  #inWindow(t: number): boolean {
    return t >= this.start && t < this.#end;
  }

  home(c: Call): MetaBackend {
    return this.owner(c.hash, this.now()).home(c);
  }

  send(req: MetaRequest, c: Call): Promise<unknown> {
    // A delete, in the window or after it, makes the back-fills of its key in flight stale.
    if (req.command === 'md' && !c.cas)
      return deleting(this.#fill.guard, [req.key!.token], () => this.#send(req, c));
    return this.#send(req, c);
  }

  #send(req: MetaRequest, c: Call): Promise<unknown> {
    const t = this.now();
    const owner = this.owner(c.hash, t);
    // A CAS token is the owner's: it never crosses pools.
    if (c.cas || !this.#inWindow(t)) return owner.send(req, c);
    if (req.command === 'md') return this.#deleteBoth(owner, req, c);
    if (owner === this.to && fillable(req)) return readThrough(this.#fill, this.to, this.from, req, c);
    return owner.send(req, c);
  }

  /** Deleted on both: a value left on `from` would come back through a fallback read. */
  async #deleteBoth(owner: Node, req: MetaRequest, c: Call): Promise<unknown> {
    const other = owner === this.to ? this.from : this.to;
    const [mine, theirs] = await Promise.all([
      owner.send(req, c),
      other.send(copy(req), { ...c, target: undefined }),
    ]);
    // A moved key not yet back-filled is on `from` only: deleted there is deleted.
    return !deleted(mine) && deleted(theirs) ? theirs : mine;
  }

  bulk(items: readonly BulkItem[], so: SendOptions, how: BulkHow): Promise<Map<string, MemlineError>> {
    if (items.length === 0) return Promise.resolve(new Map<string, MemlineError>());
    const probe = how.make(items[0].wk);
    if (probe.command !== 'md' || CAS_COMPARE.test(probe.flags)) return this.#bulk(items, so, how, probe);
    const tokens = items.map((item) => item.wk.token);
    return deleting(this.#fill.guard, tokens, () => this.#bulk(items, so, how, probe));
  }

  async #bulk(
    items: readonly BulkItem[],
    so: SendOptions,
    how: BulkHow,
    probe: MetaRequest,
  ): Promise<Map<string, MemlineError>> {
    const t = this.now();
    const window = this.#inWindow(t);
    if (window && probe.command === 'md' && !CAS_COMPARE.test(probe.flags)) {
      return this.#bulkDeleteBoth(items, so, how, t);
    }
    const onFrom: BulkItem[] = [];
    const onTo: BulkItem[] = [];
    for (const item of items) (this.owner(item.hash, t) === this.to ? onTo : onFrom).push(item);
    const parts: Promise<Map<string, MemlineError>>[] = [];
    if (onFrom.length > 0) parts.push(this.from.bulk(onFrom, so, how));
    if (onTo.length > 0) {
      parts.push(
        window && fillable(probe)
          ? bulkReadThrough(this.#fill, this.to, this.from, onTo, so, how)
          : this.to.bulk(onTo, so, how),
      );
    }
    return merge(await Promise.all(parts));
  }

  /** Every key deleted on both pools; a key failed on either is failed; found on either is deleted. */
  async #bulkDeleteBoth(
    items: readonly BulkItem[],
    so: SendOptions,
    how: BulkHow,
    t: number,
  ): Promise<Map<string, MemlineError>> {
    type Answer = [MetaBackend, WireKey, MetaFrame | undefined];
    const answers = [new Map<string, Answer>(), new Map<string, Answer>()];
    const record = (i: number): BulkHow => ({
      make: (wk) => how.make(wk),
      onReply: (b, wk, f) => void answers[i].set(wk.original, [b, wk, f]),
    });
    const failed = await Promise.all([
      this.from.bulk(items, so, record(0)),
      this.to.bulk(items, so, record(1)),
    ]);
    const errors = new Map<string, MemlineError>();
    for (const item of items) {
      const key = item.wk.original;
      const mine = this.owner(item.hash, t) === this.to ? 1 : 0;
      const err = failed[mine].get(key) ?? failed[1 - mine].get(key);
      if (err !== undefined) {
        errors.set(key, err);
        continue;
      }
      const own = answers[mine].get(key)!;
      const other = answers[1 - mine].get(key)!;
      const [b, wk, f] = !deleted(own[2]) && deleted(other[2]) ? other : own;
      how.onReply(b, wk, f);
    }
    return errors;
  }
}
