/**
 * The soak's command line.
 */
import { randomInt } from 'node:crypto';
import { integer, number, parseFlags, UsageError } from '../shared/options.js';

export interface SoakOptions {
  /** Seconds of load. */
  duration: number;
  /** Local memcached processes to start. */
  servers: number;
  /** Operations in flight at once (one loop each). */
  concurrency: number;
  /** Whether to stop and kill servers on a schedule. */
  faults: boolean;
  /** Seconds between the starts of two faults. */
  faultEvery: number;
  /** Seeds the operation mix and the fault schedule. */
  seed: number;
  /** Print the summary as JSON on stdout (progress and faults then go to stderr). */
  json: boolean;
  /** The event log's file (pino JSON lines), or undefined for none. */
  log: string | undefined;
}

export const USAGE = `usage: npm run soak -- [options]

Runs a mixed workload against local memcached processes it starts (and stops, by PID), stops or
kills one server at a time on a seeded schedule, and checks that every value read back belongs to
the key that was asked for.

  --duration <s>       seconds of load (default 60)
  --servers <n>        local memcached processes to start on free loopback ports (default 3)
  --concurrency <n>    operations in flight at once (default 200)
  --faults <on|off>    SIGSTOP/SIGCONT and SIGKILL/restart one server at a time (default on)
  --fault-every <s>    seconds between the starts of two faults (default 5)
  --seed <n>           seed of the operation mix and the fault schedule (default: random, printed)
  --log <file>         also write every event, and the client's own log (connection failures,
                       breaker changes), to <file> as pino JSON lines (appended)
  --json               the summary as JSON on stdout; progress goes to stderr
                       (npm prints a banner on stdout: use npm run -s soak -- --json)
  -h, --help           this text

Exit code 0 when no value was read for another key, nothing hung, and every error was one that
faults explain (ERR_TIMEOUT, ERR_CONNECTION, ERR_CIRCUIT_OPEN, ERR_PARTIAL_RESULT, ERR_QUEUE_FULL);
1 otherwise; 2 for a bad command line.`;

export { UsageError };

/** The options, or `'help'` when `--help` was given. Throws {@link UsageError}. */
export function parseOptions(argv: string[]): SoakOptions | 'help' {
  const values = parseFlags(argv, {
    duration: { type: 'string', default: '60' },
    servers: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '200' },
    faults: { type: 'string', default: 'on' },
    'fault-every': { type: 'string', default: '5' },
    seed: { type: 'string' },
    json: { type: 'boolean', default: false },
    log: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return 'help';
  if (values.faults !== 'on' && values.faults !== 'off') {
    throw new UsageError(`--faults must be on or off, not ${JSON.stringify(values.faults)}`);
  }
  return {
    duration: number('--duration', values.duration, 0.1, 7 * 24 * 3600),
    servers: integer('--servers', values.servers, 1, 64),
    concurrency: integer('--concurrency', values.concurrency, 1, 100_000),
    faults: values.faults === 'on',
    faultEvery: number('--fault-every', values['fault-every'], 0.5, 24 * 3600),
    seed: values.seed === undefined ? randomInt(2 ** 32) : integer('--seed', values.seed, 0, 2 ** 32 - 1),
    json: values.json,
    log: values.log,
  };
}
