/**
 * A command is data: its name, help, options and how many arguments it takes, plus a `run` that calls
 * the library and prints. `main.ts` parses the line against this, builds the client and maps errors to
 * exit statuses; the help is rendered from the same rows.
 */
import type { MemcacheClient } from '../../protocols/memcached-meta/index.js';
import type { GlobalOptions, OptionTable } from './argv.js';
import type { ExitCode, Output } from './output.js';

export interface Context {
  /**
   * A client over every server, with the global options applied and the circuit breaker off (every
   * call reaches its server). Commands that ask each server on its own pass the per-call `server`
   * option: see per-server.ts.
   */
  client: MemcacheClient;
  global: GlobalOptions;
  /** The command's positional arguments. */
  args: string[];
  /** The command's own options, by name. */
  flags: Record<string, string | boolean | undefined>;
  out: Output;
  /** Fires on Ctrl-C for commands marked `interruptible`. */
  signal: AbortSignal;
  /** Reads stdin to its end (for `set <key> -`). */
  stdin: () => Promise<Buffer>;
}

export interface Command {
  name: string;
  /** `<key> [delta]`: the arguments, as shown in the help. */
  synopsis: string;
  /** One line for the command list. */
  summary: string;
  /** Paragraphs after the usage line. */
  description: string;
  options: OptionTable;
  /** How many positional arguments it accepts. */
  arity: { min: number; max: number };
  /**
   * Changes data on the server: an error after the request was sent (a timeout, a lost connection)
   * then says the change may have been made all the same.
   */
  writes?: boolean;
  /** Runs until Ctrl-C (or its own end): Ctrl-C then aborts `signal` instead of killing the process. */
  interruptible?: boolean;
  run(ctx: Context): Promise<ExitCode>;
}
