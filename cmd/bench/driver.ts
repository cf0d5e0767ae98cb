/**
 * What the load generator needs from a client: open it, make one lane (a loop with one call in flight)
 * per slot of concurrency, close it. Each lane's callbacks are made once, when the lane is made, so the
 * harness adds no per-call closure to any client.
 */
import type { CellSpec, ClientName } from './cells.js';
import type { Keyspace } from './keyspace.js';
import {
  RawConnection,
  FAILED,
  type Dialect,
  type Outcome,
  type RawTransport,
  type RawWaiter,
} from './raw.js';

/** Where a lane's call ends. Exactly one method is called per call. */
export interface LaneSink {
  /** A get's value; null or undefined for a miss. */
  value(v: Buffer | string | null | undefined): void;
  /** A getMulti's result, to be read with {@link Driver.readMulti}. */
  multi(result: unknown): void;
  /** A set succeeded. */
  stored(): void;
  /** A call the driver checked itself (the raw socket): how many of its values were wrong. */
  checked(bad: number): void;
  error(err: unknown): void;
}

/** One lane's way of starting a call; arguments are indexes into the {@link Keyspace}. */
export interface LaneOps {
  get(key: number): void;
  set(key: number): void;
  getMulti(batch: number): void;
}

/** Reads a client answered without a request of its own (memline's hot-key counters). */
export interface ClientCounters {
  /** Answered from the near cache. */
  nearHits: number;
  /** Shared another call's request in flight. */
  coalesced: number;
}

export interface Driver {
  readonly name: ClientName;
  /** What `set` hands the client: a Buffer where its API takes bytes, else a string. */
  readonly valueType: 'Buffer' | 'string';
  /** Why this client cannot run `cell`, or undefined when it can. */
  unsupported(cell: CellSpec): string | undefined;
  /** Connects to `servers`, over TLS when `transport.tls` is given. */
  open(servers: readonly string[], transport: RawTransport): Promise<void>;
  lane(sink: LaneSink): LaneOps;
  /** One key's value in a getMulti result. */
  readMulti(result: unknown, key: string): Buffer | string | null | undefined;
  /** The client's hot-key counters so far, where it has them. */
  counters?(): ClientCounters;
  close(): Promise<void>;
}

/**
 * A ceiling: one {@link RawConnection} per server; key i goes to server i mod n. With `promises`, each
 * call returns a promise that its lane awaits (see {@link RawLane}).
 */
export class RawDriver implements Driver {
  readonly name: ClientName;
  readonly valueType = 'string';
  #conns: RawConnection[] = [];

  constructor(
    readonly ks: Keyspace,
    readonly dialect: Dialect,
    readonly promises = false,
  ) {
    this.name = promises ? 'raw-promise' : dialect === 'minimal' ? 'raw' : 'raw-contract';
  }

  unsupported(): undefined {
    return undefined;
  }

  async open(servers: readonly string[], transport: RawTransport): Promise<void> {
    this.#conns = await Promise.all(servers.map((s) => RawConnection.connect(s, this.dialect, transport)));
  }

  lane(sink: LaneSink): LaneOps {
    return new RawLane(this.ks, this.#conns, sink, this.dialect === 'contract', this.promises);
  }

  readMulti(): undefined {
    return undefined; // the raw lane checks its values itself
  }

  close(): Promise<void> {
    for (const c of this.#conns) c.close();
    this.#conns = [];
    return Promise.resolve();
  }
}

/**
 * One lane of a raw socket. Its replies come to {@link reply}; once a call has all of them, the lane
 * hands the outcome to its sink. With `promises`, each call makes a promise when it starts, resolved
 * when its last reply is in, and the sink hears of the outcome from the promise's `then`, as a caller
 * of memline hears of it: the promise, its resolve function and the reaction are all this adds. The
 * promise is made the way memline makes its callers' (one shared executor, no closure per call).
 */
class RawLane implements LaneOps, RawWaiter {
  #pending = 0;
  #bad = 0;
  #failed = 0;
  /** The resolve function of the call in progress (with `promises`). */
  #resolve: (() => void) | undefined = undefined;
  readonly #settled = (): void => this.#finish();

  constructor(
    readonly ks: Keyspace,
    readonly conns: RawConnection[],
    readonly sink: LaneSink,
    readonly quietBatches: boolean,
    readonly promises: boolean,
  ) {}

  get(i: number): void {
    this.#start(1);
    this.conns[i % this.conns.length].get(this.ks.keys[i], this.ks.values[i], this);
  }

  set(i: number): void {
    this.#start(1);
    this.conns[i % this.conns.length].set(this.ks.keys[i], this.ks.texts[i], this);
  }

  getMulti(b: number): void {
    const size = this.ks.batchSize;
    this.#start(size);
    const n = this.conns.length;
    if (!this.quietBatches) {
      for (let i = b * size, end = i + size; i < end; i++) {
        this.conns[i % n].get(this.ks.keys[i], this.ks.values[i], this);
      }
      return;
    }
    for (let i = b * size, end = i + size; i < end; i++) {
      this.conns[i % n].getQuiet(this.ks.keys[i], this.ks.values[i], this);
    }
    for (let c = 0; c < Math.min(n, size); c++) this.conns[c].endBatch();
  }

  /** A call of `replies` replies starts. */
  #start(replies: number): void {
    this.#pending = replies;
    if (!this.promises) return;
    // The shared executor hands the resolve function back to this lane (see bindLane).
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    binding = this;
    void new Promise<void>(bindLane).then(this.#settled);
  }

  /** Takes the resolve function of the promise {@link #start} is making (see `bindLane`). */
  bind(resolve: () => void): void {
    this.#resolve = resolve;
  }

  reply(outcome: Outcome): void {
    if (outcome !== 0) {
      if (outcome === FAILED) this.#failed++;
      else this.#bad++;
    }
    if (--this.#pending > 0) return;
    const resolve = this.#resolve;
    if (resolve === undefined) {
      this.#finish();
      return;
    }
    this.#resolve = undefined;
    resolve();
  }

  /** The call has all its replies: its outcome goes to the sink (which may start the next call). */
  #finish(): void {
    const bad = this.#bad;
    const failed = this.#failed;
    this.#bad = 0;
    this.#failed = 0;
    if (failed > 0) this.sink.error(new Error(`${failed} unexpected replies or a closed connection`));
    else this.sink.checked(bad);
  }
}

/** The lane whose promise is being made: promises are made one at a time. */
let binding: RawLane | undefined;

/** The one executor of every lane's promises: hands the resolve function to the lane, no closure per call. */
function bindLane(resolve: () => void): void {
  binding!.bind(resolve);
  binding = undefined;
}
