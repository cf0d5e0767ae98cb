/**
 * The client's read counters, per server: hits, misses, and errors answered as misses
 * (`missOnError`). The codec counts a single read's hit or miss itself, in the sink a request
 * carries (`MetaRequest.itemSink`); everything else about reads that fail is decided here, once.
 */
import { clientMetrics, type BackendStats, type ClientMetrics as EngineMetrics } from '../../lib/backend.js';
import type { MemlineError } from '../../lib/errors.js';
import type { NearCacheStats } from './hot-keys/near-cache.js';
import type { DeleteJournalStats } from './delete-journal.js';

/** One server's read counters; the object is the `itemSink` of that server's reads. */
export interface ReadCounts {
  /** Reads that found their key. */
  hits: number;
  /** Reads that did not find their key. */
  misses: number;
  /** Reads answered as misses because their server failed (with `missOnError`). */
  errorMisses: number;
  /** Reads answered from the near cache (not counted in `hits`). */
  nearHits: number;
  /** Reads that shared another call's request in flight instead of sending their own. */
  coalesced: number;
}

/** The names of the client's own counters in its metrics. */
export type ReadCounter = keyof ReadCounts;
const READ_COUNTERS: readonly ReadCounter[] = ['hits', 'misses', 'errorMisses', 'nearHits', 'coalesced'];

/** One server's engine counters and load, with the client's read counters. */
export type ServerMetrics = BackendStats & ReadCounts;

/**
 * What `MemcacheClient.metrics` returns: the engine's shape, with the read counters, and the near
 * cache's counters and size when it is configured.
 */
export type ClientMetrics = EngineMetrics<ReadCounter> & {
  readonly nearCache?: NearCacheStats | undefined;
  /** With `reliableDeletes`: the delete journal's depth and counters. */
  readonly reliableDeletes?: DeleteJournalStats | undefined;
};

/** Per-server read counters and the `missOnError` policy. */
export class ReadCounters {
  #byServer = new Map<string, ReadCounts>();

  constructor(
    /** Reads answer a miss instead of failing when their server fails. */
    readonly missOnError: boolean,
    readonly onError: ((error: MemlineError) => void) | undefined,
  ) {}

  /** The counters of `server`, created at its first read. */
  of(server: string): ReadCounts {
    let counts = this.#byServer.get(server);
    if (counts === undefined) {
      counts = { hits: 0, misses: 0, errorMisses: 0, nearHits: 0, coalesced: 0 };
      this.#byServer.set(server, counts);
    }
    return counts;
  }

  /** Counts a read's answer: a hit, or a miss when `found` is false. */
  count(server: string, found: boolean): void {
    const counts = this.of(server);
    if (found) counts.hits++;
    else counts.misses++;
  }

  /**
   * A single read of `server`: as sent, or with `missOnError` its failure answered as a miss
   * (counted, and handed to `onError`).
   */
  orMiss<T>(sent: Promise<T | null>, server: string): Promise<T | null> {
    if (!this.missOnError) return sent;
    return sent.catch((err: MemlineError) => {
      this.#missed(err, server, 1);
      return null;
    });
  }

  /**
   * The failed keys of a read over many: with `missOnError`, each failure is answered as misses
   * (counted once per key; reported once per failed server part) and `true` is returned; without
   * it, `false` (the call fails those keys).
   */
  missAll(errors: Map<string, MemlineError>): boolean {
    if (!this.missOnError) return false;
    const keysPerError = new Map<MemlineError, number>();
    for (const err of errors.values()) keysPerError.set(err, (keysPerError.get(err) ?? 0) + 1);
    for (const [err, count] of keysPerError) {
      if (err.server !== undefined) this.#missed(err, err.server, count);
      else this.onError?.(err);
    }
    return true;
  }

  /** Forgets the servers not in `servers` (after the server list changed). */
  retain(servers: readonly string[]): void {
    const keep = new Set(servers);
    for (const server of this.#byServer.keys()) if (!keep.has(server)) this.#byServer.delete(server);
  }

  /** The engine's per-server stats with the read counters, and their sums. */
  metrics(stats: readonly BackendStats[]): ClientMetrics {
    return clientMetrics(stats, READ_COUNTERS, (server) => this.#byServer.get(server));
  }

  #missed(err: MemlineError, server: string, count: number): void {
    this.of(server).errorMisses += count;
    this.onError?.(err);
  }
}
