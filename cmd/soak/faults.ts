/**
 * Faults on a seeded schedule, against one server at a time, each undone before the next starts:
 *
 *   stop   SIGSTOP for 1–3 s, then SIGCONT (the server keeps its sockets and answers nothing)
 *   kill   SIGKILL, then a new memcached on the same port after 1–2 s (an empty cache)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Random } from './random.js';
import type { LocalServer } from '../shared/local-servers.js';

export type FaultKind = 'stop' | 'kill';

/** One fault as it happened; times are seconds since the soak started. */
export interface FaultEvent {
  kind: FaultKind;
  server: string;
  /** Planned seconds stopped, or down before the restart. */
  seconds: number;
  at: number;
  undoneAt?: number;
  /** Why it could not be undone, if it could not. */
  error?: string;
}

const RESTART_ATTEMPTS = 3;

export class FaultRunner {
  readonly events: FaultEvent[] = [];
  #servers: readonly LocalServer[];
  #random: Random;
  #everyMs: number;
  #log: (line: string, fields: object) => void;
  #clock: () => number;
  #stopper = new AbortController();
  #current: FaultEvent | undefined;
  #done: Promise<void> | undefined;

  /** `clock` gives seconds since the soak started; `log` prints a line. */
  constructor(
    servers: readonly LocalServer[],
    random: Random,
    everySeconds: number,
    clock: () => number,
    log: (line: string, fields: object) => void,
  ) {
    this.#servers = servers;
    this.#random = random;
    this.#everyMs = everySeconds * 1000;
    this.#clock = clock;
    this.#log = log;
  }

  /** The fault in progress, as a short phrase, or undefined. */
  get current(): string | undefined {
    const f = this.#current;
    if (f === undefined) return undefined;
    const left = Math.max(0, f.at + f.seconds - this.#clock()).toFixed(1);
    return `${f.kind === 'stop' ? 'SIGSTOP' : 'SIGKILL'} ${f.server} (${left} s left)`;
  }

  /** Whether a fault could not be undone. */
  get failed(): boolean {
    return this.events.some((e) => e.error !== undefined);
  }

  start(): void {
    this.#done ??= this.#run();
  }

  /** Cuts the current fault short, undoes it, and resolves once no fault remains. */
  async stop(): Promise<void> {
    this.#stopper.abort();
    await this.#done;
  }

  async #run(): Promise<void> {
    const signal = this.#stopper.signal;
    let next = Date.now() + this.#everyMs;
    for (;;) {
      await wait(next - Date.now(), signal);
      if (signal.aborted) return;
      const index = this.#random.int(0, this.#servers.length - 1);
      const server = this.#servers[index];
      const canRestart = server.argv !== undefined;
      const kind: FaultKind = canRestart && this.#random.next() < 0.5 ? 'kill' : 'stop';
      const seconds = kind === 'stop' ? this.#random.between(1, 3) : this.#random.between(1, 2);
      const event: FaultEvent = { kind, server: server.address, seconds, at: this.#clock() };
      this.events.push(event);
      this.#current = event;
      try {
        if (kind === 'stop') await this.#stopAndContinue(server, event, signal);
        else await this.#killAndRestart(server, event, signal);
        event.undoneAt = this.#clock();
      } catch (err) {
        event.error = (err as Error).message;
        this.#log(`fault  could not undo ${kind} of ${server.address}: ${event.error}`, {
          fault: kind,
          server: server.address,
          error: event.error,
        });
      } finally {
        this.#current = undefined;
      }
      next = Math.max(next + this.#everyMs, Date.now());
    }
  }

  async #stopAndContinue(server: LocalServer, event: FaultEvent, signal: AbortSignal): Promise<void> {
    const pid = server.pid;
    await server.pause();
    this.#log(`fault  SIGSTOP ${server.address} (pid ${pid}) for ${event.seconds.toFixed(1)} s`, {
      fault: 'SIGSTOP',
      server: server.address,
      pid,
      seconds: event.seconds,
    });
    await wait(event.seconds * 1000, signal);
    server.resume();
    this.#log(`fault  SIGCONT ${server.address} (pid ${pid})`, {
      fault: 'SIGCONT',
      server: server.address,
      pid,
    });
  }

  async #killAndRestart(server: LocalServer, event: FaultEvent, signal: AbortSignal): Promise<void> {
    const pid = server.pid;
    await server.kill();
    this.#log(`fault  SIGKILL ${server.address} (pid ${pid}); restart in ${event.seconds.toFixed(1)} s`, {
      fault: 'SIGKILL',
      server: server.address,
      pid,
      seconds: event.seconds,
    });
    await wait(event.seconds * 1000, signal);
    for (let attempt = 1; ; attempt++) {
      try {
        await server.restart();
        break;
      } catch (err) {
        if (attempt >= RESTART_ATTEMPTS) throw err;
        await sleep(500);
      }
    }
    this.#log(`fault  restarted ${server.address} (pid ${server.pid})`, {
      fault: 'restart',
      server: server.address,
      pid: server.pid,
    });
  }
}

/** Resolves after `ms`, or at once when `signal` fires. */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return sleep(ms, undefined, { signal }).catch(() => undefined);
}
