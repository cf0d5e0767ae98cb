/**
 * A circuit breaker per backend: after `threshold` consecutive failures it opens and calls fail at
 * once with ERR_CIRCUIT_OPEN, touching no socket. After the open time one probe request is let
 * through (half-open); if the server answers, the breaker closes, else it opens again for longer
 * (doubling up to `maxOpenTime`, with ±20% jitter so that many clients do not probe in step).
 *
 * ```
 *   closed ──threshold failures──► open ──openTime elapsed──► half-open ──reply──► closed
 *                                   ▲                             │
 *                                   └──────────failure────────────┘
 * ```
 *
 * What counts is decided by the backend from connection events: any byte received is a success
 * (the server is alive); a connection that fails or a written request that times out is a failure.
 * A reply that reports a miss, a refusal or a server-side error is still a reply: a success.
 *
 * This is a few integer updates per event, not a wrapper around each request: cockatiel's
 * `execute()` measured 240 ns per call against 50 ns for the bare promise, a tenth of a request's
 * whole budget.
 */
import type { MemlineError } from './errors.js';

/** A circuit breaker's state: closed (requests flow), open (fail fast), half-open (one probe). */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** When a server's circuit breaker opens and how long it stays open. */
export interface BreakerOptions {
  /** Consecutive failures that open the breaker; 0 disables it. @default 5 */
  readonly threshold: number;
  /** ms the breaker stays open before the first probe. @default 1000 */
  readonly openTime: number;
  /** Cap of the open time as it doubles after failed probes. @default 5000 */
  readonly maxOpenTime: number;
}

export class CircuitBreaker {
  #options: BreakerOptions;
  #state: BreakerState = 'closed';
  #failures = 0;
  /** Opens in a row without a success in between: the open time doubles with each. */
  #opens = 0;
  #openUntil = 0;
  #probing = false;
  #onChange: (state: BreakerState) => void;
  /** Times the breaker opened since it was created. */
  openings = 0;

  constructor(options: BreakerOptions, onChange: (state: BreakerState) => void = () => undefined) {
    this.#options = options;
    this.#onChange = onChange;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** ms until a probe may go through (0 when closed or due). */
  get retryIn(): number {
    return this.#state === 'open' ? Math.max(0, this.#openUntil - performance.now()) : 0;
  }

  /**
   * May a request go out now? `'probe'`: yes, as the one request of the half-open state; the
   * caller reports its outcome with {@link probed}.
   */
  allow(): 'yes' | 'probe' | 'no' {
    if (this.#state === 'closed') return 'yes';
    if (this.#state === 'open') {
      if (performance.now() < this.#openUntil) return 'no';
      this.#set('half-open');
    }
    if (this.#probing) return 'no';
    this.#probing = true;
    return 'probe';
  }

  /** The probe's outcome: the server answered (true), failed (false), or no verdict (undefined). */
  probed(ok: boolean | undefined): void {
    if (!this.#probing) return;
    this.#probing = false;
    if (ok === true) this.success();
    else if (ok === false && this.#state === 'half-open') this.#open();
  }

  success(): void {
    this.#failures = 0;
    if (this.#state === 'closed') return;
    this.#opens = 0;
    this.#probing = false;
    this.#set('closed');
  }

  failure(): void {
    if (this.#options.threshold <= 0) return;
    this.#failures++;
    if (
      this.#state === 'half-open' ||
      (this.#state === 'closed' && this.#failures >= this.#options.threshold)
    ) {
      this.#open();
    }
  }

  #open(): void {
    const { openTime, maxOpenTime } = this.#options;
    const base = Math.min(maxOpenTime, openTime * 2 ** this.#opens);
    this.#opens++;
    this.openings++;
    this.#openUntil = performance.now() + base * (0.8 + Math.random() * 0.4);
    this.#probing = false;
    this.#set('open');
  }

  #set(state: BreakerState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#onChange(state);
  }
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
