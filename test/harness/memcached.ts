/** Real memcached processes on 127.0.0.1: a configuration of the shared child-process harness. */
import {
  endsWith,
  exchange,
  HOST,
  ServerProcess,
  startServer,
  stopServers,
  type ExchangeOptions,
  type ExchangeStep,
  type ServerConfig,
} from './server-process.js';

export { isStopped } from './server-process.js';

/** Options for {@link startMemcached}. */
export interface MemcachedOptions {
  /** Extra command-line arguments, appended last. */
  args?: string[];
  /** Port to listen on; a free one is picked when absent (and re-picked if another program takes it first). */
  port?: number;
  /** `-m`, item memory in megabytes. @default 64 */
  memoryMb?: number;
  /** `-t`, worker threads. @default 1 */
  threads?: number;
}

/** Options for {@link MemcachedProcess.command}. */
export interface CommandOptions {
  /** Stop reading once the received bytes end with this. Without it, the socket is half-closed after the
   * write and everything until memcached closes it is returned. */
  until?: string | Buffer;
  /** Reject if the reply is not complete by then. @default 5000 */
  timeoutMs?: number;
}

/** One memcached child process on 127.0.0.1, started by {@link startMemcached}. */
export class MemcachedProcess extends ServerProcess {
  /** `stats` over a fresh connection, as raw name → value strings. */
  async stats(): Promise<Record<string, string>> {
    return parseStats(await this.command('stats\r\n', { until: 'END\r\n' }));
  }

  /** Writes raw bytes on a fresh connection and returns the raw reply (see {@link CommandOptions}). */
  async command(bytes: string | Buffer, options: CommandOptions = {}): Promise<Buffer> {
    const until = options.until === undefined ? undefined : endsWith(options.until);
    const [reply] = await exchange(this.port, [{ write: bytes, until }], options);
    return reply;
  }
}

/** Starts memcached on 127.0.0.1 and resolves once it answers `stats` with its own PID. */
export function startMemcached(options: MemcachedOptions = {}): Promise<MemcachedProcess> {
  const config: ServerConfig = {
    program: 'memcached',
    args: ([port]) => [
      // `-p` too, so that `stats settings` reports the port the server listens on.
      ...memcachedArgs(HOST, options.threads ?? 1, options.memoryMb ?? 64),
      '-p',
      String(port),
      ...(options.args ?? []),
    ],
    probePid: ([port], probe) => memcachedPid(port, [], probe),
  };
  return startServer(MemcachedProcess, config, options.port === undefined ? undefined : [options.port]);
}

/** Stops every memcached this module started. */
export function stopAllMemcached(): Promise<void> {
  return stopServers((s) => s instanceof MemcachedProcess);
}

/** The arguments every test memcached gets: `-l listen`, no UDP, `-t`, `-m`, and `-u root` under root. */
export function memcachedArgs(listen: string, threads: number, memoryMb: number): string[] {
  const args = ['-l', listen, '-U', '0', '-t', String(threads), '-m', String(memoryMb)];
  if (process.getuid?.() === 0) args.push('-u', 'root');
  return args;
}

/** The readiness probe: `STAT pid` from `stats` on `port`, after the `before` steps (a login). */
export async function memcachedPid(
  port: number,
  before: ExchangeStep[],
  options: ExchangeOptions,
): Promise<number> {
  const replies = await exchange(
    port,
    [...before, { write: 'stats\r\n', until: endsWith('END\r\n') }],
    options,
  );
  return Number(parseStats(replies.at(-1)!).pid);
}

/** A `stats` reply as raw name → value strings. */
export function parseStats(reply: Buffer): Record<string, string> {
  const stats: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const line of reply.toString('latin1').split('\r\n')) {
    const m = /^STAT (\S+) (.*)$/.exec(line);
    if (m) stats[m[1]] = m[2]!;
  }
  return stats;
}
