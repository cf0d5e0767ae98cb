/**
 * `--verbose`: the client's log (connection failures, breaker changes, server list changes) through a
 * pino logger, as JSON lines on stderr so stdout stays the command's output. pino is an optional peer
 * dependency: loaded only for --verbose, with a plain message when it is not installed.
 */
import type { pino as Pino } from 'pino';
import type { Logger } from '../../protocols/memcached-meta/index.js';
import { UsageError } from './argv.js';

export async function verboseLogger(): Promise<Logger> {
  let pino: typeof Pino;
  try {
    ({ pino } = await import('pino'));
  } catch (err) {
    throw new UsageError('--verbose needs the pino package (npm install pino)', { cause: err });
  }
  // Synchronous writes: a short-lived CLI exits right after the command, and nothing may be lost.
  const logger: Logger = pino({ name: 'memline', level: 'debug' }, pino.destination({ dest: 2, sync: true }));
  return logger;
}
