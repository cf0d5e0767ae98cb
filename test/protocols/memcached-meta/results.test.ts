import { expect } from 'chai';
import { returnedFlags } from '../../../protocols/memcached-meta/returned-flags.js';
import { toItem } from '../../../protocols/memcached-meta/results.js';
import { frame } from './helpers.js';

describe('toItem', () => {
  it('reads the client flags and the CAS the decoder scanned, as returnedFlags does', () => {
    for (const line of [
      'VA 2 f4294967295 c18446744073709551615 kfoo O123',
      'VA 2 c9007199254740993 f7 t60',
      'VA 2 s2 c123456789012345 kfoo',
      'VA 2 kfoo',
    ]) {
      const f = frame(`${line}\r\nhi\r\n`);
      const flags = returnedFlags(f);
      expect(toItem('foo', f), line).to.deep.equal({
        key: 'foo',
        value: Buffer.from('hi'),
        flags: flags.f ?? 0,
        cas: flags.c ?? 0n,
      });
    }
  });

  it('keeps a CAS past 2^53 exact', () => {
    expect(toItem('k', frame('VA 1 c9007199254740993\r\nx\r\n'))?.cas).to.equal(9007199254740993n);
  });

  it('is null on a miss and on a lease placeholder', () => {
    expect(toItem('k', frame('EN\r\n'))).to.equal(null);
    expect(toItem('k', frame('VA 0 c5 Z\r\n\r\n'))).to.equal(null);
  });
});
