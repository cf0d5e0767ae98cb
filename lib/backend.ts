/**
 * One server: its connections and its counters. A request goes to the connection with the fewest
 * pending requests; a connection that closed is replaced by a new one on the next request.
 * Connections older than `maxConnectionAge` are retired (closed gracefully, replaced) when next
 * picked; connections idle for `idleTimeout` are closed by a sweep.
 */
import type { ProtocolCodec } from './codec.js';
import { CircuitBreaker, engineProbeVerdict, type BreakerOptions, type BreakerState } from './breaker.js';
import { Connection, type ConnectionEvents, type ConnectionOptions } from './connection.js';
import { channels, traceRequest, tracingRequests } from './diagnostics.js';
import {
  CircuitOpenError,
  ClientClosedError,
  ConnectionError,
  QueueFullError,
  type MemlineError,
} from './errors.js';
import type { BackendCounters, BackendStats } from './metrics.js';
import { Reconnect, type ReconnectOptions } from './reconnect.js';
import { invalidSendOptions, type RequestEntry, type SendOptions } from './request-entry.js';

export { engineProbeVerdict } from './breaker.js';
export { clientMetrics } from './metrics.js';
export type {
  BackendCounters,
  BackendStats,
  ClientMetrics,
  MetricsTotal,
  RequestCounters,
  ServerMetrics,
} from './metrics.js';

/** How a {@link Backend} manages its connections; the per-connection settings are passed on to each. */
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
  /** Requests queued plus in flight over all connections to this server. @default connections × maxPending */
  readonly maxPendingPerServer?: number;
  /** The circuit breaker; threshold 0 disables it. */
  readonly breaker?: BreakerOptions;
  /** Reconnect back-off after failed connects: first delay ~`base` ms, doubling up to `cap`. */
  readonly reconnect?: ReconnectOptions;
  /** A pino-compatible logger for connection failures and breaker changes; silent when absent. */
  readonly logger?: EngineLogger;
  /**
   * What a failed half-open probe says about the server: it answered (true, the breaker closes),
   * it did not (false, the breaker opens again), or nothing (undefined). The protocol may give its
   * own for the error codes it adds. @default {@link engineProbeVerdict}
   */
  readonly probeVerdict?: (error: MemlineError) => boolean | undefined;
}

/** The part of a pino logger the engine uses. */
export interface EngineLogger {
  /** Routine events: a connection failed, the circuit breaker changed state. */
  debug(obj: object, msg?: string): void;
  /** A server was marked down (its circuit breaker opened). */
  warn(obj: object, msg?: string): void;
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

/**
 * One server: keeps up to `connections` connections to it, spreads requests over them, replaces
 * ones that fail (with back-off) and fails fast while its circuit breaker is open.
 */
export class Backend<Req, Res, Frame> {
  readonly address: ServerAddress;
  readonly counters: BackendCounters = {
    created: 0,
    reconnects: 0,
    errors: 0,
    timeouts: 0,
  };
  #options: BackendOptions<Req, Res, Frame>;
  #slots: (Connection<Req, Res, Frame> | undefined)[];
  #everUsed: boolean[];
  #closed = false;
  #sweeper: NodeJS.Timeout | undefined;
  #breaker: CircuitBreaker;
  #reconnect: Reconnect;
  #events: ConnectionEvents<Req, Res, Frame> = {
    closed: (conn, error, established) => {
      const i = this.#slots.indexOf(conn);
      if (i !== -1) this.#slots[i] = undefined;
      this.#retiring.delete(conn);
      if (error === undefined || error instanceof ClientClosedError) return;
      this.#options.logger?.debug(
        { server: this.server, code: error.code, established },
        'memline: connection failed',
      );
      if (!established) this.#reconnect.failed(error);
      this.#breaker.failure();
    },
    alive: () => {
      this.#reconnect.succeeded();
      this.#breaker.success();
    },
    timedOut: () => this.#breaker.failure(),
    orphaned: (entries, reason) => this.#adopt(entries, reason),
  };
  /** Connections taken out of their slot (too old, idle) that are finishing what they have. */
  #retiring = new Set<Connection<Req, Res, Frame>>();

  constructor(address: ServerAddress, options: BackendOptions<Req, Res, Frame>) {
    this.address = address;
    this.#options = options;
    this.#slots = new Array<Connection<Req, Res, Frame> | undefined>(options.connections).fill(undefined);
    this.#everUsed = new Array<boolean>(options.connections).fill(false);
    this.#reconnect = new Reconnect(options.reconnect);
    this.#breaker = new CircuitBreaker(
      options.breaker ?? { threshold: 0, openTime: 0, maxOpenTime: 0 },
      (state) => {
        if (channels.breaker.hasSubscribers) channels.breaker.publish({ server: this.server, state });
        const log = this.#options.logger;
        if (state === 'open') log?.warn({ server: this.server, state }, 'memline: server marked down');
        else log?.debug({ server: this.server, state }, 'memline: circuit breaker');
      },
    );
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

  get breaker(): BreakerState {
    return this.#breaker.state;
  }

  /**
   * Sends `req` on the least loaded connection. Rejects at once, without I/O, when the backend is
   * closed (ERR_CLIENT_CLOSED), the breaker is open (ERR_CIRCUIT_OPEN) or the server's queue is full
   * (ERR_QUEUE_FULL), or the deadline is not a finite number (ERR_INVALID_ARGUMENT).
   */
  send(req: Req, options: SendOptions): Promise<Res> {
    const invalid = invalidSendOptions(options);
    if (invalid !== undefined) return Promise.reject(invalid);
    if (this.#closed) {
      return Promise.reject(new ClientClosedError('the client is closed', { server: this.server }));
    }
    const allowed = this.#breaker.allow();
    if (allowed === 'no') {
      return Promise.reject(
        new CircuitOpenError(
          `${this.server} is marked down after repeated failures; next try in ${Math.ceil(this.#breaker.retryIn)} ms`,
          { server: this.server },
        ),
      );
    }
    const max = this.#options.maxPendingPerServer;
    if (max !== undefined && this.#slots.length > 1 && this.#pendingTotal() >= max) {
      return Promise.reject(
        new QueueFullError(`${max} requests are already pending on ${this.server}`, { server: this.server }),
      );
    }
    if (allowed === 'yes' && this.#backingOff()) {
      this.counters.errors++;
      return Promise.reject(this.#reconnect.refusedError(this.server, false));
    }
    if (tracingRequests()) {
      const codec = this.codec;
      const system = codec.system ?? codec.name;
      return traceRequest(
        this.server,
        codec.describe(req),
        system,
        () => this.#sendNow(req, options, allowed),
        () => codec.keys?.(req) ?? keyList(codec.routingKey(req)),
      );
    }
    return this.#sendNow(req, options, allowed);
  }

  #sendNow(req: Req, options: SendOptions, allowed: 'yes' | 'probe'): Promise<Res> {
    const sent = this.#pick().submit(req, options);
    return allowed === 'yes' ? sent : this.#watchProbe(sent);
  }

  /** The half-open probe: any reply closes the breaker; a failure to get one reopens it. */
  #watchProbe(sent: Promise<Res>): Promise<Res> {
    return sent.then(
      (value) => {
        this.#breaker.probed(true);
        return value;
      },
      (err: MemlineError) => {
        this.#breaker.probed((this.#options.probeVerdict ?? engineProbeVerdict)(err));
        throw err;
      },
    );
  }

  /**
   * The server refused the last connect, its back-off has not ended and no connection is open: a
   * call would only wait for the back-off to end, so it fails now instead (a refused server fails
   * fast, breaker or not).
   */
  #backingOff(): boolean {
    if (!this.#reconnect.refused) return false;
    for (const conn of this.#slots) if (conn !== undefined && conn.usable) return false;
    return true;
  }

  #pendingTotal(): number {
    let n = 0;
    for (const conn of this.#slots) if (conn !== undefined) n += conn.pending;
    return n;
  }

  /**
   * Requests handed back by a failed connection run once more on a fresh one, unless the breaker
   * has opened meanwhile (then they fail now, with the connection's error).
   */
  #adopt(entries: RequestEntry<Req, Res>[], reason: MemlineError): void {
    if (this.#closed || this.#breaker.state !== 'closed' || this.#backingOff()) {
      for (const entry of entries) {
        const written = entry.everWritten;
        this.counters.errors++;
        entry.reject(
          new ConnectionError(reason.message, {
            server: this.server,
            mayHaveExecuted: written,
            cause: reason.cause,
          }),
        );
      }
      return;
    }
    const conn = this.#pick();
    for (const entry of entries) conn.adopt(entry);
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
    const connectDelay = this.#reconnect.connectDelay;
    const conn = new Connection<Req, Res, Frame>(
      {
        ...this.#options,
        host: this.address.host,
        port: this.address.port,
        counters: this.counters,
        connectDelay,
      },
      this.#events,
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
    return {
      server: this.server,
      connections,
      pending,
      inflight,
      breaker: this.#breaker.state,
      ...this.counters,
    };
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

function keyList(key: string | undefined): readonly string[] {
  return key === undefined ? [] : [key];
}
