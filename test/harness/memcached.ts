import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { waitFor } from './resources.js';
import net from 'node:net';

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

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 5000;
const STOP_GRACE_MS = 2000;
const PORT_ATTEMPTS = 4;
const STDERR_LIMIT = 16 * 1024;

const started = new Set<MemcachedProcess>();

// Last resort for a suite that forgot to stop a server: 'exit' handlers must be synchronous.
process.on('exit', () => {
  for (const m of started) if (m.running) signal(m.pid, 'SIGKILL');
});

/** One memcached child process on 127.0.0.1, started by {@link startMemcached}. */
export class MemcachedProcess {
  readonly host = HOST;
  readonly address: string;
  #child: ChildProcess;
  #exited: Promise<void>;

  /** @internal Use {@link startMemcached}. */
  constructor(
    readonly port: number,
    private readonly argv: string[],
    launched: Launched,
  ) {
    this.address = `${HOST}:${port}`;
    this.#child = launched.child;
    this.#exited = launched.exited;
  }

  /** The PID of the current process (a new one after {@link restart}). */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Whether the current process has not exited yet. */
  get running(): boolean {
    return isRunning(this.#child);
  }

  /** SIGTERM (then SIGKILL after 2 s); resolves once the process has exited. Idempotent. */
  async stop(): Promise<void> {
    if (!this.running) return this.#exited;
    signal(this.pid, 'SIGTERM');
    signal(this.pid, 'SIGCONT'); // a paused process would not act on SIGTERM
    const timer = setTimeout(() => signal(this.pid, 'SIGKILL'), STOP_GRACE_MS);
    try {
      await this.#waitExit();
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `sig` and resolves once the process has exited. */
  async kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return this.#exited;
    signal(this.pid, sig);
    if (sig !== 'SIGKILL') signal(this.pid, 'SIGCONT');
    await this.#waitExit();
  }

  /**
   * SIGSTOP: the process keeps its sockets but answers nothing until {@link resume}. Resolves once
   * every thread has stopped (the signal is delivered asynchronously, so a request sent right after
   * `kill()` returned could still be answered).
   */
  async pause(): Promise<void> {
    signal(this.pid, 'SIGSTOP');
    await waitFor(() => isStopped(this.pid), 2000);
  }

  /** SIGCONT, undoing {@link pause}. */
  resume(): void {
    signal(this.pid, 'SIGCONT');
  }

  /** Starts a new process on the same port with the same arguments (stopping the current one first if it
   * still runs) and resolves once it answers. */
  async restart(): Promise<void> {
    await this.stop();
    const launched = await launchReady(this.port, this.argv);
    this.#child = launched.child;
    this.#exited = launched.exited;
    started.add(this);
  }

  /** `stats` over a fresh connection, as raw name → value strings. */
  async stats(): Promise<Record<string, string>> {
    const reply = await this.command('stats\r\n', { until: 'END\r\n' });
    const stats: Record<string, string> = {};
    for (const line of reply.toString('latin1').split('\r\n')) {
      const m = /^STAT (\S+) (.*)$/.exec(line);
      if (m) stats[m[1]] = m[2]!;
    }
    return stats;
  }

  /** Writes raw bytes on a fresh connection and returns the raw reply (see {@link CommandOptions}). */
  command(bytes: string | Buffer, options: CommandOptions = {}): Promise<Buffer> {
    return rawCommand(this.port, bytes, options);
  }

  async #waitExit(): Promise<void> {
    this.#child.ref(); // the child is unref'd; keep the loop alive while someone awaits its exit
    await this.#exited;
  }
}

/** Starts memcached on 127.0.0.1 and resolves once it answers `version`. */
export async function startMemcached(options: MemcachedOptions = {}): Promise<MemcachedProcess> {
  const argv = ['-U', '0', '-t', String(options.threads ?? 1), '-m', String(options.memoryMb ?? 64)];
  if (process.getuid?.() === 0) argv.push('-u', 'root');
  argv.push(...(options.args ?? []));

  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      const launched = await launchReady(port, argv);
      const m = new MemcachedProcess(port, argv, launched);
      started.add(m);
      return m;
    } catch (err) {
      if (!(err instanceof PortTakenError) || options.port !== undefined || attempt >= PORT_ATTEMPTS)
        throw err;
    }
  }
}

/** Stops every memcached this module started. */
export async function stopAllMemcached(): Promise<void> {
  await Promise.all([...started].map((m) => m.stop()));
  started.clear();
}

class PortTakenError extends Error {}

interface Launched {
  child: ChildProcess;
  exited: Promise<void>;
}

async function launchReady(port: number, argv: string[]): Promise<Launched> {
  const child = spawn('memcached', ['-l', HOST, '-p', String(port), ...argv], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const pipe = child.stderr as net.Socket;
  pipe.setEncoding('utf8');
  pipe.on('data', (s: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += s;
  });
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => resolve()); // after 'exit' and the end of stderr
    child.once('error', (err) => {
      spawnError = err;
      resolve();
    });
  }).then(() => void pipe.destroy());
  // Neither the process nor its pipe may hold the event loop open; the 'exit' hook kills what is left.
  child.unref();
  pipe.unref();

  const fail = async (why: string, Kind: new (message: string) => Error = Error): Promise<never> => {
    if (isRunning(child)) signal(child.pid!, 'SIGKILL');
    child.ref();
    await exited;
    const detail = spawnError ? `${spawnError.message}\n` : '';
    throw new Kind(`memcached on port ${port} ${why}\n${detail}stderr: ${stderr.trim() || '(empty)'}`);
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (let backoff = 5; isRunning(child) && Date.now() < deadline; backoff = Math.min(backoff * 2, 50)) {
    if (await answersVersion(port, Math.min(500, deadline - Date.now()), exited)) {
      // Another memcached may own this port (our child then exits with EADDRINUSE): check whose it is.
      const stats = await rawCommand(port, 'stats\r\n', { until: 'END\r\n' }).catch(() => Buffer.alloc(0));
      if (Number(/STAT pid (\d+)/.exec(stats.toString())?.[1]) === child.pid) return { child, exited };
      return fail('was answered by another process', PortTakenError);
    }
    await new Promise((resolve) => setTimeout(resolve, backoff));
  }
  if (isRunning(child)) return fail(`did not answer within ${READY_TIMEOUT_MS} ms`);
  await exited;
  const kind = /Address already in use/.test(stderr) ? PortTakenError : Error;
  return fail(`exited early (code ${child.exitCode}, signal ${child.signalCode})`, kind);
}

/** Connects once and sends `version`; true if a `VERSION ` line comes back within `timeoutMs` and
 * before `exited` settles (whoever holds the port may never answer). */
function answersVersion(port: number, timeoutMs: number, exited: Promise<void>): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    let reply = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    void exited.then(() => done(false));
    socket.on('connect', () => socket.write('version\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (/^VERSION .*\r\n/.test(reply)) done(true);
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

function rawCommand(port: number, bytes: string | Buffer, options: CommandOptions): Promise<Buffer> {
  const until = options.until === undefined ? undefined : Buffer.from(options.until);
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(() => {
      const got = JSON.stringify(Buffer.concat(chunks).toString('latin1'));
      finish(new Error(`no complete reply from ${HOST}:${port} within ${timeoutMs} ms; received ${got}`));
    }, timeoutMs);
    socket.on('connect', () => {
      if (until) socket.write(bytes);
      else socket.end(bytes); // memcached answers what it read, then closes on our FIN
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (until && Buffer.concat(chunks).subarray(-until.length).equals(until)) finish();
    });
    socket.on('end', () => {
      if (!until) finish();
    });
    socket.on('error', finish);
    socket.on('close', () =>
      finish(new Error(`connection to ${HOST}:${port} closed before the reply ended`)),
    );
  });
}

/** A port the OS just handed out for 127.0.0.1 and that is now free again. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: HOST, port: 0 }, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/** process.kill that ignores a process already gone. */
function signal(pid: number, sig: NodeJS.Signals): void {
  if (!(pid > 0)) return; // never 0 or -1: those address process groups
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Whether every thread of `pid` is stopped (state `T` in /proc/<pid>/task/<tid>/stat). */
export function isStopped(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).every((tid) =>
      /\) [Tt] /.test(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')),
    );
  } catch {
    return false;
  }
}
