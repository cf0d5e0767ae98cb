/**
 * Compile-time checks of the error types: a check of `code` narrows a memline error to its class,
 * without a cast. Checked by `tsc -p test/types/tsconfig.json` (npm run typecheck); never run.
 */
import type { MemlineError } from '../../protocols/memcached-meta/index.js';
import {
  isMemlineError,
  type AnyMemlineError,
  type ErrorCode,
  type Item,
  type TimeoutPhase,
} from '../../protocols/memcached-meta/index.js';
import { isMemlineError as isEngineError, type ErrorCode as EngineCode } from '../../lib/index.js';
import { RedisServerError } from '../../protocols/redis-resp/errors.js';

declare const err: unknown;

export function narrowsOnCode(): void {
  if (!isMemlineError(err)) return;
  // @ts-expect-error: only a timeout has a phase
  void err.phase;
  // @ts-expect-error: not a memline error code
  if (err.code === 'ERR_NO_SUCH_CODE') return;

  if (err.code === 'ERR_TIMEOUT') {
    const phase: TimeoutPhase = err.phase;
    void phase;
  }
  if (err.code === 'ERR_PARTIAL_RESULT') {
    const errors: Map<string, MemlineError> = err.errors;
    const results: unknown = err.results;
    void errors;
    void results;
  }
  // The memcached client's own errors narrow too, from the package root.
  if (err.code === 'ERR_NOT_NUMERIC' || err.code === 'ERR_CAS_CONFLICT') {
    const server: string | undefined = err.server;
    void server;
    // @ts-expect-error: neither has a phase
    void err.phase;
  }
  switch (err.code) {
    case 'ERR_TIMEOUT':
      void err.phase;
      break;
    case 'ERR_SERVER_ERROR':
      // A Redis error reply is a server error reply: its prefix is there once it is told apart.
      if (err instanceof RedisServerError) void err.prefix;
      break;
    default:
      break;
  }
}

/** Every code has its class: a switch over all of them is exhaustive. */
export function exhaustive(e: AnyMemlineError): string {
  const code: ErrorCode = e.code;
  return code;
}

export function memlineErrorIsAnError(e: AnyMemlineError): Error {
  const mayHaveExecuted: boolean = e.mayHaveExecuted;
  void mayHaveExecuted;
  return e;
}

export function partialResultsAreTyped(e: AnyMemlineError): void {
  if (e.code !== 'ERR_PARTIAL_RESULT') return;
  // results is unknown until the caller says what the bulk call returns
  // @ts-expect-error: unknown is not a Map
  void e.results.size;
  void (e.results as Map<string, Item>).size;
}

export function engineAlone(): void {
  if (!isEngineError(err)) return;
  const code: EngineCode = err.code;
  void code;
  if (err.code === 'ERR_TIMEOUT') void err.phase;
  // @ts-expect-error: a base MemlineError's code is not a free string
  const bad: MemlineError = { code: 'ERR_NO_SUCH_CODE' };
  void bad;
}
