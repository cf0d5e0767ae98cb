/**
 * One server: its connections and its counters. A request goes to the connection with the fewest
 * pending requests; a connection that closed is replaced by a new one on the next request.
 * Connections older than `maxConnectionAge` are retired (closed gracefully, replaced) when next
 * picked; connections idle for `idleTimeout` are closed by a sweep.
 */
import type { ProtocolCodec } from './codec.js';
import { Connection, type ConnectionOptions, type RequestCounters } from './connection.js';
import { ClientClosedError, type MemlineError } from './errors.js';
import type { SendOptions } from './request-entry.js';

export interface BackendOptions<Req, Res, Frame> extends Omit<
  ConnectionOptions<Req, Res, Frame>,
  'host' | 'port' | 'counters'
> {
  /** Connections kept to this server. */
  readonly connections: number;
  /** ms after which a connection is replaced when next used; 0: never. */
  readonly maxConnectionAge?: number;
  /** ms without requests after which a connection is closed; 0: never. */
  readonly idleTimeout?: number;
}

/** A server as configured. */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
  /** Relative share of the keys (for weighted distributions). */
  readonly weight: number;
  /** `"host:port"`, as the user gave it: the key of per-server results. */
  readonly address: string;
}

/** Counters of one backend, since it was created. */
export interface BackendCounters extends RequestCounters {
  /** Connections opened. */
  created: number;
  /** Connections opened to replace one that closed or was retired. */
  reconnects: number;
  /** Reads that found their key (counted by the client above). */
  hits: number;
  /** Reads that did not. */
  misses: number;
}

export interface BackendStats extends Readonly<BackendCounters> {
  readonly server: string;
  /** Open or opening connections. */
  readonly connections: number;
  /** Requests queued or in flight over all its connections. */
  readonly pending: number;
  /** Requests written and awaiting their reply. */
  readonly inflight: number;
}

export class Backend<Req, Res, Frame> {
  readonly address: ServerAddress;
  readonly counters: BackendCounters = {
    created: 0,
    reconnects: 0,
    errors: 0,
    timeouts: 0,
    hits: 0,
    misses: 0,
  };
  #options: BackendOptions<Req, Res, Frame>;
  #slots: (Connection<Req, Res, Frame> | undefined)[];
  #everUsed: boolean[];
  #closed = false;
  #sweeper: NodeJS.Timeout | undefined;
  /** Connections taken out of their slot (too old, idle) that are finishing what they have. */
  #retiring = new Set<Connection<Req, Res, Frame>>();
  #onConnectionClose = (conn: Connection<Req, Res, Frame>): void => {
    const i = this.#slots.indexOf(conn);
    if (i !== -1) this.#slots[i] = undefined;
    this.#retiring.delete(conn);
  };

  constructor(address: ServerAddress, options: BackendOptions<Req, Res, Frame>) {
    this.address = address;
    this.#options = options;
    this.#slots = new Array<Connection<Req, Res, Frame> | undefined>(options.connections).fill(undefined);
    this.#everUsed = new Array<boolean>(options.connections).fill(false);
    const idle = options.idleTimeout ?? 0;
    if (idle > 0) {
      this.#sweeper = setInterval(() => this.#sweepIdle(idle), Math.max(10, idle / 2));
      this.#sweeper.unref(); // the sweep alone must not keep a process alive
    }
  }

  get server(): string {
    return this.address.address;
  }

  get codec(): ProtocolCodec<Req, Res, Frame> {
    return this.#options.codec;
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(req: Req, options: SendOptions): Promise<Res> {
    if (this.#closed) {
      return Promise.reject(new ClientClosedError('the client is closed', { server: this.server }));
    }
    return this.#pick().send(req, options);
  }

  /** The usable connection with the fewest pending requests; opens one in a free slot when all are busy. */
  #pick(): Connection<Req, Res, Frame> {
    let best: Connection<Req, Res, Frame> | undefined;
    let free = -1;
    const maxAge = this.#options.maxConnectionAge ?? 0;
    for (let i = 0; i < this.#slots.length; i++) {
      let conn = this.#slots[i];
      if (conn !== undefined && maxAge > 0 && conn.age > maxAge) {
        this.#retire(i, conn); // it finishes what it has in flight; the slot is reused now
        conn = undefined;
      }
      if (conn === undefined || !conn.usable) {
        if (free === -1) free = i;
        continue;
      }
      if (best === undefined || conn.pending < best.pending) best = conn;
    }
    if (best !== undefined && (best.pending === 0 || free === -1)) return best;
    return this.#open(free);
  }

  #open(slot: number): Connection<Req, Res, Frame> {
    const conn = new Connection<Req, Res, Frame>(
      { ...this.#options, host: this.address.host, port: this.address.port, counters: this.counters },
      this.#onConnectionClose,
    );
    this.counters.created++;
    if (this.#everUsed[slot]) this.counters.reconnects++;
    this.#everUsed[slot] = true;
    this.#slots[slot] = conn;
    return conn;
  }

  #sweepIdle(idle: number): void {
    for (let i = 0; i < this.#slots.length; i++) {
      const conn = this.#slots[i];
      if (conn !== undefined && conn.pending === 0 && conn.idleFor > idle) this.#retire(i, conn);
    }
  }

  #retire(slot: number, conn: Connection<Req, Res, Frame>): void {
    this.#slots[slot] = undefined;
    this.#retiring.add(conn);
    void conn.close();
  }

  get stats(): BackendStats {
    let connections = 0;
    let pending = 0;
    let inflight = 0;
    for (const conn of this.#slots) {
      if (conn === undefined) continue;
      connections++;
      pending += conn.pending;
      inflight += conn.inflight;
    }
    return { server: this.server, connections, pending, inflight, ...this.counters };
  }

  /** Lets every issued request finish, then closes the connections. */
  async close(): Promise<void> {
    this.#stop();
    const all = [...this.#slots, ...this.#retiring];
    await Promise.all(all.flatMap((conn) => (conn === undefined ? [] : [conn.close()])));
  }

  /** Closes every connection now; pending requests reject with `error` (or ERR_CLIENT_CLOSED). */
  destroy(error?: MemlineError): void {
    this.#stop();
    for (const conn of [...this.#slots, ...this.#retiring]) {
      conn?.destroy(error ?? new ClientClosedError('the client was destroyed', { server: this.server }));
    }
  }

  #stop(): void {
    this.#closed = true;
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}
