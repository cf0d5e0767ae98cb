/**
 * The load: `concurrency` loops, each issuing one operation at a time from a seeded mix, checking
 * every value read back, and recording each call's latency and outcome.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { PartialResultError, type Item, type MemcacheClient } from '../../protocols/memcached-meta/index.js';
import type { Random } from './random.js';
import type { OpKind, SoakStats } from './stats.js';
import {
  checkCounter,
  checkValue,
  counterInitial,
  counterKey,
  makeValue,
  MAX_PADDING,
  MIN_PADDING,
  valueKey,
  type Verdict,
} from './values.js';

const MIX: readonly (readonly [OpKind, number])[] = [
  ['get', 60],
  ['set', 20],
  ['delete', 5],
  ['incr', 5],
  ['getMulti', 5],
  ['setMulti', 5],
];

export const VALUE_KEYS = 10_000;
export const COUNTER_KEYS = 1_000;
const BATCH = 10;

/** A call that has not settled yet, for the hang report. */
interface InFlight {
  kind: OpKind;
  started: bigint;
}

export class Workload {
  #client: MemcacheClient;
  #random: Random;
  #stats: SoakStats;
  #writes = 0;
  #stopping = false;
  #loops: Promise<void>[] = [];
  #inflight = new Set<InFlight>();

  constructor(client: MemcacheClient, random: Random, stats: SoakStats) {
    this.#client = client;
    this.#random = random;
    this.#stats = stats;
  }

  start(concurrency: number): void {
    for (let i = 0; i < concurrency; i++) this.#loops.push(this.#loop());
  }

  /** Stops issuing calls; resolves once every loop has finished its call, or after `waitMs`. */
  async stop(waitMs: number): Promise<'done' | 'hung'> {
    this.#stopping = true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'hung'>((resolve) => (timer = setTimeout(resolve, waitMs, 'hung')));
    try {
      return await Promise.race([Promise.all(this.#loops).then(() => 'done' as const), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The calls still unsettled: kind and age in ms. */
  unsettled(): { kind: OpKind; ageMs: number }[] {
    const now = process.hrtime.bigint();
    return [...this.#inflight].map((c) => ({ kind: c.kind, ageMs: Number(now - c.started) / 1e6 }));
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      const kind = this.#random.weighted(MIX);
      const call: InFlight = { kind, started: process.hrtime.bigint() };
      this.#inflight.add(call);
      let error: unknown;
      try {
        await this.#run(kind);
      } catch (err) {
        error = err;
      }
      this.#inflight.delete(call);
      this.#stats.record(kind, process.hrtime.bigint() - call.started, error);
      // A call that fails without I/O (a breaker, a full queue) settles in a microtask: let timers run.
      if (error !== undefined) await yieldToLoop();
    }
  }

  #run(kind: OpKind): Promise<void> {
    switch (kind) {
      case 'get': {
        const key = this.#valueKey();
        return this.#client.get(key).then((item) => this.#checkItem(key, item));
      }
      case 'set': {
        const key = this.#valueKey();
        return this.#client.set(key, this.#value(key));
      }
      case 'delete':
        return this.#client.delete(this.#valueKey()).then(() => undefined);
      case 'incr': {
        const i = this.#random.int(0, COUNTER_KEYS - 1);
        return this.#client.incr(counterKey(i), 1, { initial: counterInitial(i) }).then((n) => {
          this.#stats.checked++;
          this.#report(checkCounter(i, n));
        });
      }
      case 'getMulti': {
        const keys = this.#valueKeys(BATCH);
        return this.#client.getMulti(keys).then(
          (items) => this.#checkItems(keys, items),
          (err: unknown) => {
            if (err instanceof PartialResultError) {
              this.#checkItems(keys, err.results as Map<string, Item>, err.errors.size);
            }
            throw err;
          },
        );
      }
      case 'setMulti':
        return this.#client.setMulti(this.#valueKeys(BATCH).map((key) => [key, this.#value(key)] as const));
    }
  }

  /** Checks a getMulti's items; `failed` keys (of a partial result) are neither hits nor misses. */
  #checkItems(asked: string[], items: Map<string, Item>, failed = 0): void {
    const wanted = new Set(asked);
    for (const [key, item] of items) {
      if (!wanted.has(key)) this.#stats.anomaly(true, `getMulti returned ${key}, which it was not asked for`);
      this.#checkItem(key, item);
    }
    this.#stats.misses += Math.max(0, asked.length - items.size - failed);
  }

  #checkItem(key: string, item: Item | null): void {
    if (item === null) {
      this.#stats.misses++;
      return;
    }
    this.#stats.checked++;
    if (item.key !== key) this.#stats.anomaly(true, `${key} read an item named ${item.key}`);
    else this.#report(checkValue(key, item.value));
  }

  #report(verdict: Verdict): void {
    if (!verdict.ok) this.#stats.anomaly(verdict.desync, verdict.detail);
  }

  #value(key: string): Buffer {
    return makeValue(key, ++this.#writes, this.#random.int(MIN_PADDING, MAX_PADDING));
  }

  #valueKey(): string {
    return valueKey(this.#random.int(0, VALUE_KEYS - 1));
  }

  /** `n` distinct value keys. */
  #valueKeys(n: number): string[] {
    const picked = new Set<string>();
    while (picked.size < n) picked.add(this.#valueKey());
    return [...picked];
  }
}
