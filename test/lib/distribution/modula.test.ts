/** 'modula': libmemcached's default distribution (one-at-a-time hash, list order), plus weights as slots. */
import { expect } from 'chai';
import fc from 'fast-check';
import { createDistribution } from '../../../lib/distribution/index.js';
import { oneAtATime } from '../../../lib/distribution/modula.js';
import { keys, loadVectors, servers, vectorServers } from './helpers.js';

/** libhashkit's one-at-a-time, written out over bytes with C's signed `char` (x86-64). */
function referenceOneAtATime(bytes: Uint8Array): number {
  let h = 0;
  for (const byte of bytes) {
    h = (h + (byte >= 0x80 ? byte - 0x100 : byte)) >>> 0;
    h = (h + ((h << 10) >>> 0)) >>> 0;
    h = (h ^ (h >>> 6)) >>> 0;
  }
  h = (h + ((h << 3) >>> 0)) >>> 0;
  h = (h ^ (h >>> 11)) >>> 0;
  return (h + ((h << 15) >>> 0)) >>> 0;
}

describe('modula', () => {
  const sets = loadVectors().sets.filter((s) => s.distribution === 'modula');

  it('has a vector set recorded from pylibmc with its default behaviours, UTF-8 keys included', () => {
    expect(sets).to.have.length.of.at.least(1);
    for (const set of sets) {
      expect(set.behaviors).to.deep.equal({});
      expect(set.servers.every((s) => s.weight === 1)).to.be.true;
      expect(Object.keys(set.placement).some((k) => Buffer.byteLength(k) !== k.length)).to.be.true;
    }
  });

  for (const set of sets) {
    it(`places every key where libmemcached did: ${set.name}`, () => {
      const list = vectorServers(set);
      const dist = createDistribution('modula', list);
      for (const [key, address] of Object.entries(set.placement)) {
        expect(list[dist.pick(key)].address, key).to.equal(address);
      }
    });
  }

  it('hashes with one-at-a-time over UTF-8 bytes, sign-extending bytes >= 0x80', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' })), (key) => {
        expect(oneAtATime(key)).to.equal(referenceOneAtATime(Buffer.from(key, 'utf8')));
      }),
      { numRuns: 2000 },
    );
  });

  it('is hash % n in list order with weights 1', () => {
    const list = servers(5);
    const dist = createDistribution('modula', list);
    for (const key of keys(500)) expect(dist.pick(key)).to.equal(oneAtATime(key) % 5);
  });

  it('gives a server of weight w w consecutive slots, in list order', () => {
    const list = servers(3, [1, 2, 3]);
    const dist = createDistribution('modula', list);
    const slots = [0, 1, 1, 2, 2, 2];
    for (const key of keys(500)) expect(dist.pick(key)).to.equal(slots[oneAtATime(key) % 6]);
  });
});
