/**
 * `'proxy'`: the placement of memcached's built-in proxy with its defaults, so that memline clients
 * and clients routed through the proxy agree on every key's server.
 *
 * A pool the proxy builds with `mcp.pool({ b1, b2, … })` and no options hashes a key's bytes with
 * XXH3-64 (seed 0, the default secret) and picks a backend by jump consistent hash (Lamping &
 * Veach) over the backends in the order the pool lists them. This does the same over the servers in
 * the order they are configured: list them in the proxy's order. Unlike `'jump'`, the order is the
 * list's, not the addresses' natural order, and there are no weights (the proxy has none): every
 * server must have weight 1. A proxy pool with a `seed`, a `hash` or a key `filter` places keys
 * differently; those options have no equivalent here.
 *
 * The proxy hashes the key token as it arrives (a binary key's base64 form included, with no key
 * filter). memline hashes the key as sent, with the client's key prefix (and base64 for binary
 * keys), so the two agree as long as `hashKeyPrefix` stays on and no call passes a `routingKey`.
 */
import type { ServerAddress } from '../backend.js';
import { InvalidArgumentError } from '../errors.js';
import type { Distribution } from './index.js';
import { jumpBucket } from './jump.js';
import { hashKeyXxh3, xxh3Result } from './xxh3.js';

export class ProxyDistribution implements Distribution {
  readonly #buckets: number;

  constructor(servers: readonly ServerAddress[]) {
    for (const s of servers) {
      if (s.weight !== 1) {
        throw new InvalidArgumentError(
          `servers: "${s.address}" has weight ${s.weight}; the memcached proxy has no weights, so 'proxy' takes weight 1 only`,
        );
      }
    }
    this.#buckets = servers.length;
  }

  pick(key: string): number {
    if (this.#buckets === 1) return 0;
    hashKeyXxh3(key);
    return jumpBucket(xxh3Result[0], xxh3Result[1], this.#buckets);
  }
}
