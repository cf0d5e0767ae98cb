/**
 * Namespace generations: a counter per namespace (`<namespace>:gen`) that is part of every key of
 * the namespace, so that bumping it empties the namespace for every process at once without
 * `flush_all`. The old items are never read again and age out through their TTL or the LRU.
 *
 * A counter that was evicted is recreated at the current Unix time in µs: above any generation it
 * can have reached before, unless it was bumped more than once per µs of its life.
 */
import type { MemcacheClient } from '../client.js';
import { InvalidArgumentError } from '../../../lib/errors.js';

interface Known {
  gen: bigint;
  at: number;
  pending?: Promise<bigint>;
}

/** The generation counters of the namespaces one store uses. */
export class Generations {
  readonly #client: MemcacheClient;
  readonly #cacheMs: number;
  readonly #known = new Map<string, Known>();

  /** @param cacheMs how long a generation read from the server is reused (0: read before each call) */
  constructor(client: MemcacheClient, cacheMs: number) {
    if (typeof cacheMs !== 'number' || !Number.isFinite(cacheMs) || cacheMs < 0) {
      throw new InvalidArgumentError('generationCacheMs must be a number ≥ 0');
    }
    this.#client = client;
    this.#cacheMs = cacheMs;
  }

  /** The current generation: `incr` by 0 reads it (creating it when missing) in one round trip. Calls
   * made while a read is in flight share it. */
  current(ns: string): Promise<bigint> {
    const known = this.#known.get(ns);
    if (known?.pending) return known.pending;
    if (known && this.#cacheMs > 0 && Date.now() - known.at < this.#cacheMs)
      return Promise.resolve(known.gen);
    const pending = this.#client.incr(`${ns}:gen`, 0, { initial: nowMicros() }).then(
      (gen) => this.#remember(ns, gen!),
      (err: unknown) => {
        if (known) this.#known.set(ns, { gen: known.gen, at: known.at });
        else this.#known.delete(ns);
        throw err;
      },
    );
    this.#known.set(ns, { gen: known?.gen ?? 0n, at: known?.at ?? 0, pending });
    return pending;
  }

  /** Moves the namespace to a new generation. */
  async bump(ns: string): Promise<void> {
    this.#remember(ns, (await this.#client.incr(`${ns}:gen`, 1, { initial: nowMicros() }))!);
  }

  #remember(ns: string, gen: bigint): bigint {
    this.#known.set(ns, { gen, at: Date.now() });
    return gen;
  }
}

function nowMicros(): bigint {
  return BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000));
}
