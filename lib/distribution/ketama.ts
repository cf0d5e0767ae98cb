/**
 * libmemcached's weighted ketama: the ring that pylibmc's `ketama_weighted`, PHP memcached's
 * `OPT_LIBKETAMA_COMPATIBLE` and every other libmemcached-based client build, reproduced to the key.
 *
 * How libmemcached builds it (`update_continuum()` in `src/libmemcached/hosts.cc`, distribution
 * `MEMCACHED_DISTRIBUTION_CONSISTENT_WEIGHTED`, hash MD5):
 *
 * - Each server gets `floor(share × 160 / 4 × serverCount) × 4` points, where `share` is its weight over
 *   the total. libmemcached computes this in single precision (`float`), and the rounding shows: with
 *   25 equal weights each server gets 156 points, not 160. {@link ketamaPointCount} repeats the float
 *   arithmetic step by step.
 * - Points come four per MD5 digest of a name: `"<host>-<i>"` when the port is 11211 (the port is left
 *   out), else `"<host>:<port>-<i>"`, for i = 0, 1, … Point k of a digest is bytes 4k..4k+3 read as a
 *   little-endian 32-bit number. `<host>` is the host exactly as configured: `localhost` and
 *   `127.0.0.1` are different servers on the ring.
 * - A key hashes to the first 4 bytes (little-endian) of the MD5 of its bytes. Its server owns the
 *   first point at or after that hash, wrapping to the first point.
 * - A single server takes every key without hashing.
 *
 * `test/fixtures/ketama/vectors.json` holds placements recorded from libmemcached itself (pylibmc
 * against live memcached processes, and libmemcached's routing function on a server list it never
 * connects to); the tests replay them.
 *
 * One deliberate difference: libmemcached breaks a tie between two servers' equal points by their
 * position in the server list; here the tie goes to the server whose (host, port) sorts first, which is
 * what libmemcached does with `MEMCACHED_BEHAVIOR_SORT_HOSTS`. That makes the mapping independent of
 * the order the servers are listed in. Two servers' points collide in about one ring of three servers in
 * 56,000 (3 × 160² pairs over 2^32 values), and only then, and only on that one arc, can the two differ.
 *
 * Movement: with equal weights a server has 160 points whatever the others, so adding a server moves
 * only the keys it takes over, and removing one moves only its keys. (Except at the server counts where
 * the float rounding gives 156 points each: 25, 47, 50, 55, 61, 71, 94, 100, …; going to or from one of
 * those also moves keys between the servers that stay, in libmemcached as here.) With unequal weights a server's
 * point count is its share × 160 × the server count, so adding or removing a server changes the
 * others' counts too and some keys move between the servers that stay. Measured with weights 1:2:3
 * plus a fourth server of weight 1: 20% of the keys move, 15% to the new server and 5% between the old
 * ones. libmemcached behaves the same (it is the same ring).
 */
import { createHash } from 'node:crypto';
import type { ServerAddress } from '../backend.js';
import type { Distribution } from './index.js';
import { md5HeadInto, md5Result } from './md5.js';

/** libmemcached's `MEMCACHED_POINTS_PER_SERVER_KETAMA`. */
const POINTS_PER_SERVER = 160;
/** Points taken from one MD5 digest (16 bytes = 4 × 32 bits). */
const POINTS_PER_DIGEST = 4;
/** memcached's default port: libmemcached leaves it out of the point names. */
const DEFAULT_PORT = 11211;

/** Room for 2^21 server ranks next to a 32-bit point value in a double's 53-bit mantissa. */
const RANK_SPAN = 2 ** 21;
/** The most servers a ring can hold (their ranks must fit beside the point values). */
export const KETAMA_MAX_SERVERS = RANK_SPAN;

const f32 = Math.fround;

/**
 * The number of points libmemcached gives a server of `weight` when the weights add up to `totalWeight`
 * over `serverCount` servers, with its single-precision rounding.
 */
export function ketamaPointCount(weight: number, totalWeight: number, serverCount: number): number {
  // Each f32() is one float operation in libmemcached's expression
  //   floor((float)(pct * 160 / 4 * (float)live_servers + 0.0000000001F)) * 4
  // with pct = (float)weight / (float)total_weight. Rounding a double result to float gives the
  // correctly rounded float result for + - * / (53 >= 2 × 24 + 2 bits), so this is exact.
  const share = f32(f32(weight) / f32(totalWeight));
  let x = f32(share * POINTS_PER_SERVER);
  x = f32(x / POINTS_PER_DIGEST);
  x = f32(x * f32(serverCount));
  x = f32(x + f32(1e-10));
  return Math.floor(x) * POINTS_PER_DIGEST;
}

/** The name libmemcached hashes for a server's `index`-th digest. */
export function ketamaPointName(server: Pick<ServerAddress, 'host' | 'port'>, index: number): string {
  return server.port === DEFAULT_PORT ? `${server.host}-${index}` : `${server.host}:${server.port}-${index}`;
}

/** libmemcached-compatible weighted ketama over `servers` (validated by `createDistribution`). */
export class KetamaDistribution implements Distribution {
  /** Point values, ascending. */
  readonly #points: Uint32Array;
  /** `#owners[i]`: index into the servers array of the server that owns `#points[i]`. */
  readonly #owners: Uint32Array;
  readonly #single: boolean;
  /**
   * A lookup table over the ring: `#starts[b]` is the index of the first point whose top bits are >= b
   * (`#starts[buckets]` = the point count). A plain binary search costs ~11 unpredictable branches on
   * a 1,280-point ring, measured ~85 ns a key; with about one point per bucket the table leaves a scan
   * of zero to two points.
   */
  readonly #starts: Uint32Array;
  /** 32 minus the table's bits: `hash >>> #shift` is the bucket of a hash. */
  readonly #shift: number;
  /** Points per server, in the order of the servers array. */
  readonly pointCounts: readonly number[];

  constructor(servers: readonly ServerAddress[]) {
    this.#single = servers.length === 1;
    let totalWeight = 0;
    for (const s of servers) totalWeight += s.weight;
    this.pointCounts = Object.freeze(
      servers.map((s) => ketamaPointCount(s.weight, totalWeight, servers.length)),
    );
    const ring = buildRing(servers, this.pointCounts);
    this.#points = ring.points;
    this.#owners = ring.owners;
    // As many buckets as points (a power of two, at least 16, at most 2^16).
    const bits = Math.min(16, Math.max(4, Math.ceil(Math.log2(ring.points.length))));
    this.#shift = 32 - bits;
    this.#starts = new Uint32Array((1 << bits) + 1);
    let i = 0;
    for (let b = 0; b <= 1 << bits; b++) {
      while (i < ring.points.length && ring.points[i] >>> this.#shift < b) i++;
      this.#starts[b] = i;
    }
  }

  pick(key: string): number {
    if (this.#single) return 0;
    md5HeadInto(key);
    const hash = md5Result[0];
    const points = this.#points;
    // The first point >= hash, looked for only between the first points of hash's bucket and of the
    // next one; past the last point the ring wraps to the first.
    const bucket = hash >>> this.#shift;
    const end = this.#starts[bucket + 1];
    let i = this.#starts[bucket];
    while (i < end && points[i] < hash) i++;
    return this.#owners[i === points.length ? 0 : i];
  }
}

function buildRing(
  servers: readonly ServerAddress[],
  counts: readonly number[],
): { points: Uint32Array; owners: Uint32Array } {
  // Tie-break rank: (host, port) order, as libmemcached's sort_hosts would list them.
  const byHost = servers.map((_, i) => i).sort((a, b) => compareHostPort(servers[a], servers[b]));
  const rank = new Array<number>(servers.length);
  byHost.forEach((index, r) => (rank[index] = r));

  // Each point packed as value × 2^21 + rank into one double (< 2^53, exact), so that a numeric sort of
  // a Float64Array orders by value, then rank.
  const packed = new Float64Array(counts.reduce((sum, c) => sum + c, 0));
  let n = 0;
  servers.forEach((server, index) => {
    for (let d = 0; d < counts[index] / POINTS_PER_DIGEST; d++) {
      const digest = createHash('md5').update(ketamaPointName(server, d)).digest();
      for (let k = 0; k < POINTS_PER_DIGEST; k++) {
        packed[n++] = digest.readUInt32LE(k * 4) * RANK_SPAN + rank[index];
      }
    }
  });
  packed.sort();

  const points = new Uint32Array(packed.length);
  const owners = new Uint32Array(packed.length);
  for (let i = 0; i < packed.length; i++) {
    const r = packed[i] % RANK_SPAN;
    points[i] = (packed[i] - r) / RANK_SPAN;
    owners[i] = byHost[r];
  }
  return { points, owners };
}

function compareHostPort(a: ServerAddress, b: ServerAddress): number {
  if (a.host !== b.host) return a.host < b.host ? -1 : 1;
  return a.port - b.port;
}
