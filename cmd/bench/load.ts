/**
 * The closed-loop load generator that runs inside a worker: `inFlight` lanes, each with one call
 * outstanding; a finished call checks its value and starts the next. Keys are taken in turn from the
 * key space, so every lane reads or writes every key, or, in the hot-key cells, drawn from a Zipf
 * distribution. One timed run is a warm-up, then a window in which
 * completions, CPU time and (optionally) latencies are counted, then a drain.
 */
import { readFileSync } from 'node:fs';
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CellSpec } from './cells.js';
import type { Driver, LaneOps, LaneSink } from './driver.js';
import type { Keyspace } from './keyspace.js';
import { serverStats } from '../shared/ask.js';
import { summarizeLatency, type LatencySummary } from './stats.js';
import { ZipfSampler } from './zipf.js';

export interface RunResult {
  /** Completed units (gets, sets or keys) per second in the timed window. */
  rate: number;
  units: number;
  seconds: number;
  /** CPU time (user + system) of the client's process per unit, µs. */
  cpuUsPerUnit: number;
  /**
   * Time spent in garbage collection during the window (perf_hooks 'gc' entries), % of the window, and
   * the number of collections.
   */
  gcPct: number;
  gcCount: number;
  /** CPU of the memcached processes over the window, % of one core; null where /proc is absent. */
  serverCpuPct: number | null;
  /**
   * CPU used over the window by everything else on the machine (other processes, interrupts), % of one
   * core, and CPU the hypervisor stole; high values mean the figures are noisy.
   */
  otherCpuPct: number | null;
  stealPct: number | null;
  /** Values missing or not the key's, over the whole run (warm-up included). */
  mismatches: number;
  /** Calls that failed, over the whole run. */
  errors: number;
  firstError?: string;
  /** Calls started over the whole run. */
  calls: number;
  /** Calls still outstanding when the drain gave up. */
  stalled: number;
  latency?: LatencySummary;
  /**
   * Connections opened to memcached during the run (only this client is active then), and all the
   * connections memcached has open after it, every client's (from memcached's stats, the benchmark's own
   * stats connections left out); null when stats failed.
   */
  connectionsOpened: number | null;
  serverConnections: number | null;
  /**
   * Read and write system calls of the client's process per unit in the window (/proc/self/io): how well
   * it batches; null where /proc is absent.
   */
  readsPerUnit: number | null;
  writesPerUnit: number | null;
  /** Units completed over the whole run (warm-up, window and drain), the base of the counts below. */
  unitsTotal: number;
  /**
   * memcached's `cmd_get` and `get_hits` over the whole run, summed over the servers (only this client
   * is active then): the reads that reached a server. null when stats failed.
   */
  serverGets: number | null;
  serverHits: number | null;
  /**
   * The client's reads over the whole run answered from its near cache, and those that shared another
   * call's request; null for a client that does not count them.
   */
  nearHits: number | null;
  coalesced: number | null;
}

const DRAIN_TIMEOUT_MS = 5000;

class Lane implements LaneSink {
  /** The key (or batch) of the call in flight, and when it started (latency cells only). */
  key = 0;
  started = 0;
  ops!: LaneOps;
  constructor(readonly load: Load) {}

  value(v: Buffer | string | null | undefined): void {
    const ks = this.load.ks;
    const i = this.key;
    const ok = typeof v === 'string' ? v === ks.texts[i] : v != null && ks.values[i].equals(v);
    this.load.done(this, ok ? 0 : 1);
  }

  multi(result: unknown): void {
    const { ks, driver } = this.load;
    let bad = 0;
    for (let i = this.key * ks.batchSize, end = i + ks.batchSize; i < end; i++) {
      const v = driver.readMulti(result, ks.keys[i]);
      if (typeof v === 'string' ? v !== ks.texts[i] : v == null || !ks.values[i].equals(v)) bad++;
    }
    this.load.done(this, bad);
  }

  stored(): void {
    this.load.done(this, 0);
  }

  checked(bad: number): void {
    this.load.done(this, bad);
  }

  error(err: unknown): void {
    this.load.failed(this, err);
  }
}

export class Load {
  units = 0;
  mismatches = 0;
  errors = 0;
  calls = 0;
  firstError: string | undefined;
  /** Whether latencies are being recorded (the timed window of a latency cell). */
  recording = false;
  latencies = new Float64Array(1 << 16);
  latencyCount = 0;
  #inFlight = 0;
  #next = 0;
  /** Calls of a mix cell, counting to ten: the tenth is a set. */
  #mixTurn = 0;
  #stopping = false;
  #drained: (() => void) | undefined;
  readonly #unitsPerCall: number;
  readonly #wrap: number;
  /** Draws the keys of a Zipf cell; undefined when keys are taken in turn. */
  readonly #zipf: ZipfSampler | undefined;

  constructor(
    readonly driver: Driver,
    readonly ks: Keyspace,
    readonly cell: CellSpec,
  ) {
    this.#unitsPerCall = cell.op === 'getMulti' ? ks.batchSize : 1;
    this.#wrap = cell.op === 'getMulti' ? ks.batches.length : ks.count;
    if (cell.zipf > 0 && cell.op === 'getMulti') throw new Error('getMulti cells take batches in turn');
    this.#zipf = cell.zipf > 0 ? new ZipfSampler(ks.count, cell.zipf) : undefined;
  }

  start(): void {
    for (let n = 0; n < this.cell.inFlight; n++) {
      const lane = new Lane(this);
      lane.ops = this.driver.lane(lane);
      this.#inFlight++;
      this.#issue(lane);
    }
  }

  /** Stops starting calls; resolves with the number still outstanding after the drain timeout. */
  async stop(): Promise<number> {
    this.#stopping = true;
    if (this.#inFlight === 0) return 0;
    const drained = new Promise<void>((resolve) => (this.#drained = resolve));
    await Promise.race([drained, sleep(DRAIN_TIMEOUT_MS)]);
    return this.#inFlight;
  }

  done(lane: Lane, bad: number): void {
    this.mismatches += bad;
    this.units += this.#unitsPerCall;
    if (this.recording && this.cell.latency) this.#record(performance.now() - lane.started);
    this.#issue(lane);
  }

  failed(lane: Lane, err: unknown): void {
    this.errors++;
    this.firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    setImmediate(() => this.#issue(lane)); // never recurse on synchronous failures
  }

  #issue(lane: Lane): void {
    if (this.#stopping) {
      if (--this.#inFlight === 0) this.#drained?.();
      return;
    }
    let i: number;
    if (this.#zipf !== undefined) i = this.#zipf.next();
    else {
      i = this.#next;
      this.#next = i + 1 === this.#wrap ? 0 : i + 1;
    }
    lane.key = i;
    this.calls++;
    if (this.cell.latency) lane.started = performance.now();
    try {
      const op = this.cell.op;
      if (op === 'get') lane.ops.get(i);
      else if (op === 'set') lane.ops.set(i);
      else if (op === 'getMulti') lane.ops.getMulti(i);
      else if (++this.#mixTurn === 10) {
        this.#mixTurn = 0;
        lane.ops.set(i); // writes the key's own value, so the gets still check
      } else lane.ops.get(i);
    } catch (err) {
      this.failed(lane, err);
    }
  }

  #record(us: number): void {
    if (this.latencyCount === this.latencies.length) {
      const bigger = new Float64Array(this.latencies.length * 2);
      bigger.set(this.latencies);
      this.latencies = bigger;
    }
    this.latencies[this.latencyCount++] = us;
  }
}

/** One timed run of `cell` on an open driver. */
export async function timedRun(
  driver: Driver,
  ks: Keyspace,
  cell: CellSpec,
  warmupMs: number,
  durationMs: number,
  addresses: readonly string[],
  serverPids: readonly number[],
): Promise<RunResult> {
  const before = await serverCounts(addresses);
  const counters0 = driver.counters?.();
  const gcs: PerformanceEntry[] = [];
  const gcObserver = new PerformanceObserver((list) => gcs.push(...list.getEntries()));
  gcObserver.observe({ entryTypes: ['gc'] });
  const load = new Load(driver, ks, cell);
  load.start();
  await sleep(warmupMs);
  const ticks0 = serverTicks(serverPids);
  const machine0 = machineTicks();
  const io0 = syscalls();
  const cpu0 = process.cpuUsage();
  const units0 = load.units;
  const t0 = performance.now();
  load.recording = true;
  await sleep(durationMs);
  const t1 = performance.now();
  const units = load.units - units0;
  const cpu = process.cpuUsage(cpu0);
  const ticks1 = serverTicks(serverPids);
  const machine1 = machineTicks();
  const io1 = syscalls();
  load.recording = false;
  const stalled = await load.stop();
  gcs.push(...gcObserver.takeRecords());
  gcObserver.disconnect();
  const inWindow = gcs.filter((e) => e.startTime >= t0 && e.startTime < t1);
  const gcMs = inWindow.reduce((a, e) => a + e.duration, 0);
  const counters1 = driver.counters?.();
  const after = await serverCounts(addresses);
  const seconds = (t1 - t0) / 1000;
  // Ticks are 1/100 s, so ticks ÷ seconds is a percentage of one core.
  const serverCpuPct = ticks0 !== null && ticks1 !== null ? (ticks1 - ticks0) / seconds : null;
  const clientCpuPct = (cpu.user + cpu.system) / (seconds * 1e4);
  let otherCpuPct: number | null = null;
  let stealPct: number | null = null;
  if (machine0 !== null && machine1 !== null) {
    otherCpuPct = Math.max(0, (machine1.busy - machine0.busy) / seconds - clientCpuPct - (serverCpuPct ?? 0));
    stealPct = (machine1.steal - machine0.steal) / seconds;
  }
  const result: RunResult = {
    rate: units / seconds,
    units,
    seconds,
    cpuUsPerUnit: units > 0 ? (cpu.user + cpu.system) / units : 0,
    gcPct: (gcMs / (t1 - t0)) * 100,
    gcCount: inWindow.length,
    serverCpuPct,
    otherCpuPct,
    stealPct,
    mismatches: load.mismatches,
    errors: load.errors,
    calls: load.calls,
    stalled,
    // Each stats query is a connection of its own: the second one is counted in `after`.
    connectionsOpened:
      before !== null && after !== null ? after.total - before.total - addresses.length : null,
    serverConnections: after !== null ? after.current - addresses.length : null,
    readsPerUnit: io0 !== null && io1 !== null && units > 0 ? (io1.reads - io0.reads) / units : null,
    writesPerUnit: io0 !== null && io1 !== null && units > 0 ? (io1.writes - io0.writes) / units : null,
    unitsTotal: load.units,
    serverGets: before !== null && after !== null ? after.gets - before.gets : null,
    serverHits: before !== null && after !== null ? after.hits - before.hits : null,
    nearHits: counters0 && counters1 ? counters1.nearHits - counters0.nearHits : null,
    coalesced: counters0 && counters1 ? counters1.coalesced - counters0.coalesced : null,
  };
  if (load.firstError !== undefined) result.firstError = load.firstError;
  if (cell.latency) result.latency = summarizeLatency(load.latencies.subarray(0, load.latencyCount));
  return result;
}

interface ServerCounts {
  /** Connections ever opened, and open now. */
  total: number;
  current: number;
  /** Reads (`cmd_get`: every key of every get or mg) and those that found their key (`get_hits`). */
  gets: number;
  hits: number;
}

/** memcached's counters, summed over `addresses`; null if any did not answer. */
async function serverCounts(addresses: readonly string[]): Promise<ServerCounts | null> {
  const all = await Promise.all(addresses.map((a) => serverStats(a)));
  if (all.some((s) => s === undefined)) return null;
  const sum = (name: string): number => all.reduce((n, s) => n + Number(s!.get(name)), 0);
  return {
    total: sum('total_connections'),
    current: sum('curr_connections'),
    gets: sum('cmd_get'),
    hits: sum('get_hits'),
  };
}

/** Read and write system calls this process has made (/proc/self/io), or null. */
function syscalls(): { reads: number; writes: number } | null {
  try {
    const io = readFileSync('/proc/self/io', 'latin1');
    const reads = /^syscr: (\d+)/m.exec(io)?.[1];
    const writes = /^syscw: (\d+)/m.exec(io)?.[1];
    return reads !== undefined && writes !== undefined
      ? { reads: Number(reads), writes: Number(writes) }
      : null;
  } catch {
    return null;
  }
}

/** Busy and stolen clock ticks of the whole machine (/proc/stat), or null. */
function machineTicks(): { busy: number; steal: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'latin1').slice(0, 256).split('\n')[0];
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return { busy: user + nice + system + irq + softirq + steal, steal };
  } catch {
    return null;
  }
}

/** Total user + system clock ticks (USER_HZ = 100) of `pids`, or null where /proc cannot tell. */
function serverTicks(pids: readonly number[]): number | null {
  let total = 0;
  try {
    for (const pid of pids) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    }
  } catch {
    return null;
  }
  return total;
}
