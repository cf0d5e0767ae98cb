/**
 * The benchmark's own parts (cmd/bench/): the contract ceiling's raw socket against real memcached,
 * the load generator's get/set mix and GC share, the TLS memcached the bench starts, and the chart.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import { makeCert } from '../../cmd/bench/certs.js';
import type { BenchData } from '../../cmd/bench/bench.js';
import { CELLS, DEFAULT_CLIENTS, FULL, MEMLINE_VARIANTS, type CellSpec } from '../../cmd/bench/cells.js';
import { chart } from '../../cmd/bench/chart.js';
import { createDriver } from '../../cmd/bench/clients.js';
import type { Driver, LaneOps, LaneSink } from '../../cmd/bench/driver.js';
import {
  IN_PROCESS_ADDRESS,
  IN_PROCESS_HOST,
  IN_PROCESS_PORT,
  InMemoryMemcached,
  installInMemoryServer,
} from '../../cmd/bench/in-memory.js';
import { Keyspace, storeAll } from '../../cmd/bench/keyspace.js';
import { timedRun, type RunResult } from '../../cmd/bench/load.js';
import { FAILED, MISMATCH, OK, RawBatch, RawConnection } from '../../cmd/bench/raw.js';
import { createHook } from 'node:async_hooks';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { summarizeProfile } from '../../cmd/bench/profile.js';
import { parseOptions, UsageError } from '../../cmd/bench/options.js';
import { buildReports } from '../../cmd/bench/report.js';
import { rawTarget, verdicts, type CellSummary } from '../../cmd/bench/summary.js';
import { ZipfSampler, zipfCdf } from '../../cmd/bench/zipf.js';
import { startLocalMemcached } from '../../cmd/shared/local-memcached.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';

const cellById = (id: string): CellSpec => CELLS.find((c) => c.id === id)!;

describe('bench: the contract ceiling (raw socket with memline flags)', () => {
  let server: MemcachedProcess;
  before(async () => {
    server = await startMemcached();
    await server.command('set hit 0 0 3\r\nabc\r\n', { until: '\r\n' });
  });
  after(() => server.stop());

  it('a quiet getMulti counts the hit, takes the key without a reply as a miss, and MN keeps the FIFO in step', async () => {
    const conn = await RawConnection.connect(server.address, 'contract');
    try {
      const batch = new RawBatch(4);
      conn.getQuiet('missing', Buffer.from('abc'), batch);
      conn.getQuiet('hit', Buffer.from('abc'), batch);
      conn.getQuiet('also-missing', Buffer.from('abc'), batch);
      conn.endBatch();
      conn.get('hit', Buffer.from('abc'), batch); // after MN: must line up with its own reply
      await batch.done;
      expect(batch.counts[OK]).to.equal(2);
      expect(batch.counts[MISMATCH]).to.equal(2);
      expect(batch.counts[FAILED]).to.equal(0);
    } finally {
      conn.close();
    }
  });

  it('sends opaques and checks them: gets and sets in one pipeline all settle OK', async () => {
    const conn = await RawConnection.connect(server.address, 'contract');
    try {
      const batch = new RawBatch(200);
      for (let i = 0; i < 100; i++) conn.set(`k${i}`, `v${i}`, batch);
      for (let i = 0; i < 100; i++) conn.get(`k${i}`, Buffer.from(`v${i}`), batch);
      await batch.done;
      expect(batch.counts).to.deep.equal([200, 0, 0]);
    } finally {
      conn.close();
    }
  });
});

describe('bench: the load generator', () => {
  /** A client that answers at once, counts the calls, and allocates so that collections happen. */
  class CountingDriver implements Driver {
    readonly name = 'memline';
    readonly valueType = 'Buffer';
    gets = 0;
    sets = 0;
    /** How often each key was read. */
    readonly reads: number[];
    constructor(readonly ks: Keyspace) {
      this.reads = new Array<number>(ks.count).fill(0);
    }
    unsupported(): undefined {
      return undefined;
    }
    open(): Promise<void> {
      return Promise.resolve();
    }
    lane(sink: LaneSink): LaneOps {
      return {
        get: (i) => {
          this.gets++;
          this.reads[i]++;
          const garbage = Buffer.from(new Uint8Array(4096)); // young-generation churn
          setImmediate(() => sink.value(garbage.length > 0 ? this.ks.values[i] : null));
        },
        set: () => {
          this.sets++;
          setImmediate(() => sink.stored());
        },
        getMulti: () => sink.error(new Error('unused')),
      };
    }
    readMulti(): undefined {
      return undefined;
    }
    close(): Promise<void> {
      return Promise.resolve();
    }
  }

  it('mix-200 issues one set for every nine gets, and every run reports its GC share', async () => {
    const ks = new Keyspace(1000, 100, 100);
    const driver = new CountingDriver(ks);
    const result = await timedRun(driver, ks, cellById('mix-200'), 20, 300, [], []);
    const calls = driver.gets + driver.sets;
    expect(driver.sets).to.be.within(Math.floor(calls / 10) - 1, Math.ceil(calls / 10) + 1);
    expect(result.mismatches).to.equal(0);
    expect(result.gcCount).to.be.greaterThan(0);
    expect(result.gcPct).to.be.greaterThan(0).and.lessThan(100);
  });

  it('zipf-200 draws its keys from the Zipf distribution: key 0 most often, every value still checked', async () => {
    const ks = new Keyspace(1000, 100, 100);
    const driver = new CountingDriver(ks);
    const result = await timedRun(driver, ks, { ...cellById('zipf-200'), keyCount: 1000 }, 20, 300, [], []);
    expect(result.mismatches).to.equal(0);
    expect(result.unitsTotal).to.equal(driver.gets);
    // Zipf(1) over 1,000 keys: key 0 takes 1 / H(1000) ≈ 13.4% of the reads, key 1 half that.
    expect(driver.reads[0] / driver.gets).to.be.within(0.12, 0.15);
    expect(driver.reads[1] / driver.reads[0]).to.be.within(0.4, 0.6);
    expect(driver.reads.slice(500).reduce((a, b) => a + b, 0) / driver.gets).to.be.lessThan(0.1);
    expect(result.nearHits).to.equal(null); // a client without hot-key counters reports none
  });
});

describe("bench: memline's targets", () => {
  it('judges each cell by its own share of the raw socket: 0.9 at 50 in flight, 0.85 for getMulti, 0.8 elsewhere, none at 1', () => {
    expect(
      ['get-1', 'get-50', 'set-50', 'get-500', 'multi-10', 'mix-200', 'inproc-get-500'].map(rawTarget),
    ).to.deep.equal([undefined, 0.9, 0.9, 0.8, 0.85, 0.8, undefined]);
    const cell = (id: string, vsRaw: number): CellSummary =>
      ({ id, peerTarget: false, clients: [{ name: 'memline', median: 1, vsRaw }] }) as unknown as CellSummary;
    const judged = verdicts([
      cell('get-1', 0.5),
      cell('get-50', 0.85),
      cell('get-500', 0.85),
      cell('multi-10', 0.84),
    ]);
    expect(judged.map((v) => [v.cell, v.underRaw])).to.deep.equal([
      ['get-1', false],
      ['get-50', true],
      ['get-500', false],
      ['multi-10', true],
    ]);
  });
});

describe('bench: the Zipf sampler', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const draw = (seed: number): number[] => {
      const z = new ZipfSampler(100_000, 1, seed);
      return Array.from({ length: 1000 }, () => z.next());
    };
    expect(draw(7)).to.deep.equal(draw(7));
    expect(draw(7)).to.not.deep.equal(draw(8));
  });

  it('matches Zipf(1.0) over 100,000 keys: ranks in range, key frequencies close to 1 / (rank × H)', () => {
    const n = 100_000;
    const cdf = zipfCdf(n, 1);
    expect(cdf[n - 1]).to.equal(1);
    const h = Array.from({ length: n }, (_, i) => 1 / (i + 1)).reduce((a, b) => a + b, 0);
    const z = new ZipfSampler(n, 1);
    const counts = new Map<number, number>();
    const draws = 400_000;
    let min = n;
    let max = -1;
    for (let d = 0; d < draws; d++) {
      const k = z.next();
      min = Math.min(min, k);
      max = Math.max(max, k);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    expect(min).to.equal(0);
    expect(max).to.be.within(n / 2, n - 1); // the tail is reached, never passed
    for (const rank of [1, 2, 10]) {
      const expected = draws / (rank * h);
      expect(counts.get(rank - 1) ?? 0).to.be.within(expected * 0.9, expected * 1.1);
    }
    let top1000 = 0;
    for (let k = 0; k < 1000; k++) top1000 += counts.get(k) ?? 0;
    expect(top1000 / draws).to.be.within(0.6, 0.64); // H(1000) / H(100,000) ≈ 0.619
  });
});

describe('bench: the hot-key cell against real memcached', function () {
  this.timeout(60_000);
  let server: MemcachedProcess;
  const ks = new Keyspace(1000, 100, 100);
  const cell = { ...cellById('zipf-200'), keyCount: 1000 };
  before(async () => {
    server = await startMemcached();
    await storeAll([server.address], ks);
  });
  after(() => server.stop());

  async function run(name: 'memline' | 'memline-coalesce' | 'memline-near'): Promise<RunResult> {
    const driver = createDriver(name, ks);
    await driver.open([server.address], {});
    try {
      return await timedRun(driver, ks, cell, 100, 400, [server.address], []);
    } finally {
      await driver.close();
    }
  }

  it('counts every get that reached memcached, and the gets coalescing and the near cache answered', async () => {
    const plain = await run('memline');
    const coalescing = await run('memline-coalesce');
    const near = await run('memline-near');
    for (const r of [plain, coalescing, near]) {
      expect(r.mismatches).to.equal(0);
      expect(r.errors).to.equal(0);
      expect(r.serverHits).to.equal(r.serverGets); // every key is stored
      // Each get went to memcached, shared a request in flight, or came from the near cache.
      expect(r.serverGets! + r.coalesced! + r.nearHits!).to.equal(r.unitsTotal);
    }
    expect(plain).to.include({ coalesced: 0, nearHits: 0 });
    expect(coalescing.coalesced).to.be.greaterThan(0);
    expect(coalescing.nearHits).to.equal(0);
    expect(near.nearHits).to.be.greaterThan(0);
    expect(near.serverGets! / near.unitsTotal).to.be.lessThan(coalescing.serverGets! / coalescing.unitsTotal);
  });
});

describe('bench: the cells', () => {
  it('has zipf-200: Zipf(1.0) gets over 100,000 keys at 200 in flight, memline three ways and the raw socket', () => {
    expect(cellById('zipf-200')).to.include({ op: 'get', inFlight: 200, keyCount: 100_000, zipf: 1 });
    expect(cellById('zipf-200').clients).to.have.members([
      'raw',
      'memline',
      'memline-coalesce',
      'memline-near',
    ]);
    // The variants run nowhere else but memline-signal in get-50 and get-500; every other cell runs
    // memline with its defaults.
    for (const c of CELLS.filter((x) => x.id !== 'zipf-200')) {
      expect(c.zipf).to.equal(0);
      expect(c.clients).to.include('memline');
      const signal = c.id === 'get-50' || c.id === 'get-500' ? ['memline-signal'] : [];
      expect(c.clients.filter((x) => MEMLINE_VARIANTS.includes(x))).to.deep.equal(signal);
    }
  });

  it('runs memline-signal in get-50 and get-500, beside every client those cells ran before', () => {
    expect(DEFAULT_CLIENTS).to.not.include('memline-signal');
    for (const id of ['get-50', 'get-500']) {
      expect(cellById(id).clients).to.have.members([...DEFAULT_CLIENTS, 'raw-promise', 'memline-signal']);
    }
    expect(CELLS.filter((c) => c.clients.includes('memline-signal')).map((c) => c.id)).to.deep.equal([
      'get-50',
      'get-500',
    ]);
  });

  it('runs raw-promise (the promise ceiling) where the targets ask most of a promise per call, and in-process', () => {
    expect(DEFAULT_CLIENTS).to.not.include('raw-promise');
    expect(CELLS.filter((c) => c.clients.includes('raw-promise')).map((c) => c.id)).to.deep.equal([
      'get-50',
      'get-500',
      'set-50',
      'set-500',
      'latency-50',
      'inproc-get-50',
      'inproc-get-500',
      'inproc-multi-10',
    ]);
    for (const id of ['set-50', 'set-500', 'latency-50']) {
      expect(cellById(id).clients).to.have.members([...DEFAULT_CLIENTS, 'raw-promise']);
    }
  });

  it('has set at 500, the mix at 200, 16 KiB and 512 KiB gets, and TLS gets', () => {
    expect(cellById('set-500')).to.include({ op: 'set', inFlight: 500 });
    expect(cellById('mix-200')).to.include({ op: 'mix', inFlight: 200 });
    expect(cellById('get-16k-50')).to.include({ op: 'get', inFlight: 50, valueSize: 16 * 1024 });
    expect(cellById('get-512k-50')).to.include({ op: 'get', inFlight: 50, valueSize: 512 * 1024 });
    expect(cellById('tls-get-50')).to.include({ op: 'get', inFlight: 50, tls: true });
    // The large values stay well inside the 64 MB memcached is started with.
    for (const c of CELLS) expect(c.keyCount * c.valueSize).to.be.at.most(32 * 1024 * 1024);
  });
});

describe('bench: the report', () => {
  /** A run of `rate` gets/s over 1,000 gets, `serverGets` of which reached memcached. */
  const runOf = (rate: number, serverGets: number | null, nearHits: number | null, coalesced: number | null): RunResult => ({
    rate, units: rate, seconds: 1, cpuUsPerUnit: 2, gcPct: 1, gcCount: 1, serverCpuPct: 50, otherCpuPct: 5,
    stealPct: 0, mismatches: 0, errors: 0, calls: 1000, stalled: 0, connectionsOpened: 1, serverConnections: 1,
    readsPerUnit: null, writesPerUnit: null, unitsTotal: 1000, serverGets, serverHits: serverGets, nearHits, coalesced,
  }); // prettier-ignore

  /** A one-cell benchmark of `cell` whose clients ran `clients`, for the report. */
  const dataOf = (cell: CellSpec, command: string, clients: BenchData['cells'][number]['clients']): BenchData => ({
    date: '2026-01-01T00:00:00.000Z', command, mode: 'full', timing: FULL,
    machine: {
      cpu: 'cpu', cores: 2, available: 2, memoryGiB: 4, os: 'linux', node: '20', v8: '11', memcached: '1.6.18',
      pinning: 'not pinned', memline: 'abc', peers: {},
    },
    valueTypes: {}, cells: [{ cell, clients }], profiles: [], seconds: 10,
  }); // prettier-ignore

  it('has a hot-key table: memcached gets, near-cache hits and coalesced reads per op, and ÷ coalescing off', () => {
    const data = dataOf(cellById('zipf-200'), 'npm run bench -- --cells zipf-200', [
      { name: 'raw', status: 'ok', runs: [runOf(500_000, 1000, null, null)], restarts: 0 },
      { name: 'memline', status: 'ok', runs: [runOf(200_000, 1000, 0, 0)], restarts: 0 },
      { name: 'memline-coalesce', status: 'ok', runs: [runOf(300_000, 600, 0, 400)], restarts: 0 },
      { name: 'memline-near', status: 'ok', runs: [runOf(400_000, 250, 500, 250)], restarts: 0 },
    ]);
    const { markdown } = buildReports(data, 'chart.svg');
    const section = markdown.slice(markdown.indexOf('## Hot keys'));
    expect(section).to.include(
      '| zipf-200 | memline | 200.0k gets/s | 1.00 | 1.000 | 1.000 | 0.000 | 0.000 | 50% | 2.0 µs |',
    );
    expect(section).to.include(
      '| zipf-200 | memline, coalescing | 300.0k gets/s | 1.50 | 0.600 | 0.600 | 0.000 | 0.400 |',
    );
    expect(section).to.include(
      '| zipf-200 | memline, coalescing + near cache | 400.0k gets/s | 2.00 | 0.250 | 0.250 | 0.500 | 0.250 |',
    );
    expect(section).to.include('| zipf-200 | raw socket | 500.0k gets/s | — | 1.000 | 1.000 | — | — |');
    // The variants are columns of the throughput table too.
    expect(markdown).to.match(
      /\| cell \| raw socket \| memline \| memline, coalescing \| memline, coalescing \+ near cache \|/,
    );
  });

  it('gives the heap per pending request as the median of its rounds, and shows every round', () => {
    const data = dataOf(cellById('get-50'), 'npm run bench', [
      { name: 'memline', status: 'ok', runs: [runOf(100, null, null, null)], restarts: 0 },
    ]);
    data.memory = {
      gcExposed: true, pending: 10_000, heapPerPending: 186, rounds: [184, 205, 186], externalPerPending: 0,
      heapBefore: 14_600_000, heapWithPending: 16_460_000, mismatches: 0, errors: 0,
      longRun: { seconds: 30, gets: 1000, samples: [{ t: 1, heapUsed: 16e6, rss: 50e6, gets: 10 }], slopePerMinute: 0 },
    }; // prettier-ignore
    const { markdown } = buildReports(data, 'chart.svg');
    expect(markdown).to.include(
      '**186 bytes of heap per pending request:** 10,000 gets left pending against a SIGSTOPped memcached, ' +
        'the median of 3 rounds (184, 205, 186 bytes);',
    );
  });

  it('with a baseline build, compares memline with it run by run: each pair, and the medians', () => {
    const runs = (...rates: number[]): RunResult[] => rates.map((r) => runOf(r, null, null, null));
    const data = dataOf(cellById('get-50'), 'npm run bench -- --cells get-50 --baseline ../before', [
      { name: 'memline', status: 'ok', runs: runs(110, 220, 330), restarts: 0 },
      { name: 'memline-baseline', status: 'ok', runs: runs(100, 200, 300), restarts: 0 },
    ]);
    const { markdown } = buildReports(data, 'chart.svg');
    expect(markdown).to.include('| get-50 | 220 | 200 | 1.10 | 1.10 | 1.10 1.10 1.10 |');
    expect(markdown).to.include('memline, baseline build');
  });

  it('compares memline with one AbortSignal on every call against memline without: ✓ within 10%', () => {
    const runs = (...rates: number[]): RunResult[] => rates.map((r) => runOf(r, null, null, null));
    const ok = { status: 'ok', restarts: 0 } as const;
    const cells: BenchData['cells'] = [
      // 0.95: within 10%.
      ...dataOf(cellById('get-50'), '', [
        { name: 'memline', ...ok, runs: runs(200_000, 210_000, 190_000) },
        { name: 'memline-signal', ...ok, runs: runs(180_000, 190_000, 200_000) },
      ]).cells,
      // 0.85: more than 10% slower.
      ...dataOf(cellById('get-500'), '', [
        { name: 'memline', ...ok, runs: runs(1_000_000, 1_000_000) },
        { name: 'memline-signal', ...ok, runs: runs(850_000, 850_000) },
      ]).cells,
      // memline-signal did not run here, or failed before its first run.
      ...dataOf(cellById('get-1'), '', [{ name: 'memline', ...ok, runs: runs(15_000) }]).cells,
      ...dataOf(cellById('set-50'), '', [
        { name: 'memline', ...ok, runs: runs(500_000) },
        { name: 'memline-signal', status: 'failed', reason: 'worker died', runs: [], restarts: 0 },
      ]).cells,
    ];
    const data = { ...dataOf(cellById('get-50'), 'npm run bench', []), cells };
    const { markdown, json } = buildReports(data, 'chart.svg');
    const start = markdown.indexOf('## Calls sharing one AbortSignal');
    expect(start).to.be.greaterThan(-1);
    const section = markdown.slice(start, markdown.indexOf('\n## ', start + 1));
    expect(section).to.include('| get-50 | 200.0k gets/s | 190.0k gets/s | 0.95 ✓ |');
    expect(section).to.include('| get-500 | 1.00M gets/s | 850.0k gets/s | 0.85 ✗ |');
    expect(section).to.not.include('| get-1 |');
    expect(section).to.not.include('| set-50 |');
    // A column of the throughput table, empty where the variant did not run; the runs are in the JSON.
    expect(markdown).to.match(/\| cell \| memline \| memline, one AbortSignal \|/);
    expect(markdown).to.include('| get, 1 in flight (gets/s) | 15.0k |  |');
    const parsed = JSON.parse(json) as BenchData;
    expect(parsed.cells[1].clients.find((c) => c.name === 'memline-signal')?.runs).to.have.length(2);
  });

  it('sets memline against the promise ceiling where both ran: it ÷ raw, memline ÷ it, and CPU per op', () => {
    const ok = { status: 'ok', restarts: 0 } as const;
    const cpuRuns = (rate: number, cpu: number): RunResult[] => [
      { ...runOf(rate, null, null, null), cpuUsPerUnit: cpu },
    ];
    const cells: BenchData['cells'] = [
      ...dataOf(cellById('get-500'), '', [
        { name: 'raw', ...ok, runs: cpuRuns(1_000_000, 0.6) },
        { name: 'raw-promise', ...ok, runs: cpuRuns(800_000, 0.75) },
        { name: 'memline', ...ok, runs: cpuRuns(720_000, 0.9) },
      ]).cells,
      // No promise ceiling here: no row.
      ...dataOf(cellById('get-1'), '', [{ name: 'memline', ...ok, runs: cpuRuns(15_000, 30) }]).cells,
    ];
    const { markdown } = buildReports(
      { ...dataOf(cellById('get-500'), 'npm run bench', []), cells },
      'chart.svg',
    );
    const start = markdown.indexOf('## A promise per call');
    expect(start).to.be.greaterThan(-1);
    const section = markdown.slice(start, markdown.indexOf('\n## ', start + 1));
    expect(section).to.include('| get-500 | 800.0k gets/s | 0.80 | 0.90 | 1.20 |');
    expect(section).to.not.include('| get-1 |');
    expect(markdown).to.include("raw, memline's flags, a promise per call");
    const none = buildReports(
      dataOf(cellById('get-1'), '', [{ name: 'memline', ...ok, runs: cpuRuns(1, 1) }]),
      'c.svg',
    );
    expect(none.markdown).to.not.include('## A promise per call');
  });

  it('has no AbortSignal section when no cell ran both memline and memline-signal', () => {
    const runs = [runOf(100, null, null, null)];
    const only = (name: 'memline' | 'memline-signal'): BenchData =>
      dataOf(cellById('get-50'), '', [{ name, status: 'ok', runs, restarts: 0 }]);
    for (const data of [only('memline'), only('memline-signal')]) {
      expect(buildReports(data, 'chart.svg').markdown).to.not.include('## Calls sharing one AbortSignal');
    }
  });

  it('judges the ratio itself: 0.9 exactly is within 10%, just under is not', () => {
    const verdict = (plain: number, signal: number): string => {
      const data = dataOf(cellById('get-500'), '', [
        { name: 'memline', status: 'ok', runs: [runOf(plain, null, null, null)], restarts: 0 },
        { name: 'memline-signal', status: 'ok', runs: [runOf(signal, null, null, null)], restarts: 0 },
      ]);
      return /\| get-500 \| [^|]+ \| [^|]+ \| ([^|]+) \|/.exec(buildReports(data, 'chart.svg').markdown)![1];
    };
    expect(verdict(1000, 900)).to.equal('0.90 ✓');
    expect(verdict(1000, 899)).to.equal('0.90 ✗');
    expect(verdict(1000, 1050)).to.equal('1.05 ✓');
  });
});

describe('bench: the in-process cells (an in-memory memcached in the client process)', function () {
  this.timeout(60_000);
  let server: MemcachedProcess;
  before(async () => {
    server = await startMemcached();
  });
  after(() => server.stop());

  // Every form the clients send, and what surrounds them: misses, quiet, sets, deletes, a set that
  // changes a value already read, the same get with other opaques, an unknown command.
  const script =
    'ms a 3 F5 T0\r\nabc\r\n' +
    'ms b 2 q\r\nxy\r\n' +
    'mg a v f k O1\r\nmg a s v\r\nmg a v f c O2\r\nmg a v f c O33\r\n' +
    'mg missing v f c k O3\r\nmg missing q k O4\r\nmg missing v\r\n' +
    'mg b v f c q k O5\r\nmd b k O6\r\nmg b v O7\r\nmd b O8\r\nmd a q\r\nmg a v\r\n' +
    'ms a 4 c k O9\r\nabcd\r\nmg a v f c O10\r\nmg a v c t k O11\r\nms c 0 F7 q\r\n\r\nmg c v f\r\n' +
    'nonsense\r\nversion\r\nmn\r\n';
  const normalized = (b: Buffer): string =>
    b
      .toString('latin1')
      .replace(/ c\d+/g, ' c#')
      .replace(/^VERSION \S+/m, 'VERSION');

  it('answers the requests the clients send as memcached 1.6.18 does, byte for byte but the CAS values', async () => {
    const real = await server.command(script, { until: 'MN\r\n' });
    const uninstall = installInMemoryServer(new InMemoryMemcached());
    let fake = Buffer.alloc(0);
    try {
      const socket = net.connect({ host: IN_PROCESS_HOST, port: IN_PROCESS_PORT });
      await once(socket, 'connect');
      const done = new Promise<void>((resolve) =>
        socket.on('data', (chunk: Buffer) => {
          fake = Buffer.concat([fake, chunk]);
          if (fake.toString('latin1').endsWith('MN\r\n')) resolve();
        }),
      );
      // In pieces that cut request lines and data blocks apart.
      for (let i = 0; i < script.length; i += 7) socket.write(script.slice(i, i + 7));
      await done;
      socket.destroy();
    } finally {
      uninstall();
    }
    expect(real.toString('latin1')).to.include('VA 3 f5 ka O1\r\nabc\r\n'); // the script means what it says
    expect(normalized(fake)).to.equal(normalized(real));
  });

  it('runs memline and the raw sockets with every value right, reads landing in memline memory and as data', async () => {
    const small = new Keyspace(1000, 100, 100);
    const large = new Keyspace(100, 10, 16 * 1024); // 50 values in flight span many 64 KiB reads
    const cases: [CellSpec, Keyspace][] = [
      [{ ...cellById('inproc-get-50'), keyCount: 1000 }, small],
      [{ ...cellById('inproc-multi-10'), keyCount: 1000 }, small],
      [{ ...cellById('inproc-get-50'), keyCount: 100, valueSize: 16 * 1024 }, large],
    ];
    for (const [cell, ks] of cases) {
      for (const name of ['memline', 'raw', 'raw-contract', 'raw-promise'] as const) {
        const uninstall = installInMemoryServer(InMemoryMemcached.of(ks));
        const driver = createDriver(name, ks);
        try {
          await driver.open([IN_PROCESS_ADDRESS], {});
          const r = await timedRun(driver, ks, cell, 20, 150, [], []);
          expect(r, `${name} in ${cell.id}`).to.include({ mismatches: 0, errors: 0, stalled: 0 });
          expect(r.units, `${name} in ${cell.id}`).to.be.greaterThan(cell.inFlight * ks.batchSize);
        } finally {
          await driver.close();
          uninstall();
        }
      }
    }
  });

  it('raw-promise makes a promise per call and raw-contract none: the one difference between the two', async () => {
    const ks = new Keyspace(1000, 100, 100);
    const cell = { ...cellById('inproc-get-50'), keyCount: 1000 };
    const promisesPerCall: Record<string, number> = {};
    for (const name of ['raw-contract', 'raw-promise'] as const) {
      const uninstall = installInMemoryServer(InMemoryMemcached.of(ks));
      const driver = createDriver(name, ks);
      let promises = 0;
      const hook = createHook({
        init(_id, type) {
          if (type === 'PROMISE') promises++;
        },
      });
      try {
        await driver.open([IN_PROCESS_ADDRESS], {});
        hook.enable();
        const r = await timedRun(driver, ks, cell, 20, 150, [], []);
        hook.disable();
        expect(r).to.include({ mismatches: 0, errors: 0, stalled: 0 });
        promisesPerCall[name] = promises / r.calls;
      } finally {
        hook.disable();
        await driver.close();
        uninstall();
      }
    }
    // One for the call and one for its then; the harness's own few are spread over thousands of calls.
    expect(promisesPerCall['raw-promise']).to.be.within(2, 2.1);
    expect(promisesPerCall['raw-contract']).to.be.below(0.1);
  });

  it('leaves every other connect to Node, and puts net.connect back when uninstalled', async () => {
    const original = net.connect;
    const uninstall = installInMemoryServer(new InMemoryMemcached());
    try {
      expect(net.connect).to.not.equal(original);
      const socket = net.connect({ host: '127.0.0.1', port: Number(server.address.split(':')[1]) });
      expect(socket).to.be.instanceOf(net.Socket);
      await once(socket, 'connect');
      socket.destroy();
    } finally {
      uninstall();
    }
    expect(net.connect).to.equal(original);
  });

  it('runs only when --cells names them (no target applies there: see the targets)', () => {
    const all = parseOptions([]) as { cells: CellSpec[] };
    expect(all.cells.some((c) => c.inProcess)).to.equal(false);
    expect(all.cells.length).to.equal(CELLS.length - 3);
    const picked = parseOptions(['--cells', 'inproc-get-500,get-50']) as { cells: CellSpec[] };
    expect(picked.cells.map((c) => [c.id, c.inProcess])).to.deep.equal([
      ['get-50', false],
      ['inproc-get-500', true],
    ]);
  });
});

describe('bench: --baseline', () => {
  it('needs a built checkout, adds memline-baseline to the clients, and memline-baseline needs it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'memline-baseline-'));
    try {
      expect(() => parseOptions(['--baseline', dir])).to.throw(UsageError, /has no dist\/protocols/);
      const entry = join(dir, 'dist', 'protocols', 'memcached-meta');
      mkdirSync(entry, { recursive: true });
      writeFileSync(join(entry, 'index.js'), 'export {};\n');
      const options = parseOptions(['--clients', 'raw,memline', '--baseline', dir]);
      expect(options === 'help' ? [] : options.clients).to.deep.equal(['raw', 'memline', 'memline-baseline']);
      expect(options === 'help' ? undefined : options.baseline).to.equal(dir);
      expect(() => parseOptions(['--clients', 'memline-baseline'])).to.throw(UsageError, /needs --baseline/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bench: --clients memline-signal', () => {
  const clientsOf = (argv: string[]): string[] => {
    const options = parseOptions(argv);
    return options === 'help' ? [] : options.clients;
  };

  it('is a client of its own, in the default list, and runs beside a --baseline build', () => {
    expect(clientsOf(['--clients', 'memline-signal'])).to.deep.equal(['memline-signal']);
    expect(clientsOf(['--clients', 'memline,memline-signal'])).to.deep.equal(['memline', 'memline-signal']);
    expect(clientsOf([])).to.include.members(['memline', 'memline-signal']);
    expect(() => parseOptions(['--clients', 'memline-signals'])).to.throw(UsageError);
    const dir = mkdtempSync(join(tmpdir(), 'memline-baseline-'));
    try {
      const entry = join(dir, 'dist', 'protocols', 'memcached-meta');
      mkdirSync(entry, { recursive: true });
      writeFileSync(join(entry, 'index.js'), 'export {};\n');
      expect(clientsOf(['--clients', 'memline,memline-signal', '--baseline', dir])).to.deep.equal([
        'memline',
        'memline-signal',
        'memline-baseline',
      ]);
      expect(clientsOf(['--baseline', dir])).to.include.members([
        'memline',
        'memline-signal',
        'memline-baseline',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bench: memline-signal against real memcached', function () {
  this.timeout(30_000);
  let server: MemcachedProcess;
  const ks = new Keyspace(100, 10, 100);
  before(async () => {
    server = await startMemcached();
    await storeAll([server.address], ks);
  });
  after(() => server.stop());

  /**
   * Opens the driver, makes one call of `op` in each of `lanes` lanes, all in flight at once, and
   * returns the AbortSignals that had an `abort` listener added meanwhile, with the calls' outcomes.
   */
  async function signalsOf(
    name: 'memline' | 'memline-signal',
    op: keyof LaneOps,
    lanes: number,
  ): Promise<{ signals: AbortSignal[]; ok: number; failed: unknown[] }> {
    const driver = createDriver(name, ks);
    await driver.open([server.address], {});
    const add = sinon.spy(EventTarget.prototype, 'addEventListener');
    let ok = 0;
    const failed: unknown[] = [];
    try {
      await new Promise<void>((resolve) => {
        const done = (good: boolean, why?: unknown): void => {
          if (good) ok++;
          else failed.push(why);
          if (ok + failed.length === lanes) resolve();
        };
        const sink: LaneSink = {
          value: (v) => done(v !== null && v !== undefined, 'miss'),
          multi: (m) => done(driver.readMulti(m, ks.keys[0]) !== undefined, 'miss'),
          stored: () => done(true),
          checked: () => done(false, 'checked'),
          error: (err) => done(false, err),
        };
        for (let i = 0; i < lanes; i++) driver.lane(sink)[op](op === 'getMulti' ? 0 : i);
      });
    } finally {
      add.restore();
      await driver.close();
    }
    const signals = add
      .getCalls()
      .filter((call) => call.thisValue instanceof AbortSignal && call.args[0] === 'abort')
      .map((call) => call.thisValue as AbortSignal);
    return { signals, ok, failed };
  }

  it('gives every get, set and getMulti of its lanes one AbortSignal, made once per driver', async () => {
    const ops: (keyof LaneOps)[] = ['get', 'set', 'getMulti'];
    for (const op of ops) {
      expect(await signalsOf('memline', op, 50), op).to.deep.include({ signals: [], ok: 50, failed: [] });
    }
    const runs = [];
    for (const op of ops) runs.push(await signalsOf('memline-signal', op, 50));
    for (const [k, run] of runs.entries()) {
      expect(run, ops[k]).to.deep.include({ ok: 50, failed: [] });
      expect(run.signals, ops[k]).to.not.be.empty;
      expect(new Set(run.signals).size, ops[k]).to.equal(1);
      expect(run.signals[0].aborted).to.equal(false);
    }
    // Each driver makes its own.
    expect(runs[0].signals[0]).to.not.equal(runs[1].signals[0]);
  });
});

describe('bench: the TLS memcached', function () {
  this.timeout(30_000);

  it('serves TLS on its address with the generated certificate, and plaintext on plainAddress', async () => {
    const cert = await makeCert();
    const server = await startLocalMemcached({ tls: cert });
    try {
      const plain = await RawConnection.connect(server.plainAddress);
      const stored = new RawBatch(1);
      plain.set('tls-key', 'over-plain', stored);
      await stored.done;
      plain.close();
      const secure = await RawConnection.connect(server.address, 'contract', { tls: { ca: cert.pem } });
      const read = new RawBatch(1);
      secure.get('tls-key', Buffer.from('over-plain'), read);
      await read.done;
      secure.close();
      expect(read.counts[OK]).to.equal(1);
    } finally {
      await server.stop();
      await cert.remove();
    }
  });
});

describe('bench: the chart', () => {
  it('draws a bar per client and both ceilings, dashed for the contract one, with n/a for skipped clients', () => {
    const cell: CellSummary = {
      id: 'get-50',
      title: 'get, 50 in flight',
      unit: 'gets/s',
      peerTarget: true,
      latency: false,
      zipf: 0,
      raw: 400_000,
      rawContract: 350_000,
      clients: [
        { name: 'raw', status: 'ok', runs: 2, median: 400_000, mismatches: 0, errors: 0, stalled: 0, restarts: 0 },
        { name: 'raw-contract', status: 'ok', runs: 2, median: 350_000, mismatches: 0, errors: 0, stalled: 0, restarts: 0 },
        { name: 'memline', status: 'ok', runs: 2, median: 300_000, mismatches: 0, errors: 0, stalled: 0, restarts: 0 },
        { name: 'memjs', status: 'skipped', runs: 0, mismatches: 0, errors: 0, stalled: 0, restarts: 0 },
      ],
    }; // prettier-ignore
    const svg = chart([cell]);
    expect(svg).to.match(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.match(/<line /g)).to.have.length(2);
    expect(svg).to.include('stroke-dasharray');
    expect(svg).to.include('300.0k (75% of raw)');
    expect(svg).to.include('>n/a<');
    expect(svg).to.include("raw socket with memline's flags: 350.0k gets/s");
  });
});

describe('bench: the CPU profile summary', () => {
  it("counts memline's own functions whether they ran from the sources or from the build (dist/)", () => {
    const root = mkdtempSync(join(tmpdir(), 'memline-profile-'));
    try {
      const url = (file: string): string => pathToFileURL(join(root, file)).href;
      const node = (id: number, functionName: string, file: string) => ({
        id,
        callFrame: { functionName, url: file === '' ? '' : url(file), lineNumber: 9 },
      });
      const path = join(root, 'p.cpuprofile');
      writeFileSync(
        path,
        JSON.stringify({
          nodes: [
            node(1, 'feed', 'dist/protocols/memcached-meta/decoder.js'),
            node(2, 'send', 'lib/connection.ts'),
            node(3, 'compare', ''),
          ],
          samples: [1, 1, 2, 3],
          timeDeltas: [100, 100, 100, 100],
        }),
      );
      const summary = summarizeProfile(root, path, 'p.cpuprofile', 'get-50');
      expect(summary.memline.map((f) => f.name)).to.deep.equal(['feed', 'send']);
      expect(summary.memline[0]?.location).to.equal('dist/protocols/memcached-meta/decoder.js:10');
      expect(summary.memlineFiles.map((f) => [f.file, f.selfPct])).to.deep.equal([
        ['dist/protocols/memcached-meta/decoder.js', 50],
        ['lib/connection.ts', 25],
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
