/**
 * The one timer of a connection: it rejects requests whose deadline passed, tells when a server's
 * silence makes their timeouts its fault, and finds a connection that went dead.
 *
 * Each connection keeps a single timer armed for the earliest deadline it has to check, not one per
 * request; when it fires it sweeps both queues and re-arms for the earliest deadline left.
 */
import type { ProtocolCodec } from './codec.js';
import { ConnectionError, TimeoutError, type MemlineError, type TimeoutPhase } from './errors.js';
import type { RequestCounters } from './metrics.js';
import type { Pipeline } from './pipeline.js';
import type { RequestEntry } from './request-entry.js';

/** What the timer needs from its connection. */
export interface DeadlineHost {
  /** `"host:port"` */
  readonly server: string;
  /** Where a request that times out now was (see {@link TimeoutError.phase}). */
  phase(): TimeoutPhase;
  /** Written requests timed out while the server stayed silent for `replyGrace` ms (once each). */
  timedOut(): void;
  /** Nothing was heard for `silentTimeout` ms with requests in flight: the connection is dead. */
  dead(error: MemlineError): void;
  /** A sweep settled what it could. */
  swept(): void;
  /** Nothing was heard for `nudgeAfter` ms with requests in flight: send the codec's nudge (once per silence). */
  nudge(): void;
}

export class Deadlines<Req, Res, Frame> {
  readonly #host: DeadlineHost;
  readonly #pipeline: Pipeline<Req, Res, Frame>;
  readonly #codec: ProtocolCodec<Req, Res, Frame>;
  readonly #counters: RequestCounters;
  readonly #silentTimeout: number;
  readonly #replyGrace: number;
  /** ms of silence with requests in flight before {@link DeadlineHost.nudge}; 0: never. */
  readonly #nudgeAfter: number;
  /** The host was asked to nudge since the server was last heard. */
  #nudged = false;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #stopped = false;
  /** When the connection last heard from the server, or started waiting for it. */
  #silentSince = performance.now();
  /**
   * Written requests that timed out while the server had been silent for less than replyGrace:
   * they count against it (timedOut) if the silence reaches replyGrace, not if a byte comes first.
   */
  #unblamedTimeouts = 0;
  readonly #onTimer = (): void => this.#sweep();

  constructor(
    host: DeadlineHost,
    pipeline: Pipeline<Req, Res, Frame>,
    codec: ProtocolCodec<Req, Res, Frame>,
    counters: RequestCounters,
    silentTimeout: number,
    replyGrace: number,
    nudgeAfter = 0,
  ) {
    this.#host = host;
    this.#pipeline = pipeline;
    this.#codec = codec;
    this.#counters = counters;
    this.#silentTimeout = silentTimeout;
    this.#replyGrace = replyGrace;
    this.#nudgeAfter = nudgeAfter;
  }

  /** Arms the timer if `deadline` is earlier than the one it is armed for. */
  arm(deadline: number): void {
    if (deadline >= this.#timerAt || this.#stopped) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = deadline;
    // setTimeout fires at once for delays over 2^31-1 ms; a later sweep re-arms as needed.
    const delay = Math.min(2 ** 31 - 1, Math.max(0, deadline - performance.now()));
    this.#timer = setTimeout(this.#onTimer, delay);
  }

  /** Requests are now in flight: if nothing is heard for silentTimeout, the timer finds out. */
  busy(): void {
    this.#silentSince = performance.now();
    this.#nudged = false;
    if (this.#silentTimeout > 0) this.arm(this.#silentSince + this.#silentTimeout);
    if (this.#nudgeAfter > 0) this.arm(this.#silentSince + this.#nudgeAfter);
  }

  /** Bytes arrived: the server answers, so the timeouts so far were the callers' short budgets. */
  heard(): void {
    this.#silentSince = performance.now();
    this.#nudged = false;
    this.#unblamedTimeouts = 0;
  }

  /** The connection closed: the timer is cleared for good. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Rejects every entry past its deadline and re-arms for the earliest one left. */
  #sweep(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#stopped) return;
    const now = performance.now() + 1; // a timer may fire a fraction of a ms early
    const phase = this.#host.phase();
    const { inflight, toWrite } = this.#pipeline;
    let next = Infinity;
    for (let i = 0; i < inflight.length; i++)
      next = this.#expire(inflight.peekAt(i)!, true, phase, now, next);
    let dropped = 0;
    for (let i = 0; i < toWrite.length; i++) {
      const entry = toWrite.peekAt(i)!;
      next = this.#expire(entry, false, phase, now, next);
      if (entry.settled) dropped++;
    }
    if (dropped > 0) this.#pipeline.compact();
    // Timeouts count against the server only once it has been silent for a normal reply time.
    if (this.#unblamedTimeouts > 0 && inflight.length > 0) {
      const blameAt = this.#silentSince + this.#replyGrace;
      if (blameAt <= now) {
        const n = this.#unblamedTimeouts;
        this.#unblamedTimeouts = 0;
        for (let i = 0; i < n; i++) this.#host.timedOut();
      } else if (blameAt < next) {
        next = blameAt;
      }
    }
    // A connection with requests in flight that has heard nothing for silentTimeout is dead
    // (a paused or black-holed server): destroy it rather than let the pipeline grow behind it.
    const silentTimeout = this.#silentTimeout;
    if (silentTimeout > 0 && inflight.length > 0) {
      const deadAt = this.#silentSince + silentTimeout;
      if (deadAt <= now) {
        const server = this.#host.server;
        this.#host.dead(
          new ConnectionError(`no reply from ${server} for ${silentTimeout} ms; connection closed`, {
            server,
            mayHaveExecuted: true,
          }),
        );
        return;
      }
      if (deadAt < next) next = deadAt;
    }
    // Silent with requests in flight: a server stalled on bytes it holds may need new ones (TLS).
    const nudgeAfter = this.#nudgeAfter;
    if (nudgeAfter > 0 && inflight.length > 0 && !this.#nudged) {
      const nudgeAt = this.#silentSince + nudgeAfter;
      if (nudgeAt <= now) {
        this.#nudged = true;
        this.#host.nudge();
      } else if (nudgeAt < next) {
        next = nudgeAt;
      }
    }
    if (next !== Infinity) this.arm(next);
    this.#host.swept();
  }

  /** Rejects `entry` if its deadline passed; returns the earliest deadline still to watch. */
  #expire(
    entry: RequestEntry<Req, Res>,
    written: boolean,
    phase: TimeoutPhase,
    now: number,
    next: number,
  ): number {
    if (entry.settled) return next;
    if (entry.deadline > now) return entry.deadline < next ? entry.deadline : next;
    this.#counters.timeouts++;
    if (written) this.#unblamedTimeouts++;
    const server = this.#host.server;
    entry.reject(
      new TimeoutError(
        `${this.#codec.describe(entry.req)} to ${server} timed out after ${entry.timeout} ms`,
        written ? 'request' : phase,
        { server, mayHaveExecuted: written || entry.everWritten },
      ),
    );
    return next;
  }
}
