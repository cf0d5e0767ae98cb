/** createDistribution: validation, custom functions, what every kind shares. */
import { expect } from 'chai';
import fc from 'fast-check';
import type { ServerAddress } from '../../../lib/backend.js';
import {
  createDistribution,
  MAX_TOTAL_WEIGHT,
  type DistributionFunction,
  type DistributionKind,
} from '../../../lib/distribution/index.js';
import { InvalidArgumentError } from '../../../lib/errors.js';
import { keys, server, servers } from './helpers.js';

const KINDS = ['ketama', 'jump', 'modula'] as const;

function invalid(fn: () => unknown, message: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).to.be.instanceOf(InvalidArgumentError);
  expect((thrown as InvalidArgumentError).code).to.equal('ERR_INVALID_ARGUMENT');
  expect((thrown as Error).message).to.match(message);
}

describe('createDistribution', () => {
  describe('validation', () => {
    for (const kind of [...KINDS, (() => 0) as DistributionFunction]) {
      const name = typeof kind === 'function' ? 'custom' : kind;
      it(`${name}: rejects an empty or missing server list`, () => {
        invalid(() => createDistribution(kind, []), /at least one server/);
        invalid(
          () => createDistribution(kind, undefined as unknown as ServerAddress[]),
          /at least one server/,
        );
      });
    }

    it('rejects bad hosts, ports and weights, naming the server', () => {
      const good = server('127.0.0.1:11211');
      invalid(() => createDistribution('ketama', [{ ...good, host: '' }]), /host/);
      invalid(() => createDistribution('ketama', [null as unknown as ServerAddress]), /host/);
      invalid(() => createDistribution('ketama', [{ ...good, port: 0 }]), /port of "127\.0\.0\.1:11211"/);
      invalid(() => createDistribution('jump', [{ ...good, port: 65536 }]), /port/);
      invalid(() => createDistribution('modula', [{ ...good, weight: 0 }]), /weight of "127\.0\.0\.1:11211"/);
      invalid(() => createDistribution('ketama', [{ ...good, weight: 1.5 }]), /weight/);
      invalid(() => createDistribution('ketama', [{ ...good, weight: 2 ** 32 }]), /weight/);
    });

    it('rejects the same host and port twice', () => {
      const list = [server('127.0.0.1:11211'), server('127.0.0.1:11212'), server('127.0.0.1:11211', 2)];
      for (const kind of KINDS) invalid(() => createDistribution(kind, list), /listed twice/);
    });

    it('rejects an unknown kind', () => {
      invalid(() => createDistribution('consistent' as DistributionKind, servers(2)), /"consistent" is not/);
    });

    it('rejects weights jump and modula cannot hold as buckets, and takes them in ketama', () => {
      const heavy = [server('a:1', MAX_TOTAL_WEIGHT), server('b:1', 1)];
      invalid(() => createDistribution('jump', heavy), /add up to/);
      invalid(() => createDistribution('modula', heavy), /add up to/);
      expect(createDistribution('ketama', heavy).pick('k')).to.be.oneOf([0, 1]);
    });
  });

  describe('custom function', () => {
    it('is called with the key and the servers, and its answer returned', () => {
      const list = servers(3);
      const calls: [string, readonly ServerAddress[]][] = [];
      const dist = createDistribution((key, given) => {
        calls.push([key, given]);
        return key.length % given.length;
      }, list);
      expect(dist.pick('abcd')).to.equal(1);
      expect(dist.pick('ab')).to.equal(2);
      expect(calls.map((c) => c[0])).to.deep.equal(['abcd', 'ab']);
      expect(calls[0][1]).to.deep.equal(list);
      // The same frozen snapshot each time: a later change to the caller's array does not reach it.
      expect(calls[1][1]).to.equal(calls[0][1]);
      expect(Object.isFrozen(calls[0][1])).to.be.true;
      list.pop();
      expect(dist.pick('abcd')).to.equal(1);
    });

    it('rejects an answer that is not an integer index into the servers', () => {
      const list = servers(3);
      for (const answer of [3, -1, 1.5, NaN, Infinity, '1', null, undefined, 1n]) {
        const dist = createDistribution(() => answer as unknown as number, list);
        invalid(() => dist.pick('k'), /custom function returned .*\[0, 3\)/);
      }
    });

    it('lets an error the function throws through as is', () => {
      const boom = new Error('boom');
      const dist = createDistribution(() => {
        throw boom;
      }, servers(2));
      expect(() => dist.pick('k')).to.throw(boom);
    });
  });

  for (const kind of KINDS) {
    describe(kind, () => {
      it('sends every key to the only server, whatever its weight', () => {
        const dist = createDistribution(kind, [server('127.0.0.1:11211', 7)]);
        for (const key of keys(100)) expect(dist.pick(key)).to.equal(0);
      });

      it('answers an index in range, the same for the same key, for any string', () => {
        const list = servers(4, [1, 3, 2, 1]);
        const dist = createDistribution(kind, list);
        const again = createDistribution(kind, list);
        fc.assert(
          fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 400 })), (key) => {
            const index = dist.pick(key);
            expect(index).to.be.within(0, 3);
            expect(Number.isInteger(index)).to.be.true;
            expect(dist.pick(key)).to.equal(index);
            expect(again.pick(key)).to.equal(index);
          }),
          { numRuns: 1000 },
        );
      });

      it('hashes UTF-8 bytes: a key and its NFC/NFD forms are different keys, as on the wire', () => {
        const list = servers(64);
        const dist = createDistribution(kind, list);
        // Not an equality test of the two (they may collide), but both must be stable under long keys
        // that grow the scratch buffer between them.
        const nfc = 'café'.normalize('NFC');
        const nfd = 'café'.normalize('NFD');
        const a = dist.pick(nfc);
        const b = dist.pick(nfd);
        dist.pick('é'.repeat(100_000));
        expect(dist.pick(nfc)).to.equal(a);
        expect(dist.pick(nfd)).to.equal(b);
      });
    });
  }
});
