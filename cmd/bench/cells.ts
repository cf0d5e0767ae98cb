/**
 * What the benchmark measures: the cells (one workload each), the clients, and how long each run lasts
 * in full and quick mode.
 */

/** Every client the benchmark knows, in the order the report shows them. */
export const CLIENTS = ['raw', 'memline', 'memjs', 'memcached', 'memcache-client', 'memcache'] as const;
export type ClientName = (typeof CLIENTS)[number];

/** The clients that are neither memline nor the ceiling. */
export const PEERS: readonly ClientName[] = ['memjs', 'memcached', 'memcache-client', 'memcache'];

export type Operation = 'get' | 'set' | 'getMulti';

export interface CellSpec {
  /** Short id for `--cells` and file names. */
  readonly id: string;
  /** What the report calls it. */
  readonly title: string;
  readonly op: Operation;
  /** Calls in flight at once (closed loop: each finished call starts the next). */
  readonly inFlight: number;
  /** Keys per getMulti call. */
  readonly batch: number;
  /** memcached processes behind the client. */
  readonly servers: number;
  /** Whether every call's latency is recorded (p50/p99). */
  readonly latency: boolean;
  /** What the throughput counts. */
  readonly unit: 'gets/s' | 'sets/s' | 'keys/s';
  /** Whether the design's "3× the best peer" target applies to this cell. */
  readonly peerTarget: boolean;
}

const cell = (spec: Omit<CellSpec, 'batch' | 'servers' | 'latency' | 'peerTarget'> & Partial<CellSpec>) => ({
  batch: 1,
  servers: 1,
  latency: false,
  peerTarget: false,
  ...spec,
});

export const CELLS: readonly CellSpec[] = [
  cell({ id: 'get-1', title: 'get, 1 in flight', op: 'get', inFlight: 1, unit: 'gets/s' }),
  cell({
    id: 'get-50',
    title: 'get, 50 in flight',
    op: 'get',
    inFlight: 50,
    unit: 'gets/s',
    peerTarget: true,
  }),
  cell({
    id: 'get-500',
    title: 'get, 500 in flight',
    op: 'get',
    inFlight: 500,
    unit: 'gets/s',
    peerTarget: true,
  }),
  cell({ id: 'set-50', title: 'set, 50 in flight', op: 'set', inFlight: 50, unit: 'sets/s' }),
  cell({
    id: 'multi-1',
    title: 'getMulti ×100, 1 in flight',
    op: 'getMulti',
    inFlight: 1,
    batch: 100,
    unit: 'keys/s',
  }),
  cell({
    id: 'multi-10',
    title: 'getMulti ×100, 10 in flight',
    op: 'getMulti',
    inFlight: 10,
    batch: 100,
    unit: 'keys/s',
  }),
  cell({
    id: 'latency-50',
    title: 'get latency, 50 in flight',
    op: 'get',
    inFlight: 50,
    latency: true,
    unit: 'gets/s',
  }),
  cell({
    id: 'cluster-50',
    title: 'get, 50 in flight, 3 servers',
    op: 'get',
    inFlight: 50,
    servers: 3,
    unit: 'gets/s',
  }),
];

/** Keys the workload cycles through; every one is stored before a cell starts. */
export const KEY_COUNT = 10_000;
/** Bytes per value. */
export const VALUE_SIZE = 100;

export interface Timing {
  /** Timed runs per client and cell. */
  repeats: number;
  /** Length of one timed run, ms. */
  durationMs: number;
  /** Load before a client's first timed run in a cell, ms (JIT, connections, buffers). */
  firstWarmupMs: number;
  /** Load before each later run, ms (the lanes fill up again). */
  warmupMs: number;
  /** Requests left pending for the heap-per-request measurement. */
  pending: number;
  /** The long memory run at 500 in flight, ms, and how often heapUsed is sampled in it. */
  memoryRunMs: number;
  memorySampleMs: number;
}

export const FULL: Timing = {
  repeats: 5,
  durationMs: 2000,
  firstWarmupMs: 1000,
  warmupMs: 200,
  pending: 10_000,
  memoryRunMs: 30_000,
  memorySampleMs: 1000,
};

export const QUICK: Timing = {
  repeats: 2,
  durationMs: 250,
  firstWarmupMs: 150,
  warmupMs: 50,
  pending: 10_000,
  memoryRunMs: 2000,
  memorySampleMs: 250,
};
