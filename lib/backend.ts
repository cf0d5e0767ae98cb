/**
 * One server: its connections and its counters. A request goes to the connection with the fewest
 * pending requests; a connection that closed is replaced by a new one on the next request.
 * Connections older than `maxConnectionAge` are retired (closed gracefully, replaced) when next
 * picked; connections idle for `idleTimeout` are closed by a sweep.
 */
import type { ProtocolCodec } from './codec.js';
import { backoff, CircuitBreaker, type BreakerOptions, type BreakerState } from './breaker.js';
import {
  Connection,
  type ConnectionEvents,
  type ConnectionOptions,
  type RequestCounters,
} from './connection.js';
import { channels, traceRequest, tracingRequests } from './diagnostics.js';
import {
  CircuitOpenError,
  ClientClosedError,
  ConnectionError,
  QueueFullError,
  type MemlineError,
} from './errors.js';
import { invalidSendOptions, type RequestEntry, type SendOptions } from './request-entry.js';

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
  readonly reconnect?: { readonly base: number; readonly cap: number };
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

/** Counters of one backend, since it was created. */
export interface BackendCounters extends RequestCounters {
  /** Connections opened. */
  created: number;
  /** Connections opened to replace one that closed or was retired. */
  reconnects: number;
}

/** A snapshot of one server's counters and current load, for metrics and health checks. */
export interface BackendStats extends Readonly<BackendCounters> {
  /** `"host:port"`, as configured. */
  readonly server: string;
  /** Open or opening connections. */
  readonly connections: number;
  /** Requests queued or in flight over all its connections. */
  readonly pending: number;
  /** Requests written and awaiting their reply. */
  readonly inflight: number;
  /** The circuit breaker: `closed` (normal), `open` (failing fast), `half-open` (probing). */
  readonly breaker: BreakerState;
}

/**
 * What a probe's error says about the server, for the errors every protocol shares: an error reply
 * (true: it answered), a failure to get a usable reply (false), or nothing (undefined; any byte
 * received already counted as a sign of life).
 */
export function engineProbeVerdict(error: MemlineError): boolean | undefined {
  switch (error.code) {
    case 'ERR_SERVER_ERROR':
    case 'ERR_CLIENT_ERROR':
    case 'ERR_VALUE_TOO_LARGE':
    case 'ERR_RESPONSE_TOO_LARGE':
      return true;
    case 'ERR_CONNECTION':
    case 'ERR_TIMEOUT':
    case 'ERR_PROTOCOL':
    case 'ERR_TLS':
    case 'ERR_AUTH':
      return false;
    default:
      return undefined;
  }
}

/**
 * A client's metrics, the same shape for every protocol: per server, the engine's stats plus the
 * protocol's own counters (named in `counters`, e.g. a cache's hits and misses), and their sums.
 */
export interface ClientMetrics<C extends string = never> {
  /** Sums over every server. */
  readonly total: MetricsTotal<C>;
  /** One entry per server, in the order of the server list. */
  readonly servers: ServerMetrics<C>[];
  /** The names of the protocol's own counters, present in `total` and in every server's entry. */
  readonly counters: readonly C[];
}

/** One server's entry in {@link ClientMetrics}. */
export type ServerMetrics<C extends string = never> = BackendStats & Record<C, number>;

/** The sums of {@link ClientMetrics}: every number of a server's entry, summed. */
export type MetricsTotal<C extends string = never> = Omit<BackendStats, 'server' | 'breaker'> &
  Record<C, number>;

const SUMMED = ['connections', 'pending', 'inflight', 'created', 'reconnects', 'errors', 'timeouts'] as const;

/**
 * Builds {@link ClientMetrics} from the backends' stats and, for each server, the protocol's own
 * counters `counters` (read with `extra`; a server it knows nothing of counts 0).
 */
export function clientMetrics<C extends string = never>(
  stats: readonly BackendStats[],
  counters: readonly C[] = [],
  extra?: (server: string) => Readonly<Record<C, number>> | undefined,
): ClientMetrics<C> {
  const total: Record<string, number> = {};
  for (const name of [...SUMMED, ...counters]) total[name] = 0;
  const servers = stats.map((s) => {
    const own = extra?.(s.server);
    const entry: Record<string, unknown> = { ...s };
    for (const name of counters) entry[name] = own?.[name] ?? 0;
    for (const name of Object.keys(total)) total[name] += entry[name] as number;
    return entry as ServerMetrics<C>;
  });
  return { total: total as MetricsTotal<C>, servers, counters };
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
  /** Connections in a row that failed before becoming usable (drives the reconnect back-off). */
  #connectFailures = 0;
  /** When the reconnect back-off after the last failed connect ends (`performance.now()` clock). */
  #retryAt = 0;
  /**
   * Why the last connect failed, when the server refused or reset it (ERR_CONNECTION): until
   * `#retryAt`, calls that would need a new connection fail at once with it. After any other
   * failure (a connect that timed out, a TLS or login failure) it is undefined and calls wait for
   * the delayed connect instead, each trying once more.
   */
  #refusal: ConnectionError | undefined;
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
      if (!established) this.#connectFailed(error);
      this.#breaker.failure();
    },
    alive: () => {
      this.#connectFailures = 0;
      this.#retryAt = 0;
      this.#refusal = undefined;
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
      return Promise.reject(this.#refusedError(false));
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
    const sent = this.#pick().send(req, options);
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

  /** A connect failed for `error`: the next one waits for the back-off. */
  #connectFailed(error: MemlineError): void {
    this.#connectFailures++;
    const reconnect = this.#options.reconnect;
    const delay = reconnect === undefined ? 0 : backoff(this.#connectFailures, reconnect.base, reconnect.cap);
    this.#retryAt = performance.now() + delay;
    this.#refusal = error instanceof ConnectionError ? error : undefined;
  }

  /**
   * The server refused the last connect, its back-off has not ended and no connection is open: a
   * call would only wait for the back-off to end, so it fails now instead (a refused server fails
   * fast, breaker or not).
   */
  #backingOff(): boolean {
    if (this.#refusal === undefined || performance.now() >= this.#retryAt) return false;
    for (const conn of this.#slots) if (conn !== undefined && conn.usable) return false;
    return true;
  }

  /** The error a call gets while the server is backed off after a refusal (nothing was sent). */
  #refusedError(mayHaveExecuted: boolean): MemlineError {
    const refusal = this.#refusal!;
    const retryIn = Math.max(0, Math.ceil(this.#retryAt - performance.now()));
    return new ConnectionError(`${refusal.message}; next attempt in ${retryIn} ms`, {
      server: this.server,
      mayHaveExecuted,
      cause: refusal.cause,
    });
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
    // After a refused connect, calls fail fast until the back-off ends (see #backingOff) and a
    // connection opened before then (a breaker probe) connects at once; after any other failed
    // connect, the next one waits out the back-off and calls queue on it.
    const connectDelay =
      this.#refusal === undefined ? Math.max(0, Math.round(this.#retryAt - performance.now())) : 0;
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
