/**
 * The soak's event log (`--log <file>`): a pino logger writing JSON lines to a file. Every event line
 * the soak prints goes there too, with its fields (the fault, the server, the PID), and the client
 * logs into it as well (connection failures, breaker changes), so one file tells what happened when.
 */
import { pino, type Logger } from 'pino';

export type EventLog = Logger;

/** A logger appending to `file` (created with its directory), flushed by {@link closeEventLog}. */
export function openEventLog(file: string): EventLog {
  return pino(
    // No pid and hostname on every line: the fields name memcached's PIDs.
    { name: 'memline-soak', level: 'debug', base: undefined },
    pino.destination({ dest: file, mkdir: true, append: true, sync: true }),
  );
}

/** Flushes what the log still holds; the destination is synchronous, so this is a safety net. */
export function closeEventLog(log: EventLog | undefined): void {
  log?.flush();
}
