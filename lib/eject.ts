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
 *
 * A server named by several rings (pools) is one server: the {@link EjectRegistry} they share
 * counts its failures in a row once, whichever ring's call failed, ejects it from every ring at
 * once (each ring but one where it is the last server left), probes it once, and restores it
 * everywhere at once. Each ejection and restoration is published on `memline:eject:change` and
 * handed to the registry's log.
 */
import type { ServerAddress } from './backend.js';
import { engineProbeVerdict } from './breaker.js';
import { channels } from './diagnostics.js';
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

/** An ejection or a restoration: published on `memline:eject:change` and logged. */
export interface EjectChange {
  /** `"host:port"` of the server. */
  readonly server: string;
  readonly state: 'ejected' | 'restored';
  /** The pools whose ring it left (or came back to), by name. */
  readonly pools: readonly string[];
  /** Failures in a row that ejected it (on `ejected`). */
  readonly failures?: number;
}

/** One server's eject state, shared by every ring that names it. */
interface Shared {
  readonly address: string;
  /** Failures in a row, whichever ring's call it was. */
  fails: number;
  /** Out of at least one ring, and probed. */
  out: boolean;
  probing: boolean;
  timer: NodeJS.Timeout | undefined;
  /** The rings that name it, with their options. */
  readonly rings: Map<Ejector, EjectOptions>;
}

/**
 * The eject state of every server of the rings that share it (one per client): failures counted
 * per address, one ejection, one probe loop and one restoration per server, for all its rings.
 * `probe(address, timeout)` sends one harmless request; a reply (or an error reply) restores it.
 */
export class EjectRegistry {
  readonly #servers = new Map<string, Shared>();

  constructor(
    private readonly probe: (address: string, timeout: number) => Promise<unknown>,
    private readonly log?: (change: EjectChange) => void,
  ) {}

  /** `ring` names the server `address`, ejected after `options.after` failures (the least of its rings'). */
  join(ring: Ejector, address: string, options: EjectOptions): void {
    let s = this.#servers.get(address);
    if (s === undefined) {
      s = { address, fails: 0, out: false, probing: false, timer: undefined, rings: new Map() };
      this.#servers.set(address, s);
    }
    s.rings.set(ring, options);
  }

  /** `ring` is gone: a server no ring names any more is forgotten (and no longer probed). */
  leave(ring: Ejector): void {
    for (const [address, s] of this.#servers) {
      if (!s.rings.delete(ring) || s.rings.size > 0) continue;
      this.#stopProbing(s);
      this.#servers.delete(address);
    }
  }

  /** Reports a call's outcome on `address`: a reply (`error` undefined) or an error. */
  outcome(address: string, error?: unknown): void {
    const s = this.#servers.get(address);
    if (s === undefined || s.out) return; // late outcomes of calls sent before the ejection
    const verdict = error === undefined ? true : ejectVerdict(error);
    if (verdict === true) s.fails = 0;
    else if (verdict === false && ++s.fails >= least(s, 'after')) this.#eject(s);
  }

  #eject(s: Shared): void {
    const pools: string[] = [];
    for (const ring of s.rings.keys()) if (ring.takeOut(s.address)) pools.push(ring.name);
    if (pools.length === 0) return; // the last server of every ring it is in
    s.out = true;
    s.timer = setInterval(() => this.#probe(s), least(s, 'probeInterval'));
    s.timer.unref(); // probing alone must not keep a process alive
    this.#announce({ server: s.address, state: 'ejected', pools: pools.sort(), failures: s.fails });
  }

  #probe(s: Shared): void {
    if (s.probing) return;
    s.probing = true;
    this.probe(s.address, least(s, 'probeInterval')).then(
      () => this.#probed(s, true),
      (err: unknown) => this.#probed(s, ejectVerdict(err)),
    );
  }

  #probed(s: Shared, answered: boolean | undefined): void {
    s.probing = false;
    if (answered !== true || !s.out || this.#servers.get(s.address) !== s) return;
    s.out = false;
    s.fails = 0;
    this.#stopProbing(s);
    const pools: string[] = [];
    for (const ring of s.rings.keys()) if (ring.putBack(s.address)) pools.push(ring.name);
    this.#announce({ server: s.address, state: 'restored', pools: pools.sort() });
  }

  #stopProbing(s: Shared): void {
    if (s.timer !== undefined) clearInterval(s.timer);
    s.timer = undefined;
  }

  #announce(change: EjectChange): void {
    if (channels.eject.hasSubscribers) channels.eject.publish(change);
    this.log?.(change);
  }
}

function least(s: Shared, option: keyof EjectOptions): number {
  let n = Infinity;
  for (const o of s.rings.values()) n = Math.min(n, o[option]);
  return n;
}

/**
 * The ring of one set of servers (a pool) with auto-eject, on a registry it may share with other
 * rings: a server the registry ejects leaves this ring for its own keys, unless it is the last
 * one in it.
 */
export class Ejector {
  readonly #addresses: readonly ServerAddress[];
  readonly #kind: DistributionKind;
  readonly #full: Distribution;
  readonly #registry: EjectRegistry;
  readonly #out: boolean[];
  /** The ring over the servers left and their indexes in the full list; undefined while none is out. */
  #rest: { ring: Distribution; live: number[] } | undefined;
  #closed = false;
  #ejections = 0;
  #restorations = 0;

  constructor(
    addresses: readonly ServerAddress[],
    kind: DistributionKind,
    full: Distribution,
    options: EjectOptions,
    registry: EjectRegistry,
    /** The pool's name, in eject events. */
    readonly name = '',
  ) {
    this.#addresses = addresses;
    this.#kind = kind;
    this.#full = full;
    this.#registry = registry;
    this.#out = new Array<boolean>(addresses.length).fill(false);
    for (const a of addresses) registry.join(this, a.address, options);
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
    this.#registry.outcome(this.#addresses[i].address, error);
  }

  get stats(): EjectStats {
    const ejected = this.#addresses.filter((_, i) => this.#out[i]).map((a) => a.address);
    return { ejections: this.#ejections, restorations: this.#restorations, ejected };
  }

  /** Leaves the registry (its servers are no longer probed for this ring); the servers out stay out. */
  close(): void {
    this.#closed = true;
    this.#registry.leave(this);
  }

  /** Takes `address` out of the ring, unless it is the last server in; whether it did. */
  takeOut(address: string): boolean {
    const i = this.#addresses.findIndex((a) => a.address === address);
    if (this.#closed || i < 0 || this.#out[i]) return false;
    if (this.#out.filter((out) => !out).length <= 1) return false; // never the last server
    this.#out[i] = true;
    this.#ejections++;
    this.#rebuild();
    return true;
  }

  /** Gives `address` its keys back; whether it was out. */
  putBack(address: string): boolean {
    const i = this.#addresses.findIndex((a) => a.address === address);
    if (i < 0 || !this.#out[i]) return false;
    this.#out[i] = false;
    this.#restorations++;
    this.#rebuild();
    return true;
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
}
