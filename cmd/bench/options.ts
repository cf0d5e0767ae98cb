/**
 * The benchmark's command line.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { integer, parseFlags, subset, UsageError } from '../shared/options.js';
import {
  BASELINE_ENTRY,
  CELLS,
  CLIENTS,
  DEFAULT_CELLS,
  FULL,
  QUICK,
  type CellSpec,
  type ClientName,
  type Timing,
} from './cells.js';

export interface BenchOptions {
  quick: boolean;
  clients: ClientName[];
  cells: CellSpec[];
  timing: Timing;
  /** Run memline's worker under `node --cpu-prof`, one profile per cell. */
  cpuProf: boolean;
  /** A checkout whose built memline (`dist/`) runs as `memline-baseline` beside this one. */
  baseline?: string;
  /** Measure heap per pending request and heap over a long run. */
  memory: boolean;
  /** Pin memcached and the clients to different cores with taskset. */
  pin: boolean;
  /** The arguments as given, for the report. */
  argv: string[];
}

export const USAGE = `usage: npm run bench -- [options]

Measures memline side by side with two raw pipelined sockets (the ceilings: the minimal requests, and
the requests memline's contract needs) and the other Node clients
(memjs, memcached, memcache-client, memcache) against memcached processes it starts itself (-t 1, free
loopback ports, stopped by PID), with memcached and the clients pinned to different cores. Writes a
Markdown and a JSON report to bench-results/ and prints the Markdown.

  --quick              short runs (${QUICK.repeats} × ${QUICK.durationMs} ms per cell), for checking a change: a few minutes
                       (pick cells with --cells for less)
                       (full mode: ${FULL.repeats} × ${FULL.durationMs} ms, about 10 minutes)
  --clients <list>     comma-separated subset of: ${CLIENTS.join(', ')}
                       (default: all; memline-coalesce, coalescing on, and memline-near, with a
                       near cache too, run only in the hot-key cell zipf-200; memline-signal, every
                       call passing one shared AbortSignal, only in get-50 and get-500;
                       raw-promise, the contract socket with a promise per call, only in the
                       get and set cells at 50 and 500 in flight, latency-50 and the inproc- cells)
  --cells <list>       comma-separated subset of: ${CELLS.map((c) => c.id).join(', ')}
                       (default: all but the inproc- cells, which run the clients against an
                       in-memory memcached in their own process: each client's own CPU per call,
                       without system calls or a server, for measuring a change with --baseline)
  --repeats <n>        timed runs per client and cell (overrides the mode)
  --duration <ms>      length of one timed run (overrides the mode)
  --cpu-prof           run memline's cells under node --cpu-prof, one profile per cell, written to
                       bench-results/ with a summary of the top self-time functions; without
                       --clients only memline runs
  --baseline <dir>     also run the memline built in <dir> (another checkout, after \`npm run build\`)
                       as memline-baseline, interleaved with this one in every cell memline runs
                       in, and report this build ÷ that one: a change measured before and after
                       in one run
  --no-memory          skip the heap measurements
  --no-pin             do not pin processes to cores
  -h, --help           this text

Exit code 0 when every client that ran read only correct values, 1 otherwise, 2 for a bad command line.`;

export { UsageError };

/** The options, or `'help'`. Throws {@link UsageError}. */
export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const values = parseFlags(argv, {
    quick: { type: 'boolean', default: false },
    clients: { type: 'string' },
    cells: { type: 'string' },
    repeats: { type: 'string' },
    duration: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    baseline: { type: 'string' },
    'no-memory': { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return 'help';
  const cpuProf = values['cpu-prof'];
  const timing = { ...(values.quick ? QUICK : FULL) };
  if (values.repeats !== undefined) timing.repeats = integer('--repeats', values.repeats, 1, 100);
  if (values.duration !== undefined) timing.durationMs = integer('--duration', values.duration, 50, 600_000);
  const clients =
    values.clients !== undefined
      ? subset('--clients', values.clients, CLIENTS, (c) => c)
      : cpuProf
        ? (['memline'] as ClientName[])
        : [...CLIENTS];
  let baseline: string | undefined;
  if (values.baseline !== undefined) {
    baseline = resolve(values.baseline);
    if (!existsSync(join(baseline, BASELINE_ENTRY))) {
      throw new UsageError(
        `--baseline: ${values.baseline} has no ${BASELINE_ENTRY} (run npm run build there)`,
      );
    }
    if (!clients.includes('memline-baseline')) clients.push('memline-baseline');
  } else if (values.clients !== undefined && clients.includes('memline-baseline')) {
    throw new UsageError('--clients memline-baseline needs --baseline <dir>');
  }
  return {
    quick: values.quick,
    clients,
    ...(baseline === undefined ? {} : { baseline }),
    cells:
      values.cells !== undefined ? subset('--cells', values.cells, CELLS, (c) => c.id) : [...DEFAULT_CELLS],
    timing,
    cpuProf,
    memory: !values['no-memory'] && clients.includes('memline'),
    pin: !values['no-pin'],
    argv,
  };
}
