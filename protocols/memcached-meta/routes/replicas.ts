/** The replicated, shadow and warm-up nodes of a route tree. */

import type { SendOptions } from '../../../lib/request-entry.js';
import type { MemlineError } from '../../../lib/errors.js';
import type { MetaBackend } from '../dispatch.js';
import { MetaFrame } from '../frame.js';
import { MetaRequest } from '../request.js';
import { PartialWriteError } from './errors.js';
import type { Call, BulkItem, BulkHow, Node } from './node.js';
import { CAS_COMPARE, isRead, copy, unit } from './node.js';
import { type Filler, FillGuard, bulkReadThrough, deleting, fillable, readThrough } from './fill.js';
import type { PoolNode } from './nodes.js';
import { inOrder, bulkInOrder, merge } from './nodes.js';
import type { RouterHost, RouteCounters } from './router.js';

/** `replicated(pools, { write, read })`. */
export class ReplicatedNode implements Node {
  readonly #names: string[];

  constructor(
    readonly path: string,
    readonly route: { readonly write: 'all' | 'majority'; readonly read: 'first' | 'fastest' },
    readonly children: readonly PoolNode[],
    readonly stats: RouteCounters,
    readonly host: RouterHost,
  ) {
    this.#names = children.map((p) => p.name);
  }

  home(c: Call): MetaBackend {
    return this.children[0].home(c);
  }

  /** Whether enough pools took a write. */
  #enough(ok: number): boolean {
    const n = this.children.length;
    return this.route.write === 'all' ? ok === n : ok * 2 > n;
  }

  async send(req: MetaRequest, c: Call): Promise<unknown> {
    if (c.cas) return this.#casWrite(req, c);
    if (isRead(req)) {
      if (this.route.read === 'first') {
        return inOrder(
          this.children,
          this.children.length,
          false,
          undefined,
          req,
          c,
          this.stats,
          (i) => this.#names[i],
        );
      }
      return this.#fastest(req, c);
    }
    return this.#write(this.children, req, c);
  }

  #answered(i: number, n = 1): void {
    const name = this.#names[i];
    this.stats.answeredBy[name] = (this.stats.answeredBy[name] ?? 0) + n;
  }

  /** Every pool at once; the first that answers (a miss is an answer) wins, else the first pool's error. */
  async #fastest(req: MetaRequest, c: Call): Promise<unknown> {
    try {
      return await Promise.any(
        this.children.map((p, i) =>
          p.send(i === 0 ? req : copy(req), c).then((reply) => {
            this.#answered(i);
            return reply;
          }),
        ),
      );
    } catch (err) {
      throw (err as AggregateError).errors[0];
    }
  }

  /**
   * `fastest` over a bulk read: the whole read goes to every pool at once, and each key takes the
   * answer (a hit or a miss, as for a single read) of the first pool whose batch holding it comes
   * back without error. The call settles as soon as every key has its answer: the slower pools'
   * replies are read and dropped. A key no pool answered fails with the first pool's error.
   */
  #bulkFastest(
    items: readonly BulkItem[],
    so: SendOptions,
    how: BulkHow,
  ): Promise<Map<string, MemlineError>> {
    const answered = new Set<string>();
    const failures = this.children.map(() => new Map<string, MemlineError>());
    let pending = this.children.length;
    return new Promise((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        const errors = new Map<string, MemlineError>();
        for (const item of items) {
          const key = item.wk.original;
          if (answered.has(key)) continue;
          const err = failures.find((f) => f.has(key))?.get(key);
          if (err !== undefined) errors.set(key, err);
        }
        resolve(errors);
      };
      this.children.forEach((p, i) => {
        const first: BulkHow = {
          make: (wk) => how.make(wk),
          onReply: (b, wk, f) => {
            if (done || answered.has(wk.original)) return;
            answered.add(wk.original);
            this.#answered(i);
            how.onReply(b, wk, f);
            if (answered.size === items.length) finish();
          },
        };
        p.bulk(items, so, first).then(
          (errors) => {
            failures[i] = errors;
            if (--pending === 0) finish();
          },
          (err: unknown) => {
            for (const item of items) failures[i].set(item.wk.original, err as MemlineError);
            if (--pending === 0) finish();
          },
        );
      });
    });
  }

  /** Sends to every pool in `pools`; the first pool's reply (else the first that came). */
  async #write(pools: readonly PoolNode[], req: MetaRequest, c: Call): Promise<unknown> {
    const settled = await Promise.allSettled(pools.map((p, i) => p.send(i === 0 ? req : copy(req), c)));
    const failed = new Map<string, MemlineError>();
    const succeeded: string[] = [];
    let reply: { value: unknown } | undefined;
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') {
        succeeded.push(pools[i].name);
        reply ??= { value: s.value };
      } else failed.set(pools[i].name, s.reason as MemlineError);
    });
    const others = this.children.length - pools.length;
    return this.#settle(succeeded, failed, others, reply);
  }

  #settle(
    succeeded: string[],
    failed: Map<string, MemlineError>,
    alreadyOk: number,
    reply: { value: unknown } | undefined,
  ): unknown {
    if (failed.size === 0) return reply!.value;
    this.stats.partialWrites++;
    const names = [...failed.keys()].join(', ');
    // Nothing took it: a plain failure, with the first pool's error.
    if (succeeded.length + alreadyOk === 0) throw failed.values().next().value!;
    if (reply !== undefined && this.#enough(succeeded.length + alreadyOk)) {
      this.host.warn(
        { route: this.path, failed: [...failed.keys()] },
        'memline: replicated write missed pools',
      );
      return reply.value;
    }
    throw new PartialWriteError(
      `the write reached ${succeeded.length + alreadyOk} of ${this.children.length} pools; not: ${names}`,
      succeeded,
      failed,
    );
  }

  /** A CAS write: decided on the first pool, then copied to the others as a plain store. */
  async #casWrite(req: MetaRequest, c: Call): Promise<unknown> {
    const [first, ...rest] = this.children;
    const reply = await first.send(req, c);
    if (req.command !== 'ms' || !(reply instanceof MetaFrame) || reply.status !== 'HD') return reply;
    const plain = copy(req, req.flags.replace(/ C\d+/, ''));
    const settled = await Promise.allSettled(
      rest.map((p) => p.send(copy(plain), { ...c, target: undefined })),
    );
    const failed = new Map<string, MemlineError>();
    const succeeded = [first.name];
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') succeeded.push(rest[i].name);
      else failed.set(rest[i].name, s.reason as MemlineError);
    });
    return this.#settle(succeeded, failed, 0, { value: reply });
  }

  async bulk(items: readonly BulkItem[], so: SendOptions, how: BulkHow): Promise<Map<string, MemlineError>> {
    if (items.length === 0) return new Map();
    if (isRead(how.make(items[0].wk))) {
      if (this.route.read === 'fastest') return this.#bulkFastest(items, so, how);
      const n = this.children.length;
      return bulkInOrder(this.children, n, false, undefined, items, so, how, this.stats);
    }
    const answered = new Set<string>();
    const once: BulkHow = {
      make: (wk) => how.make(wk),
      onReply: (b, wk, f) => {
        if (answered.has(wk.original)) return;
        answered.add(wk.original);
        how.onReply(b, wk, f);
      },
    };
    const results = await Promise.all(this.children.map((p) => p.bulk(items, so, once)));
    const errors = new Map<string, MemlineError>();
    for (const item of items) {
      const key = item.wk.original;
      const failed = new Map<string, MemlineError>();
      const succeeded: string[] = [];
      results.forEach((r, i) => {
        const err = r.get(key);
        if (err === undefined) succeeded.push(this.#names[i]);
        else failed.set(this.#names[i], err);
      });
      if (failed.size === 0) continue;
      this.stats.partialWrites++;
      if (succeeded.length > 0 && this.#enough(succeeded.length)) continue;
      errors.set(
        key,
        new PartialWriteError(
          `the write of ${key} reached ${succeeded.length} of ${this.children.length} pools`,
          succeeded,
          failed,
        ),
      );
    }
    return errors;
  }
}

/** `shadow(primary, target, { fraction })`. */
export class ShadowNode implements Node {
  constructor(
    readonly path: string,
    readonly primary: Node,
    readonly target: Node,
    readonly fraction: number,
    readonly stats: RouteCounters,
    readonly background: (job: () => Promise<unknown>) => boolean,
  ) {}

  home(c: Call): MetaBackend {
    return this.primary.home(c);
  }

  #picked(hash: string): boolean {
    return this.fraction > 0 && unit(hash) < this.fraction;
  }

  send(req: MetaRequest, c: Call): Promise<unknown> {
    if (!c.cas && this.#picked(c.hash)) {
      // No item sink: the copy's hits and misses are not the caller's.
      const shadowReq = MetaRequest.meta(req.command!, req.key, req.flags, req.value, req.idempotent);
      const timeout = c.so.timeout;
      const queued = this.background(() => {
        const so = { deadline: performance.now() + timeout, timeout, signal: undefined };
        this.stats.shadowSent++;
        return this.target.send(shadowReq, { ...c, so, target: undefined }).catch(() => {
          this.stats.shadowErrors++;
        });
      });
      if (!queued) this.stats.dropped++;
    }
    return this.primary.send(req, c);
  }

  /**
   * As {@link send}, per key: the keys a single call would copy (the same hash rule) are sent to
   * the target as one more bulk call in the background, whose replies and errors are only counted
   * (`shadowSent`, `shadowErrors` and `dropped` count keys).
   */
  bulk(items: readonly BulkItem[], so: SendOptions, how: BulkHow): Promise<Map<string, MemlineError>> {
    const picked = items.filter((item) => this.#picked(item.hash));
    if (picked.length > 0 && !CAS_COMPARE.test(how.make(picked[0].wk).flags)) {
      // No item sink and no onReply: the copy's hits, misses and errors are not the caller's.
      const quiet: BulkHow = { make: (wk) => how.make(wk), onReply: () => undefined };
      const timeout = so.timeout;
      const queued = this.background(async () => {
        const copySo = { deadline: performance.now() + timeout, timeout, signal: undefined };
        this.stats.shadowSent += picked.length;
        try {
          this.stats.shadowErrors += (await this.target.bulk(picked, copySo, quiet)).size;
        } catch {
          this.stats.shadowErrors += picked.length;
        }
      });
      if (!queued) this.stats.dropped += picked.length;
    }
    return this.primary.bulk(items, so, how);
  }
}

/** `warmUp({ cold, warm })`. */
export class WarmUpNode implements Node {
  readonly #fill: Filler;

  constructor(
    readonly path: string,
    readonly cold: Node,
    readonly warm: Node,
    readonly stats: RouteCounters,
    host: RouterHost,
    background: (job: () => Promise<unknown>) => boolean,
  ) {
    this.#fill = { path, stats, host, background, hits: 'warmHits', guard: new FillGuard() };
  }

  home(c: Call): MetaBackend {
    return this.cold.home(c);
  }

  async send(req: MetaRequest, c: Call): Promise<unknown> {
    if (req.command === 'md' && !c.cas) {
      // Deleted on both: a value left on warm would be copied back to cold by the next miss.
      const [cold] = await deleting(this.#fill.guard, [req.key!.token], () =>
        Promise.all([this.cold.send(req, c), this.warm.send(copy(req), { ...c, target: undefined })]),
      );
      return cold;
    }
    if (c.cas || !fillable(req)) return this.cold.send(req, c);
    return readThrough(this.#fill, this.cold, this.warm, req, c);
  }

  /** As {@link send}, per key: bulk reads filled from warm, bulk deletes on both pools. */
  async bulk(items: readonly BulkItem[], so: SendOptions, how: BulkHow): Promise<Map<string, MemlineError>> {
    if (items.length === 0) return new Map();
    const probe = how.make(items[0].wk);
    if (probe.command === 'md' && !CAS_COMPARE.test(probe.flags)) {
      // Deleted on both; a key failed on either is failed, as a single delete's Promise.all is.
      const quiet: BulkHow = { make: (wk) => how.make(wk), onReply: () => undefined };
      const tokens = items.map((item) => item.wk.token);
      return merge(
        await deleting(this.#fill.guard, tokens, () =>
          Promise.all([this.cold.bulk(items, so, how), this.warm.bulk(items, so, quiet)]),
        ),
      );
    }
    if (!fillable(probe)) return this.cold.bulk(items, so, how);
    return bulkReadThrough(this.#fill, this.cold, this.warm, items, so, how);
  }
}
