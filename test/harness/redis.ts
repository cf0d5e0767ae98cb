/**
 * Real `redis-server` processes for the integration tests (Debian's package; `scripts/setup.sh`
 * installs it), saving nothing to disk: a configuration of the shared child-process harness.
 */
import {
  exchange,
  HOST,
  ServerProcess,
  startServer,
  stopServers,
  type ServerConfig,
} from './server-process.js';

/** Options for {@link startRedis}. */
export interface RedisOptions {
  /** Extra command-line arguments (`['--requirepass', 'pw']`), appended last. */
  args?: string[];
}

/** One redis-server child process on 127.0.0.1, started by {@link startRedis}. */
export class RedisProcess extends ServerProcess {
  /**
   * Sends one command on a fresh connection, as RESP written by hand here (not by the codec under
   * test), and returns the raw reply once `until` says it is complete.
   */
  async command(
    args: (string | Buffer)[],
    until: (reply: Buffer) => boolean = endsWithCrlf,
  ): Promise<Buffer> {
    const [reply] = await exchange(this.port, [{ write: encode(args), until }]);
    return reply;
  }
}

/** Starts redis-server on 127.0.0.1 on a free port and resolves once INFO answers with its own PID. */
export function startRedis(options: RedisOptions = {}): Promise<RedisProcess> {
  const extra = options.args ?? [];
  const password = extra[extra.indexOf('--requirepass') + 1];
  const login = extra.includes('--requirepass')
    ? [{ write: encode(['AUTH', password]), until: endsWithCrlf }]
    : [];
  const config: ServerConfig = {
    program: 'redis-server',
    args: ([port]) => [
      ...['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      ...extra,
    ],
    probePid: async ([port], probe) => {
      const replies = await exchange(
        port,
        [...login, { write: encode(['INFO', 'server']), until: isCompleteBulk }],
        probe,
      );
      return Number(/process_id:(\d+)/.exec(replies.at(-1)!.toString('latin1'))?.[1]);
    },
    captureStdout: true,
  };
  return startServer(RedisProcess, config);
}

/** Stops every redis-server this module started. */
export function stopAllRedis(): Promise<void> {
  return stopServers((s) => s instanceof RedisProcess);
}

/** RESP by hand: an array of bulk strings. */
function encode(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

function endsWithCrlf(reply: Buffer): boolean {
  return reply.length >= 2 && reply[reply.length - 2] === 0x0d && reply[reply.length - 1] === 0x0a;
}

/** A `$<n>` bulk reply that has all its bytes (or any one-line reply). */
function isCompleteBulk(reply: Buffer): boolean {
  const m = /^\$(\d+)\r\n/.exec(reply.toString('latin1'));
  if (m === null) return endsWithCrlf(reply);
  return reply.length >= m[0].length + Number(m[1]) + 2;
}
