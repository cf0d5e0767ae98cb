/**
 * The benchmark's memcached processes and core pinning. Each memcached is started by cmd/shared's
 * `startLocalMemcached` (`-t 1`, a free loopback port, stopped by PID); here they are moved to their own
 * core with `taskset`, and the benchmark process (whose workers inherit its affinity) to another.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { serverVersion } from '../shared/ask.js';
import {
  startLocalMemcached,
  type LocalMemcached,
  type LocalMemcachedOptions,
} from '../shared/local-memcached.js';

/** Where the clients and memcached run, or why they are not pinned. */
export type PinPlan = { client: number; server: number } | { reason: string };

/** Client on core 0, memcached on core 1, when there are two cores and `taskset` exists. */
export function planPinning(wanted: boolean, cores: number): PinPlan {
  if (!wanted) return { reason: 'not pinned (--no-pin)' };
  if (cores < 2) return { reason: `not pinned: ${cores} core available` };
  const probe = spawnSync('taskset', ['-V'], { stdio: 'ignore' });
  if (probe.error !== undefined) return { reason: 'not pinned: taskset not found (util-linux)' };
  return { client: 0, server: 1 };
}

/** Sets the affinity of every thread of `pid` to `core`; returns whether /proc confirms it. */
export function pin(pid: number, core: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
  } catch {
    return false;
  }
  return allowedCpus(pid) === String(core);
}

/** The CPUs `pid` may run on (/proc `Cpus_allowed_list`), or undefined. */
export function allowedCpus(pid: number): string | undefined {
  try {
    return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1];
  } catch {
    return undefined;
  }
}

/**
 * Starts `n` memcached processes. startLocalMemcached exits the process on Ctrl-C after stopping only
 * its own server; the benchmark takes SIGINT over (see {@link onInterrupt}), so those listeners are
 * removed. The helper's exit hooks stay, as a last resort.
 */
export async function startServers(
  n: number,
  core: number | undefined,
  options: LocalMemcachedOptions = {},
): Promise<LocalMemcached[]> {
  const before = new Set(process.listeners('SIGINT'));
  const servers: LocalMemcached[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = await startLocalMemcached(options);
      servers.push(server);
      if (core !== undefined && !pin(server.pid, core)) {
        throw new Error(`could not pin memcached (pid ${server.pid}) to CPU ${core}`);
      }
    }
    return servers;
  } catch (err) {
    await stopServers(servers);
    throw err;
  } finally {
    for (const listener of process.listeners('SIGINT')) {
      if (!before.has(listener)) process.removeListener('SIGINT', listener);
    }
  }
}

export async function stopServers(servers: readonly LocalMemcached[]): Promise<void> {
  await Promise.all(servers.map((s) => s.stop()));
}

/** SIGCONT then SIGKILL by PID, synchronously (for Ctrl-C). */
export function killServersNow(servers: readonly LocalMemcached[]): void {
  for (const s of servers) {
    for (const sig of ['SIGCONT', 'SIGKILL'] as const) {
      try {
        process.kill(s.pid, sig);
      } catch {
        // already gone
      }
    }
  }
}

/** What `version` answers, e.g. "1.6.18". */
export async function memcachedVersion(address: string): Promise<string> {
  return (await serverVersion(address)) ?? 'unknown';
}

/**
 * Runs `cleanup` (synchronous: kill by PID) and exits 130 on the first Ctrl-C. Returns a function that
 * removes the handler.
 */
export function onInterrupt(cleanup: () => void): () => void {
  const handler = (): void => {
    console.error('\nbench: interrupted; stopping the workers and memcached');
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.removeListener('SIGINT', handler);
    process.removeListener('SIGTERM', handler);
  };
}
