/**
 * The one child-process harness behind every real server the tests start (`memcached.ts`, `redis.ts`,
 * `test/security/secure-memcached.ts` are configurations of it). A server listens on 127.0.0.1 on ports
 * the OS picked, counts as started once a probe over a fresh connection is answered with the child's own
 * PID (so a foreign process that took the port in between is caught), and is signalled by that PID only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { waitFor } from './resources.js';

/** How to launch and recognise one kind of server. */
export interface ServerConfig {
  /** The program, looked up on PATH (`memcached`, `redis-server`). */
  program: string;
  /** The whole argument list for a process that listens on `ports` (on 127.0.0.1). */
  args: (ports: readonly number[]) => string[];
  /** How many free ports to pick, e.g. a TLS port and a plaintext one. @default 1 */
  portCount?: number;
  /**
   * Readiness probe: asks whoever listens on `ports` for its PID over a fresh connection, passing
   * `options` on to {@link exchange}. Rejects (or resolves with NaN) while nothing answers.
   */
  probePid: (ports: readonly number[], options: ExchangeOptions) => Promise<number>;
  /** Capture stdout as well as stderr for error messages (redis-server logs to stdout). @default false */
  captureStdout?: boolean;
  /** How long {@link ServerProcess.stop} waits after SIGTERM before SIGKILL. @default 2000 */
  stopGraceMs?: number;
}

/** Options for {@link exchange}. */
export interface ExchangeOptions {
  /** Reject if the last reply is not complete by then. @default 5000 */
  timeoutMs?: number;
  /** Reject (and close the connection) when this aborts. */
  signal?: AbortSignal;
}

/** One request of an {@link exchange}: written once the previous step's reply is complete. */
export interface ExchangeStep {
  write: string | Buffer;
  /** Whether the bytes received for this step are the whole reply. Without it the socket is half-closed
   * after the write and the reply is everything until the server closes (so only on the last step). */
  until?: (reply: Buffer) => boolean;
}

export const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 5000;
const PROBE_TIMEOUT_MS = 500;
const PORT_ATTEMPTS = 4;
const OUTPUT_LIMIT = 16 * 1024;

/** Children not yet exited, killed by the 'exit' hook; and the servers {@link stopServers} stops. */
const children = new Set<ChildProcess>();
const servers = new Set<ServerProcess>();

// Last resort for a suite that forgot to stop a server: 'exit' handlers must be synchronous.
process.on('exit', () => {
  for (const child of children) signal(child.pid ?? -1, 'SIGKILL');
});

/** A child server process, started by {@link startServer}; its kind's module adds protocol helpers. */
export class ServerProcess {
  readonly host = HOST;
  #child: ChildProcess;
  #exited: Promise<void>;

  /** @internal Use {@link startServer}. */
  constructor(
    readonly config: ServerConfig,
    /** The ports it listens on, the same after {@link restart}. */
    readonly ports: readonly number[],
    launched: Launched,
  ) {
    this.#child = launched.child;
    this.#exited = launched.exited;
  }

  /** The first (main) port. */
  get port(): number {
    return this.ports[0];
  }

  /** `host:port` of the first port. */
  get address(): string {
    return `${HOST}:${this.port}`;
  }

  /** The PID of the current process (a new one after {@link restart}). */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Whether the current process has not exited yet. */
  get running(): boolean {
    return isRunning(this.#child);
  }

  /** SIGTERM (then SIGKILL after `stopGraceMs`); resolves once the process has exited. Idempotent. */
  async stop(): Promise<void> {
    if (!this.running) return this.#exited;
    signal(this.pid, 'SIGTERM');
    signal(this.pid, 'SIGCONT'); // a paused process would not act on SIGTERM
    const timer = setTimeout(() => signal(this.pid, 'SIGKILL'), this.config.stopGraceMs ?? 2000);
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

  /** Starts a new process on the same ports with the same arguments (stopping the current one first if
   * it still runs) and resolves once it answers. */
  async restart(): Promise<void> {
    await this.stop();
    const launched = await launchReady(this.config, this.ports);
    this.#child = launched.child;
    this.#exited = launched.exited;
    servers.add(this);
  }

  async #waitExit(): Promise<void> {
    this.#child.ref(); // the child is unref'd; keep the loop alive while someone awaits its exit
    await this.#exited;
  }
}

/** A {@link ServerProcess} class, built from what {@link startServer} launched. */
export type ServerKind<S extends ServerProcess, C extends ServerConfig> = new (
  config: C,
  ports: readonly number[],
  launched: Launched,
) => S;

/**
 * Starts `config.program` and resolves once its probe answers with the child's PID. Ports are picked
 * by the OS (and re-picked if another program takes one first) unless `ports` names them.
 */
export async function startServer<S extends ServerProcess, C extends ServerConfig>(
  Kind: ServerKind<S, C>,
  config: C,
  ports?: readonly number[],
): Promise<S> {
  for (let attempt = 1; ; attempt++) {
    const use = ports ?? (await freePorts(config.portCount ?? 1));
    try {
      const server = new Kind(config, use, await launchReady(config, use));
      servers.add(server);
      return server;
    } catch (err) {
      if (!(err instanceof PortTakenError) || ports !== undefined || attempt >= PORT_ATTEMPTS) throw err;
    }
  }
}

/** Stops every server {@link startServer} started that `which` selects (all by default). */
export async function stopServers(which: (s: ServerProcess) => boolean = () => true): Promise<void> {
  const chosen = [...servers].filter(which);
  await Promise.all(chosen.map((s) => s.stop()));
  for (const s of chosen) servers.delete(s);
}

class PortTakenError extends Error {}

/** @internal A spawned child and the promise of its exit. */
export interface Launched {
  child: ChildProcess;
  exited: Promise<void>;
}

async function launchReady(config: ServerConfig, ports: readonly number[]): Promise<Launched> {
  const child = spawn(config.program, config.args(ports), {
    stdio: ['ignore', config.captureStdout ? 'pipe' : 'ignore', 'pipe'],
  });
  const pipes = [child.stdout, child.stderr].filter((p) => p !== null) as net.Socket[];
  let output = '';
  for (const pipe of pipes) {
    pipe.setEncoding('utf8');
    pipe.on('data', (s: string) => {
      if (output.length < OUTPUT_LIMIT) output += s;
    });
  }
  children.add(child);
  let spawnError: Error | undefined;
  const gone = new AbortController(); // cancels a probe in flight
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => resolve()); // after 'exit' and the end of the pipes
    child.once('error', (err) => {
      spawnError = err;
      resolve();
    });
  }).then(() => {
    children.delete(child);
    gone.abort();
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
    const label = config.captureStdout ? 'output' : 'stderr';
    throw new Kind(
      `${config.program} on ${ports.join(',')} ${why}\n${detail}${label}: ${output.trim() || '(empty)'}`,
    );
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (let backoff = 5; isRunning(child) && Date.now() < deadline; backoff = Math.min(backoff * 2, 50)) {
    const timeoutMs = Math.min(PROBE_TIMEOUT_MS, deadline - Date.now());
    const pid = await config.probePid(ports, { timeoutMs, signal: gone.signal }).catch(() => NaN);
    if (pid === child.pid) return { child, exited };
    // Another server owns a port (our child then exits with "Address already in use").
    if (pid > 0) return fail(`was answered by another process (pid ${pid})`, PortTakenError);
    await new Promise((resolve) => setTimeout(resolve, backoff));
  }
  if (isRunning(child)) return fail(`did not answer within ${READY_TIMEOUT_MS} ms`);
  await exited;
  const kind = /Address already in use/i.test(output) ? PortTakenError : Error;
  return fail(`exited early (code ${child.exitCode}, signal ${child.signalCode})`, kind);
}

/**
 * On a fresh connection to 127.0.0.1:`port`, writes each step once the reply to the one before is
 * complete, and resolves with one reply per step.
 */
export function exchange(
  port: number,
  steps: readonly ExchangeStep[],
  { timeoutMs = 5000, signal: abort }: ExchangeOptions = {},
): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    const replies: Buffer[] = [];
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      abort?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(replies);
    };
    const fail = (why: string): void => {
      const got = JSON.stringify(Buffer.concat([...replies, received]).toString('latin1'));
      finish(new Error(`${why} (${HOST}:${port}); received ${got}`));
    };
    const onAbort = (): void => fail('aborted');
    const timer = setTimeout(() => fail(`no complete reply within ${timeoutMs} ms`), timeoutMs);
    abort?.addEventListener('abort', onAbort);
    if (abort?.aborted) return onAbort();
    const next = (): void => {
      const step = steps[replies.length];
      if (step === undefined) finish();
      else if (step.until) socket.write(step.write);
      else socket.end(step.write); // the server answers what it read, then closes on our FIN
    };
    const complete = (): void => {
      replies.push(received);
      received = Buffer.alloc(0);
      next();
    };
    socket.on('connect', next);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (steps[replies.length]?.until?.(received)) complete();
    });
    socket.on('end', () => {
      if (steps[replies.length]?.until === undefined) complete();
    });
    socket.on('error', finish);
    socket.on('close', () => fail('connection closed before the reply ended'));
  });
}

/** An {@link ExchangeStep.until} for replies that end with `tail`. */
export function endsWith(tail: string | Buffer): (reply: Buffer) => boolean {
  const bytes = Buffer.from(tail);
  return (reply) => reply.subarray(-bytes.length).equals(bytes);
}

/** `count` distinct ports the OS just handed out for 127.0.0.1 and that are free again. */
async function freePorts(count: number): Promise<number[]> {
  const listeners = Array.from({ length: count }, () => net.createServer());
  await Promise.all(
    listeners.map(
      (server) =>
        new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: HOST, port: 0 }, resolve);
        }),
    ),
  );
  const ports = listeners.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(listeners.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
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
