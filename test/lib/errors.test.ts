import { expect } from 'chai';
import * as engine from '../../lib/index.js';
import * as root from '../../protocols/memcached-meta/index.js';
import { CasConflictError, NotNumericError } from '../../protocols/memcached-meta/errors.js';
import { RedisServerError } from '../../protocols/redis-resp/errors.js';

describe('lib/errors', () => {
  it('isMemlineError knows every memline error, the protocols ones included, and nothing else', () => {
    const { isMemlineError, TimeoutError, PartialResultError, ServerErrorReply } = engine;
    for (const err of [
      new TimeoutError('t', 'request'),
      new PartialResultError('p', new Map(), new Map()),
      new ServerErrorReply('s'),
      new NotNumericError('n'),
      new CasConflictError('c'),
      new RedisServerError('r', 'ERR'),
    ]) {
      expect(isMemlineError(err), err.name).to.equal(true);
    }
    for (const value of [new Error('x'), null, undefined, 'ERR_TIMEOUT', { code: 'ERR_TIMEOUT' }]) {
      expect(isMemlineError(value)).to.equal(false);
    }
  });

  it('matches an error of another copy of memline by its brand and code', () => {
    // What a second install's error looks like from here: another class with the same brand.
    const brand = Symbol.for('memline.error');
    const foreign = Object.assign(new Error('t'), { code: 'ERR_NOT_NUMERIC', [brand]: true });
    expect(engine.isMemlineError(foreign)).to.equal(true);
    expect(foreign).to.be.instanceOf(NotNumericError);
    expect(foreign).to.not.be.instanceOf(CasConflictError);
    expect(foreign).to.not.be.instanceOf(engine.TimeoutError);
  });

  it('the memcached errors keep their codes and names and the package root still exports them', () => {
    const n = new NotNumericError('not a number', { server: 'h:1', mayHaveExecuted: true });
    expect([n.code, n.name, n.server, n.mayHaveExecuted]).to.deep.equal([
      'ERR_NOT_NUMERIC',
      'NotNumericError',
      'h:1',
      true,
    ]);
    expect(new CasConflictError('lost').code).to.equal('ERR_CAS_CONFLICT');
    expect(root.NotNumericError).to.equal(NotNumericError);
    expect(root.CasConflictError).to.equal(CasConflictError);
    expect(root.isMemlineError).to.equal(engine.isMemlineError);
    // The engine names no protocol's errors.
    expect(engine).to.not.have.property('NotNumericError');
    expect(engine).to.not.have.property('CasConflictError');
  });
});
