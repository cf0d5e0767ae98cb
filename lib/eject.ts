/**
 * Auto-eject for one ring of servers: a server whose calls failed `after` times in a row leaves the
 * ring for the keys it owns, is probed every `probeInterval` ms, and takes its keys back as soon as a
 * probe is answered.
 *
 * While servers are out, a key whose home is still in the ring keeps it, and a key whose home is out
 * goes to a second ring built over the servers left (with the same distribution; ketama for jump
 * and proxy): only the ejected servers' keys move, whatever the distribution, and the original
 * mapping is back, key for key, once they are restored. The second ring is built when the set of
 * ejected servers changes, never per call. The last server in the ring is never ejected.
 *
 * What counts as a failure is what the circuit breaker counts (no usable reply: connection, timeout)
 * plus a call the open breaker refused; any reply, error replies included, resets the count. A
 * probe goes through the backend like any request, so it waits out the breaker's open time and
 * the reconnect back-off: the server comes back after the breaker saw it answer.
 */
import type { ServerAddress } from './backend.js';
import { engineProbeVerdict } from './breaker.js';
import { createDistribution, type Distribution, type DistributionKind } from './distribution/index.js';
import { MemlineError } from './errors.js';

/** When a server leaves its ring and how often it is probed. */
export interface EjectOptions {
  /** Calls in a row that failed (connection, timeout, breaker open) before the server is ejected. @default 3 */
  readonly after: number;
  /** ms between probes of an ejected server. @default 1000 */
  readonly probeInterval: number;
}

/** The defaults of {@link EjectOptions}. */
export const EJECT_DEFAULTS: EjectOptions = Object.freeze({ after: 3, probeInterval: 1000 });

/** Ejections so far and the servers out now. */
export interface EjectStats {
  /** Servers taken out of the ring since the client started. */
  readonly ejections: number;
  /** Servers given their keys back after a probe. */
  readonly restorations: number;
  /** The servers out of the ring now, by address. */
  readonly ejected: readonly string[];
}

/** What a call's outcome says about its server: answered (true), failed (false), or nothing. */
export function ejectVerdict(error: unknown): boolean | undefined {
  if (!(error instanceof MemlineError)) return undefined;
  return error.code === 'ERR_CIRCUIT_OPEN' ? false : engineProbeVerdict(error);
}

/**
 * The ring of one set of servers with auto-eject. `probe(i)` sends one harmless request to server
 * `i`; a reply (or an error reply) restores it.
 */
export class Ejector {
  readonly #addresses: readonly ServerAddress[];
  readonly #kind: DistributionKind;
  readonly #full: Distribution;
  readonly #options: EjectOptions;
  readonly #probe: (i: number) => Promise<unknown>;
  readonly #fails: Uint32Array;
  readonly #out: boolean[];
  /** The ring over the servers left and their indexes in the full list; undefined while none is out. */
  #rest: { ring: Distribution; live: number[] } | undefined;
  #probing = new Set<number>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #ejections = 0;
  #restorations = 0;

  constructor(
    addresses: readonly ServerAddress[],
    kind: DistributionKind,
    full: Distribution,
    options: EjectOptions,
    probe: (i: number) => Promise<unknown>,
  ) {
    this.#addresses = addresses;
    this.#kind = kind;
    this.#full = full;
    this.#options = options;
    this.#probe = probe;
    this.#fails = new Uint32Array(addresses.length);
    this.#out = new Array<boolean>(addresses.length).fill(false);
  }

  /** The index of the server that takes `key` now. */
  pick(key: string): number {
    const home = this.#full.pick(key);
    const rest = this.#rest;
    if (rest === undefined || !this.#out[home]) return home;
    return rest.live[rest.ring.pick(key)];
  }

  /** Reports a call's outcome on server `i`: a reply (`error` undefined) or an error. */
  outcome(i: number, error?: unknown): void {
    if (this.#out[i]) return; // late outcomes of calls sent before the ejection
    const verdict = error === undefined ? true : ejectVerdict(error);
    if (verdict === true) this.#fails[i] = 0;
    else if (verdict === false && ++this.#fails[i] >= this.#options.after) this.#eject(i);
  }

  get stats(): EjectStats {
    const ejected = this.#addresses.filter((_, i) => this.#out[i]).map((a) => a.address);
    return { ejections: this.#ejections, restorations: this.#restorations, ejected };
  }

  /** Stops probing; the servers out stay out. */
  close(): void {
    this.#closed = true;
    this.#stopTimer();
  }

  #eject(i: number): void {
    if (this.#closed) return;
    const live = this.#out.filter((out) => !out).length;
    if (live <= 1) return; // never the last server
    this.#out[i] = true;
    this.#ejections++;
    this.#rebuild();
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#probeAll(), this.#options.probeInterval);
      this.#timer.unref(); // probing alone must not keep a process alive
    }
  }

  #restore(i: number): void {
    if (!this.#out[i]) return;
    this.#out[i] = false;
    this.#fails[i] = 0;
    this.#restorations++;
    this.#rebuild();
    if (this.#rest === undefined) this.#stopTimer();
  }

  #rebuild(): void {
    const live: number[] = [];
    this.#out.forEach((out, i) => {
      if (!out) live.push(i);
    });
    if (live.length === this.#out.length) {
      this.#rest = undefined;
      return;
    }
    // Jump over fewer buckets would hand every key of a bucket left out to one neighbour (a key on
    // bucket b of n stays on b with n − 1): the moved keys are spread by ketama instead.
    const kind = this.#kind === 'jump' || this.#kind === 'proxy' ? 'ketama' : this.#kind;
    const ring = createDistribution(
      kind,
      live.map((i) => this.#addresses[i]),
    );
    this.#rest = { ring, live };
  }

  #probeAll(): void {
    this.#out.forEach((out, i) => {
      if (!out || this.#probing.has(i)) return;
      this.#probing.add(i);
      this.#probe(i).then(
        () => this.#probed(i, true),
        (err: unknown) => this.#probed(i, ejectVerdict(err)),
      );
    });
  }

  #probed(i: number, answered: boolean | undefined): void {
    this.#probing.delete(i);
    if (answered === true && !this.#closed) this.#restore(i);
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
