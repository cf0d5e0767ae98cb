/**
 * The parent's side of a worker process: spawn it (with the parent's loader flags, --expose-gc, and
 * optionally --cpu-prof), send it requests, and get replies or a timeout.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ClientName } from './cells.js';
import type { WorkerReply, WorkerRequest } from './worker.js';

// The worker next to this file: worker.js when the benchmark runs compiled (`npm run bench`: the
// library measured as users run it), worker.ts under tsx.
const WORKER = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url),
);

/** Where node writes the worker's profiles when it exits: one file per thread, named by pid and thread. */
export interface CpuProfile {
  dir: string;
}

interface Waiting {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class Worker {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, Waiting>();
  readonly #exited: Promise<void>;
  #nextId = 0;
  #gone = false;

  constructor(
    readonly name: ClientName,
    readonly profile?: CpuProfile,
  ) {
    const execArgv = [...process.execArgv, '--expose-gc'];
    if (profile !== undefined) {
      execArgv.push('--cpu-prof', `--cpu-prof-dir=${profile.dir}`);
    }
    this.#child = fork(WORKER, [name], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#child.on('message', (reply: WorkerReply) => {
      const w = this.#waiting.get(reply.id);
      if (w === undefined) return;
      this.#waiting.delete(reply.id);
      clearTimeout(w.timer);
      if (reply.ok) w.resolve(reply.value);
      else w.reject(new Error(reply.error));
    });
    this.#exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        this.#gone = true;
        for (const w of this.#waiting.values()) {
          clearTimeout(w.timer);
          w.reject(new Error(`the ${name} worker exited (${code ?? signal})`));
        }
        this.#waiting.clear();
        resolve();
      });
    });
    this.#child.on('error', () => undefined);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Sends `request`; rejects if no reply comes within `timeoutMs` (the worker is then killed). */
  request<T>(request: WorkerRequest, timeoutMs: number): Promise<T> {
    if (this.#gone) return Promise.reject(new Error(`the ${this.name} worker has exited`));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`the ${this.name} worker did not answer '${request.type}' within ${timeoutMs} ms`));
        this.kill();
      }, timeoutMs);
      this.#waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.#child.send({ id, request });
    });
  }

  /** Asks the worker to exit (so --cpu-prof writes its profile) and waits; kills it after 10 s. */
  async exit(): Promise<void> {
    if (this.#gone) return;
    try {
      await this.request({ type: 'exit' }, 10_000);
    } catch {
      this.kill();
    }
    const timer = setTimeout(() => this.kill(), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }

  /** SIGKILL by PID. */
  kill(): void {
    if (!this.#gone) this.#child.kill('SIGKILL');
  }
}

/** One worker per client, spawned on first use; a worker can be replaced (its sockets die with it). */
export class WorkerPool {
  readonly #workers = new Map<ClientName, Worker>();

  get(name: ClientName): Worker {
    let w = this.#workers.get(name);
    if (w === undefined) {
      w = new Worker(name);
      this.#workers.set(name, w);
    }
    return w;
  }

  /** Stops `name`'s worker (if any) and starts a fresh one, optionally under --cpu-prof. */
  async replace(name: ClientName, profile?: CpuProfile): Promise<Worker> {
    await this.remove(name);
    const w = new Worker(name, profile);
    this.#workers.set(name, w);
    return w;
  }

  /** Asks `name`'s worker to exit (a hung one is killed) and forgets it. */
  async remove(name: ClientName): Promise<void> {
    const w = this.#workers.get(name);
    this.#workers.delete(name);
    await w?.exit();
  }

  /** Kills and forgets `name`'s worker now. */
  drop(name: ClientName): void {
    this.#workers.get(name)?.kill();
    this.#workers.delete(name);
  }

  peek(name: ClientName): Worker | undefined {
    return this.#workers.get(name);
  }

  killAll(): void {
    for (const w of this.#workers.values()) w.kill();
  }

  async exitAll(): Promise<void> {
    await Promise.all([...this.#workers.values()].map((w) => w.exit()));
    this.#workers.clear();
  }
}
