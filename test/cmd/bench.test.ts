/**
 * The benchmark's own parts (cmd/bench/): the contract ceiling's raw socket against real memcached,
 * the load generator's get/set mix and GC share, the TLS memcached the bench starts, and the chart.
 */
import { expect } from 'chai';
import { makeCert } from '../../cmd/bench/certs.js';
import { CELLS, type CellSpec } from '../../cmd/bench/cells.js';
import { chart } from '../../cmd/bench/chart.js';
import type { Driver, LaneOps, LaneSink } from '../../cmd/bench/driver.js';
import { Keyspace } from '../../cmd/bench/keyspace.js';
import { timedRun } from '../../cmd/bench/load.js';
import { FAILED, MISMATCH, OK, RawBatch, RawConnection } from '../../cmd/bench/raw.js';
import type { CellSummary } from '../../cmd/bench/summary.js';
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
    constructor(readonly ks: Keyspace) {}
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
});

describe('bench: the cells', () => {
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
