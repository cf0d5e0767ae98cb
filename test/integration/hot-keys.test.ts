/**
 * Hot keys against real memcached: one request per key in flight, the near cache's staleness rule
 * and its memory bounds.
 */
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MemcacheClient } from '../../protocols/memcached-meta/index.js';
import { memcachedWithClients } from '../harness/memcached-clients.js';

/** memcached's own count of gets (`mg` included) on `client`'s only server. */
async function serverGets(client: MemcacheClient): Promise<number> {
  const stats = await client.stats();
  return Number([...stats.values()][0].cmd_get);
}

describe('hot keys against real memcached', function () {
  const server = memcachedWithClients();
  const client = server.client.bind(server);

  beforeEach(async () => {
    await client().flushAll();
  });

  describe('request coalescing', () => {
    it('200 concurrent reads of one key cost one request', async () => {
      const c = client({ coalesce: true });
      await c.set('hot', 'value');
      const before = await serverGets(c);
      const items = await Promise.all(Array.from({ length: 200 }, () => c.get('hot')));
      expect(await serverGets(c)).to.equal(before + 1);
      for (const item of items) expect(item?.value.toString()).to.equal('value');
      // each caller has its own Item object
      expect(new Set(items).size).to.equal(200);
      expect(c.metrics.total.coalesced).to.equal(199);
    });

    it('sends one request per caller by default, and with coalesce: false per call', async () => {
      const c = client();
      await c.set('hot', 'value');
      let before = await serverGets(c);
      await Promise.all(Array.from({ length: 20 }, () => c.get('hot')));
      expect(await serverGets(c)).to.equal(before + 20);
      const d = client({ coalesce: true });
      before = await serverGets(d);
      await Promise.all(Array.from({ length: 20 }, () => d.get('hot', { coalesce: false })));
      expect(await serverGets(d)).to.equal(before + 20);
    });

    it('a read issued after a write never shares a request issued before it', async () => {
      const c = client({ coalesce: true });
      await c.set('k', 'old');
      const first = c.get('k');
      const write = c.set('k', 'new');
      const second = c.get('k');
      await write;
      expect((await first)?.value.toString()).to.equal('old');
      expect((await second)?.value.toString()).to.equal('new');
    });

    it('getMulti shares the requests in flight for its keys', async () => {
      const c = client({ coalesce: true });
      await c.setMulti([
        ['a', '1'],
        ['b', '2'],
      ]);
      const before = await serverGets(c);
      const [one, many] = await Promise.all([c.get('a'), c.getMulti(['a', 'b'])]);
      expect(one?.value.toString()).to.equal('1');
      expect([...many.keys()].sort()).to.deep.equal(['a', 'b']);
      // a once (shared), b once
      expect(await serverGets(c)).to.equal(before + 2);
    });

    it('a caller with an earlier deadline does not wait for a request it cannot outlive', async () => {
      const c = client({ coalesce: true });
      await c.set('k', 'v');
      const before = await serverGets(c);
      await Promise.all([c.get('k', { timeout: 5000 }), c.get('k', { timeout: 1000 })]);
      expect(await serverGets(c)).to.equal(before + 2);
    });
  });

  describe('near cache', () => {
    const nearCache = { promoteChance: 1, hotWithin: 60, maxAge: 300 };

    /** Reads `key` until the near cache holds it (the server must have seen it read before). */
    async function warm(c: MemcacheClient, key: string): Promise<void> {
      for (let i = 0; i < 3; i++) await c.get(key);
      expect(c.metrics.nearCache?.entries).to.be.at.least(1);
    }

    it('serves a hot key without a request, and only a hot one', async () => {
      const c = client({ nearCache });
      await c.set('hot', 'v');
      await c.get('hot'); // not read before: not hot
      expect(c.metrics.nearCache?.promotions).to.equal(0);
      await warm(c, 'hot');
      const before = await serverGets(c);
      for (let i = 0; i < 10; i++) expect((await c.get('hot'))?.value.toString()).to.equal('v');
      expect(await serverGets(c)).to.equal(before);
      expect(c.metrics.total.nearHits).to.be.at.least(10);
      const many = await c.getMulti(['hot']);
      expect(many.get('hot')?.value.toString()).to.equal('v');
      expect(await serverGets(c)).to.equal(before);
    });

    it("this client's writes, deletes, touches and increments are visible to its next read", async () => {
      const c = client({ nearCache });
      await c.set('k', 'one');
      await warm(c, 'k');
      await c.set('k', 'two');
      expect((await c.get('k'))?.value.toString()).to.equal('two');
      await warm(c, 'k');
      await c.setMulti([['k', 'three']]);
      expect((await c.get('k'))?.value.toString()).to.equal('three');
      await warm(c, 'k');
      await c.delete('k');
      expect(await c.get('k')).to.equal(null);
      await c.set('n', '1');
      await warm(c, 'n');
      await c.incr('n', 5);
      expect((await c.get('n'))?.value.toString()).to.equal('6');
      await warm(c, 'n');
      await c.touch('n', 1000);
      expect(c.metrics.nearCache?.entries).to.equal(0);
    });

    it('never serves a value older than maxAge after another client changed it', async () => {
      const c = client({ nearCache });
      const other = client();
      await c.set('k', 'old');
      await warm(c, 'k');
      await other.set('k', 'new');
      // within maxAge the copy may still be served; after it, never
      await sleep(nearCache.maxAge + 50);
      expect((await c.get('k'))?.value.toString()).to.equal('new');
    });

    it('does not hold a lease placeholder or a stale item', async () => {
      const c = client({ nearCache });
      await c.set('k', 'v');
      await warm(c, 'k');
      await c.invalidate('k');
      for (let i = 0; i < 3; i++) await c.get('k');
      expect(c.metrics.nearCache?.entries).to.equal(0);
    });

    it('stays within maxEntries and maxBytes over a 1,000,000-key scan', async function () {
      this.timeout(180_000);
      const maxEntries = 500;
      const maxBytes = 64 * 1024;
      const c = client({ nearCache: { ...nearCache, maxEntries, maxBytes } });
      const chunk = 2000;
      let peakEntries = 0;
      let peakBytes = 0;
      for (let start = 0; start < 1_000_000; start += chunk) {
        const keys = Array.from({ length: chunk }, (_, i) => `scan:${start + i}`);
        await c.setMulti(keys.map((k) => [k, 'x'.repeat(40)] as const));
        await c.getMulti(keys);
        await c.getMulti(keys); // read before and recently: every key is hot now
        const near = c.metrics.nearCache!;
        peakEntries = Math.max(peakEntries, near.entries);
        peakBytes = Math.max(peakBytes, near.bytes);
      }
      const near = c.metrics.nearCache!;
      expect(near.promotions).to.be.above(maxEntries);
      expect(peakEntries).to.be.at.most(maxEntries);
      expect(peakBytes).to.be.at.most(maxBytes);
      expect(near.evictions).to.be.above(0);
    });
  });
});
