/**
 * Modula: the key's hash modulo the number of slots, in the order the servers are listed.
 *
 * The hash is libmemcached's default, Bob Jenkins' one-at-a-time (libhashkit `hashkit_one_at_a_time`),
 * over the key's UTF-8 bytes. With every weight 1 a server is one slot and this is exactly libmemcached's
 * default distribution (`MEMCACHED_DISTRIBUTION_MODULA` with `MEMCACHED_HASH_DEFAULT`), which is also
 * what pylibmc and PHP's memcached extension do unless told otherwise; `test/fixtures/ketama/vectors.json`
 * holds a set recorded from pylibmc. Like them, the mapping follows the order of the server list: every
 * client sharing the servers must list them in the same order.
 *
 * libmemcached reads the key bytes as C `char`, which is signed on x86-64 (and unsigned on ARM), so a
 * byte ≥ 0x80 enters the hash sign-extended there. This follows x86-64, where the vectors were recorded;
 * ASCII keys hash the same everywhere.
 *
 * Weights (libmemcached's modula ignores them): a server of weight w owns w consecutive slots, so it gets
 * w/total of the keys. The hash is taken modulo the slot count, so changing any weight, or adding or
 * removing any server, moves most keys: modula is for compatibility, not for changing fleets.
 */
import type { ServerAddress } from '../backend.js';
import type { Distribution } from './index.js';
import { scratch, writeKey } from './key-bytes.js';

/** Jenkins' one-at-a-time hash of `key`'s UTF-8 bytes, bytes ≥ 0x80 sign-extended as libmemcached does on x86-64. */
export function oneAtATime(key: string): number {
  let h = 0;
  const n = key.length;
  let i = 0;
  // ASCII fast path: a character below 0x80 is its own UTF-8 byte (and sign extension does not touch it).
  for (; i < n; i++) {
    const c = key.charCodeAt(i);
    if (c > 0x7f) break;
    h = (h + c) | 0;
    h = (h + (h << 10)) | 0;
    h ^= h >>> 6;
  }
  if (i < n) {
    // Not ASCII: continue over the UTF-8 bytes; the first i characters were one byte each.
    const length = writeKey(key, 0);
    const bytes = scratch.bytes;
    for (let b = i; b < length; b++) {
      h = (h + ((bytes[b] << 24) >> 24)) | 0;
      h = (h + (h << 10)) | 0;
      h ^= h >>> 6;
    }
  }
  h = (h + (h << 3)) | 0;
  h ^= h >>> 11;
  h = (h + (h << 15)) | 0;
  return h >>> 0;
}

/** The key's {@link oneAtATime} hash modulo the slot count, servers in list order, w slots for weight w. */
export class ModulaDistribution implements Distribution {
  /** `#slots[slot]`: index into the servers array. */
  readonly #slots: Uint32Array;
  readonly #single: boolean;

  constructor(servers: readonly ServerAddress[]) {
    this.#single = servers.length === 1;
    let total = 0;
    for (const s of servers) total += s.weight;
    this.#slots = new Uint32Array(total);
    let slot = 0;
    servers.forEach((server, index) => {
      this.#slots.fill(index, slot, slot + server.weight);
      slot += server.weight;
    });
  }

  pick(key: string): number {
    // libmemcached does not hash at all for a single server.
    if (this.#single) return 0;
    return this.#slots[oneAtATime(key) % this.#slots.length];
  }
}
