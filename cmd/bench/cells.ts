/**
 * What the benchmark measures: the cells (one workload each), the clients, and how long each run lasts
 * in full and quick mode.
 */

/**
 * Every client the benchmark knows, in the order the report shows them. `raw` and `raw-contract` are
 * the two ceilings (raw.ts): the least a client can send, and what memline's contract makes it send.
 * `raw-promise` is `raw-contract` whose every call returns a promise, settled when its replies are in
 * and awaited by the caller with `then`, as memline's calls are: the least a promise-returning client
 * with memline's requests costs. It runs only in the cells that name it.
 * `memline` runs with its default options (no coalescing, no near cache); `memline-coalesce` with
 * coalescing on, `memline-near` with coalescing and a near cache: these two run only in the cells that
 * name them (the hot-key cells). `memline-signal` is memline with its defaults whose every call passes
 * `{ signal }`, one AbortSignal (never aborted) shared by all calls: it runs only in get-50 and get-500,
 * against the target "calls sharing one AbortSignal within 10% of calls without one".
 * `memline-baseline` is another build of memline (`--baseline`), run beside `memline` in every cell
 * memline runs in, to measure a change before and after in one run.
 */
export const CLIENTS = [
  'raw',
  'raw-contract',
  'raw-promise',
  'memline',
  'memline-coalesce',
  'memline-near',
  'memline-signal',
  'memline-baseline',
  'memjs',
  'memcached',
  'memcache-client',
  'memcache',
] as const;
export type ClientName = (typeof CLIENTS)[number];

/** Where a `--baseline` checkout's built client is, from its root (see `memline-baseline`). */
export const BASELINE_ENTRY = 'dist/protocols/memcached-meta/index.js';

/** The ceilings, which no target is measured against but `raw`. */
export const CEILINGS: readonly ClientName[] = ['raw', 'raw-contract', 'raw-promise'];

/** The clients that are neither memline nor the ceiling. */
export const PEERS: readonly ClientName[] = ['memjs', 'memcached', 'memcache-client', 'memcache'];

/** memline with other options than its defaults: only the cells that list them run them. */
export const MEMLINE_VARIANTS: readonly ClientName[] = [
  'memline-coalesce',
  'memline-near',
  'memline-signal',
  'memline-baseline',
];

/** The clients a cell runs unless it says otherwise: all but the memline variants and `raw-promise`. */
export const DEFAULT_CLIENTS: readonly ClientName[] = CLIENTS.filter(
  (c) => !MEMLINE_VARIANTS.includes(c) && c !== 'raw-promise',
);

/** `mix`: nine gets, then one set, in turn. */
export type Operation = 'get' | 'set' | 'getMulti' | 'mix';

/** Keys the workload cycles through by default; every one is stored before a cell starts. */
export const KEY_COUNT = 10_000;
/** Bytes per value by default. */
export const VALUE_SIZE = 100;

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
  /** Bytes per value, and how many keys the cell cycles through (large values use fewer keys). */
  readonly valueSize: number;
  readonly keyCount: number;
  /** Whether the clients connect over TLS (to a memcached the benchmark starts with `-Z`). */
  readonly tls: boolean;
  /**
   * Whether the clients talk to an in-memory memcached in their own process (in-memory.ts) instead of
   * a real one: the run measures each client's own CPU per call, with no system calls and no server.
   * These cells run only when `--cells` names them, and no target applies to them.
   */
  readonly inProcess: boolean;
  /** What the throughput counts. */
  readonly unit: 'gets/s' | 'sets/s' | 'keys/s' | 'ops/s';
  /** Whether the design's "3× the best peer" target applies to this cell. */
  readonly peerTarget: boolean;
  /**
   * How keys are picked: 0, each key in turn; s > 0, drawn from a Zipf(s) distribution over the key
   * space (key i with probability ∝ 1 / (i + 1)^s; seeded, the same sequence for every client).
   */
  readonly zipf: number;
  /** The clients that run this cell (those also picked with `--clients`). */
  readonly clients: readonly ClientName[];
}

type Defaulted =
  | 'batch'
  | 'servers'
  | 'latency'
  | 'peerTarget'
  | 'valueSize'
  | 'keyCount'
  | 'tls'
  | 'inProcess'
  | 'zipf'
  | 'clients';

const cell = (spec: Omit<CellSpec, Defaulted> & Partial<CellSpec>): CellSpec => ({
  batch: 1,
  servers: 1,
  latency: false,
  peerTarget: false,
  valueSize: VALUE_SIZE,
  keyCount: KEY_COUNT,
  tls: false,
  inProcess: false,
  zipf: 0,
  clients: DEFAULT_CLIENTS,
  ...spec,
});

const KiB = 1024;

/** The clients of the in-process cells: those that speak the meta protocol through Node's `net`. */
const IN_PROCESS_CLIENTS: readonly ClientName[] = ['raw', 'raw-contract', 'raw-promise', 'memline'];

/** The clients of the single-key cells at 50 and 500 in flight, where the targets ask most of memline. */
const WITH_PROMISE_CEILING: readonly ClientName[] = [...DEFAULT_CLIENTS, 'raw-promise'];

/**
 * The clients of the cells that also measure calls sharing one AbortSignal (`memline-signal`), and
 * the promise ceiling.
 */
const WITH_SIGNAL: readonly ClientName[] = [...WITH_PROMISE_CEILING, 'memline-signal'];

export const CELLS: readonly CellSpec[] = [
  cell({ id: 'get-1', title: 'get, 1 in flight', op: 'get', inFlight: 1, unit: 'gets/s' }),
  cell({
    id: 'get-50',
    title: 'get, 50 in flight',
    op: 'get',
    inFlight: 50,
    unit: 'gets/s',
    peerTarget: true,
    clients: WITH_SIGNAL,
  }),
  cell({
    id: 'get-500',
    title: 'get, 500 in flight',
    op: 'get',
    inFlight: 500,
    unit: 'gets/s',
    peerTarget: true,
    clients: WITH_SIGNAL,
  }),
  cell({
    id: 'set-50',
    title: 'set, 50 in flight',
    op: 'set',
    inFlight: 50,
    unit: 'sets/s',
    clients: WITH_PROMISE_CEILING,
  }),
  cell({
    id: 'set-500',
    title: 'set, 500 in flight',
    op: 'set',
    inFlight: 500,
    unit: 'sets/s',
    clients: WITH_PROMISE_CEILING,
  }),
  cell({ id: 'mix-200', title: '90% get / 10% set, 200 in flight', op: 'mix', inFlight: 200, unit: 'ops/s' }),
  // About 16 MB of values each, well inside memcached's 64 MB.
  cell({
    id: 'get-16k-50',
    title: 'get 16 KiB values, 50 in flight',
    op: 'get',
    inFlight: 50,
    unit: 'gets/s',
    valueSize: 16 * KiB,
    keyCount: 1000,
  }),
  cell({
    id: 'get-512k-50',
    title: 'get 512 KiB values, 50 in flight',
    op: 'get',
    inFlight: 50,
    unit: 'gets/s',
    valueSize: 512 * KiB,
    keyCount: 32,
  }),
  cell({
    id: 'tls-get-50',
    title: 'get over TLS, 50 in flight',
    op: 'get',
    inFlight: 50,
    unit: 'gets/s',
    tls: true,
  }),
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
    clients: WITH_PROMISE_CEILING,
  }),
  cell({
    id: 'cluster-50',
    title: 'get, 50 in flight, 3 servers',
    op: 'get',
    inFlight: 50,
    servers: 3,
    unit: 'gets/s',
  }),
  // Hot keys: a few keys take most reads (the top 10 of 100,000 about a quarter, the top 1,000 about
  // 60%), so calls in flight often want the same key. memline without coalescing, with it (its
  // default) and with a near cache as well, with the raw socket for scale.
  cell({
    id: 'zipf-200',
    title: 'get Zipf(1.0) over 100,000 keys, 200 in flight',
    op: 'get',
    inFlight: 200,
    unit: 'gets/s',
    keyCount: 100_000,
    zipf: 1,
    clients: ['raw', 'memline', 'memline-coalesce', 'memline-near'],
  }),
  // In-process: the client's own CPU per call, for measuring a change to the hot path (see inProcess).
  ...[50, 500].map((inFlight) =>
    cell({
      id: `inproc-get-${inFlight}`,
      title: `get, ${inFlight} in flight, in-process server`,
      op: 'get',
      inFlight,
      unit: 'gets/s',
      inProcess: true,
      clients: IN_PROCESS_CLIENTS,
    }),
  ),
  cell({
    id: 'inproc-multi-10',
    title: 'getMulti ×100, 10 in flight, in-process server',
    op: 'getMulti',
    inFlight: 10,
    batch: 100,
    unit: 'keys/s',
    inProcess: true,
    clients: IN_PROCESS_CLIENTS,
  }),
];

/** The cells that run when `--cells` is not given: all but the in-process ones. */
export const DEFAULT_CELLS: readonly CellSpec[] = CELLS.filter((c) => !c.inProcess);

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
