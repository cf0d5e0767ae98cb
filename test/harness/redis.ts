/**
 * Real `redis-server` processes for the integration tests (Debian's package; `scripts/setup.sh`
 * installs it). Each listens on 127.0.0.1 on a free port picked by the OS, saves nothing to disk,
 * and is stopped by its own PID, never by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { isStopped } from './memcached.js';
import { waitFor } from './resources.js';

/** Options for {@link startRedis}. */
export interface RedisOptions {
  /** Extra command-line arguments (`['--requirepass', 'pw']`), appended last. */
  args?: string[];
}

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 5000;
const STOP_GRACE_MS = 2000;
const PORT_ATTEMPTS = 4;
const OUTPUT_LIMIT = 16 * 1024;

const started = new Set<RedisProcess>();

// Last resort for a suite that forgot to stop a server: 'exit' handlers must be synchronous.
process.on('exit', () => {
  for (const r of started) if (r.running) signal(r.pid, 'SIGKILL');
});

/** One redis-server child process on 127.0.0.1, started by {@link startRedis}. */
export class RedisProcess {
  readonly host = HOST;
  readonly address: string;
  #child: ChildProcess;
  #exited: Promise<void>;

  /** @internal Use {@link startRedis}. */
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
    signal(this.pid, 'SIGCONT');
    const timer = setTimeout(() => signal(this.pid, 'SIGKILL'), STOP_GRACE_MS);
    try {
      await this.#waitExit();
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `sig` (SIGKILL by default) and resolves once the process has exited. */
  async kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return this.#exited;
    signal(this.pid, sig);
    if (sig !== 'SIGKILL') signal(this.pid, 'SIGCONT');
    await this.#waitExit();
  }

  /** SIGSTOP: the process keeps its sockets but answers nothing until {@link resume}. */
  async pause(): Promise<void> {
    signal(this.pid, 'SIGSTOP');
    await waitFor(() => isStopped(this.pid), 2000);
  }

  /** SIGCONT, undoing {@link pause}. */
  resume(): void {
    signal(this.pid, 'SIGCONT');
  }

  /** Starts a new process on the same port with the same arguments and resolves once it answers. */
  async restart(): Promise<void> {
    await this.stop();
    const launched = await launchReady(this.port, this.argv);
    this.#child = launched.child;
    this.#exited = launched.exited;
    started.add(this);
  }

  /**
   * Sends one command on a fresh connection, as RESP written by hand here (not by the codec under
   * test), and returns the raw reply once `until` says it is complete.
   */
  command(args: (string | Buffer)[], until: (reply: Buffer) => boolean = endsWithCrlf): Promise<Buffer> {
    return rawCommand(this.port, encode(args), until);
  }

  async #waitExit(): Promise<void> {
    this.#child.ref(); // the child is unref'd; keep the loop alive while someone awaits its exit
    await this.#exited;
  }
}

/** Starts redis-server on 127.0.0.1 on a free port and resolves once it answers PING with PONG. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisProcess> {
  const argv = [
    '--bind',
    HOST,
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    ...(options.args ?? []),
  ];
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      const launched = await launchReady(port, argv);
      const r = new RedisProcess(port, argv, launched);
      started.add(r);
      return r;
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt >= PORT_ATTEMPTS) throw err;
    }
  }
}

/** Stops every redis-server this module started. */
export async function stopAllRedis(): Promise<void> {
  await Promise.all([...started].map((r) => r.stop()));
  started.clear();
}

class PortTakenError extends Error {}

interface Launched {
  child: ChildProcess;
  exited: Promise<void>;
}

async function launchReady(port: number, argv: string[]): Promise<Launched> {
  const child = spawn('redis-server', ['--port', String(port), ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const pipes = [child.stdout as net.Socket, child.stderr as net.Socket];
  for (const pipe of pipes) {
    pipe.setEncoding('utf8');
    pipe.on('data', (s: string) => {
      if (output.length < OUTPUT_LIMIT) output += s;
    });
  }
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('error', (err) => {
      spawnError = err;
      resolve();
    });
  }).then(() => {
    for (const pipe of pipes) pipe.destroy();
  });
  // Neither the process nor its pipes may hold the event loop open; the 'exit' hook kills what is left.
  child.unref();
  for (const pipe of pipes) pipe.unref();

  const fail = async (why: string, Kind: new (message: string) => Error = Error): Promise<never> => {
    if (isRunning(child)) signal(child.pid!, 'SIGKILL');
    child.ref();
    await exited;
    const detail = spawnError ? `${spawnError.message}\n` : '';
    throw new Kind(`redis-server on port ${port} ${why}\n${detail}output: ${output.trim() || '(empty)'}`);
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (let backoff = 5; isRunning(child) && Date.now() < deadline; backoff = Math.min(backoff * 2, 50)) {
    const pong = await rawCommand(
      port,
      encode(['PING']),
      endsWithCrlf,
      Math.min(500, deadline - Date.now()),
    ).catch(() => undefined);
    // `-NOAUTH` also proves a server is up (one started with --requirepass).
    if (pong !== undefined && /^(\+PONG|-NOAUTH)/.test(pong.toString('latin1'))) {
      // Another program may own this port (our child then exits with "Address already in use").
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (isRunning(child) && (await ownsPort(port, child.pid!))) return { child, exited };
      if (!isRunning(child)) break;
      return fail('was answered by another process', PortTakenError);
    }
    await new Promise((resolve) => setTimeout(resolve, backoff));
  }
  if (isRunning(child)) return fail(`did not answer within ${READY_TIMEOUT_MS} ms`);
  await exited;
  const kind = /Address already in use/i.test(output) ? PortTakenError : Error;
  return fail(`exited early (code ${child.exitCode}, signal ${child.signalCode})`, kind);
}

/** Whether the server on `port` is process `pid` (INFO's process_id; NOAUTH: assumed ours if still running). */
async function ownsPort(port: number, pid: number): Promise<boolean> {
  const info = await rawCommand(port, encode(['INFO', 'server']), isCompleteBulk).catch(() =>
    Buffer.alloc(0),
  );
  const text = info.toString('latin1');
  if (text.startsWith('-NOAUTH')) return true;
  return Number(/process_id:(\d+)/.exec(text)?.[1]) === pid;
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
  const text = reply.toString('latin1');
  const m = /^\$(\d+)\r\n/.exec(text);
  if (m === null) return endsWithCrlf(reply);
  return reply.length >= m[0].length + Number(m[1]) + 2;
}

function rawCommand(
  port: number,
  bytes: Buffer,
  until: (reply: Buffer) => boolean,
  timeoutMs = 5000,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(received);
    };
    const timer = setTimeout(
      () => finish(new Error(`no complete reply from ${HOST}:${port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (until(received)) finish();
    });
    socket.on('error', finish);
    socket.on('close', () =>
      finish(new Error(`connection to ${HOST}:${port} closed before the reply ended`)),
    );
  });
}

/** A port the OS just handed out for 127.0.0.1 (listening on port 0) and that is now free again. */
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

/** process.kill that ignores a process already gone; never PID 0 or -1 (process groups). */
function signal(pid: number, sig: NodeJS.Signals): void {
  if (!(pid > 0)) return;
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
