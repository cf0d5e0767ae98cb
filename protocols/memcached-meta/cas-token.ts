/**
 * CAS tokens that remember their server. memcached's CAS values are per server: after the server
 * list changes (setServers, discovery), a key can move to a server on which the same number names
 * another version of the item, or of another item. So the typed API hands out `Item.cas` as the
 * server's value (< 2^64) with a small per-client server number above bit 64; `cas()`, `update()`,
 * `revalidate()` and `meta()` strip it, and a token read from another server than the one the key
 * routes to now is a conflict, with nothing sent (docs/reliability.md).
 *
 * A token below 2^64 (the low-level `meta()` returns those) carries no server and is sent as is.
 */
export const RAW_CAS_MASK = (1n << 64n) - 1n;

/** The server numbers of one client: one per address ever used, so bounded by the servers seen. */
export class CasTags {
  #tags = new Map<string, bigint>();
  #next = 1n;

  /** The bits to OR into a CAS value read from `server`. */
  tagOf(server: string): bigint {
    let tag = this.#tags.get(server);
    if (tag === undefined) {
      tag = this.#next++ << 64n;
      this.#tags.set(server, tag);
    }
    return tag;
  }

  /** A token for a CAS value read from `server` (0: no CAS, stays 0). */
  tag(raw: bigint, server: string): bigint {
    return raw === 0n ? 0n : raw | this.tagOf(server);
  }

  /**
   * The server's CAS value to send to `server` for `token`, or `undefined` when the token was read
   * from another server (then the item there cannot be the version the caller read).
   */
  untag(token: bigint, server: string): bigint | undefined {
    if (token <= RAW_CAS_MASK) return token;
    return (token & ~RAW_CAS_MASK) === this.tagOf(server) ? token & RAW_CAS_MASK : undefined;
  }
}
