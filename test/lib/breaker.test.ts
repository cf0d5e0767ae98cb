import { expect } from 'chai';
import sinon from 'sinon';
import { CircuitBreaker, type BreakerState } from '../../lib/breaker.js';
import { backoff } from '../../lib/reconnect.js';

describe('lib/CircuitBreaker', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ toFake: ['performance'] });
  });
  afterEach(() => clock.restore());

  function breaker(threshold = 3): { b: CircuitBreaker; changes: BreakerState[] } {
    const changes: BreakerState[] = [];
    const b = new CircuitBreaker({ threshold, openTime: 1000, maxOpenTime: 4000 }, (s) => changes.push(s));
    return { b, changes };
  }

  it('opens after `threshold` consecutive failures, and a success in between resets the count', () => {
    const { b } = breaker();
    b.failure();
    b.failure();
    b.success();
    b.failure();
    b.failure();
    expect(b.state).to.equal('closed');
    b.failure();
    expect(b.state).to.equal('open');
    expect(b.allow()).to.equal('no');
  });

  it('lets exactly one probe through after the open time; a reply closes it', () => {
    const { b, changes } = breaker();
    for (let i = 0; i < 3; i++) b.failure();
    clock.tick(1201); // open time with +20% jitter at most
    expect(b.allow()).to.equal('probe');
    expect(b.state).to.equal('half-open');
    expect(b.allow()).to.equal('no');
    b.probed(true);
    expect(b.state).to.equal('closed');
    expect(b.allow()).to.equal('yes');
    expect(changes).to.deep.equal(['open', 'half-open', 'closed']);
  });

  it('a failed probe reopens it for twice as long, capped', () => {
    const { b } = breaker();
    for (let i = 0; i < 3; i++) b.failure();
    clock.tick(1201);
    expect(b.allow()).to.equal('probe');
    b.probed(false);
    expect(b.state).to.equal('open');
    expect(b.retryIn).to.be.within(1600, 2400);
    clock.tick(2401);
    expect(b.allow()).to.equal('probe');
    b.probed(false);
    expect(b.retryIn).to.be.within(3200, 4800);
    clock.tick(4801);
    b.allow();
    b.probed(false);
    expect(b.retryIn).to.be.at.most(4800); // capped at maxOpenTime (± jitter)
  });

  it('a probe with no verdict frees the slot for another probe', () => {
    const { b } = breaker();
    for (let i = 0; i < 3; i++) b.failure();
    clock.tick(1201);
    expect(b.allow()).to.equal('probe');
    b.probed(undefined);
    expect(b.allow()).to.equal('probe');
  });

  it('threshold 0 never opens', () => {
    const { b } = breaker(0);
    for (let i = 0; i < 100; i++) b.failure();
    expect(b.state).to.equal('closed');
  });

  it('backoff doubles from base up to cap, with jitter in [half, whole]', () => {
    for (let i = 0; i < 50; i++) {
      expect(backoff(1, 50, 2000)).to.be.within(25, 50);
      expect(backoff(3, 50, 2000)).to.be.within(100, 200);
      expect(backoff(20, 50, 2000)).to.be.within(1000, 2000);
    }
  });
});
