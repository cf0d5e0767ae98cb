/**
 * One server: its connections. A request goes to the connection with the fewest pending requests;
 * a connection that closed is replaced by a new one on the next request.
 */
import type { ProtocolCodec } from './codec.js';
import { Connection, type ConnectionOptions } from './connection.js';
import { ClientClosedError, type MemlineError } from './errors.js';
import type { SendOptions } from './request-entry.js';

export interface BackendOptions<Req, Res, Frame> extends Omit<
  ConnectionOptions<Req, Res, Frame>,
  'host' | 'port'
> {
  /** Connections kept to this server. */
  readonly connections: number;
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

export interface BackendStats {
  readonly server: string;
  /** Open or opening connections. */
  readonly connections: number;
  /** Requests queued or in flight over all its connections. */
  readonly pending: number;
  /** Connections created since the start. */
  readonly created: number;
}

export class Backend<Req, Res, Frame> {
  readonly address: ServerAddress;
  #options: BackendOptions<Req, Res, Frame>;
  #slots: (Connection<Req, Res, Frame> | undefined)[];
  #closed = false;
  #created = 0;
  #onConnectionClose = (conn: Connection<Req, Res, Frame>): void => {
    const i = this.#slots.indexOf(conn);
    if (i !== -1) this.#slots[i] = undefined;
  };

  constructor(address: ServerAddress, options: BackendOptions<Req, Res, Frame>) {
    this.address = address;
    this.#options = options;
    this.#slots = new Array<Connection<Req, Res, Frame> | undefined>(options.connections).fill(undefined);
  }

  get server(): string {
    return this.address.address;
  }

  get codec(): ProtocolCodec<Req, Res, Frame> {
    return this.#options.codec;
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
    for (let i = 0; i < this.#slots.length; i++) {
      const conn = this.#slots[i];
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
      { ...this.#options, host: this.address.host, port: this.address.port },
      this.#onConnectionClose,
    );
    this.#created++;
    this.#slots[slot] = conn;
    return conn;
  }

  get stats(): BackendStats {
    let connections = 0;
    let pending = 0;
    for (const conn of this.#slots) {
      if (conn === undefined) continue;
      connections++;
      pending += conn.pending;
    }
    return { server: this.server, connections, pending, created: this.#created };
  }

  /** Lets every issued request finish, then closes the connections. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#slots.flatMap((conn) => (conn === undefined ? [] : [conn.close()])));
  }

  /** Closes every connection now; pending requests reject with `error` (or ERR_CLIENT_CLOSED). */
  destroy(error?: MemlineError): void {
    this.#closed = true;
    for (const conn of this.#slots) {
      conn?.destroy(error ?? new ClientClosedError('the client was destroyed', { server: this.server }));
    }
  }
}
