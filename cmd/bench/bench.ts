/**
 * The benchmark's parent process: pins itself and starts memcached on another core, runs every cell
 * (see cell.ts), measures memline's memory, stops everything it started, and collects the results.
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { LocalMemcached } from '../shared/local-memcached.js';
import type { ClientName, Timing } from './cells.js';
import { runCell, type CellContext, type CellRuns } from './cell.js';
import { makeCert, type BenchCert } from './certs.js';
import { BASELINE_ENV, createDriver } from './clients.js';
import { Keyspace, storeAll } from './keyspace.js';
import { describeMachine, type Machine } from './machine.js';
import type { MemoryResult } from './memory.js';
import type { BenchOptions } from './options.js';
import type { ProfileSummary } from './profile.js';
import * as srv from './servers.js';
import { Worker, WorkerPool } from './workers.js';

export type { CellRuns, ClientRuns } from './cell.js';

export interface BenchData {
  date: string;
  command: string;
  mode: 'full' | 'quick';
  timing: Timing;
  machine: Machine;
  valueTypes: Partial<Record<ClientName, string>>;
  cells: CellRuns[];
  memory?: MemoryResult | { error: string };
  profiles: ProfileSummary[];
  seconds: number;
}

export async function runBench(
  opts: BenchOptions,
  root: string,
  log: (line: string) => void,
): Promise<BenchData> {
  const started = performance.now();
  const outDir = join(root, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  const available = os.availableParallelism();
  const plan = srv.planPinning(opts.pin, available);
  const pinned = 'client' in plan && srv.pin(process.pid, plan.client);
  const serverCore = 'server' in plan && pinned ? plan.server : undefined;

  const servers: LocalMemcached[] = [];
  const tlsServers: LocalMemcached[] = [];
  let cert: BenchCert | undefined;
  // The workers, forked from here, find a --baseline build through their environment.
  if (opts.baseline !== undefined) process.env[BASELINE_ENV] = opts.baseline;
  const pool = new WorkerPool();
  const removeInterrupt = srv.onInterrupt(() => {
    pool.killAll();
    srv.killServersNow([...servers, ...tlsServers]);
  });
  try {
    const clusterSize = Math.max(...opts.cells.map((c) => c.servers), 1);
    servers.push(...(await srv.startServers(clusterSize + (opts.memory ? 1 : 0), serverCore)));
    const memoryServer = opts.memory ? servers[servers.length - 1] : undefined;
    if (opts.cells.some((c) => c.tls)) {
      cert = await makeCert();
      tlsServers.push(...(await srv.startServers(1, serverCore, { tls: cert })));
    }
    const pinning =
      'reason' in plan
        ? plan.reason
        : pinned
          ? `memcached on CPU ${plan.server} (all threads), the benchmark and its workers on CPU ${plan.client}`
          : 'not pinned: taskset failed';
    const machine = describeMachine(root, await srv.memcachedVersion(servers[0].address), pinning, available);
    log(
      `bench: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, memcached ${machine.memcached}`,
    );
    log(
      `bench: ${pinning}; ${opts.quick ? 'quick' : 'full'} mode, ${opts.timing.repeats} × ${opts.timing.durationMs} ms per cell`,
    );

    const ks = new Keyspace();
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
    const tls = cert === undefined ? undefined : { servers: tlsServers, ca: cert.pem };
    const ctx: CellContext = { opts, pool, servers, tls, root, outDir, stamp, log };
    // Start every worker now, so they load their modules in parallel rather than one per first use.
    // Only the clients some picked cell runs (the memline variants run in the hot-key cells alone).
    const used = opts.clients.filter((name) => opts.cells.some((c) => c.clients.includes(name)));
    for (const name of used) if (!(opts.cpuProf && name === 'memline')) pool.get(name);

    const cells: CellRuns[] = [];
    const profiles: ProfileSummary[] = [];
    for (const [index, cell] of opts.cells.entries()) {
      log(`\n[${index + 1}/${opts.cells.length}] ${cell.title} (${cell.id})`);
      const [runs, profile] = await runCell(ctx, cell);
      cells.push(runs);
      if (profile !== undefined) profiles.push(profile);
    }

    let memory: BenchData['memory'];
    if (memoryServer !== undefined) {
      log(
        `\nmemory: ${opts.timing.pending} pending gets, then ${opts.timing.memoryRunMs / 1000} s at 500 in flight`,
      );
      await storeAll([memoryServer.address], ks);
      const w = new Worker('memline');
      try {
        memory = await w.request<MemoryResult>(
          { type: 'memory', address: memoryServer.address, pid: memoryServer.pid, timing: opts.timing },
          opts.timing.memoryRunMs + 60_000,
        );
        log(`  ${memory.heapPerPending.toFixed(0)} heap bytes per pending request`);
      } catch (err) {
        memory = { error: err instanceof Error ? err.message : String(err) };
        log(`  failed: ${memory.error}`);
      } finally {
        await w.exit();
      }
    }

    const valueTypes = Object.fromEntries(used.map((c) => [c, createDriver(c, ks).valueType]));
    return {
      date: new Date().toISOString(),
      command: ['npm run bench', ...(opts.argv.length > 0 ? ['--', ...opts.argv] : [])].join(' '),
      mode: opts.quick ? 'quick' : 'full',
      timing: opts.timing,
      machine,
      valueTypes,
      cells,
      ...(memory !== undefined ? { memory } : {}),
      profiles,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await pool.exitAll();
    await srv.stopServers([...servers, ...tlsServers]);
    await cert?.remove();
    removeInterrupt();
  }
}
