/**
 * The error a promise rejects with, for tests that look at its code and flags.
 */
import type { MemlineError } from '../../lib/errors.js';

/** Awaits `promise`, which must reject, and returns its error (typed as a memline error). */
export async function rejection(promise: Promise<unknown>): Promise<MemlineError> {
  try {
    await promise;
  } catch (err) {
    return err as MemlineError;
  }
  throw new Error('expected a rejection');
}
