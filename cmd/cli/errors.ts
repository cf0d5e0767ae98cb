/**
 * Which exit status a library error gets: a bad argument or a value the command cannot work on is
 * the caller's to fix (2, like a bad command line); anything else is a server or connection error (3).
 * Matched on the stable `code` strings, never on messages.
 */
import { Exit, type ExitCode } from './output.js';

/** The caller gave a bad argument: checked before any I/O, the same for every server. */
export const ARGUMENT_CODES: ReadonlySet<string> = new Set([
  'ERR_INVALID_KEY',
  'ERR_INVALID_ARGUMENT',
  'ERR_VALUE_TOO_LARGE',
]);

/** The data is not what the command needs (incr/decr on a value that is not a number). */
export const DATA_CODES: ReadonlySet<string> = new Set(['ERR_NOT_NUMERIC']);

/** The exit status of a MemlineError with this code. */
export function exitFor(code: string): ExitCode {
  return ARGUMENT_CODES.has(code) || DATA_CODES.has(code) ? Exit.USAGE : Exit.ERROR;
}
