/**
 * memline's command line: global options, the command's own options, and checked numbers. Global
 * options may stand before or after the command (`memline --json get k` = `memline get k --json`).
 */
import { parseArgs } from 'node:util';
import type {
  DistributionKind,
  MemcacheClientOptions,
  ServerSpec,
} from '../../protocols/memcached-meta/index.js';
import type { PoolInfo } from './config.js';

/** One option of a command (or a global one): what parseArgs needs plus a line of help. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in the help, e.g. `ms`. */
  arg?: string;
  description: string;
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** The distributions `--distribution` takes by name. */
const DISTRIBUTIONS: readonly DistributionKind[] = ['ketama', 'jump', 'modula', 'proxy'];

export const GLOBAL_OPTIONS: OptionTable = {
  servers: {
    type: 'string',
    arg: 'host:port[*w],…',
    description: 'the servers, *w a ketama weight (else $MEMLINE_SERVERS)',
  },
  config: {
    type: 'string',
    arg: 'file.json',
    description: 'pools and a route tree (JSON) instead of --servers: see below',
  },
  distribution: { type: 'string', arg: 'kind', description: 'ketama (default), jump, modula or proxy' },
  timeout: { type: 'string', arg: 'ms', description: 'per-request timeout, connecting included (1000)' },
  prefix: { type: 'string', arg: 'prefix', description: 'prepended to every key (keyPrefix)' },
  tls: { type: 'boolean', description: 'connect with TLS (implied by every --tls-* option)' },
  'tls-ca': {
    type: 'string',
    arg: 'file',
    description: "PEM CA certificates to trust instead of the system's",
  },
  'tls-cert': { type: 'string', arg: 'file', description: 'PEM client certificate (mutual TLS)' },
  'tls-key': { type: 'string', arg: 'file', description: 'PEM private key of --tls-cert' },
  'tls-servername': { type: 'string', arg: 'name', description: 'name to verify the certificate against' },
  'tls-insecure': {
    type: 'boolean',
    description: 'accept any certificate (open to interception; tests only)',
  },
  username: { type: 'string', arg: 'name', description: 'memcached -Y username (else $MEMLINE_USERNAME)' },
  password: {
    type: 'string',
    arg: 'password',
    description: 'its password (prefer $MEMLINE_PASSWORD: argv is visible to ps)',
  },
  json: { type: 'boolean', description: 'machine-readable output on stdout' },
  verbose: {
    type: 'boolean',
    short: 'v',
    description: "memline's own log (connections, breaker, discovery) as pino JSON lines on stderr",
  },
  help: { type: 'boolean', short: 'h', description: 'this help; `memline <command> --help` for one' },
  version: { type: 'boolean', description: "memline's own version" },
};

/** The server list used when neither `--servers` nor `MEMLINE_SERVERS` gives one. */
export const DEFAULT_SERVER = '127.0.0.1:11211';

/** A command line memline cannot run; `message` says what is wrong. */
export class UsageError extends Error {}

/** Where the servers came from, so the default can be announced. */
export type ServerSource = '--servers' | 'MEMLINE_SERVERS' | '--config' | 'default';

/** TLS as given on the command line: file names, read when the client is built. */
export interface TlsFlags {
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  insecure: boolean;
}

export interface GlobalOptions {
  /**
   * Each server's address as shown and keyed in the output (`host:port`, without its weight). With
   * `--config`, empty until the client is built; then every server of every pool, in the client's order.
   */
  servers: string[];
  /** What the client is given, in the same order: the string as typed, or `{ host, port, weight }`. */
  serverSpecs: ServerSpec[];
  serverSource: ServerSource;
  /** The `--config` file, whose pools and route replace the server list. */
  config: string | undefined;
  /** With `--config`: each pool, filled in once the client accepted the file. */
  pools: ReadonlyMap<string, PoolInfo> | undefined;
  distribution: DistributionKind;
  timeout: number;
  keyPrefix: string | undefined;
  /** undefined: plain TCP. */
  tls: TlsFlags | undefined;
  auth: MemcacheClientOptions['auth'];
  json: boolean;
  /** Log the client's events through a pino logger to stderr. */
  verbose: boolean;
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
  const config = values.config as string | undefined;
  if (config !== undefined && (fromFlag ?? fromEnv) !== undefined) {
    const other = fromFlag !== undefined ? '--servers' : 'MEMLINE_SERVERS';
    throw new UsageError(`--config and ${other} both give the servers: use one of them`);
  }
  const serverSource: ServerSource =
    config !== undefined
      ? '--config'
      : fromFlag !== undefined
        ? '--servers'
        : fromEnv !== undefined
          ? 'MEMLINE_SERVERS'
          : 'default';
  const list = config !== undefined ? '' : (fromFlag ?? fromEnv ?? DEFAULT_SERVER);
  const entries = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => serverEntry(s, serverSource));
  if (entries.length === 0 && config === undefined) throw new UsageError(`${serverSource} names no server`);

  const distribution = ((values.distribution as string | undefined) ?? 'ketama') as DistributionKind;
  if (!DISTRIBUTIONS.includes(distribution)) {
    throw new UsageError(
      `--distribution must be ketama, jump, modula or proxy, not ${JSON.stringify(distribution)}`,
    );
  }
  const timeout = values.timeout;
  return {
    servers: entries.map((e) => e.address),
    serverSpecs: entries.map((e) => e.spec),
    serverSource,
    config,
    pools: undefined,
    distribution,
    timeout: timeout === undefined ? 1000 : integer('--timeout', timeout as string, 1, 3_600_000),
    keyPrefix: values.prefix as string | undefined,
    tls: tlsFlags(values),
    auth: authFlags(values, env),
    json: values.json === true,
    verbose: values.verbose === true,
    help: values.help === true,
    version: values.version === true,
  } satisfies GlobalOptions;
}

/**
 * One server of the list: `host:port` as typed (the client parses it), or `host:port*weight`, given
 * to the client as `{ host, port, weight }`.
 */
function serverEntry(text: string, source: ServerSource): { address: string; spec: ServerSpec } {
  const star = text.lastIndexOf('*');
  if (star === -1) return { address: text, spec: text };
  const address = text.slice(0, star);
  const weight = integer(`the weight of ${address} in ${source}`, text.slice(star + 1), 1, 1_000_000);
  const m = /^(?:\[([^\]\s]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address);
  if (m === null) {
    throw new UsageError(`${source}: "${text}" is not host:port*weight (IPv6: [addr]:port*weight)`);
  }
  const host = m[1] ?? m[2];
  const port = Number(m[3]);
  return { address: m[1] === undefined ? address : `[${host}]:${port}`, spec: { host, port, weight } };
}

function tlsFlags(values: Record<string, string | boolean | undefined>): TlsFlags | undefined {
  const flags = {
    ca: values['tls-ca'] as string | undefined,
    cert: values['tls-cert'] as string | undefined,
    key: values['tls-key'] as string | undefined,
    servername: values['tls-servername'] as string | undefined,
    insecure: values['tls-insecure'] === true,
  };
  const any = Object.values(flags).some((v) => v !== undefined && v !== false);
  if (!any && values.tls !== true) return undefined;
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together');
  }
  return flags;
}

function authFlags(
  values: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
): MemcacheClientOptions['auth'] {
  const username = (values.username as string | undefined) ?? (env.MEMLINE_USERNAME || undefined);
  const password = (values.password as string | undefined) ?? env.MEMLINE_PASSWORD;
  if (username === undefined) {
    if (values.password !== undefined) throw new UsageError('--password needs --username');
    return undefined;
  }
  if (password === undefined) {
    throw new UsageError(`--username ${username} needs a password: $MEMLINE_PASSWORD or --password`);
  }
  return { username, password };
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
