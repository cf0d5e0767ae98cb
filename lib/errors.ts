/**
 * memline's errors. Every error the library produces is a {@link MemlineError} with a stable `code`;
 * match on `code`, never on `message` (messages may be reworded in any release).
 *
 * The errors here are the engine's and those every protocol shares: invalid input, timeouts,
 * connection and TLS failures, and a server's error replies. A protocol adds its own (each with a
 * code of its own) by extending {@link MemlineErrorMap}, so that {@link AnyMemlineError} and
 * {@link ErrorCode} cover them wherever that protocol is imported.
 *
 * Each class declares its `code` as a literal, so a check of `code` narrows the type:
 *
 * ```ts
 * if (isMemlineError(err) && err.code === 'ERR_TIMEOUT') console.log(err.phase);
 * ```
 *
 * `instanceof` works across duplicate installs of the package because the classes check a
 * `Symbol.for` brand rather than their prototype chain.
 */

const kBrand = Symbol.for('memline.error');

/**
 * Every memline error class by its code. A protocol with errors of its own adds them with a
 * module augmentation of this interface (`declare module … { interface MemlineErrorMap { … } }`).
 */
export interface MemlineErrorMap {
  ERR_INVALID_KEY: InvalidKeyError;
  ERR_INVALID_ARGUMENT: InvalidArgumentError;
  ERR_VALUE_TOO_LARGE: ValueTooLargeError;
  ERR_TIMEOUT: TimeoutError;
  ERR_ABORTED: AbortedError;
  ERR_CONNECTION: ConnectionError;
  ERR_PROTOCOL: ProtocolError;
  ERR_CLIENT_ERROR: ClientErrorReply;
  ERR_SERVER_ERROR: ServerErrorReply;
  ERR_RESPONSE_TOO_LARGE: ResponseTooLargeError;
  ERR_CIRCUIT_OPEN: CircuitOpenError;
  ERR_QUEUE_FULL: QueueFullError;
  ERR_TLS: TlsError;
  ERR_AUTH: AuthError;
  ERR_CLIENT_CLOSED: ClientClosedError;
  ERR_PARTIAL_RESULT: PartialResultError;
}

/** The stable error codes. */
export type ErrorCode = keyof MemlineErrorMap;

/**
 * Any memline error, as a union discriminated by `code`: after `err.code === 'ERR_PARTIAL_RESULT'`,
 * `err.results` and `err.errors` are known without a cast.
 */
export type AnyMemlineError = MemlineErrorMap[ErrorCode];

/** Whether `value` is an error of memline (of this or another installed copy), narrowed by `code`. */
export function isMemlineError(value: unknown): value is AnyMemlineError {
  return value instanceof MemlineError;
}

/** What an error knows beyond its code and message: where it happened and whether it may have run. */
export interface MemlineErrorOptions {
  /** Whether the server may have received (and so executed) the request. */
  mayHaveExecuted?: boolean;
  /** The server involved, as `"host:port"`. */
  server?: string;
  /** The underlying error (a socket error, the error a connection failure is blamed on…). */
  cause?: unknown;
}

/** The base class of every error memline produces. */
export class MemlineError extends Error {
  /** A stable, documented identifier: match on this. */
  readonly code: ErrorCode;
  /**
   * True when the request may have reached the server and been executed: a retry of a
   * non-idempotent request (incr, append, cas…) may then apply it twice.
   */
  mayHaveExecuted: boolean;
  /** The server involved, as `"host:port"`, when one is. */
  server: string | undefined;

  constructor(code: ErrorCode, message: string, options: MemlineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.mayHaveExecuted = options.mayHaveExecuted ?? false;
    this.server = options.server;
    // Format the stack now. V8 formats it lazily, on the first read of `.stack`, and until then
    // keeps every captured frame's function and receiver alive, and through their closures the
    // failed call's arguments: a kept error would hold the request and its value.
    void this.stack;
  }

  override get name(): string {
    return this.constructor.name;
  }

  get [kBrand](): true {
    return true;
  }

  /**
   * Makes `instanceof` check the `Symbol.for('memline.error')` brand and the `code` instead of the
   * prototype chain, so errors from another copy of memline in the same process still match.
   * `MemlineError` matches every memline error; a subclass matches errors with its `CODE`.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    if ((value as Record<symbol, unknown>)[kBrand] !== true) return false;
    // MemlineError matches every branded error; subclasses match by code.
    if (this === MemlineError) return true;
    const code = (this as unknown as { readonly CODE?: ErrorCode }).CODE;
    return code !== undefined && (value as MemlineError).code === code;
  }
}

/** A key the server would refuse or misread (bytes or a length it does not take); rejected before any I/O. */
export class InvalidKeyError extends MemlineError {
  static readonly CODE = 'ERR_INVALID_KEY';
  declare readonly code: 'ERR_INVALID_KEY';
  constructor(message: string) {
    super('ERR_INVALID_KEY', message);
  }
}

/** A bad TTL, flags, delta, CAS, option…; rejected before any I/O. */
export class InvalidArgumentError extends MemlineError {
  static readonly CODE = 'ERR_INVALID_ARGUMENT';
  declare readonly code: 'ERR_INVALID_ARGUMENT';
  constructor(message: string) {
    super('ERR_INVALID_ARGUMENT', message);
  }
}

/**
 * A value over `maxValueSize`, rejected before any I/O; or one the server refused as too large
 * (then `mayHaveExecuted` is true: the server may have dropped the key's old value).
 */
export class ValueTooLargeError extends MemlineError {
  static readonly CODE = 'ERR_VALUE_TOO_LARGE';
  declare readonly code: 'ERR_VALUE_TOO_LARGE';
  constructor(message: string, options?: MemlineErrorOptions) {
    super('ERR_VALUE_TOO_LARGE', message, options);
  }
}

/** Which part of a request's life its deadline ran out in. */
export type TimeoutPhase = 'connect' | 'handshake' | 'request';

/** The request's deadline passed. */
export class TimeoutError extends MemlineError {
  static readonly CODE = 'ERR_TIMEOUT';
  declare readonly code: 'ERR_TIMEOUT';
  readonly phase: TimeoutPhase;
  constructor(message: string, phase: TimeoutPhase, options?: MemlineErrorOptions) {
    super('ERR_TIMEOUT', message, options);
    this.phase = phase;
  }
}

/** The caller's `AbortSignal` fired. */
export class AbortedError extends MemlineError {
  static readonly CODE = 'ERR_ABORTED';
  declare readonly code: 'ERR_ABORTED';
  constructor(message: string, options?: MemlineErrorOptions) {
    super('ERR_ABORTED', message, options);
  }
}

/** Refused, reset, or closed with the request in flight. */
export class ConnectionError extends MemlineError {
  static readonly CODE = 'ERR_CONNECTION';
  declare readonly code: 'ERR_CONNECTION';
  constructor(message: string, options?: MemlineErrorOptions) {
    super('ERR_CONNECTION', message, options);
  }
}

/** The server sent something unparseable or out of sync; the connection was destroyed. */
export class ProtocolError extends MemlineError {
  static readonly CODE = 'ERR_PROTOCOL';
  declare readonly code: 'ERR_PROTOCOL';
  constructor(message: string, options?: MemlineErrorOptions) {
    super('ERR_PROTOCOL', message, options);
  }
}

/**
 * The server said the request was malformed: it may have read the stream differently from the
 * client, so the connection is destroyed.
 */
export class ClientErrorReply extends MemlineError {
  static readonly CODE = 'ERR_CLIENT_ERROR';
  declare readonly code: 'ERR_CLIENT_ERROR';
  constructor(message: string, options?: MemlineErrorOptions) {
    super('ERR_CLIENT_ERROR', message, options);
  }
}

/**
 * The server answered the request with an error: it read the request and could not or would not do
 * it. The stream stays in step, so only this request fails and the connection is kept. A protocol
 * may subclass it to add what its error replies carry.
 */
export class ServerErrorReply extends MemlineError {
  static readonly CODE = 'ERR_SERVER_ERROR';
  declare readonly code: 'ERR_SERVER_ERROR';
  constructor(message: string, options?: MemlineErrorOptions) {
    super('ERR_SERVER_ERROR', message, options);
  }
}

/** A reply declared a value larger than the configured cap; connection destroyed. */
export class ResponseTooLargeError extends MemlineError {
  static readonly CODE = 'ERR_RESPONSE_TOO_LARGE';
  declare readonly code: 'ERR_RESPONSE_TOO_LARGE';
  constructor(message: string, options?: MemlineErrorOptions) {
    super('ERR_RESPONSE_TOO_LARGE', message, options);
  }
}

/** The backend is marked down; nothing was sent. */
export class CircuitOpenError extends MemlineError {
  static readonly CODE = 'ERR_CIRCUIT_OPEN';
  declare readonly code: 'ERR_CIRCUIT_OPEN';
  constructor(message: string, options?: MemlineErrorOptions) {
    super('ERR_CIRCUIT_OPEN', message, options);
  }
}

/** A pending-request or queued-bytes bound was hit; nothing was sent. */
export class QueueFullError extends MemlineError {
  static readonly CODE = 'ERR_QUEUE_FULL';
  declare readonly code: 'ERR_QUEUE_FULL';
  constructor(message: string, options?: MemlineErrorOptions) {
    super('ERR_QUEUE_FULL', message, options);
  }
}

/** The TLS handshake or certificate verification failed. */
export class TlsError extends MemlineError {
  static readonly CODE = 'ERR_TLS';
  declare readonly code: 'ERR_TLS';
  constructor(message: string, options?: MemlineErrorOptions) {
    super('ERR_TLS', message, options);
  }
}

/** The server refused the credentials. */
export class AuthError extends MemlineError {
  static readonly CODE = 'ERR_AUTH';
  declare readonly code: 'ERR_AUTH';
  constructor(message: string, options?: MemlineErrorOptions) {
    super('ERR_AUTH', message, options);
  }
}

/** The client (or connection) was closed or destroyed. */
export class ClientClosedError extends MemlineError {
  static readonly CODE = 'ERR_CLIENT_CLOSED';
  declare readonly code: 'ERR_CLIENT_CLOSED';
  constructor(message: string, options?: MemlineErrorOptions) {
    super('ERR_CLIENT_CLOSED', message, options);
  }
}

/**
 * A bulk call in which some keys failed. `results` holds what succeeded, `errors` maps each failed
 * key to its error.
 */
export class PartialResultError<R = unknown> extends MemlineError {
  static readonly CODE = 'ERR_PARTIAL_RESULT';
  declare readonly code: 'ERR_PARTIAL_RESULT';
  readonly results: R;
  readonly errors: Map<string, MemlineError>;
  constructor(message: string, results: R, errors: Map<string, MemlineError>) {
    let mayHaveExecuted = false;
    for (const e of errors.values()) mayHaveExecuted ||= e.mayHaveExecuted;
    super('ERR_PARTIAL_RESULT', message, { mayHaveExecuted });
    this.results = results;
    this.errors = errors;
  }
}
