/**
 * A small seeded generator (mulberry32), so that one `--seed` replays the same operation mix and the
 * same fault schedule. Not for anything that needs unpredictability.
 */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** A float in [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }

  /** One of `choices`, each as likely as its weight. */
  weighted<T>(choices: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of choices) total += w;
    let r = this.next() * total;
    for (const [choice, w] of choices) {
      r -= w;
      if (r < 0) return choice;
    }
    return choices[choices.length - 1][0];
  }

  /** A generator of its own, derived from this one's seed stream (for an independent schedule). */
  fork(): Random {
    return new Random(Math.floor(this.next() * 4294967296));
  }
}
