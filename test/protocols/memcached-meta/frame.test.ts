import { expect } from 'chai';
import { MetaDecoder } from '../../../protocols/memcached-meta/decoder.js';
import { flagToken, returnedFlags } from '../../../protocols/memcached-meta/returned-flags.js';
import { LIMITS, frame, frames, latin1 } from './helpers.js';

describe('MetaFrame flags', () => {
  it('flagToken finds a returned flag after the status, and after the size of a VA', () => {
    const va = frame('VA 2 s2 f0 t-1 c1 kfoo O123 h1 l0\r\nhi\r\n');
    expect(flagToken(va, 's')).to.equal('2');
    expect(flagToken(va, 't')).to.equal('-1');
    expect(flagToken(va, 'O')).to.equal('123');
    expect(flagToken(va, 'W')).to.equal(undefined);
    // The size is not a flag: "VA 2" has no flag "2".
    expect(flagToken(frame('VA 2\r\nhi\r\n'), '2')).to.equal(undefined);
    expect(flagToken(frame('EN kfoo Oabc\r\n'), 'k')).to.equal('foo');
    expect(flagToken(frame('HD O ke1\r\n'), 'O')).to.equal('');
    expect(flagToken(frame('HD W\r\n'), 'W')).to.equal('');
    expect(flagToken(frame('HD\r\n'), 'c')).to.equal(undefined);
  });

  it('keyIs matches the k token exactly, unmarked by b, on the bytes and on the line string alike', () => {
    const cases: [string, string, boolean][] = [
      ['EN kfoo O1\r\n', 'foo', true],
      ['HD O1 kfoo\r\n', 'foo', true],
      ['EN kfoo O1\r\n', 'fo', false],
      ['EN kfo O1\r\n', 'foo', false],
      ['EN kfoo b O1\r\n', 'foo', false],
      ['EN kfoo b\r\n', 'foo', false],
      ['EN kfoo f5 c9\r\n', 'foo', true],
      ['EN O1\r\n', 'foo', false],
    ];
    for (const [wire, token, expected] of cases) {
      expect(frame(wire).keyIs(token), `${wire} (string)`).to.equal(expected);
      // With stable chunks the frame is read in its callback as a view of the chunk's bytes.
      let seen: boolean | undefined;
      new MetaDecoder(LIMITS, { stableChunks: true }).feed(latin1(wire), (f) => (seen = f.keyIs(token)));
      expect(seen, `${wire} (bytes)`).to.equal(expected);
    }
  });

  it('flagToken ignores lines that carry no flags', () => {
    expect(flagToken(frame('ME e1 exp=-1 la=0 cas=52 fetch=no cls=1 size=63\r\n'), 'e')).to.equal(undefined);
    expect(flagToken(frame('CLIENT_ERROR bad data chunk\r\n'), 'b')).to.equal(undefined);
    expect(flagToken(frame('STAT cmd_get 5\r\n'), 'c')).to.equal(undefined);
  });

  it('returnedFlags parses every returned flag', () => {
    expect(
      returnedFlags(frame('VA 2 s2 f42 t60 c18446744073709551615 kfoo O123 h1 l7\r\nhi\r\n')),
    ).to.deep.equal({
      s: 2,
      f: 42,
      t: 60,
      c: 18446744073709551615n,
      k: 'foo',
      kBase64: false,
      O: '123',
      h: true,
      l: 7,
      W: false,
      X: false,
      Z: false,
    });
    expect(returnedFlags(frame('HD\r\n'))).to.deep.equal({ kBase64: false, W: false, X: false, Z: false });
  });

  it('keeps CAS exact as a bigint (J1)', () => {
    expect(returnedFlags(frame('VA 1 c9007199254740993\r\nx\r\n')).c).to.equal(9007199254740993n);
    expect(returnedFlags(frame('HD c0\r\n')).c).to.equal(0n);
  });

  it('reads TTLs: -1 never expires, >= 2^31 already expired', () => {
    expect(returnedFlags(frame('HD t-1\r\n')).t).to.equal(-1);
    expect(returnedFlags(frame('HD t2147483647\r\n')).t).to.equal(2147483647);
    expect(returnedFlags(frame('HD t2147483648\r\n')).t).to.equal(-2);
    expect(returnedFlags(frame('HD t4294967158\r\n')).t).to.equal(-2);
  });

  it('reads W, X, Z and h0', () => {
    const [a, b, c] = frames('VA 4 c30 t30 X W\r\nold!\r\nVA 4 c30 t30 Z X\r\nold!\r\nHD h0 l1\r\n');
    expect(returnedFlags(a)).to.include({ X: true, W: true, Z: false });
    expect(returnedFlags(b)).to.include({ X: true, W: false, Z: true });
    expect(returnedFlags(c)).to.include({ h: false, l: 1 });
  });

  it('marks a base64 returned key', () => {
    expect(returnedFlags(frame('VA 2 k44OG44K544OI b\r\nhi\r\n'))).to.include({
      k: '44OG44K544OI',
      kBase64: true,
    });
    expect(returnedFlags(frame('HD k44OG44K544OI b c54\r\n'))).to.include({ kBase64: true, c: 54n });
    expect(returnedFlags(frame('VA 1 ka\r\nA\r\n'))).to.include({ k: 'a', kBase64: false });
  });

  it('keeps a raw key with control bytes as the server sent it', () => {
    expect(returnedFlags(frame('VA 2 ka\tb\r\nhi\r\n')).k).to.equal('a\tb');
  });
});
