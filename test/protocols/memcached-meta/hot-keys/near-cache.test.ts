import { expect } from 'chai';
import {
  NearCache,
  resolveNearCacheOptions,
} from '../../../../protocols/memcached-meta/hot-keys/near-cache.js';
import type { Item } from '../../../../protocols/memcached-meta/results.js';

/** An item as a read with `h l t` returns it. */
function hot(key: string, value = 'v', extra: Partial<Item> = {}): Item {
  return {
    key,
    value: Buffer.from(value),
    flags: 0,
    cas: 1n,
    fetched: true,
    lastAccess: 0,
    ttl: -1,
    ...extra,
  };
}

describe('NearCache', () => {
  let now = 0;
  const clock = { now: () => now, random: () => 0 };
  beforeEach(() => {
    now = 1_000_000;
  });

  it('promotes only keys the server reports hot, and serves copies of them', () => {
    const cache = new NearCache({ promoteChance: 1 }, clock);
    cache.offer('cold', hot('cold', 'v', { fetched: false }), cache.begin());
    cache.offer('stale', hot('stale', 'v', { lastAccess: 11 }), cache.begin());
    cache.offer('bare', { key: 'bare', value: Buffer.from('v'), flags: 0, cas: 1n }, cache.begin());
    cache.offer('hot', hot('hot', 'value'), cache.begin());
    expect(cache.get('cold')).to.equal(undefined);
    expect(cache.get('stale')).to.equal(undefined);
    expect(cache.get('bare')).to.equal(undefined);
    const first = cache.get('hot')!;
    expect(first.value.toString()).to.equal('value');
    first.flags = 99; // a caller changing its copy changes nobody else's
    expect(cache.get('hot')!.flags).to.equal(0);
    expect(cache.snapshot()).to.include({ hits: 2, misses: 3, promotions: 1, entries: 1 });
  });

  it('promotes with the configured chance, so a key read once or twice is rarely held', () => {
    let draws = 0;
    const cache = new NearCache(
      { promoteChance: 0.25 },
      { now: clock.now, random: () => [0.9, 0.5, 0.1][draws++] },
    );
    cache.offer('k', hot('k'), cache.begin());
    cache.offer('k', hot('k'), cache.begin());
    expect(cache.get('k')).to.equal(undefined);
    cache.offer('k', hot('k'), cache.begin());
    expect(cache.get('k')).to.not.equal(undefined);
  });

  it('never serves a copy older than maxAge', () => {
    const cache = new NearCache({ promoteChance: 1, maxAge: 500 }, clock);
    cache.offer('k', hot('k'), cache.begin());
    now += 499;
    expect(cache.get('k')).to.not.equal(undefined);
    now += 2;
    expect(cache.get('k')).to.equal(undefined);
  });

  it('never serves a copy past the item’s own TTL, and holds none with a second or less left', () => {
    const cache = new NearCache({ promoteChance: 1, maxAge: 60_000 }, clock);
    cache.offer('k', hot('k', 'v', { ttl: 3 }), cache.begin());
    cache.offer('last', hot('last', 'v', { ttl: 1 }), cache.begin());
    expect(cache.get('last')).to.equal(undefined);
    now += 1999;
    expect(cache.get('k')).to.not.equal(undefined);
    now += 2;
    expect(cache.get('k')).to.equal(undefined);
  });

  it('drops a key this client writes, and a read in flight across the write cannot put it back', () => {
    const cache = new NearCache({ promoteChance: 1 }, clock);
    cache.offer('k', hot('k', 'old'), cache.begin());
    const before = cache.begin(); // a read issued before the write
    cache.invalidate('k');
    expect(cache.get('k')).to.equal(undefined);
    cache.offer('k', hot('k', 'old'), before);
    expect(cache.get('k')).to.equal(undefined);
    cache.offer('other', hot('other'), before); // other keys are not affected
    expect(cache.get('other')).to.not.equal(undefined);
    cache.offer('k', hot('k', 'new'), cache.begin());
    expect(cache.get('k')!.value.toString()).to.equal('new');
  });

  it('refuses reads older than its write log once the log overflows', () => {
    const cache = new NearCache({ promoteChance: 1 }, clock);
    const old = cache.begin();
    for (let i = 0; i < 5000; i++) cache.invalidate(`w${i}`);
    cache.offer('w0', hot('w0'), old); // w0 left the log: the floor still refuses it
    expect(cache.get('w0')).to.equal(undefined);
    cache.offer('w0', hot('w0'), cache.begin());
    expect(cache.get('w0')).to.not.equal(undefined);
  });

  it('clear() drops everything and refuses reads issued before it', () => {
    const cache = new NearCache({ promoteChance: 1 }, clock);
    cache.offer('a', hot('a'), cache.begin());
    const before = cache.begin();
    cache.clear();
    expect(cache.get('a')).to.equal(undefined);
    cache.offer('b', hot('b'), before);
    expect(cache.get('b')).to.equal(undefined);
  });

  it('stays within its entry and byte bounds, counting evictions', () => {
    const cache = new NearCache({ promoteChance: 1, maxEntries: 100, maxBytes: 50_000 }, clock);
    for (let i = 0; i < 10_000; i++) cache.offer(`k${i}`, hot(`k${i}`, 'x'.repeat(1000)), cache.begin());
    const s = cache.snapshot();
    expect(s.entries).to.be.at.most(100);
    expect(s.bytes).to.be.at.most(50_000);
    expect(s.evictions).to.be.at.least(10_000 - 100);
    cache.offer('big', hot('big', 'x'.repeat(70_000)), cache.begin()); // over maxValueSize
    expect(cache.get('big')).to.equal(undefined);
  });

  it('checks its options by name', () => {
    expect(() => resolveNearCacheOptions({ maxEntries: 0 })).to.throw(/nearCache.maxEntries/);
    expect(() => resolveNearCacheOptions({ promoteChance: 2 })).to.throw(/nearCache.promoteChance/);
    expect(() => resolveNearCacheOptions({ maxAge: 1.5 })).to.throw(/nearCache.maxAge/);
    expect(() => resolveNearCacheOptions({ bogus: 1 } as never)).to.throw(/nearCache.bogus is not an option/);
    expect(resolveNearCacheOptions({})).to.include({ maxEntries: 10_000, maxAge: 1000 });
  });
});
