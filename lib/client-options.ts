/**
 * Option handling every client built on the engine shares: per-call options (deadline, abort
 * signal), TLS settings with verification on by default, and the circuit breaker's settings.
 */
import type { ConnectionOptions as TlsConnectOptions } from 'node:tls';
import type { BreakerOptions } from './breaker.js';
import { InvalidArgumentError } from './errors.js';
import type { SendOptions } from './request-entry.js';

/** The longest delay Node's timers take (longer ones fire at once). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Options every call takes, always as its last argument. */
export interface CallOptionsBase {
  /** Rejects the call with ERR_ABORTED when it fires. */
  signal?: AbortSignal;
  /** ms for this call, counted from the call. @default the client's `timeout` */
  timeout?: number;
}

/**
 * Validates per-call options and fixes the call's deadline, counted from now (queueing and
 * connecting included). Throws ERR_INVALID_ARGUMENT naming the option.
 */
export function prepareCall(options: CallOptionsBase | undefined, defaultTimeout: number): SendOptions {
  if (options === undefined) {
    return { deadline: performance.now() + defaultTimeout, timeout: defaultTimeout, signal: undefined };
  }
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError('options must be an object');
  const timeout = options.timeout ?? defaultTimeout;
  if (typeof timeout !== 'number' || !(timeout > 0) || !(timeout <= MAX_TIMER_MS)) {
    throw new InvalidArgumentError(`timeout must be a positive number of ms, at most ${MAX_TIMER_MS}`);
  }
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError('signal must be an AbortSignal');
  }
  return { deadline: performance.now() + timeout, timeout, signal };
}

/**
 * Throws ERR_INVALID_ARGUMENT naming the first own property of `given` not in `known`: a typo
 * (`tiemout`) must not be silently ignored.
 */
export function checkNames(given: object, known: ReadonlySet<string>, what: string): void {
  for (const name of Object.keys(given)) {
    if (!known.has(name)) {
      throw new InvalidArgumentError(`unknown ${what} "${name}"; known: ${[...known].join(', ')}`);
    }
  }
}

const TLS_NAMES: ReadonlySet<string> = new Set([
  'ca',
  'cert',
  'key',
  'servername',
  'minVersion',
  'dangerouslyDisableCertificateVerification',
]);

const BREAKER_NAMES: ReadonlySet<string> = new Set(['threshold', 'openTime', 'maxOpenTime']);

/** TLS settings. Certificate verification is on unless switched off by its loudly named option. */
export interface TlsOptions {
  /** CA certificates to trust instead of the system's. */
  ca?: string | Buffer | (string | Buffer)[];
  /** Client certificate, for servers that require one (mutual TLS). */
  cert?: string | Buffer;
  /** Private key of `cert`. */
  key?: string | Buffer;
  /** Name to verify the server's certificate against. @default the host, when it is not an IP address */
  servername?: string;
  /** Lowest TLS version to accept. @default 'TLSv1.2' */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  /**
   * Accept any certificate, including forged ones: the connection is then open to interception.
   * For tests against self-signed servers only. @default false
   */
  dangerouslyDisableCertificateVerification?: boolean;
}

/** `tls: true | TlsOptions` to `node:tls` options; `undefined` for plain TCP. */
export function resolveTls(tls: boolean | TlsOptions | undefined): TlsConnectOptions | undefined {
  if (tls === undefined || tls === false) return undefined;
  if (tls === true) return {};
  if (typeof tls !== 'object' || tls === null)
    throw new InvalidArgumentError('tls must be true or an object');
  checkNames(tls, TLS_NAMES, 'tls option');
  const { dangerouslyDisableCertificateVerification, ...rest } = tls;
  return {
    minVersion: 'TLSv1.2',
    ...rest,
    rejectUnauthorized: dangerouslyDisableCertificateVerification !== true,
  };
}

/** Fills in and validates the breaker settings; throws ERR_INVALID_ARGUMENT naming the field. */
export function resolveBreaker(
  given: Partial<BreakerOptions> | undefined,
  defaults: BreakerOptions,
): BreakerOptions {
  if (given === undefined) return defaults;
  if (typeof given !== 'object' || given === null)
    throw new InvalidArgumentError('breaker must be an object');
  checkNames(given, BREAKER_NAMES, 'breaker option');
  const out = { ...defaults, ...given };
  for (const [name, min] of [
    ['threshold', 0],
    ['openTime', 1],
    ['maxOpenTime', 1],
  ] as const) {
    const v = out[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > MAX_TIMER_MS) {
      throw new InvalidArgumentError(`breaker.${name} must be an integer from ${min} to ${MAX_TIMER_MS}`);
    }
  }
  return out;
}
