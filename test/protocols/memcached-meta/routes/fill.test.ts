/** The back-fill guard: which deletes make a read-through's back-fill stale, and nothing kept after. */
import { expect } from 'chai';
import { FillGuard } from '../../../../protocols/memcached-meta/routes/fill.js';

describe('routes: the back-fill guard', () => {
  it('a delete issued after the read began makes it stale; one settled before it began does not', () => {
    const g = new FillGuard();
    const before = g.deleting('k');
    before();
    const mark = g.begin('k');
    expect(g.stale('k', mark)).to.equal(false);
    const done = g.deleting('k');
    expect(g.stale('k', mark)).to.equal(true);
    done();
    g.end('k');
    expect(g.size).to.equal(0);
  });

  it('a delete in flight when the read began makes it stale once it settles', () => {
    const g = new FillGuard();
    const done = g.deleting('k');
    const mark = g.begin('k');
    expect(g.stale('k', mark)).to.equal(false);
    done();
    expect(g.stale('k', mark)).to.equal(true);
    g.end('k');
    expect(g.size).to.equal(0);
  });

  it('keys are independent, and a key is forgotten once nothing of it is in flight', () => {
    const g = new FillGuard();
    const a = g.begin('a');
    const b = g.begin('b');
    const done = g.deleting('b');
    expect([g.stale('a', a), g.stale('b', b)]).to.deep.equal([false, true]);
    g.end('a');
    g.end('b');
    expect(g.size).to.equal(1); // b's delete is still in flight
    done();
    expect(g.size).to.equal(0);
  });
});
