/**
 * Keys drawn from a Zipf distribution, for the hot-key cells: key i (from 0) is drawn with probability
 * proportional to 1 / (i + 1)^s. The cumulative distribution is computed once per (n, s), and each draw
 * is one step of a seeded 32-bit generator and a binary search, so every client sees the same sequence
 * of keys and drawing costs the load generator next to nothing.
 */

const cdfs = new Map<string, Float64Array>();

/** The cumulative distribution of Zipf(s) over n keys: cdf[i] = P(key ≤ i), cdf[n - 1] = 1. */
export function zipfCdf(n: number, s: number): Float64Array {
  const id = `${n}:${s}`;
  let cdf = cdfs.get(id);
  if (cdf === undefined) {
    cdf = new Float64Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) cdf[i] = sum += 1 / (i + 1) ** s;
    for (let i = 0; i < n; i++) cdf[i] /= sum;
    cdf[n - 1] = 1; // no draw may fall past the last key through rounding
    cdfs.set(id, cdf);
  }
  return cdf;
}

export class ZipfSampler {
  readonly #cdf: Float64Array;
  #state: number;

  constructor(n: number, s: number, seed = 0x9e3779b9) {
    if (!(n >= 1 && Number.isInteger(n)))
      throw new RangeError(`zipf: n must be a positive integer, got ${n}`);
    this.#cdf = zipfCdf(n, s);
    this.#state = seed >>> 0;
  }

  /** The next key index, in [0, n). */
  next(): number {
    const u = this.#uniform();
    const cdf = this.#cdf;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** mulberry32: a uniform number in [0, 1) from 32 bits of state. */
  #uniform(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
