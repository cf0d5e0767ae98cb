import { expect } from 'chai';
import sinon from 'sinon';
import type { ServerAddress } from '../../lib/backend.js';
import { channels } from '../../lib/diagnostics.js';
import { EjectRegistry, Ejector, EJECT_DEFAULTS, type EjectChange } from '../../lib/eject.js';
import { createDistribution, type DistributionKind } from '../../lib/distribution/index.js';
import {
  CircuitOpenError,
  ClientClosedError,
  ConnectionError,
  ServerErrorReply,
  TimeoutError,
} from '../../lib/errors.js';

const KEYS = Array.from({ length: 5000 }, (_, i) => `key:${i}`);

function servers(n: number, weights: number[] = []): ServerAddress[] {
  return Array.from({ length: n }, (_, i) => ({
    host: `10.0.0.${i + 1}`,
    port: 11211,
    weight: weights[i] ?? 1,
    address: `10.0.0.${i + 1}:11211`,
  }));
}

const down = (): ConnectionError => new ConnectionError('connection refused');

describe('lib/Ejector', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  });
  afterEach(() => clock.restore());

  function ejector(
    kind: DistributionKind,
    addresses: ServerAddress[],
    probe: (i: number) => Promise<unknown> = () => Promise.reject(down()),
    after = 3,
  ): Ejector {
    const full = createDistribution(kind, addresses);
    const registry = new EjectRegistry((address) => probe(addresses.findIndex((a) => a.address === address)));
    return new Ejector(addresses, kind, full, { after, probeInterval: 100 }, registry);
  }

  for (const kind of ['ketama', 'jump', 'modula', 'proxy'] as const) {
    it(`${kind}: the ejected server's keys go to the others, no other key moves, restore is exact`, async () => {
      const addresses = servers(5);
      const full = createDistribution(kind, addresses);
      let answer = false;
      const e = ejector(kind, addresses, () => (answer ? Promise.resolve('MN') : Promise.reject(down())));
      const before = KEYS.map((k) => e.pick(k));
      expect(before).to.deep.equal(KEYS.map((k) => full.pick(k)));

      for (let n = 0; n < 3; n++) e.outcome(2, down());
      expect(e.stats).to.deep.equal({ ejections: 1, restorations: 0, ejected: ['10.0.0.3:11211'] });
      const during = KEYS.map((k) => e.pick(k));
      let moved = 0;
      KEYS.forEach((_, j) => {
        if (before[j] === 2) {
          expect(during[j]).to.not.equal(2);
          moved++;
        } else expect(during[j]).to.equal(before[j]);
      });
      expect(moved).to.be.greaterThan(500); // about a fifth of the keys
      // The moved keys spread over the four others (none takes them all).
      const takers = new Set(during.filter((_, j) => before[j] === 2));
      expect(takers.size).to.equal(4);

      // A failed probe keeps it out; an answered one restores the exact mapping.
      await clock.tickAsync(100);
      expect(e.stats.ejected).to.have.length(1);
      answer = true;
      await clock.tickAsync(100);
      expect(e.stats).to.deep.equal({ ejections: 1, restorations: 1, ejected: [] });
      expect(KEYS.map((k) => e.pick(k))).to.deep.equal(before);
      expect(clock.countTimers()).to.equal(0); // no probing while all are in
      e.close();
    });
  }

  it('ketama with equal weights: the keys moved go where a ring without the server puts them', () => {
    const addresses = servers(4);
    const e = ejector('ketama', addresses);
    for (let n = 0; n < 3; n++) e.outcome(1, down());
    const without = createDistribution('ketama', [addresses[0], addresses[2], addresses[3]]);
    const live = [0, 2, 3];
    for (const k of KEYS) expect(e.pick(k)).to.equal(live[without.pick(k)]);
    e.close();
  });

  it('weighted ketama: the others keep their keys even though a rebuilt ring would move some', () => {
    const addresses = servers(3, [1, 3, 2]);
    const full = createDistribution('ketama', addresses);
    const e = ejector('ketama', addresses);
    for (let n = 0; n < 3; n++) e.outcome(0, down());
    for (const k of KEYS) {
      const home = full.pick(k);
      if (home !== 0) expect(e.pick(k)).to.equal(home);
      else expect(e.pick(k)).to.not.equal(0);
    }
    e.close();
  });

  it('counts failures in a row: a reply or an error reply resets the count; other errors are no verdict', () => {
    const e = ejector('ketama', servers(3));
    e.outcome(0, down());
    e.outcome(0, new TimeoutError('timed out', 'request'));
    e.outcome(0); // a reply
    e.outcome(0, down());
    e.outcome(0, new ServerErrorReply('SERVER_ERROR out of memory'));
    e.outcome(0, down());
    e.outcome(0, new ClientClosedError('closed'));
    e.outcome(0, down());
    expect(e.stats.ejected).to.deep.equal([]);
    e.outcome(0, new CircuitOpenError('marked down'));
    expect(e.stats.ejected).to.deep.equal(['10.0.0.1:11211']);
    e.close();
  });

  it('never ejects the last server; a second server out rebuilds the ring once more', () => {
    const addresses = servers(3);
    const full = createDistribution('ketama', addresses);
    const e = ejector('ketama', addresses, undefined, 1);
    e.outcome(0, down());
    e.outcome(1, down());
    e.outcome(2, down());
    expect(e.stats).to.deep.equal({
      ejections: 2,
      restorations: 0,
      ejected: ['10.0.0.1:11211', '10.0.0.2:11211'],
    });
    for (const k of KEYS) expect(e.pick(k)).to.equal(2);
    // Late outcomes of calls sent before the ejection change nothing.
    e.outcome(0);
    expect(e.stats.ejected).to.have.length(2);
    expect(KEYS.filter((k) => full.pick(k) === 2).every((k) => e.pick(k) === 2)).to.equal(true);
    e.close();
  });

  it('probes every interval, one probe per server at a time, and close() stops probing', async () => {
    let probes = 0;
    const pending: ((v: unknown) => void)[] = [];
    const e = ejector('ketama', servers(3), () => {
      probes++;
      return new Promise((resolve) => pending.push(resolve));
    });
    for (let n = 0; n < 3; n++) e.outcome(1, down());
    await clock.tickAsync(350);
    expect(probes).to.equal(1); // the first one has not settled
    pending[0]('MN');
    await clock.tickAsync(0);
    expect(e.stats.ejected).to.deep.equal([]);
    for (let n = 0; n < 3; n++) e.outcome(1, down());
    e.close();
    await clock.tickAsync(1000);
    expect(probes).to.equal(1);
    expect(clock.countTimers()).to.equal(0);
  });

  it('a server in two pools: failures counted once across both, one ejection, one probe, one restoration', async () => {
    const shared = servers(3)[1];
    const poolA = servers(3);
    const poolB = [shared, ...servers(6).slice(3)];
    const changes: EjectChange[] = [];
    const published: unknown[] = [];
    const listen = (message: unknown) => published.push(message);
    channels.eject.subscribe(listen);
    let probes = 0;
    let answer = false;
    const registry = new EjectRegistry(
      () => {
        probes++;
        return answer ? Promise.resolve('MN') : Promise.reject(down());
      },
      (change) => changes.push(change),
    );
    const ring = (name: string, list: ServerAddress[], after: number) =>
      new Ejector(
        list,
        'ketama',
        createDistribution('ketama', list),
        { after, probeInterval: 100 },
        registry,
        name,
      );
    const a = ring('a', poolA, 3);
    const b = ring('b', poolB, 3);
    try {
      // Failures in a row, whichever pool's call it was: a, b, then a again is three.
      a.outcome(1, down());
      b.outcome(0, down());
      expect(a.stats.ejected).to.deep.equal([]);
      a.outcome(1, down());
      expect(a.stats).to.deep.equal({ ejections: 1, restorations: 0, ejected: [shared.address] });
      expect(b.stats).to.deep.equal({ ejections: 1, restorations: 0, ejected: [shared.address] });
      const ejected = { server: shared.address, state: 'ejected', pools: ['a', 'b'], failures: 3 };
      expect(changes).to.deep.equal([ejected]);
      expect(published).to.deep.equal([ejected]);
      // One probe per interval for the server, not one per pool.
      await clock.tickAsync(100);
      expect(probes).to.equal(1);
      answer = true;
      await clock.tickAsync(100);
      expect(probes).to.equal(2);
      const restored = { server: shared.address, state: 'restored', pools: ['a', 'b'] };
      expect(changes).to.deep.equal([ejected, restored]);
      expect(published).to.deep.equal([ejected, restored]);
      expect(a.stats).to.deep.equal({ ejections: 1, restorations: 1, ejected: [] });
      expect(b.stats).to.deep.equal({ ejections: 1, restorations: 1, ejected: [] });
      // A reply through either pool resets the shared count.
      a.outcome(1, down());
      a.outcome(1, down());
      b.outcome(0);
      a.outcome(1, down());
      expect(a.stats.ejected).to.deep.equal([]);
      expect(clock.countTimers()).to.equal(0);
    } finally {
      channels.eject.unsubscribe(listen);
      a.close();
      b.close();
    }
  });

  it('a server that is the last of one pool leaves the others only; the least `after` of its pools counts', () => {
    const shared = servers(2)[1];
    const changes: EjectChange[] = [];
    const registry = new EjectRegistry(
      () => Promise.reject(down()),
      (c) => changes.push(c),
    );
    const many = servers(3);
    const single = [servers(9)[8], shared];
    const a = new Ejector(
      many,
      'ketama',
      createDistribution('ketama', many),
      { after: 5, probeInterval: 100 },
      registry,
      'a',
    );
    const b = new Ejector(
      single,
      'ketama',
      createDistribution('ketama', single),
      { after: 2, probeInterval: 100 },
      registry,
      'b',
    );
    b.outcome(0, down());
    b.outcome(0, down()); // b's first server is out: shared is the last of b
    a.outcome(1, down());
    a.outcome(1, down());
    expect(changes.map((c) => [c.server, c.pools])).to.deep.equal([
      [single[0].address, ['b']],
      [shared.address, ['a']],
    ]);
    expect(b.stats.ejected).to.deep.equal([single[0].address]);
    a.close();
    b.close();
    expect(clock.countTimers()).to.equal(0); // no pool left: nothing probed
  });

  it('defaults: after 3, a probe a second', () => {
    expect(EJECT_DEFAULTS).to.deep.equal({ after: 3, probeInterval: 1000 });
  });
});
