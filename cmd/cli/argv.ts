/**
 * memline's command line: global options, the command's own options, and checked numbers. Global
 * options may stand before or after the command (`memline --json get k` = `memline get k --json`).
 */
import { parseArgs } from 'node:util';
import type { DistributionKind } from '../../protocols/memcached-meta/index.js';

/** One option of a command (or a global one): what parseArgs needs plus a line of help. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in the help, e.g. `ms`. */
  arg?: string;
  description: string;
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

export const GLOBAL_OPTIONS: OptionTable = {
  servers: { type: 'string', arg: 'host:port,…', description: 'the servers (else $MEMLINE_SERVERS)' },
  distribution: { type: 'string', arg: 'kind', description: 'ketama (default), jump or modula' },
  timeout: { type: 'string', arg: 'ms', description: 'per-request timeout, connecting included (1000)' },
  json: { type: 'boolean', description: 'machine-readable output on stdout' },
  help: { type: 'boolean', short: 'h', description: 'this help; `memline <command> --help` for one' },
  version: { type: 'boolean', description: "memline's own version" },
};

/** The server list used when neither `--servers` nor `MEMLINE_SERVERS` gives one. */
export const DEFAULT_SERVER = '127.0.0.1:11211';

/** A command line memline cannot run; `message` says what is wrong. */
export class UsageError extends Error {}

/** Where the servers came from, so the default can be announced. */
export type ServerSource = '--servers' | 'MEMLINE_SERVERS' | 'default';

export interface GlobalOptions {
  servers: string[];
  serverSource: ServerSource;
  distribution: DistributionKind;
  timeout: number;
  json: boolean;
  help: boolean;
  version: boolean;
}

export interface ParsedLine {
  /** The command's name, or undefined when none was given. */
  command: string | undefined;
  global: GlobalOptions;
  /** The command's own options, by name. */
  flags: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** The first token that is neither an option nor a global option's value: the command's name. */
export function findCommand(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '--') return -1;
    if (!token.startsWith('-') || token === '-') return i;
    const name = token.replace(/^--?/, '');
    if (GLOBAL_OPTIONS[name]?.type === 'string') i++; // `--servers a:1` (not `--servers=a:1`)
  }
  return -1;
}

/** Parses the whole line against the global options plus `commandOptions`. Throws {@link UsageError}. */
export function parseLine(
  argv: readonly string[],
  commandOptions: OptionTable,
  env: NodeJS.ProcessEnv,
): ParsedLine {
  const at = findCommand(argv);
  const command = at === -1 ? undefined : argv[at];
  const rest = at === -1 ? [...argv] : [...argv.slice(0, at), ...argv.slice(at + 1)];
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: toParseArgs({ ...GLOBAL_OPTIONS, ...commandOptions }),
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const flags: Record<string, string | boolean | undefined> = {};
  for (const name of Object.keys(commandOptions)) flags[name] = values[name];
  return { command, global: globalOptions(values, env), flags, positionals: parsed.positionals };
}

function globalOptions(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv) {
  const fromFlag = values.servers as string | undefined;
  const fromEnv = env.MEMLINE_SERVERS?.trim() || undefined;
  const serverSource: ServerSource =
    fromFlag !== undefined ? '--servers' : fromEnv !== undefined ? 'MEMLINE_SERVERS' : 'default';
  const list = fromFlag ?? fromEnv ?? DEFAULT_SERVER;
  const servers = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (servers.length === 0) throw new UsageError(`${serverSource} names no server`);

  const distribution = (values.distribution as string | undefined) ?? 'ketama';
  if (distribution !== 'ketama' && distribution !== 'jump' && distribution !== 'modula') {
    throw new UsageError(
      `--distribution must be ketama, jump or modula, not ${JSON.stringify(distribution)}`,
    );
  }
  const timeout = values.timeout;
  return {
    servers,
    serverSource,
    distribution,
    timeout: timeout === undefined ? 1000 : integer('--timeout', timeout as string, 1, 3_600_000),
    json: values.json === true,
    help: values.help === true,
    version: values.version === true,
  } satisfies GlobalOptions;
}

function toParseArgs(table: OptionTable) {
  const out: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, o] of Object.entries(table)) {
    out[name] = o.short === undefined ? { type: o.type } : { type: o.type, short: o.short };
  }
  return out;
}

/** A decimal integer in [min, max], or a {@link UsageError} naming `what`. */
export function integer(what: string, text: string, min: number, max: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) {
    throw new UsageError(`${what} must be an integer from ${min} to ${max}, not ${JSON.stringify(text)}`);
  }
  return n;
}

/** An unsigned 64-bit decimal integer, for counters. */
export function unsigned64(what: string, text: string): bigint {
  if (/^\d{1,20}$/.test(text) && BigInt(text) < 2n ** 64n) return BigInt(text);
  throw new UsageError(`${what} must be an integer from 0 to 2^64-1, not ${JSON.stringify(text)}`);
}
