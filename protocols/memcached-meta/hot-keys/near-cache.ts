/**
 * The near cache: a small in-process copy of the keys the server says are hot.
 *
 * Only the meta protocol tells a client which keys are hot: `mg … h l t` returns whether the item
 * was read before (`h`), the seconds since its last access (`l`) and its remaining TTL (`t`). A key
 * is promoted when the server reports it hit before and accessed within `hotWithin` seconds, and then
 * only with probability `promoteChance`, so a cold key read twice is rarely cached.
 *
 * The staleness rule: a copy is served for at most `maxAge` ms after the read that fetched it, never
 * past the item's own TTL, and never after this client wrote, deleted or touched the key (those
 * invalidate it at once, and a read that was in flight when the write was issued cannot put its older
 * value back: see {@link NearCache.begin}).
 */
import { LRUCache } from 'lru-cache';
import { InvalidArgumentError } from '../../../lib/errors.js';
import type { Item } from '../results.js';

/** `nearCache` in the client options. Off unless given. */
export interface NearCacheOptions {
  /**
   * Most keys held.
   * @default 10000
   */
  maxEntries?: number | undefined;
  /**
   * Most bytes of values (plus keys) held.
   * @default 67108864 (64 MiB)
   */
  maxBytes?: number | undefined;
  /**
   * How long a copy is served after the read that fetched it, in ms: the bound on how stale a value
   * written by another client can be.
   * @default 1000
   */
  maxAge?: number | undefined;
  /**
   * A key is hot when the server saw it read before and its last access was at most this many
   * seconds ago.
   * @default 10
   */
  hotWithin?: number | undefined;
  /**
   * The chance that a hot read promotes its key, from 0 to 1.
   * @default 0.1
   */
  promoteChance?: number | undefined;
  /**
   * Values larger than this many bytes are never held.
   * @default 65536
   */
  maxValueSize?: number | undefined;
}

/** What the near cache has done, for `client.metrics`. */
export interface NearCacheStats {
  hits: number;
  misses: number;
  promotions: number;
  evictions: number;
  invalidations: number;
  entries: number;
  bytes: number;
}

interface ResolvedNearCacheOptions {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly maxAge: number;
  readonly hotWithin: number;
  readonly promoteChance: number;
  readonly maxValueSize: number;
}

const DEFAULTS: ResolvedNearCacheOptions = Object.freeze({
  maxEntries: 10_000,
  maxBytes: 64 * 1024 * 1024,
  maxAge: 1000,
  hotWithin: 10,
  promoteChance: 0.1,
  maxValueSize: 64 * 1024,
});

const NAMES = new Set(Object.keys(DEFAULTS));

/** Checks `nearCache` options; the error names the option. */
export function resolveNearCacheOptions(options: NearCacheOptions): ResolvedNearCacheOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError('nearCache must be an object of options');
  }
  for (const name of Object.keys(options)) {
    if (!NAMES.has(name)) throw new InvalidArgumentError(`nearCache.${name} is not an option`);
  }
  const pick = (name: keyof ResolvedNearCacheOptions, min: number, max: number, integer: boolean): number => {
    const value = options[name];
    if (value === undefined) return DEFAULTS[name];
    if (
      typeof value !== 'number' ||
      !(value >= min && value <= max) ||
      (integer && !Number.isInteger(value))
    ) {
      const kind = integer ? 'an integer' : 'a number';
      throw new InvalidArgumentError(
        `nearCache.${name} must be ${kind} from ${min} to ${max}, got ${String(value)}`,
      );
    }
    return value;
  };
  return Object.freeze({
    maxEntries: pick('maxEntries', 1, 2 ** 24, true),
    maxBytes: pick('maxBytes', 1, 2 ** 40, true),
    maxAge: pick('maxAge', 1, 2 ** 31 - 1, true),
    hotWithin: pick('hotWithin', 0, 2 ** 31 - 1, true),
    promoteChance: pick('promoteChance', 0, 1, false),
    maxValueSize: pick('maxValueSize', 0, 2 ** 31 - 1, true),
  });
}

/** How many keys written while reads were in flight are remembered; older reads are not cached. */
const WRITE_LOG_SIZE = 4096;

/**
 * A bounded LRU of hot items, with the bookkeeping that keeps it honest about this client's writes.
 * `random` and the clock `now` (ms) can be replaced, for tests.
 */
export class NearCache {
  readonly #options: ResolvedNearCacheOptions;
  readonly #lru: LRUCache<string, Item>;
  readonly #random: () => number;
  /** Counts invalidations; a read remembers the count when it was issued. */
  #epoch = 0;
  /** Key → the epoch of its last invalidation, oldest first, at most WRITE_LOG_SIZE of them. */
  readonly #written = new Map<string, number>();
  /** Reads issued at or before this epoch are not cached (their key may have left the write log). */
  #floor = 0;
  readonly stats: Omit<NearCacheStats, 'entries' | 'bytes'> = {
    hits: 0,
    misses: 0,
    promotions: 0,
    evictions: 0,
    invalidations: 0,
  };

  constructor(options: NearCacheOptions, deps: { random?: () => number; now?: () => number } = {}) {
    this.#options = resolveNearCacheOptions(options);
    this.#random = deps.random ?? Math.random;
    this.#lru = new LRUCache<string, Item>({
      ...(deps.now === undefined ? {} : { perf: { now: deps.now }, ttlResolution: 0 }),
      max: this.#options.maxEntries,
      maxSize: this.#options.maxBytes,
      sizeCalculation: (item, key) => item.value.length + key.length + 64,
      ttl: this.#options.maxAge,
      ttlAutopurge: false,
      // a copy past its age is gone, never served stale
      allowStale: false,
      dispose: (_item, _key, reason) => {
        if (reason === 'evict') this.stats.evictions++;
      },
    });
  }

  /** The server flags a read must ask for so that its reply can be offered. */
  static readonly META_FIELDS = ['fetched', 'lastAccess', 'ttl'] as const;

  /** A held copy of `key`'s item (a new object each time, sharing the value's bytes), or undefined. */
  get(key: string): Item | undefined {
    const item = this.#lru.get(key);
    if (item === undefined) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    return { ...item };
  }

  /** Call when a read is issued; hand the result to {@link offer} with its reply. */
  begin(): number {
    return this.#epoch;
  }

  /**
   * The reply of a read issued at `epoch`: promotes a hot item. `item.fetched`, `item.lastAccess` and
   * `item.ttl` come from the server (`h`, `l`, `t`); an item without them is not promoted.
   */
  offer(key: string, item: Item, epoch: number): void {
    const o = this.#options;
    if (item.fetched !== true || item.lastAccess === undefined || item.lastAccess > o.hotWithin) return;
    if (item.value.length > o.maxValueSize) return;
    if (item.ttl === 0) return;
    if (epoch < this.#floor || (this.#written.get(key) ?? -1) > epoch) return; // written since it was read
    if (this.#random() >= o.promoteChance) return;
    // t: -1 never expires; otherwise whole seconds left, of which the last may already be gone
    const ttl = item.ttl === undefined || item.ttl < 0 ? o.maxAge : Math.min(o.maxAge, (item.ttl - 1) * 1000);
    if (ttl <= 0) return;
    // only what a plain read returns: the server's metadata was for this read alone
    this.#lru.set(key, { key: item.key, value: item.value, flags: item.flags, cas: item.cas }, { ttl });
    this.stats.promotions++;
  }

  /** This client changed `key` (write, delete, touch, arithmetic, CAS, lease): drop the copy. */
  invalidate(key: string): void {
    const epoch = ++this.#epoch;
    if (this.#lru.delete(key)) this.stats.invalidations++;
    this.#written.delete(key);
    this.#written.set(key, epoch);
    if (this.#written.size > WRITE_LOG_SIZE) {
      const [oldest, at] = this.#written.entries().next().value as [string, number];
      this.#written.delete(oldest);
      this.#floor = at;
    }
  }

  /** Drops every copy (flush_all, a server list change). Reads in flight are not cached either. */
  clear(): void {
    this.#floor = ++this.#epoch;
    this.#written.clear();
    this.#lru.clear();
  }

  /** Counters with the current size. */
  snapshot(): NearCacheStats {
    return { ...this.stats, entries: this.#lru.size, bytes: this.#lru.calculatedSize };
  }
}
