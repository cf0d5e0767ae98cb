/**
 * 'ketama' against libmemcached: the golden vectors in test/fixtures/ketama/vectors.json (regenerate
 * with test/fixtures/ketama/generate.py) and the details of the ring the vectors may not reach.
 */
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import type { KetamaDistribution } from '../../../lib/distribution/index.js';
import { createDistribution } from '../../../lib/distribution/index.js';
import { ketamaPointCount, ketamaPointName } from '../../../lib/distribution/ketama.js';
import { md5Head } from '../../../lib/distribution/md5.js';
import type { ServerAddress } from '../../../lib/backend.js';
import { keys, loadVectors, server, servers, vectorServers } from './helpers.js';

const vectors = loadVectors();
const ketamaSets = vectors.sets.filter((s) => s.distribution === 'ketama');

describe('ketama golden vectors (libmemcached)', () => {
  it('the fixture file has the expected shape', () => {
    expect(vectors.comment).to.be.a('string');
    expect(vectors.sets).to.be.an('array').with.length.of.at.least(2);
    for (const set of vectors.sets) {
      expect(set).to.have.all.keys(
        'name',
        'distribution',
        'source',
        'behaviors',
        'servers',
        'spread',
        'placement',
      );
      expect(set.distribution).to.be.oneOf(['ketama', 'modula']);
      expect(set.source).to.be.oneOf(['pylibmc', 'libmemcached']);
      expect(set.servers).to.be.an('array').that.is.not.empty;
      const addresses = set.servers.map((s) => s.address);
      expect(new Set(addresses).size, `${set.name}: distinct servers`).to.equal(addresses.length);
      for (const s of set.servers) {
        expect(s.address).to.match(/^[^:\s]+:\d{1,5}$/);
        expect(s.weight).to.satisfy((w: number) => Number.isInteger(w) && w >= 1);
      }
      const entries = Object.entries(set.placement);
      expect(entries.length, set.name).to.be.at.least(100);
      for (const [key, address] of entries) {
        const bytes = Buffer.from(key, 'utf8');
        expect(bytes.length, key).to.be.within(1, 250);
        expect(
          bytes.every((b) => b > 0x20 && b !== 0x7f),
          key,
        ).to.be.true;
        expect(addresses).to.include(address);
      }
      // The recorded spread is the placement counted, and every server got keys.
      const counted = Object.fromEntries(addresses.map((a) => [a, 0]));
      for (const address of Object.values(set.placement)) counted[address]++;
      expect(set.spread).to.deep.equal(counted);
    }
  });

  it('covers what the compatibility claim needs: equal and unequal weights, live and offline, UTF-8, long keys', () => {
    const live = ketamaSets.filter((s) => s.source === 'pylibmc');
    expect(live.some((s) => s.servers.every((x) => x.weight === 1))).to.be.true;
    expect(live.some((s) => s.servers.some((x) => x.weight !== 1))).to.be.true;
    expect(live.every((s) => s.behaviors.ketama_weighted === true)).to.be.true;
    expect(ketamaSets.some((s) => s.servers.some((x) => x.address.endsWith(':11211')))).to.be.true;
    const all = ketamaSets.flatMap((s) => Object.keys(s.placement));
    expect(all.some((k) => Buffer.byteLength(k) !== k.length)).to.be.true;
    expect(all.some((k) => Buffer.byteLength(k) > 200)).to.be.true;
  });

  for (const set of ketamaSets) {
    it(`places every key where libmemcached did: ${set.name} (${set.source})`, () => {
      const list = vectorServers(set);
      const dist = createDistribution('ketama', list);
      const wrong: string[] = [];
      for (const [key, address] of Object.entries(set.placement)) {
        const got = list[dist.pick(key)].address;
        if (got !== address) wrong.push(`${JSON.stringify(key)}: ${got}, libmemcached ${address}`);
      }
      expect(wrong, `${wrong.length} keys misplaced`).to.deep.equal([]);
    });

    it(`places them the same with the server list reversed: ${set.name}`, () => {
      const list = vectorServers(set).reverse();
      const dist = createDistribution('ketama', list);
      for (const [key, address] of Object.entries(set.placement)) {
        expect(list[dist.pick(key)].address, key).to.equal(address);
      }
    });
  }
});

/** The ring rebuilt from its definition: [point, server index], sorted by point. */
function referenceRing(list: readonly ServerAddress[]): [number, number][] {
  const total = list.reduce((sum, s) => sum + s.weight, 0);
  const points: [number, number][] = [];
  list.forEach((s, index) => {
    for (let d = 0; d < ketamaPointCount(s.weight, total, list.length) / 4; d++) {
      const digest = createHash('md5').update(ketamaPointName(s, d)).digest();
      for (let k = 0; k < 4; k++) points.push([digest.readUInt32LE(k * 4), index]);
    }
  });
  // Equal points would go to the server whose host:port sorts first; the rings tested here have none.
  return points.sort((a, b) => a[0] - b[0]);
}

describe('ketama ring', () => {
  it('gives each server floor(share × 160 / 4 × n) × 4 points, rounded in single precision', () => {
    expect([1, 2, 3].map((w) => ketamaPointCount(w, 6, 3))).to.deep.equal([80, 160, 240]);
    expect(ketamaPointCount(1, 3, 3)).to.equal(160);
    // 1/25 as a float is a hair under 0.04: libmemcached gives 156 points, doubles would give 160.
    expect(ketamaPointCount(1, 25, 25)).to.equal(156);
    expect(Math.floor((1 / 25) * 40 * 25) * 4).to.equal(160);
    const dist = createDistribution('ketama', servers(25)) as KetamaDistribution;
    expect(dist.pointCounts).to.deep.equal(new Array<number>(25).fill(156));
  });

  it('names points host-i on the default port and host:port-i elsewhere', () => {
    expect(ketamaPointName(server('10.0.0.1:11211'), 0)).to.equal('10.0.0.1-0');
    expect(ketamaPointName(server('10.0.0.1:11212'), 39)).to.equal('10.0.0.1:11212-39');
    expect(ketamaPointName(server('cache.internal:22122'), 3)).to.equal('cache.internal:22122-3');
  });

  it('wraps a hash past the last point to the first point', () => {
    const list = servers(3);
    const ring = referenceRing(list);
    const last = ring[ring.length - 1][0];
    let key = '';
    for (let i = 0; key === ''; i++) if (md5Head(`wrap-${i}`) > last) key = `wrap-${i}`;
    expect(createDistribution('ketama', list).pick(key)).to.equal(ring[0][1]);
  });

  it('finds the same point as a plain search of the ring, for rings small and large', () => {
    for (const list of [servers(2, [1, 9]), servers(3), servers(40, [1, 2, 3, 4]), servers(300)]) {
      const ring = referenceRing(list);
      const dist = createDistribution('ketama', list);
      for (const key of keys(3000)) {
        const hash = md5Head(key);
        const at = ring.findIndex(([value]) => value >= hash);
        expect(dist.pick(key), key).to.equal(ring[at === -1 ? 0 : at][1]);
      }
    }
  });

  it('gives a point two servers share to the one whose host:port sorts first, in any list order', () => {
    // Found by search: point 11 of each of these names hashes to 710332073.
    const a = server('tie-491.internal:11211');
    const b = server('tie-601.internal:11211');
    const shared = 710332073;
    const ring = referenceRing([a, b]);
    const at = ring.findIndex(([value]) => value === shared);
    expect(ring[at + 1][0]).to.equal(shared);
    let key = '';
    for (let i = 0; key === ''; i++) {
      const hash = md5Head(`tie-${i}`);
      if (hash > ring[at - 1][0] && hash <= shared) key = `tie-${i}`;
    }
    // libmemcached, which does not sort by default, would give the arc to whichever is listed first.
    expect([a, b][createDistribution('ketama', [a, b]).pick(key)]).to.equal(a);
    expect([b, a][createDistribution('ketama', [b, a]).pick(key)]).to.equal(a);
  });

  it('hashes a key as libhashkit does: the first 4 MD5 bytes, little-endian, of its UTF-8 bytes', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 })),
        (key) => {
          const expected = createHash('md5').update(Buffer.from(key, 'utf8')).digest().readUInt32LE(0);
          expect(md5Head(key)).to.equal(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('hashes keys of every length around the MD5 block boundaries, and very long ones', () => {
    for (let n = 0; n < 200; n++) {
      const key = 'x'.repeat(n);
      expect(md5Head(key), `length ${n}`).to.equal(createHash('md5').update(key).digest().readUInt32LE(0));
    }
    const long = 'é'.repeat(50_000);
    expect(md5Head(long)).to.equal(createHash('md5').update(long).digest().readUInt32LE(0));
    expect(md5Head('short')).to.equal(createHash('md5').update('short').digest().readUInt32LE(0));
  });
});
