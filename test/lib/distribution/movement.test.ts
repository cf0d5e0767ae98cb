/**
 * Minimal movement (reliability matrix F2), as properties over random server lists. fast-check prints
 * the seed and the counterexample of a failure; replay it with `{ seed, path }` in `fc.assert`.
 *
 * Tolerances: 2,000 keys. Jump moves exactly the keys of the new bucket, so only the choice of keys
 * varies its share (σ ≈ 1%): ±6% is six σ. A ketama server's share also varies with where its 160
 * points fall (σ ≈ 2%; 300 random rings moved between 19% and 31%): ±10% is five σ.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { ServerAddress } from '../../../lib/backend.js';
import { createDistribution } from '../../../lib/distribution/index.js';
import { jumpOrder } from '../../../lib/distribution/jump.js';
import { keys, placement } from './helpers.js';

const keyList = keys(2000, 'move');

const host = fc.oneof(
  fc.ipV4(),
  fc.domain(),
  fc.integer({ min: 0, max: 99 }).map((n) => `cache-${n}.internal`),
);

/** `count` servers with distinct host:port, weight 1 unless `weight` is given. */
function serverList(
  count: number,
  weight: fc.Arbitrary<number> = fc.constant(1),
): fc.Arbitrary<ServerAddress[]> {
  return fc
    .uniqueArray(fc.record({ host, port: fc.integer({ min: 1, max: 65535 }), weight }), {
      minLength: count,
      maxLength: count,
      selector: (s) => `${s.host}:${s.port}`,
    })
    .map((list) => list.map((s) => ({ ...s, address: `${s.host}:${s.port}` })));
}

/** The keys whose server differs between two placements (by address), with where they went. */
function moves(before: Map<string, string>, after: Map<string, string>): { key: string; to: string }[] {
  const moved: { key: string; to: string }[] = [];
  for (const [key, address] of before) {
    const now = after.get(key) as string;
    if (now !== address) moved.push({ key, to: now });
  }
  return moved;
}

function place(kind: 'ketama' | 'jump', list: readonly ServerAddress[]): Map<string, string> {
  return placement(createDistribution(kind, list), list, keyList);
}

describe('movement', () => {
  describe('ketama (equal weights)', () => {
    it('adding a 4th server to 3 moves about a quarter of the keys (±10%), all to it', () => {
      fc.assert(
        fc.property(serverList(4), (four) => {
          const moved = moves(place('ketama', four.slice(0, 3)), place('ketama', four));
          expect(moved.every((m) => m.to === four[3].address)).to.be.true;
          expect(moved.length / keyList.length).to.be.within(0.15, 0.35);
        }),
        { numRuns: 40 },
      );
    });

    it('removing a server moves only its keys', () => {
      fc.assert(
        fc.property(serverList(4), fc.nat(3), (four, removed) => {
          const before = place('ketama', four);
          const rest = four.filter((_, i) => i !== removed);
          for (const m of moves(before, place('ketama', rest))) {
            expect(before.get(m.key)).to.equal(four[removed].address);
          }
        }),
        { numRuns: 40 },
      );
    });

    it('does not depend on the order of the server list', () => {
      const lists = serverList(5, fc.integer({ min: 1, max: 5 })).chain((list) =>
        fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: 5, maxLength: 5 })),
      );
      fc.assert(
        fc.property(lists, ([list, shuffled]) => {
          expect(place('ketama', shuffled)).to.deep.equal(place('ketama', list));
        }),
        { numRuns: 40 },
      );
    });
  });

  describe('jump', () => {
    it('adding a 4th server that sorts last moves about a quarter of the keys (±6%), all to it', () => {
      fc.assert(
        fc.property(serverList(4), (four) => {
          const last = four[jumpOrder(four)[3]];
          const three = four.filter((s) => s !== last);
          const moved = moves(place('jump', three), place('jump', four));
          expect(moved.every((m) => m.to === last.address)).to.be.true;
          expect(moved.length / keyList.length).to.be.within(0.19, 0.31);
        }),
        { numRuns: 60 },
      );
    });

    it('with weights, a server added last takes w/(total + w) of the keys (±6%) and nothing else moves', () => {
      fc.assert(
        fc.property(serverList(4, fc.integer({ min: 1, max: 4 })), (four) => {
          const last = four[jumpOrder(four)[3]];
          const three = four.filter((s) => s !== last);
          const moved = moves(place('jump', three), place('jump', four));
          const share = last.weight / four.reduce((sum, s) => sum + s.weight, 0);
          expect(moved.every((m) => m.to === last.address)).to.be.true;
          expect(moved.length / keyList.length).to.be.within(share - 0.06, share + 0.06);
        }),
        { numRuns: 60 },
      );
    });

    it('removing the server that sorts last moves only its keys', () => {
      fc.assert(
        fc.property(serverList(4, fc.integer({ min: 1, max: 3 })), (four) => {
          const last = four[jumpOrder(four)[3]];
          const before = place('jump', four);
          const moved = moves(
            before,
            place(
              'jump',
              four.filter((s) => s !== last),
            ),
          );
          for (const m of moved) expect(before.get(m.key)).to.equal(last.address);
        }),
        { numRuns: 60 },
      );
    });

    it('does not depend on the order of the server list', () => {
      const lists = serverList(5, fc.integer({ min: 1, max: 5 })).chain((list) =>
        fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: 5, maxLength: 5 })),
      );
      fc.assert(
        fc.property(lists, ([list, shuffled]) => {
          expect(place('jump', shuffled)).to.deep.equal(place('jump', list));
        }),
        { numRuns: 40 },
      );
    });

    it('(the documented limit) a server that sorts first renumbers every bucket and moves most keys', () => {
      const three = ['cache-2:11211', 'cache-3:11211', 'cache-4:11211'].map((address) => ({
        host: address.split(':')[0],
        port: 11211,
        weight: 1,
        address,
      }));
      const four = [{ host: 'cache-1', port: 11211, weight: 1, address: 'cache-1:11211' }, ...three];
      const moved = moves(place('jump', three), place('jump', four));
      // Only keys in bucket 3 before and after stay: 1 - 1/3 × 1/4 ≈ 92% move.
      expect(moved.length / keyList.length).to.be.above(0.85);
    });
  });
});
