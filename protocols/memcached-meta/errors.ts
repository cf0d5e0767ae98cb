/**
 * The errors only the memcached client produces. They are {@link MemlineError}s like the others
 * (same brand, so `instanceof` works across copies) and join {@link MemlineErrorMap}, so
 * `isMemlineError(err) && err.code === 'ERR_NOT_NUMERIC'` narrows to {@link NotNumericError}.
 */
import { MemlineError, type MemlineErrorOptions } from '../../lib/errors.js';

/**
 * `incr`/`decr` on a value that is not a decimal number (`CLIENT_ERROR cannot increment or
 * decrement non-numeric value`). The stream stays in step: only this request fails, the connection
 * is kept.
 */
export class NotNumericError extends MemlineError {
  static readonly CODE = 'ERR_NOT_NUMERIC';
  declare readonly code: 'ERR_NOT_NUMERIC';
  constructor(message: string, options?: MemlineErrorOptions) {
    super('ERR_NOT_NUMERIC', message, options);
  }
}

/** A compare-and-swap loop (`update`) lost the race more often than its retry budget allows. */
export class CasConflictError extends MemlineError {
  static readonly CODE = 'ERR_CAS_CONFLICT';
  declare readonly code: 'ERR_CAS_CONFLICT';
  constructor(message: string, options?: MemlineErrorOptions) {
    super('ERR_CAS_CONFLICT', message, options);
  }
}

declare module '../../lib/errors.js' {
  interface MemlineErrorMap {
    ERR_NOT_NUMERIC: NotNumericError;
    ERR_CAS_CONFLICT: CasConflictError;
  }
}
