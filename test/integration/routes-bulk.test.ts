/**
 * Bulk calls through `shadow` and through `replicated` with `read: 'fastest'`, against real
 * memcached pools: a shadow copies the same keys a single call would (by the same hash rule) in one
 * background bulk call whose outcome is only counted; a fastest bulk read races the pools and does
 * not wait for a paused one.
 */
import { expect } from 'chai';
import type { MemcacheClient } from '../../protocols/memcached-meta/index.js';
import { routes, type MemcacheClientOptions } from '../../protocols/memcached-meta/index.js';
import { unit } from '../../protocols/memcached-meta/routes/node.js';
import type { MemcachedProcess } from '../harness/memcached.js';
import { twoPools } from '../harness/pools.js';
import { waitFor } from '../harness/resources.js';

const { shadow, replicated } = routes;

async function has(mc: MemcachedProcess, key: string): Promise<boolean> {
  const reply = (await mc.command(`mg ${key} k\r\nmn\r\n`, { until: 'MN\r\n' })).toString();
  return reply.startsWith('HD');
}

describe('routes, bulk calls: shadow copies and fastest reads', function () {
  this.timeout(60_000);
  const pools = twoPools();
  const client = (options: MemcacheClientOptions): MemcacheClient => pools.client(options);
  let a: MemcachedProcess;
  let b: MemcachedProcess;
  before(() => {
    ({ a, b } = pools);
  });

  const idle = (c: MemcacheClient) => () =>
    c.routeMetrics!.background.running === 0 && c.routeMetrics!.background.queued === 0;

  it('shadow: setMulti, getMulti and deleteMulti copy the same fraction of keys as single calls', async () => {
    const c = client({
      pools: { main: [a.address], next: [b.address] },
      route: shadow('main', 'next', { fraction: 0.5 }),
    });
    const keys = Array.from({ length: 40 }, (_, i) => `bulk:${i}`);
    const copied = keys.filter((k) => unit(k) < 0.5);
    expect(copied.length).to.be.within(10, 30); // the rule picks some, not all

    await c.setMulti(keys.map((k) => [k, `v-${k}`] as const));
    await waitFor(() => c.routeMetrics!.routes.route.shadowSent === copied.length && idle(c)());
    for (const k of keys) {
      expect(await has(a, k), `${k} on main`).to.equal(true);
      expect(await has(b, k), `${k} on the target`).to.equal(copied.includes(k));
    }

    // Reads are copied too; the answer is the primary's.
    await b.command('ms bulk:0 6\r\nshadow\r\n', { until: '\r\n' });
    const got = await c.getMulti(keys);
    expect(got.size).to.equal(keys.length);
    expect(got.get('bulk:0')?.value.toString()).to.equal('v-bulk:0');
    await waitFor(() => c.routeMetrics!.routes.route.shadowSent === 2 * copied.length && idle(c)());

    await c.deleteMulti(keys);
    await waitFor(() => c.routeMetrics!.routes.route.shadowSent === 3 * copied.length && idle(c)());
    for (const k of copied) expect(await has(b, k), `${k} deleted on the target`).to.equal(false);
    expect(c.routeMetrics!.routes.route.shadowErrors).to.equal(0);
  });

  it("shadow: the target's errors are counted per key and never reach the caller", async () => {
    const c = client({
      pools: { main: [a.address], next: [b.address] },
      route: shadow('main', 'next', { fraction: 1 }),
      timeout: 500,
    });
    await b.stop();
    const keys = ['e1', 'e2', 'e3'];
    await c.setMulti(keys.map((k) => [k, 'v'] as const));
    expect((await c.getMulti(keys)).size).to.equal(3);
    await waitFor(() => c.routeMetrics!.routes.route.shadowErrors === 6 && idle(c)());
    expect(c.routeMetrics!.routes.route.shadowSent).to.equal(6);
  });

  it("replicated, read 'fastest': a bulk read races the pools and does not wait for a paused one", async () => {
    const options = {
      pools: { main: [a.address], next: [b.address] },
      timeout: 1000,
    };
    const fastest = client({ ...options, route: replicated(['main', 'next'], { read: 'fastest' }) });
    const keys = ['f1', 'f2', 'f3'];
    await fastest.setMulti(keys.map((k) => [k, `v-${k}`] as const));
    const before = fastest.routeMetrics!.routes.route.answeredBy;
    expect((await fastest.getMulti(keys)).size).to.equal(3);
    const counted = fastest.routeMetrics!.routes.route.answeredBy;
    expect((counted.main ?? 0) + (counted.next ?? 0)).to.equal(
      (before.main ?? 0) + (before.next ?? 0) + keys.length,
    );

    await a.pause();
    const t0 = performance.now();
    const got = await fastest.getMulti([...keys, 'f-missing']);
    const took = performance.now() - t0;
    expect([...got.keys()].sort()).to.deep.equal(keys);
    expect(got.get('f2')?.value.toString()).to.equal('v-f2');
    // `first` would give the paused pool half the timeout before asking the next one.
    expect(took).to.be.below(250);
    expect(fastest.routeMetrics!.routes.route.answeredBy.next).to.be.at.least(4);
  });
});
