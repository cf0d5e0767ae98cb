/**
 * memline's memory: heap bytes per pending request (requests left waiting on a SIGSTOPped memcached,
 * heapUsed measured after full collections), and heapUsed sampled through a long run at 500 in flight
 * to show it stays flat. Runs in a worker started with --expose-gc, against its own memcached.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemcacheClient, type Item } from '../../protocols/memcached-meta/index.js';
import { KEY_COUNT, VALUE_SIZE, type CellSpec, type Timing } from './cells.js';
import { createDriver } from './clients.js';
import type { Keyspace } from './keyspace.js';
import { Load } from './load.js';

export interface HeapSample {
  /** Seconds since the long run started. */
  t: number;
  heapUsed: number;
  rss: number;
  /** Gets completed so far. */
  gets: number;
}

export interface MemoryResult {
  gcExposed: boolean;
  pending: number;
  /** heapUsed growth / pending requests, bytes: the median of {@link rounds}. */
  heapPerPending: number;
  /** heapUsed growth / pending requests in each round, bytes, in the order measured. */
  rounds: number[];
  /** Growth of external + ArrayBuffer memory / pending requests (buffers not yet taken by the kernel), in the median round. */
  externalPerPending: number;
  /** heapUsed before and with the requests pending, in the median round. */
  heapBefore: number;
  heapWithPending: number;
  /** Values of the pending requests, once memcached resumed, that were missing or wrong. */
  mismatches: number;
  errors: number;
  longRun: {
    seconds: number;
    gets: number;
    samples: HeapSample[];
    /** Least-squares slope of heapUsed over the samples after the first, bytes per minute. */
    slopePerMinute: number;
  };
}

/** Rounds of the pending-requests measurement; its figure is their median. */
export const MEMORY_ROUNDS = 3;

const LONG_RUN_CELL: CellSpec = {
  id: 'memory',
  title: 'get, 500 in flight (memory)',
  op: 'get',
  inFlight: 500,
  batch: 1,
  servers: 1,
  latency: false,
  unit: 'gets/s',
  peerTarget: false,
  valueSize: VALUE_SIZE,
  keyCount: KEY_COUNT,
  tls: false,
  inProcess: false,
  zipf: 0,
  clients: ['memline'],
};

export async function measureMemory(
  ks: Keyspace,
  address: string,
  pid: number,
  timing: Timing,
): Promise<MemoryResult> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const collect = (): void => {
    gc?.();
    gc?.();
  };
  const n = timing.pending;
  const client = new MemcacheClient({ servers: [address], timeout: 120_000, silentTimeout: 0 });
  let mismatches = 0;
  let errors = 0;
  // One round's growth carries a few hundred kB of noise (what else the process allocated meanwhile):
  // the median of several rounds keeps one such outlier out of the figure.
  const rounds: { before: NodeJS.MemoryUsage; during: NodeJS.MemoryUsage }[] = [];
  try {
    // Warm up the same path first, so what follows measures requests and not first-use allocations.
    // In a function of its own: its results must be garbage by the first round's "before" (kept
    // alive there and freed by "during", 10,000 Items once made the figure half what it is).
    await warmUp(client, ks, n);
    for (let round = 0; round < MEMORY_ROUNDS; round++) {
      const held = new Array<Promise<Item | null> | undefined>(n).fill(undefined);
      collect();
      const before = process.memoryUsage();
      let during: NodeJS.MemoryUsage;
      process.kill(pid, 'SIGSTOP');
      try {
        await waitStopped(pid);
        for (let i = 0; i < n; i++) held[i] = client.get(ks.keys[i % ks.count]);
        await sleep(100); // let the writer hand the bytes to the socket
        collect();
        during = process.memoryUsage();
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      rounds.push({ before, during });
      const settled = await Promise.allSettled(held as Promise<Item | null>[]);
      settled.forEach((s, i) => {
        if (s.status === 'rejected') errors++;
        else if (s.value === null || !s.value.value.equals(ks.values[i % ks.count])) mismatches++;
      });
    }
  } finally {
    await client.close();
  }
  const perPending = (r: (typeof rounds)[number]): number => (r.during.heapUsed - r.before.heapUsed) / n;
  const { before, during } = [...rounds].sort((a, b) => perPending(a) - perPending(b))[rounds.length >> 1];

  const longRun = await heapOverRun(ks, address, timing, collect);
  return {
    gcExposed: gc !== undefined,
    pending: n,
    heapPerPending: (during.heapUsed - before.heapUsed) / n,
    rounds: rounds.map(perPending),
    externalPerPending: (during.external + during.arrayBuffers - before.external - before.arrayBuffers) / n,
    heapBefore: before.heapUsed,
    heapWithPending: during.heapUsed,
    mismatches,
    errors,
    longRun,
  };
}

/** Three rounds of `n` gets, awaited, their results dropped when it returns. */
async function warmUp(client: MemcacheClient, ks: Keyspace, n: number): Promise<void> {
  for (let round = 0; round < 3; round++) {
    await Promise.all(Array.from({ length: n }, (_, i) => client.get(ks.keys[i % ks.count])));
  }
  await sleep(10); // nothing of the last round left in this frame's registers
}

/** Gets at 500 in flight for `timing.memoryRunMs`, sampling heapUsed (after a collection) as it goes. */
async function heapOverRun(
  ks: Keyspace,
  address: string,
  timing: Timing,
  collect: () => void,
): Promise<MemoryResult['longRun']> {
  const driver = createDriver('memline', ks);
  await driver.open([address], {});
  const load = new Load(driver, ks, LONG_RUN_CELL);
  const samples: HeapSample[] = [];
  const start = performance.now();
  const sample = (): void => {
    collect();
    const m = process.memoryUsage();
    samples.push({
      t: (performance.now() - start) / 1000,
      heapUsed: m.heapUsed,
      rss: m.rss,
      gets: load.units,
    });
  };
  try {
    load.start();
    while (performance.now() - start < timing.memoryRunMs) {
      await sleep(timing.memorySampleMs);
      sample();
    }
    await load.stop();
  } finally {
    await driver.close();
  }
  return {
    seconds: (performance.now() - start) / 1000,
    gets: load.units,
    samples,
    slopePerMinute: slope(samples.slice(1)) * 60,
  };
}

/** Least-squares slope of heapUsed over t, bytes per second. */
function slope(samples: readonly HeapSample[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const mt = samples.reduce((a, s) => a + s.t, 0) / n;
  const mh = samples.reduce((a, s) => a + s.heapUsed, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.t - mt) * (s.heapUsed - mh);
    den += (s.t - mt) ** 2;
  }
  return den > 0 ? num / den : 0;
}

/** Resolves once every thread of `pid` is stopped (signals arrive asynchronously). */
async function waitStopped(pid: number): Promise<void> {
  for (const deadline = Date.now() + 2000; Date.now() < deadline;) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      if (/\) [Tt] /.test(stat)) return;
    } catch {
      return; // no /proc: trust the signal
    }
    await sleep(5);
  }
}
