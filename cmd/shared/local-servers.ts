/**
 * Local memcached processes for the programs (example, soak). Each is first started by `startLocalMemcached` (local-memcached.ts: a
 * free loopback port, stopped by PID); this wrapper adds what the faults need: the port, SIGSTOP and
 * SIGCONT, SIGKILL, and a restart on the same port with the same command line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { serverStats } from './ask.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { startLocalMemcached, type LocalMemcached } from './local-memcached.js';

const READY_TIMEOUT_MS = 5000;

/** Processes this module restarted; local-memcached.ts's own exit hook covers the ones it started. */
const restarted = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of restarted) child.kill('SIGKILL'); // 'exit' handlers must be synchronous
});

export class LocalServer {
  readonly address: string;
  readonly port: number;
  /** The process the example started, until it is killed. */
  #first: LocalMemcached | undefined;
  /** The process of the latest restart. */
  #child: ChildProcess | undefined;
  /** memcached's command line, read from /proc; undefined where there is none (no restart then). */
  readonly argv: string[] | undefined;
  #paused = false;

  constructor(first: LocalMemcached) {
    this.#first = first;
    this.address = first.address;
    this.port = Number(first.address.slice(first.address.lastIndexOf(':') + 1));
    this.argv = commandLine(first.pid);
  }

  /** The PID of the current process, or undefined while it is down. */
  get pid(): number | undefined {
    if (this.#first !== undefined) return this.#first.pid;
    return this.#child !== undefined && running(this.#child) ? this.#child.pid : undefined;
  }

  /** SIGSTOP; resolves once every thread has stopped (signals are delivered asynchronously). */
  async pause(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    signal(pid, 'SIGSTOP');
    this.#paused = true;
    for (const deadline = Date.now() + 2000; !stopped(pid) && Date.now() < deadline;) await sleep(5);
  }

  /** SIGCONT, undoing {@link pause}. */
  resume(): void {
    const pid = this.pid;
    if (pid !== undefined && this.#paused) signal(pid, 'SIGCONT');
    this.#paused = false;
  }

  /** SIGKILL; resolves once the process has exited. Idempotent. */
  async kill(): Promise<void> {
    this.#paused = false;
    if (this.#first !== undefined) {
      const first = this.#first;
      this.#first = undefined;
      await first.stop();
      return;
    }
    const child = this.#child;
    if (child === undefined) return;
    if (running(child)) {
      const exit = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exit;
    }
    restarted.delete(child);
  }

  /** Starts memcached again on the same port; resolves once the new process itself answers there. */
  async restart(): Promise<void> {
    if (this.argv === undefined) throw new Error('no command line to restart memcached with');
    await this.kill();
    const [command, ...args] = this.argv;
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    restarted.add(child);
    this.#child = child;
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    const failed = new Promise<Error>((resolve) => {
      child.once('error', resolve);
      child.once('exit', (code, sig) => resolve(new Error(`memcached exited (${code ?? sig})`)));
    });
    for (const deadline = Date.now() + READY_TIMEOUT_MS; Date.now() < deadline;) {
      const answer = await Promise.race([answeringPid(this.port), failed]);
      if (answer instanceof Error) {
        restarted.delete(child);
        throw new Error(`cannot restart memcached on ${this.address}: ${answer.message} ${stderr.trim()}`);
      }
      if (answer === child.pid) return;
      await sleep(20);
    }
    await this.kill();
    throw new Error(`memcached restarted on ${this.address} did not answer within ${READY_TIMEOUT_MS} ms`);
  }
}

/**
 * Starts `n` servers. startLocalMemcached exits the process at once on Ctrl-C; the soak takes SIGINT
 * over (it undoes its fault, closes the client, stops every server by PID and prints its summary), so
 * the SIGINT listeners the helper adds are removed here. Its exit hook stays, as a last resort.
 */
export async function startServers(n: number): Promise<LocalServer[]> {
  const before = new Set(process.listeners('SIGINT'));
  try {
    const servers: LocalServer[] = [];
    for (let i = 0; i < n; i++) servers.push(new LocalServer(await startLocalMemcached()));
    return servers;
  } finally {
    for (const listener of process.listeners('SIGINT')) {
      if (!before.has(listener)) process.removeListener('SIGINT', listener);
    }
  }
}

/** Kills every process of `servers` by PID and waits for each to exit. */
export async function stopServers(servers: readonly LocalServer[]): Promise<void> {
  await Promise.all(servers.map((s) => s.kill()));
}

/** Kills every process now, synchronously (for a second Ctrl-C). */
export function killServersNow(servers: readonly LocalServer[]): void {
  for (const s of servers) {
    const pid = s.pid;
    if (pid !== undefined) signal(pid, 'SIGKILL');
  }
}

/** process.kill that ignores a process already gone. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** The command line of `pid` (Linux /proc), or undefined. */
function commandLine(pid: number): string[] | undefined {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv[argv.length - 1] === '') argv.pop();
    return argv.length > 0 ? argv : undefined;
  } catch {
    return undefined;
  }
}

/** Whether every thread of `pid` is stopped; true where /proc cannot tell. */
function stopped(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).every((tid) =>
      /\) [Tt] /.test(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')),
    );
  } catch {
    return true;
  }
}

/** The PID that memcached on `port` reports in `stats`, or undefined when nothing answers in time. */
async function answeringPid(port: number): Promise<number | undefined> {
  const pid = (await serverStats(`127.0.0.1:${port}`, 500))?.get('pid');
  return pid === undefined ? undefined : Number(pid);
}
