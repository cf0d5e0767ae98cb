import { expect } from 'chai';
import sinon from 'sinon';
import * as validate from '../../../protocols/memcached-meta/validate.js';
import { thrown } from './helpers.js';

function refused(fn: () => unknown, name: string): void {
  const err = thrown(fn);
  expect(err.code).to.equal('ERR_INVALID_ARGUMENT');
  expect(err.mayHaveExecuted).to.equal(false);
  expect(err.message).to.include(name);
}

const notNumbers: unknown[] = ['1', '1 q', null, undefined, true, {}, [], 1n];

describe('validate', () => {
  it('ttl: integers from 0 to 2^31-1', () => {
    expect(validate.ttl(0)).to.equal(0);
    expect(validate.ttl(30)).to.equal(30);
    expect(validate.ttl(2 ** 31 - 1)).to.equal(2 ** 31 - 1);
    for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 31, ...notNumbers])
      refused(() => validate.ttl(bad), 'ttl');
    refused(() => validate.ttl(-5, 'leaseTtl'), 'leaseTtl');
  });

  it('clientFlags: 32-bit unsigned', () => {
    expect(validate.clientFlags(0)).to.equal(0);
    expect(validate.clientFlags(2 ** 32 - 1)).to.equal(2 ** 32 - 1);
    for (const bad of [-1, 0.5, 2 ** 32, NaN, ...notNumbers])
      refused(() => validate.clientFlags(bad), 'flags');
  });

  it('u64: safe numbers or bigints up to 2^64-1', () => {
    expect(validate.u64(0, 'delta')).to.equal(0n);
    expect(validate.u64(2 ** 53 - 1, 'delta')).to.equal(2n ** 53n - 1n);
    expect(validate.u64(2n ** 64n - 1n, 'delta')).to.equal(2n ** 64n - 1n);
    for (const bad of [-1, -1n, 2n ** 64n, 2 ** 53, 1.5, NaN, '5', null, undefined]) {
      refused(() => validate.u64(bad, 'delta'), 'delta');
    }
  });

  it('cas: u64 of at least 1, never through a float', () => {
    expect(validate.cas(1)).to.equal(1n);
    expect(validate.cas(18446744073709551615n)).to.equal(18446744073709551615n);
    expect(validate.cas(9007199254740993n)).to.equal(9007199254740993n);
    for (const bad of [0, 0n, -1, 2n ** 64n, 2 ** 60, '12']) refused(() => validate.cas(bad), 'cas');
  });

  it('nonNegativeInt: 0 to max', () => {
    expect(validate.nonNegativeInt(10, 'delay', 10)).to.equal(10);
    for (const bad of [11, -1, 0.1, '1']) refused(() => validate.nonNegativeInt(bad, 'delay', 10), 'delay');
  });

  it('opaque: 1 to 31 printable ASCII characters', () => {
    expect(validate.opaque('a')).to.equal('a');
    expect(validate.opaque('!~' + 'x'.repeat(29))).to.have.length(31);
    for (const bad of ['', 'x'.repeat(32), 'a b', 'a\r\n', 'é', '\x7f', 5, undefined]) {
      refused(() => validate.opaque(bad), 'opaque');
    }
  });

  it('statsGroup: one or two words of [a-z_]', () => {
    for (const good of ['settings', 'items', 'slabs', 'detail dump', 'detail on', 'reset', 'conns']) {
      expect(validate.statsGroup(good)).to.equal(good);
    }
    for (const bad of [
      '',
      'a b c',
      'cachedump 1 1',
      'Settings',
      'items\r\nflush_all',
      ' items',
      'items ',
      5,
    ]) {
      refused(() => validate.statsGroup(bad), 'group');
    }
  });

  it('never copies a long string into a message', () => {
    const err = thrown(() => validate.opaque('s'.repeat(10_000)));
    expect(err.message.length).to.be.below(200);
  });

  it('relativeTtl: seconds from now; over 30 days sent as now + ttl by the client clock', () => {
    const clock = sinon.useFakeTimers({ now: 1_700_000_000_500, toFake: ['Date'] });
    try {
      expect(validate.relativeTtl(0)).to.equal(0);
      expect(validate.relativeTtl(2_592_000)).to.equal(2_592_000);
      expect(validate.relativeTtl(31 * 86400)).to.equal(1_700_000_000 + 31 * 86400);
      const room = 2 ** 31 - 1 - 1_700_000_000;
      expect(validate.relativeTtl(room)).to.equal(2 ** 31 - 1);
      refused(() => validate.relativeTtl(room + 1, 'staleTtl'), 'staleTtl');
      for (const bad of [...notNumbers, -1, 1.5, NaN, Infinity])
        refused(() => validate.relativeTtl(bad), 'ttl');
    } finally {
      clock.restore();
    }
  });

  it('expiresAt: a Date or Unix seconds past 30 days after the epoch, up to 2^31-1', () => {
    expect(validate.expiresAt(new Date(1_700_000_000_900))).to.equal(1_700_000_000);
    expect(validate.expiresAt(1_700_000_000)).to.equal(1_700_000_000);
    for (const bad of [0, 1000, 2_592_000, 2 ** 31, 1.5, new Date(NaN), '1700000000', null]) {
      refused(() => validate.expiresAt(bad), 'expiresAt');
    }
  });

  it('expiry: ttl or expiresAt, never both', () => {
    expect(validate.expiry(undefined)).to.equal(undefined);
    expect(validate.expiry({})).to.equal(undefined);
    expect(validate.expiry({ ttl: 5 })).to.equal(5);
    expect(validate.expiry({ expiresAt: 1_700_000_000 })).to.equal(1_700_000_000);
    refused(() => validate.expiry({ ttl: 5, expiresAt: 1_700_000_000 }), 'expiresAt');
  });
});
