/** The error a replicated write rejects with when some pools did not take it. */
import { MemlineError, type MemlineErrorOptions } from '../../../lib/errors.js';

/**
 * A replicated write that some pools did not take (`write: 'all'`: any; `'majority'`: half or more).
 * The pools that took it keep the value: `succeeded` names them, `failed` gives each other pool's
 * error. `mayHaveExecuted` is always true.
 */
export class PartialWriteError extends MemlineError {
  static readonly CODE = 'ERR_PARTIAL_WRITE';
  declare readonly code: 'ERR_PARTIAL_WRITE';
  constructor(
    message: string,
    /** The pools that took the write. */
    readonly succeeded: readonly string[],
    /** Each pool that did not, with its error. */
    readonly failed: ReadonlyMap<string, MemlineError>,
    options?: MemlineErrorOptions,
  ) {
    super('ERR_PARTIAL_WRITE', message, { mayHaveExecuted: true, ...options });
  }
}

declare module '../../../lib/errors.js' {
  interface MemlineErrorMap {
    ERR_PARTIAL_WRITE: PartialWriteError;
  }
}
