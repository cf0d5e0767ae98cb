/**
 * What the client does for hot keys: the near cache (off unless configured) and request coalescing
 * (on unless turned off), behind one small interface the read and write paths call.
 *
 * Reads of a key ask {@link HotKeys.read}: a held copy, else the request in flight for the key, else
 * a new request. Every request that changes an item (a store, delete, arithmetic, touch or lease)
 * calls {@link HotKeys.wrote} as it is sent, so this client's next read never sees an older value.
 */
import type { SendOptions } from '../../../lib/request-entry.js';
import type { Item } from '../results.js';
import { NearCache, type NearCacheOptions, type NearCacheStats } from './near-cache.js';
import { SingleFlight } from './single-flight.js';

export type { NearCacheOptions, NearCacheStats } from './near-cache.js';

/** Where a read that sent no request of its own is counted (its key's server's counters). */
export interface SharedReadCounts {
  /** Reads answered from the near cache. */
  nearHits: number;
  /** Reads that joined a request in flight for their key instead of sending their own. */
  coalesced: number;
}

/** A copy of a shared result: each caller gets its own Item object (the value's bytes are shared). */
function copy(item: Item | null): Item | null {
  return item === null ? null : { ...item };
}

export class HotKeys {
  readonly near: NearCache | undefined;
  readonly #flights: SingleFlight<Item | null> | undefined;

  constructor(nearCache: NearCacheOptions | undefined, coalesce: boolean) {
    this.near = nearCache === undefined ? undefined : new NearCache(nearCache);
    this.#flights = coalesce ? new SingleFlight<Item | null>() : undefined;
  }

  /** Whether reads need this class at all. */
  get active(): boolean {
    return this.near !== undefined || this.#flights !== undefined;
  }

  /**
   * The item of `token` for a read with `so`: a copy held by the near cache, the result of the
   * request in flight for it (when `coalesce` is not false), or `start(epoch)`, whose reply it may
   * hand to {@link offer} with `epoch`.
   */
  read(
    token: string,
    so: SendOptions,
    coalesce: boolean | undefined,
    start: (epoch: number) => Promise<Item | null>,
    counts: () => SharedReadCounts,
  ): Promise<Item | null> {
    const near = this.near;
    if (near !== undefined) {
      const held = near.get(token);
      if (held !== undefined) {
        counts().nearHits++;
        return Promise.resolve(held);
      }
    }
    const epoch = near === undefined ? 0 : near.begin();
    const flights = this.#flights;
    if (flights === undefined || coalesce === false) return start(epoch);
    let issued = false;
    const shared = flights.run(token, so.deadline, so.signal, () => {
      issued = true;
      return start(epoch);
    });
    if (issued) return shared;
    counts().coalesced++;
    return shared.then(copy);
  }

  /**
   * For a read over many keys: a copy held by the near cache, else the request in flight for the
   * key as a promise (with `retry` sent instead if its issuer gives up), else undefined.
   */
  lookup(
    token: string,
    so: SendOptions,
    coalesce: boolean | undefined,
    retry: () => Promise<Item | null>,
    counts: () => SharedReadCounts,
  ): Item | Promise<Item | null> | undefined {
    const held = this.near?.get(token);
    if (held !== undefined) {
      counts().nearHits++;
      return held;
    }
    if (this.#flights === undefined || coalesce === false) return undefined;
    const joined = this.#flights.join(token, so.deadline, so.signal, retry);
    if (joined === undefined) return undefined;
    counts().coalesced++;
    return joined.then(copy);
  }

  /** The epoch to pass to {@link offer} for a read issued now. */
  begin(): number {
    return this.near === undefined ? 0 : this.near.begin();
  }

  /** The item a read issued at `epoch` got, with the server's `h l t`: held if it is hot. */
  offer(token: string, item: Item, epoch: number): void {
    this.near?.offer(token, item, epoch);
  }

  /** This client is changing `token`'s item: drop its copy; later reads send a new request. */
  wrote(token: string): void {
    this.near?.invalidate(token);
    this.#flights?.forget(token);
  }

  /** Every item may have changed (flush_all, a new server list). */
  clear(): void {
    this.near?.clear();
    this.#flights?.clear();
  }

  /** The near cache's counters and size, when it is configured. */
  stats(): NearCacheStats | undefined {
    return this.near?.snapshot();
  }
}
