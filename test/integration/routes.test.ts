/**
 * Routes against real memcached pools: placement by pool and prefix, bulk calls split per pool,
 * failover with the primary stopped or paused (SIGSTOP), gutter TTLs, replicated writes with a pool
 * down, shadow copies and warm-up back-fills.
 */
import { expect } from 'chai';
import {
  MemcacheClient,
  routes,
  type MemcacheClientOptions,
  type MemlineError,
  type PartialWriteError,
} from '../../protocols/memcached-meta/index.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';
import { waitFor } from '../harness/resources.js';

const { pool, failover, gutter, replicated, shadow, warmUp, byPrefix } = routes;

async function has(mc: MemcachedProcess, key: string): Promise<boolean> {
  const reply = (await mc.command(`mg ${key} k\r\nmn\r\n`, { until: 'MN\r\n' })).toString();
  return reply.startsWith('HD');
}

async function ttlOn(mc: MemcachedProcess, key: string): Promise<number> {
  const reply = (await mc.command(`mg ${key} t\r\nmn\r\n`, { until: 'MN\r\n' })).toString();
  const m = /^HD t(-?\d+)/.exec(reply);
  if (m === null) throw new Error(`${key} is not on ${mc.address}: ${reply}`);
  return Number(m[1]);
}

describe('routes against real memcached pools', function () {
  this.timeout(60_000);
  const started: MemcachedProcess[] = [];
  const clients: MemcacheClient[] = [];
  let a: MemcachedProcess;
  let b: MemcachedProcess;
  let g: MemcachedProcess;

  before(async () => {
    [a, b, g] = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
    started.push(a, b, g);
  });
  after(async () => {
    await Promise.all(started.map((m) => m.kill()));
  });
  beforeEach(async () => {
    for (const m of started) if (m.running) await m.command('flush_all\r\n', { until: 'OK\r\n' });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    for (const m of started) if (!m.running) await m.restart();
  });

  function client(options: MemcacheClientOptions): MemcacheClient {
    const c = new MemcacheClient(options);
    clients.push(c);
    return c;
  }

  it('pool and byPrefix: each key on its pool (longest prefix wins), bulk calls split per pool', async () => {
    const c = client({
      pools: { a: [a.address], b: [b.address], g: [g.address] },
      route: byPrefix({ 's:': 'b', 's:long:': 'g', default: pool('a') }),
    });
    await c.set('plain', 'x');
    await c.set('s:1', 'y');
    await c.set('s:long:1', 'z');
    expect([await has(a, 'plain'), await has(b, 's:1'), await has(g, 's:long:1')]).to.deep.equal([
      true,
      true,
      true,
    ]);
    expect(await has(a, 's:1')).to.equal(false);
    expect(c.serverFor('s:long:9')).to.equal(g.address);

    const keys = ['k1', 'k2', 's:k3', 's:long:k4', 's:k5'];
    await c.setMulti(keys.map((k) => [k, `v-${k}`] as const));
    expect(await has(b, 's:k5')).to.equal(true);
    expect(await has(g, 's:long:k4')).to.equal(true);
    const got = await c.getMulti([...keys, 'missing']);
    expect([...got.keys()].sort()).to.deep.equal([...keys].sort());
    expect((await c.deleteMulti(keys)).get('s:long:k4')).to.equal(true);
    expect(await has(g, 's:long:k4')).to.equal(false);
  });

  it('failover: the primary stopped, reads and writes go to the gutter with clamped TTLs', async () => {
    const c = client({
      pools: { main: [a.address], gutter: [g.address] },
      route: failover(pool('main'), gutter('gutter', { maxTtl: 10 })),
      timeout: 1000,
    });
    await c.set('k', 'on-main', { ttl: 3600 });
    await a.stop();
    await c.set('k', 'on-gutter', { ttl: 3600 });
    expect(await ttlOn(g, 'k')).to.be.within(1, 10);
    expect((await c.get('k'))?.value.toString()).to.equal('on-gutter');
    // A bulk call fails over per key too.
    await c.setMulti([
      ['m1', '1'],
      ['m2', '2'],
    ]);
    expect([...(await c.getMulti(['m1', 'm2', 'k'])).keys()].sort()).to.deep.equal(['k', 'm1', 'm2']);
    const m = c.routeMetrics!.routes.route;
    expect(m.failovers).to.be.greaterThan(0);
    expect(m.answeredBy['1']).to.be.greaterThan(0);
  });

  it('failover: a miss on the primary is an answer, unless onMiss', async () => {
    await g.command('ms only-gutter 1\r\nx\r\n', { until: '\r\n' });
    const plain = client({
      pools: { main: [a.address], gutter: [g.address] },
      route: failover('main', 'gutter'),
    });
    expect(await plain.get('only-gutter')).to.equal(null);
    const onMiss = client({
      pools: { main: [a.address], gutter: [g.address] },
      route: failover('main', 'gutter', { onMiss: true }),
    });
    expect((await onMiss.get('only-gutter'))?.value.toString()).to.equal('x');
    expect((await onMiss.getMulti(['only-gutter', 'nowhere'])).get('only-gutter')?.value.toString()).to.equal(
      'x',
    );
    expect(await onMiss.get('nowhere')).to.equal(null);
  });

  it('failover with the primary paused (SIGSTOP): the read settles from the gutter within the deadline', async () => {
    const c = client({
      pools: { main: [a.address], gutter: [g.address] },
      route: failover(pool('main'), gutter('gutter', { maxTtl: 10 }), { attemptTimeout: 100 }),
      timeout: 1000,
      breaker: { threshold: 3, openTime: 5000 },
    });
    await c.set('warm', 'main-value');
    await g.command('ms hot 6 T10\r\ngutter\r\n', { until: '\r\n' });
    await a.pause();
    try {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        const item = await c.get('hot');
        times.push(performance.now() - t0);
        expect(item?.value.toString()).to.equal('gutter');
      }
      // The first tries wait out attemptTimeout; once the breaker opens, failover is immediate.
      expect(times[0]).to.be.within(90, 400);
      expect(Math.max(...times.slice(5))).to.be.below(50);
      console.log(
        `      failover read, primary paused: first ${times[0].toFixed(1)} ms, ` +
          `after the breaker opened ${(times.slice(5).reduce((x, y) => x + y, 0) / 15).toFixed(2)} ms mean`,
      );
    } finally {
      a.resume();
    }
  });

  it('CAS never crosses pools: a token read on the gutter is refused on the primary, with nothing sent', async () => {
    const c = client({
      pools: { main: [a.address], gutter: [g.address] },
      route: failover('main', 'gutter', { onMiss: true }),
    });
    await g.command('ms c 2\r\nv1\r\n', { until: '\r\n' });
    const item = (await c.get('c'))!;
    expect(item.value.toString()).to.equal('v1'); // answered by the gutter
    await a.command('ms c 7\r\non-main\r\n', { until: '\r\n' });
    const before = Number((await a.stats()).cas_misses) + Number((await a.stats()).cas_hits);
    expect(await c.cas('c', 'v2', item.cas)).to.equal(false);
    expect(Number((await a.stats()).cas_misses) + Number((await a.stats()).cas_hits)).to.equal(before);
    expect((await c.get('c'))?.value.toString()).to.equal('on-main');
    // The token of the item read on main works there.
    expect(await c.cas('c', 'v3', (await c.get('c'))!.cas)).to.equal(true);
  });

  it('replicated: writes reach every pool; a pool down is a PartialWriteError naming it', async () => {
    const c = client({
      pools: { a: [a.address], b: [b.address], g: [g.address] },
      route: replicated(['a', 'b', 'g'], { write: 'all', read: 'first' }),
      timeout: 500,
    });
    await c.set('r', 'v');
    expect([await has(a, 'r'), await has(b, 'r'), await has(g, 'r')]).to.deep.equal([true, true, true]);
    await c.setMulti([['r2', 'v']]);
    expect(await has(g, 'r2')).to.equal(true);
    await b.stop();
    const err = (await c.set('r3', 'v').catch((e: unknown) => e)) as PartialWriteError;
    expect(err.code).to.equal('ERR_PARTIAL_WRITE');
    expect(err.succeeded).to.deep.equal(['a', 'g']);
    expect([...err.failed.keys()]).to.deep.equal(['b']);
    expect(err.failed.get('b')!.code).to.equal('ERR_CONNECTION');
    const bulk = (await c.setMulti([['r4', 'v']]).catch((e: unknown) => e)) as MemlineError;
    expect(bulk.code).to.equal('ERR_PARTIAL_WRITE');
    // Reads: the first pool that answers.
    expect((await c.get('r'))?.value.toString()).to.equal('v');

    const majority = client({
      pools: { a: [a.address], b: [b.address], g: [g.address] },
      route: replicated(['b', 'a', 'g'], { write: 'majority', read: 'fastest' }),
      timeout: 500,
    });
    await majority.set('r5', 'v');
    expect(await has(a, 'r5')).to.equal(true);
    expect(majority.routeMetrics!.routes.route.partialWrites).to.equal(1);
    expect((await majority.get('r5'))?.value.toString()).to.equal('v');
  });

  it('shadow: the answer comes from the primary; the copy is counted, its errors never surface', async () => {
    const c = client({
      pools: { main: [a.address], next: [b.address] },
      route: shadow('main', 'next', { fraction: 1 }),
    });
    await c.set('sh', 'v');
    await waitFor(
      () => c.routeMetrics!.routes.route.shadowSent === 1 && c.routeMetrics!.background.running === 0,
    );
    expect(await has(b, 'sh')).to.equal(true);
    await b.stop();
    await c.set('sh2', 'v');
    expect((await c.get('sh2'))?.value.toString()).to.equal('v');
    await waitFor(() => c.routeMetrics!.routes.route.shadowErrors === 2);
  });

  it('warmUp: a cold miss is served from warm and added to cold with the same TTL and flags', async () => {
    const c = client({
      pools: { cold: [b.address], warm: [a.address] },
      route: warmUp({ cold: 'cold', warm: 'warm' }),
    });
    await a.command('ms w 5 T500 F7\r\nhello\r\n', { until: '\r\n' });
    const item = await c.get('w');
    expect(item?.value.toString()).to.equal('hello');
    expect(item?.flags).to.equal(7);
    await waitFor(
      () => c.routeMetrics!.routes.route.backfills === 1 && c.routeMetrics!.background.running === 0,
    );
    expect(await ttlOn(b, 'w')).to.be.within(490, 500);
    expect((await b.command('mg w f v\r\n', { until: '\r\n' })).toString()).to.match(/^VA 5 f7/);
    // Never over a newer value: the back-fill is an add.
    await a.command('ms w3 3\r\nold\r\n', { until: '\r\n' });
    await b.command('ms w3 3\r\nnew\r\n', { until: '\r\n' });
    expect((await c.get('w3'))?.value.toString()).to.equal('new');
    // Deletes go to both, so a deleted value does not come back from warm.
    await c.delete('w');
    expect(await has(a, 'w')).to.equal(false);
    expect(await c.get('w')).to.equal(null);
  });

  it('warmUp, bulk: getMulti fills cold from warm with TTL and flags; deleteMulti reaches both pools', async () => {
    const c = client({
      pools: { cold: [b.address], warm: [a.address] },
      route: warmUp({ cold: 'cold', warm: 'warm' }),
    });
    await a.command('ms bw1 2 T400 F3\r\nv1\r\n', { until: '\r\n' });
    await a.command('ms bw2 2 T400 F4\r\nv2\r\n', { until: '\r\n' });
    await b.command('ms bw3 2\r\nv3\r\n', { until: '\r\n' });
    const got = await c.getMulti(['bw1', 'bw2', 'bw3', 'bw-none']);
    expect([...got.keys()].sort()).to.deep.equal(['bw1', 'bw2', 'bw3']);
    expect(got.get('bw1')?.flags).to.equal(3);
    expect(got.get('bw3')?.value.toString()).to.equal('v3');
    await waitFor(
      () => c.routeMetrics!.routes.route.backfills === 2 && c.routeMetrics!.background.running === 0,
    );
    expect(c.routeMetrics!.routes.route.warmHits).to.equal(2);
    expect(await ttlOn(b, 'bw2')).to.be.within(390, 400);
    expect((await b.command('mg bw2 f v\r\n', { until: '\r\n' })).toString()).to.match(/^VA 2 f4/);
    await c.deleteMulti(['bw1', 'bw2']);
    for (const k of ['bw1', 'bw2']) {
      expect(await has(a, k), `${k} on warm`).to.equal(false);
      expect(await has(b, k), `${k} on cold`).to.equal(false);
    }
  });

  it('servers alone keeps the single-pool path: no route metrics', () => {
    const c = client({ servers: [a.address] });
    expect(c.routeMetrics).to.equal(undefined);
  });
});
