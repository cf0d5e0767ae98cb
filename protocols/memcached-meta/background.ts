/**
 * The client's one queue of background work: shadow copies and back-fills of the routes, replays
 * of the delete journal. Bounded: past `max` jobs waiting and running, a job is refused (the caller
 * counts it), so background work never grows without limit nor competes unbounded with calls.
 */
import PQueue from 'p-queue';

/** Background jobs run at once. */
const CONCURRENCY = 16;

export class Background {
  readonly #queue = new PQueue({ concurrency: CONCURRENCY });

  constructor(readonly max: number) {}

  /** Runs `job` in the background unless the queue is full; `false` when refused. */
  run(job: () => Promise<unknown>): boolean {
    if (this.#queue.size + this.#queue.pending >= this.max) return false;
    void this.#queue.add(job).catch(() => undefined);
    return true;
  }

  get stats(): { readonly queued: number; readonly running: number } {
    return { queued: this.#queue.size, running: this.#queue.pending };
  }

  /** Waits for the jobs already queued. */
  idle(): Promise<void> {
    return this.#queue.onIdle();
  }

  /** Drops the jobs not yet started. */
  clear(): void {
    this.#queue.clear();
  }
}
