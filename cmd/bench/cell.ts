/**
 * One cell of the benchmark: store the key space, open every client that can run the cell (each in its
 * worker), run the repeats interleaved across clients, check what a set cell wrote, close. A client
 * that leaks connections has its worker restarted after the run, so memcached's connection limit is never
 * reached and no other client pays for it; the report shows the leak.
 */
import { readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalMemcached } from '../shared/local-memcached.js';
import type { CellSpec, ClientName } from './cells.js';
import { createDriver } from './clients.js';
import { IN_PROCESS_ADDRESS } from './in-memory.js';
import { keyspaceFor, storeAll, verifyStored } from './keyspace.js';
import type { RunResult } from './load.js';
import type { RawTransport } from './raw.js';
import type { BenchOptions } from './options.js';
import { summarizeProfile, type ProfileSummary } from './profile.js';
import { rate } from './stats.js';
import type { WorkerPool } from './workers.js';

export interface ClientRuns {
  name: ClientName;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  runs: RunResult[];
  /** Times the worker was replaced because the client left connections open. */
  restarts: number;
}

export interface CellRuns {
  cell: CellSpec;
  clients: ClientRuns[];
}

export interface CellContext {
  opts: BenchOptions;
  pool: WorkerPool;
  servers: readonly LocalMemcached[];
  /** The TLS servers and the certificate the clients trust, when a cell needs them. */
  tls: { servers: readonly LocalMemcached[]; ca: string } | undefined;
  root: string;
  outDir: string;
  stamp: string;
  log: (line: string) => void;
}

/** Slack on top of a run's own length before a worker counts as hung. */
const SLACK_MS = 20_000;
/**
 * Connections one run may open, and memcached may hold, before the client's worker is restarted. A pool
 * reopening after an idle close opens at most 10 per server; memcache 1.7.0 opens one per call in
 * flight after its socket idled out, and never closes them.
 */
export const LEAK_OPENED = 32;
const LEAK_HELD = 256;
/** The least warm-up of each client in an in-process cell, per client running at the same time. */
const IN_PROCESS_WARMUP_MS = 500;

export async function runCell(ctx: CellContext, cell: CellSpec): Promise<[CellRuns, ProfileSummary?]> {
  const { opts, pool, log } = ctx;
  const ks = keyspaceFor(cell);
  const tls = cell.tls ? ctx.tls : undefined;
  const transport: RawTransport = tls === undefined ? {} : { tls: { ca: tls.ca } };
  // An in-process cell's clients reach no memcached: each worker's in-memory one holds the key space.
  const used = cell.inProcess ? [] : (tls?.servers ?? ctx.servers).slice(0, cell.servers);
  const addresses = cell.inProcess ? [IN_PROCESS_ADDRESS] : used.map((s) => s.address);
  // Data is stored and checked over plaintext listeners: memcached 1.6.18 stalls on a TLS connection
  // when one write carries more than a TLS record's worth of requests (about 16 KiB).
  const plain = used.map((s) => s.plainAddress);
  const open = {
    type: 'open',
    cell,
    servers: addresses,
    statsServers: plain,
    pids: used.map((s) => s.pid),
    transport,
  } as const;
  // A baseline build runs wherever this build's memline does.
  const runs = (name: ClientName): boolean =>
    cell.clients.includes(name) ||
    (name === 'memline-baseline' && opts.baseline !== undefined && cell.clients.includes('memline'));
  const entries: ClientRuns[] = opts.clients
    .filter(runs)
    .map((name) => ({ name, status: 'ok', runs: [], restarts: 0 }));
  try {
    await storeAll(plain, ks);
  } catch (err) {
    for (const e of entries) fail(e, err, ctx);
    return [{ cell, clients: entries }];
  }
  const profileName = `memline-${cell.id}-${ctx.stamp}.cpuprofile`;
  const profileDir = join(ctx.outDir, `.profiling-${cell.id}-${ctx.stamp}`);
  const profiled = opts.cpuProf && entries.some((e) => e.name === 'memline');
  if (profiled) await pool.replace('memline', { dir: profileDir });

  for (const entry of entries) {
    const reason = createDriver(entry.name, ks).unsupported(cell);
    if (reason !== undefined) {
      entry.status = 'skipped';
      entry.reason = reason;
      log(`  ${entry.name.padEnd(16)} skipped: ${reason}`);
      continue;
    }
    await pool
      .get(entry.name)
      .request(open, SLACK_MS)
      .catch((err: unknown) => fail(entry, err, ctx));
  }

  // An in-process cell gives each repeat fresh workers (unless profiling, which keeps one process):
  // one process's JIT settles on code a few percent faster or slower than another's, for its whole
  // life, so only a median over several processes measures the code rather than that luck.
  const fresh = cell.inProcess && !profiled;
  /** One timed run of `entry`; `together`: how many clients run at once (in-process cells). */
  const runOnce = async (entry: ClientRuns, r: number, together = 1): Promise<void> => {
    if (entry.status !== 'ok') return;
    // Clients that run together share the core while their code warms up: each gets half a second.
    const warmupMs = cell.inProcess
      ? Math.max(opts.timing.firstWarmupMs, IN_PROCESS_WARMUP_MS * together)
      : r === 0
        ? opts.timing.firstWarmupMs
        : opts.timing.warmupMs;
    try {
      if (cell.op === 'set' && !cell.inProcess) await storeAll(plain, ks, true);
      const result = await pool
        .get(entry.name)
        .request<RunResult>(
          { type: 'run', warmupMs, durationMs: opts.timing.durationMs },
          warmupMs + opts.timing.durationMs + SLACK_MS,
        );
      // Every key the run wrote must now hold its own value, not the poison stored before it.
      if (cell.op === 'set' && !cell.inProcess) {
        result.mismatches += await verifyStored(plain[0], ks, result.calls);
      }
      entry.runs.push(result);
      log(progressLine(cell, entry.name, r, opts.timing.repeats, result));
      if ((result.connectionsOpened ?? 0) > LEAK_OPENED || (result.serverConnections ?? 0) > LEAK_HELD) {
        entry.restarts++;
        log(
          `  ${entry.name.padEnd(16)} opened ${result.connectionsOpened} connections in the run (memcached holds ` +
            `${result.serverConnections}): restarting its worker to close them`,
        );
        await pool.replace(
          entry.name,
          entry.name === 'memline' && profiled ? { dir: profileDir } : undefined,
        );
        await pool.get(entry.name).request(open, SLACK_MS);
      }
    } catch (err) {
      fail(entry, err, ctx);
    }
  };
  for (let r = 0; r < opts.timing.repeats; r++) {
    const active = entries.filter((e) => e.status === 'ok');
    const order = active.map((_, i) => active[(i + r) % active.length]); // a different first client each time
    if (cell.inProcess) {
      if (fresh && r > 0) {
        // Every worker started and open before any run begins: no run shares the core with a start.
        await Promise.all(
          active.map(async (entry) => {
            await pool.replace(entry.name);
            await pool
              .get(entry.name)
              .request(open, SLACK_MS)
              .catch((err: unknown) => fail(entry, err, ctx));
          }),
        );
      }
      // All at once, sharing the core: a change in the machine's speed meets every client alike, and
      // each one's CPU per call stays its own.
      await Promise.all(order.map((entry) => runOnce(entry, r, order.length)));
    } else {
      for (const entry of order) await runOnce(entry, r);
    }
  }

  for (const entry of entries) {
    if (entry.status !== 'ok') continue;
    await pool
      .get(entry.name)
      .request({ type: 'close' }, SLACK_MS)
      .catch((err: unknown) => fail(entry, err, ctx));
  }
  if (!profiled) return [{ cell, clients: entries }];
  const pid = pool.peek('memline')?.pid;
  await pool.remove('memline');
  try {
    const path = join(ctx.outDir, profileName);
    keepMainThreadProfile(profileDir, pid, path);
    log(`  profile: bench-results/${profileName}`);
    return [
      { cell, clients: entries },
      summarizeProfile(ctx.root, path, `bench-results/${profileName}`, cell.id),
    ];
  } catch (err) {
    log(`  profile: none written (${err instanceof Error ? err.message : String(err)})`);
    return [{ cell, clients: entries }];
  }
}

/**
 * node --cpu-prof writes one profile per thread (tsx adds a module-loader thread); keep the main
 * thread's (thread id 0) as `path` and remove the directory made for them.
 */
function keepMainThreadProfile(dir: string, pid: number | undefined, path: string): void {
  try {
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    const main = files.find((f) => f.includes(`.${pid}.0.`));
    if (main === undefined) throw new Error(`no main-thread profile among ${files.length} files`);
    renameSync(join(dir, main), path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Marks a client failed for the rest of the cell; a worker that hung or died is dropped. */
function fail(entry: ClientRuns, err: unknown, ctx: CellContext): void {
  entry.status = 'failed';
  entry.reason = err instanceof Error ? err.message : String(err);
  ctx.log(`  ${entry.name.padEnd(16)} FAILED: ${entry.reason}`);
  if (/did not answer|exited/.test(entry.reason)) ctx.pool.drop(entry.name);
}

function progressLine(cell: CellSpec, name: string, r: number, repeats: number, res: RunResult): string {
  const unit = cell.unit.split('/')[0].replace(/s$/, '');
  const parts = [
    `  ${name.padEnd(16)} ${r + 1}/${repeats}`,
    `${rate(res.rate).padStart(7)} ${cell.unit}`,
    `cpu ${res.cpuUsPerUnit.toFixed(2)} µs/${unit}`,
  ];
  parts.push(`gc ${res.gcPct.toFixed(1)}%`);
  if (res.serverCpuPct !== null) parts.push(`memcached ${res.serverCpuPct.toFixed(0)}%`);
  if (res.otherCpuPct !== null && res.otherCpuPct >= 10)
    parts.push(`other load ${res.otherCpuPct.toFixed(0)}%`);
  if (res.latency !== undefined) {
    parts.push(`p50 ${res.latency.p50.toFixed(0)} µs p99 ${res.latency.p99.toFixed(0)} µs`);
  }
  if (res.mismatches > 0) parts.push(`MISMATCHES ${res.mismatches}`);
  if (res.errors > 0) parts.push(`errors ${res.errors} (${res.firstError ?? ''})`);
  if (res.stalled > 0) parts.push(`STALLED ${res.stalled}`);
  return parts.join('  ');
}
