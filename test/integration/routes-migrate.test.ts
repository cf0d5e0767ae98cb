/**
 * The migrate route against two real memcached pools: a window in progress (moved keys read from
 * `to`, a miss there read from `from` and back-filled, deletes on both, CAS on the owner only), the
 * window over (only `to`), and the misses of a migration against a plain server switch.
 */
import { expect } from 'chai';
import type { MemcacheClient } from '../../protocols/memcached-meta/index.js';
import { routes, type MemcacheClientOptions } from '../../protocols/memcached-meta/index.js';
import { unit } from '../../protocols/memcached-meta/routes/node.js';
import type { MemcachedProcess } from '../harness/memcached.js';
import { twoPools } from '../harness/pools.js';
import { waitFor } from '../harness/resources.js';

const { migrate } = routes;

async function has(mc: MemcachedProcess, key: string): Promise<boolean> {
  const reply = (await mc.command(`mg ${key} k\r\nmn\r\n`, { until: 'MN\r\n' })).toString();
  return reply.startsWith('HD');
}

/** The first key `key-<i>` whose hash puts its moment in [lo, hi) of the window. */
function keyAt(lo: number, hi: number, skip = 0): string {
  for (let i = 0; ; i++) {
    const key = `key-${i}`;
    const u = unit(key);
    if (u >= lo && u < hi && skip-- === 0) return key;
  }
}

describe('routes: migrate against real memcached pools', function () {
  this.timeout(60_000);
  const pools = twoPools();
  const client = (options: MemcacheClientOptions): MemcacheClient => pools.client(options);
  let a: MemcachedProcess;
  let b: MemcachedProcess;
  before(() => {
    ({ a, b } = pools);
  });

  it('a window in progress: moved keys on `to`, a miss falls back to `from` and is back-filled', async () => {
    // Half-way through a two-hour window: keys with a hash under 0.4 have moved, over 0.6 have not.
    const c = client({
      pools: { from: [a.address], to: [b.address] },
      route: migrate({ from: 'from', to: 'to', start: Date.now() - 3_600_000, duration: 7_200_000 }),
    });
    const moved = keyAt(0, 0.4);
    const staying = keyAt(0.6, 1);
    expect(c.serverFor(moved)).to.equal(b.address);
    expect(c.serverFor(staying)).to.equal(a.address);

    await a.command(`ms ${moved} 5 T500 F7\r\nhello\r\n`, { until: '\r\n' });
    const item = await c.get(moved);
    expect(item?.value.toString()).to.equal('hello');
    expect(item?.flags).to.equal(7);
    await waitFor(
      () => c.routeMetrics!.routes.route.backfills === 1 && c.routeMetrics!.background.running === 0,
    );
    const filled = (await b.command(`mg ${moved} t f v\r\n`, { until: '\r\n' })).toString();
    expect(filled).to.match(/^VA 5 t(\d+) f7/);
    expect(Number(/ t(\d+)/.exec(filled)![1])).to.be.within(490, 500);
    expect(c.routeMetrics!.routes.route).to.include({ fallbacks: 1, backfills: 1, backfillErrors: 0 });

    // A back-fill never overwrites a newer value on `to`.
    const newer = keyAt(0, 0.4, 1);
    await a.command(`ms ${newer} 3\r\nold\r\n`, { until: '\r\n' });
    await b.command(`ms ${newer} 3\r\nnew\r\n`, { until: '\r\n' });
    expect((await c.get(newer))?.value.toString()).to.equal('new');

    // A token read on `from` by a fallback is refused on `to`: CAS never crosses pools.
    const viaFrom = keyAt(0, 0.4, 2);
    await a.command(`ms ${viaFrom} 1\r\nx\r\n`, { until: '\r\n' });
    const token = (await c.get(viaFrom))!.cas;
    expect(await c.cas(viaFrom, 'y', token)).to.equal(false);

    // Writes go to the owner only.
    await c.set(staying, 'v');
    expect([await has(a, staying), await has(b, staying)]).to.deep.equal([true, false]);
    const movedWrite = keyAt(0, 0.4, 3);
    await c.set(movedWrite, 'v');
    expect([await has(a, movedWrite), await has(b, movedWrite)]).to.deep.equal([false, true]);

    // Deletes reach both pools.
    expect(await has(b, moved)).to.equal(true);
    expect(await c.delete(moved)).to.equal(true);
    expect([await has(a, moved), await has(b, moved)]).to.deep.equal([false, false]);
    await b.command(`ms ${staying} 1\r\nx\r\n`, { until: '\r\n' });
    expect(await c.deleteMulti([staying])).to.deep.equal(new Map([[staying, true]]));
    expect([await has(a, staying), await has(b, staying)]).to.deep.equal([false, false]);

    // Bulk reads by the same rules.
    const bulkMoved = keyAt(0, 0.4, 4);
    await a.command(`ms ${bulkMoved} 1\r\nm\r\nms ${staying} 1\r\ns\r\n`, { until: 'HD\r\nHD\r\n' });
    const got = await c.getMulti([bulkMoved, staying, 'nowhere']);
    expect([...got].map(([k, v]) => [k, v.value.toString()])).to.have.deep.members([
      [bulkMoved, 'm'],
      [staying, 's'],
    ]);
    await waitFor(() => c.routeMetrics!.background.running === 0 && c.routeMetrics!.background.queued === 0);
    expect(await has(b, bulkMoved)).to.equal(true);
  });

  it('a read-through of a stale item on `from` hands its win back there: the next reader wins again', async () => {
    const c = client({
      pools: { from: [a.address], to: [b.address] },
      route: migrate({ from: 'from', to: 'to', start: Date.now() - 3_600_000, duration: 7_200_000 }),
    });
    const key = keyAt(0, 0.4, 5); // moved: read on `to`, where it misses, then on `from`
    await a.command(`ms ${key} 3 T500\r\nold\r\nmd ${key} I\r\n`, { until: 'HD\r\nHD\r\n' });
    // memcached gives the first reader of an invalidated item the win (X W): here the read-through.
    expect((await c.get(key))?.value.toString()).to.equal('old');
    await c.close(); // graceful: the hand-back, queued before get() resolved, is answered first
    const next = (await a.command(`mg ${key} c\r\n`, { until: '\r\n' })).toString();
    expect(next, 'the win was handed back: the next reader wins (W), it is not already taken (Z)').to.match(
      /^HD c\d+ X W\r\n$/,
    );
  });

  it('after the window: only `to` is used, a key left on `from` is a miss', async () => {
    const c = client({
      pools: { from: [a.address], to: [b.address] },
      route: migrate({ from: 'from', to: 'to', start: new Date(Date.now() - 20_000), duration: 10_000 }),
    });
    await a.command('ms left 1\r\nx\r\n', { until: '\r\n' });
    expect(await c.get('left')).to.equal(null);
    await c.set('left', 'y');
    expect((await b.command('mg left v\r\n', { until: '\r\n' })).toString()).to.match(/^VA 1/);
    expect((await a.command('mg left v\r\n', { until: '\r\n' })).toString()).to.match(/^VA 1\r\nx/);
    await c.delete('left');
    expect(await has(a, 'left')).to.equal(true);
    expect(c.routeMetrics!.routes.route.fallbacks).to.equal(0);
  });

  it('misses of a migration against a plain switch (cache-aside reads of 10,000 keys)', async () => {
    const N = 10_000;
    const keys = Array.from({ length: N }, (_, i) => `m:${i}`);
    const seed = client({ servers: [a.address] });
    for (let i = 0; i < N; i += 1000) {
      await seed.setMulti(keys.slice(i, i + 1000).map((k) => [k, `value-${k}`] as const));
    }

    /** Reads every key once in getMulti chunks; a miss is recomputed and stored (cache-aside). */
    async function round(c: MemcacheClient): Promise<number> {
      let misses = 0;
      for (let i = 0; i < N; i += 500) {
        const chunk = keys.slice(i, i + 500);
        const got = await c.getMulti(chunk);
        const missed = chunk.filter((k) => !got.has(k));
        misses += missed.length;
        if (missed.length > 0) await c.setMulti(missed.map((k) => [k, `value-${k}`] as const));
      }
      return misses;
    }

    // (a) the servers switched at once from `from` to `to`.
    const plain = client({ servers: [b.address] });
    const plainRounds: number[] = [];
    for (let r = 0; r < 4; r++) plainRounds.push(await round(plain));
    await b.command('flush_all\r\n', { until: 'OK\r\n' });

    // (b) a migration over a window: rounds during it, then one after it.
    const duration = 3000;
    const start = Date.now() + 200;
    const migrating = client({
      pools: { from: [a.address], to: [b.address] },
      route: migrate({ from: 'from', to: 'to', start, duration }),
    });
    const inWindow: number[] = [];
    while (Date.now() < start) await new Promise((r) => setTimeout(r, 10));
    // The last round may cross the end of the window: a key that moved after its last read
    // inside the window was never back-filled, and misses from then on.
    while (Date.now() < start + duration) {
      inWindow.push(await round(migrating));
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => {
      const { queued, running } = migrating.routeMetrics!.background;
      return queued === 0 && running === 0;
    });
    const m = { ...migrating.routeMetrics!.routes.route };
    const afterMisses = await round(migrating);

    const plainTotal = plainRounds.reduce((x, y) => x + y, 0);
    const windowTotal = inWindow.reduce((x, y) => x + y, 0);
    const reads = (rounds: number) => rounds * N;
    console.log(
      `      ${N} keys, plain switch: ${plainTotal} misses in ${reads(plainRounds.length)} reads ` +
        `(per round: ${plainRounds.join(', ')}; first round ${((100 * plainRounds[0]) / N).toFixed(1)}%)`,
    );
    console.log(
      `      migrate over ${duration} ms: ${windowTotal} misses in ${reads(inWindow.length)} reads ` +
        `(${inWindow.length} rounds, the last crossing the end: ${inWindow.at(-1)}), ` +
        `${afterMisses} in the round after it; ` +
        `fallbacks ${m.fallbacks}, back-fills ${m.backfills}, failed ${m.backfillErrors}, dropped ${m.dropped}`,
    );
    expect(plainRounds[0]).to.equal(N);
    expect(inWindow.length).to.be.greaterThan(1);
    // Inside the window every read is answered; only keys that moved after their last read miss.
    expect(inWindow.slice(0, -1).every((n) => n === 0)).to.equal(true);
    expect(windowTotal + afterMisses).to.be.below(plainTotal / 5);
    expect(windowTotal + afterMisses).to.be.below(plainTotal / 10);
    expect(m.fallbacks).to.be.greaterThan(N / 2);
  });
});
