/** Balance: how evenly each distribution spreads keys, with equal and with unequal weights. */
import { expect } from 'chai';
import { createDistribution } from '../../../lib/distribution/index.js';
import { keys, servers, spread } from './helpers.js';

const KINDS = ['ketama', 'jump', 'modula'] as const;

describe('spread', () => {
  const keyList = keys(3000);

  for (const kind of KINDS) {
    it(`${kind}: 3 equal servers each get 1,000 ± 25% of 3,000 keys`, () => {
      const list = servers(3);
      const counts = spread(createDistribution(kind, list), list, keyList);
      for (const [address, count] of counts) expect(count, address).to.be.within(750, 1250);
    });

    it(`${kind}: weights 1:2:3 give shares of 1/6, 2/6 and 3/6 (± 25%)`, () => {
      const list = servers(3, [1, 2, 3]);
      const counts = [...spread(createDistribution(kind, list), list, keyList).values()];
      [500, 1000, 1500].forEach((expected, i) => {
        expect(counts[i], `weight ${i + 1}`).to.be.within(expected * 0.75, expected * 1.25);
      });
    });

    it(`${kind}: sequential keys spread too (no clustering on a shared prefix)`, () => {
      const list = servers(4);
      const sequential = Array.from({ length: 4000 }, (_, i) => `user:${i}`);
      const counts = spread(createDistribution(kind, list), list, sequential);
      for (const [address, count] of counts) expect(count, address).to.be.within(750, 1250);
    });
  }
});
