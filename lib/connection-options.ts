/**
 * The contract between a {@link Connection} and its owner (a backend): what it is given, and what it
 * reports back.
 */
import type tls from 'node:tls';
import type { ProtocolCodec } from './codec.js';
import type { Connection } from './connection.js';
import type { MemlineError } from './errors.js';
import type { RequestCounters } from './metrics.js';
import type { RequestEntry } from './request-entry.js';

/** Where a {@link Connection} connects, with which codec, and its limits and timeouts. */
export interface ConnectionOptions<Req, Res, Frame> {
  readonly host: string;
  readonly port: number;
  readonly codec: ProtocolCodec<Req, Res, Frame>;
  /** TLS options; absent for plain TCP. */
  readonly tls?: tls.ConnectionOptions | undefined;
  /** ms to establish TCP (and TLS); the handshake requests count too. */
  readonly connectTimeout: number;
  /** TCP keepalive initial delay in ms; 0 turns keepalive off. */
  readonly keepAlive: number;
  /** Requests queued plus in flight on this connection; past it `ERR_QUEUE_FULL`. */
  readonly maxPending: number;
  /** Bytes encoded into one socket write before the writer yields to the socket. */
  readonly maxWriteBytes?: number;
  /** Shared counters this connection adds its failures to (a backend's). */
  readonly counters?: RequestCounters;
  /** ms to wait before connecting (reconnect back-off); requests queue meanwhile. @default 0 */
  readonly connectDelay?: number;
  /**
   * ms a connection may stay silent (no byte received) while requests are in flight before it is
   * considered dead and destroyed; 0: never. @default 0
   */
  readonly silentTimeout?: number;
  /** Bytes of requests queued but not yet taken by the kernel; past it ERR_QUEUE_FULL. @default Infinity */
  readonly maxQueuedBytes?: number;
  /**
   * ms a server may take to reply before a written request's timeout counts against it
   * ({@link ConnectionEvents.timedOut}, which the circuit breaker counts). A timeout that comes
   * sooner, while the connection has heard from the server within this time, was the caller's short
   * budget, not the server's fault: it counts only if the server then stays silent this long with
   * requests in flight. @default 250
   */
  readonly replyGrace?: number;
}

/** What a connection tells its owner (a backend). */
export interface ConnectionEvents<Req, Res, Frame> {
  /** The connection closed; `error` says why when it failed; `established`: it had become ready. */
  closed?(conn: Connection<Req, Res, Frame>, error: MemlineError | undefined, established: boolean): void;
  /** Bytes arrived: the server is alive. Called once per socket read. */
  alive?(): void;
  /**
   * A written request's deadline passed without its reply, and the server has been silent (nothing
   * received with requests in flight) for at least `replyGrace` ms.
   */
  timedOut?(): void;
  /**
   * The connection failed with these requests still waiting: each was never written, or is
   * idempotent, and has not been moved before. The owner may run them on another connection
   * (see {@link Connection.adopt}) or reject them.
   */
  orphaned?(entries: RequestEntry<Req, Res>[], reason: MemlineError): void;
}
