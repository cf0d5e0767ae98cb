/** 'jump': the 64-bit arithmetic against bigint references, the bucket order, weights as buckets. */
import { expect } from 'chai';
import fc from 'fast-check';
import type { JumpDistribution } from '../../../lib/distribution/index.js';
import { createDistribution } from '../../../lib/distribution/index.js';
import { compareNatural, fnv1a64, jumpBucket, jumpOrder } from '../../../lib/distribution/jump.js';
import { keys, server, servers } from './helpers.js';

const MASK = (1n << 64n) - 1n;

/** The paper's algorithm, in bigint. */
function referenceJump(key: bigint, buckets: number): number {
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    key = (key * 2862933555777941757n + 1n) & MASK;
    j = Math.floor((b + 1) * (2 ** 31 / (Number(key >> 33n) + 1)));
  }
  return b;
}

function referenceFnv1a64(bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const byte of bytes) h = ((h ^ BigInt(byte)) * 0x100000001b3n) & MASK;
  return h;
}

describe('jump', () => {
  it('hashes with FNV-1a 64 (published test values)', () => {
    expect(fnv1a64('')).to.equal(0xcbf29ce484222325n);
    expect(fnv1a64('a')).to.equal(0xaf63dc4c8601ec8cn);
    expect(fnv1a64('foobar')).to.equal(0x85944171f73967e8n);
  });

  it('computes FNV-1a 64 over UTF-8 bytes like a bigint reference', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 300 })), (key) => {
        expect(fnv1a64(key)).to.equal(referenceFnv1a64(Buffer.from(key, 'utf8')));
      }),
      { numRuns: 2000 },
    );
  });

  it('computes jump consistent hash like a bigint reference', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MASK }), fc.integer({ min: 1, max: 1 << 20 }), (key, buckets) => {
        const got = jumpBucket(Number(key >> 32n), Number(key & 0xffffffffn), buckets);
        expect(got).to.equal(referenceJump(key, buckets));
      }),
      { numRuns: 3000 },
    );
    // The carry out of the low half (low word 0xffffffff before the + 1).
    expect(jumpBucket(0, 0xffffffff, 1000)).to.equal(referenceJump(0xffffffffn, 1000));
  });

  it('orders buckets by address in natural order, whatever the list order', () => {
    const list = [
      server('cache-10:11211'),
      server('cache-9:11211'),
      server('10.0.0.10:11211'),
      server('10.0.0.9:11211'),
      server('cache-9:9999'),
    ];
    const names = jumpOrder(list).map((i) => list[i].address);
    expect(names).to.deep.equal([
      '10.0.0.9:11211',
      '10.0.0.10:11211',
      'cache-9:9999',
      'cache-9:11211',
      'cache-10:11211',
    ]);
    expect(compareNatural('a01', 'a1')).to.not.equal(0);
    expect(compareNatural('a1', 'a1')).to.equal(0);
    expect(compareNatural('a', 'a1')).to.be.below(0);
  });

  it('gives a server of weight w w consecutive buckets in that order', () => {
    const list = servers(3, [3, 1, 2]);
    const dist = createDistribution('jump', list);
    const owners = [0, 0, 0, 1, 2, 2];
    for (const key of keys(500)) {
      const h = fnv1a64(key);
      expect(dist.pick(key)).to.equal(owners[referenceJump(h, 6)]);
    }
  });

  it('does not depend on the order of the list', () => {
    const list = servers(5, [1, 2, 1, 3, 1]);
    const reversed = [...list].reverse();
    const a = createDistribution('jump', list);
    const b = createDistribution('jump', reversed) as JumpDistribution;
    expect(b.order.map((i) => reversed[i].address)).to.deep.equal(list.map((s) => s.address));
    for (const key of keys(1000)) expect(list[a.pick(key)].address).to.equal(reversed[b.pick(key)].address);
  });
});
