import { expect } from 'chai';
import fc from 'fast-check';
import {
  MAX_BINARY_KEY_BYTES,
  decodeReturnedKey,
  keyMatches,
  wireKey,
  withoutRepeats,
} from '../../../protocols/memcached-meta/keys.js';
import { thrown } from './helpers.js';

function refused(key: unknown, prefix = '', binary = false): string {
  const err = thrown(() => wireKey(key as string, prefix, binary));
  expect(err.code).to.equal('ERR_INVALID_KEY');
  expect(err.mayHaveExecuted).to.equal(false);
  return err.message;
}

describe('wireKey', () => {
  describe('text keys', () => {
    it('accepts printable ASCII as it is', () => {
      expect(wireKey('foo:bar/1', '', false)).to.deep.equal({
        token: 'foo:bar/1',
        base64: false,
        ascii: true,
        original: 'foo:bar/1',
      });
    });

    it('puts the prefix on the wire but not in original', () => {
      expect(wireKey('k', 'app:', false)).to.deep.equal({
        token: 'app:k',
        base64: false,
        ascii: true,
        original: 'k',
      });
    });

    it('accepts non-ASCII characters, counted in UTF-8 bytes', () => {
      const key = 'я'.repeat(125); // 250 bytes
      expect(wireKey(key, '', false)).to.deep.equal({
        token: key,
        base64: false,
        ascii: false,
        original: key,
      });
      expect(wireKey('😀'.repeat(62) + 'ab', '', false).ascii).to.equal(false); // 248 + 2 bytes
      refused('я'.repeat(126)); // 252 bytes
      refused('😀'.repeat(63)); // 252 bytes
      refused('€'.repeat(84)); // 252 bytes
    });

    it('accepts 250 bytes and refuses 251, prefix included', () => {
      expect(wireKey('k'.repeat(250), '', false).token).to.have.length(250);
      refused('k'.repeat(251));
      expect(wireKey('k'.repeat(246), 'app:', false).token).to.have.length(250);
      refused('k'.repeat(247), 'app:');
    });

    const injections: [string, string][] = [
      ['CRLF injection', 'foo\r\nflush_all'],
      ['LF', 'a\nmn'],
      ['CR', 'a\rb'],
      ['flag injection through a space', 'zz N30'],
      ['invalidate instead of delete', 'victim I'],
      ['opaque injection', 'b O1'],
      ['TAB', 'a\tb'],
      ['DEL', 'x\x7f'],
      ['NUL', 'a\0b'],
      ['a control byte', 'ctl\x01'],
      ['a leading space', ' a'],
      ['a trailing space', 'a '],
      ['a lone surrogate', 'a\ud800b'],
      ['a lone low surrogate', '\udc00'],
    ];
    for (const [what, key] of injections) {
      it(`refuses ${what}`, () => {
        refused(key);
      });
    }

    it('refuses a bad byte in the prefix too', () => {
      refused('k', 'app ');
    });

    it('refuses the empty key, even with a prefix', () => {
      refused('');
      refused('', 'app:');
      refused(new Uint8Array(0));
    });

    it('refuses non-strings', () => {
      for (const key of [42, undefined, null, {}, ['a'], Symbol('k'), 1n]) refused(key);
    });

    it('refuses a huge key without encoding it, and without quoting it', () => {
      const huge = 'k'.repeat(10_000_000);
      expect(refused(huge).length).to.be.below(160);
      expect(refused(huge, '', true).length).to.be.below(160);
      expect(refused(Buffer.alloc(10_000_000)).length).to.be.below(160);
    });

    it('quotes at most about 40 characters of the key, escaped', () => {
      const message = refused('secret-'.repeat(10) + '\r\n');
      expect(message).to.not.include('\r');
      expect(message.length).to.be.below(160);
      expect(refused('a\r\nb')).to.include('\\x0d');
    });
  });

  describe('binary keys', () => {
    it('sends byte keys base64 with b; original is the base64', () => {
      const raw = Buffer.from([0x61, 0x20, 0x62, 0x0d, 0x0a, 0x00, 0xff]);
      expect(wireKey(raw, '', false)).to.deep.equal({
        token: 'YSBiDQoA/w==',
        base64: true,
        ascii: true,
        original: 'YSBiDQoA/w==',
      });
    });

    it('accepts a Uint8Array that is not a Buffer, and a view into a larger buffer', () => {
      const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
      expect(wireKey(backing.subarray(2, 5), '', false).token).to.equal(
        Buffer.from([1, 2, 3]).toString('base64'),
      );
    });

    it('puts the prefix inside the encoded bytes', () => {
      const wk = wireKey(Buffer.from([1, 2]), 'app:', false);
      expect(Buffer.from(wk.token, 'base64')).to.deep.equal(Buffer.from([0x61, 0x70, 0x70, 0x3a, 1, 2]));
      expect(wk.original).to.equal(Buffer.from([1, 2]).toString('base64'));
    });

    it('sends any string key base64 when binary is on, original unchanged', () => {
      expect(wireKey('a b\r\n', 'p', true)).to.deep.equal({
        token: Buffer.from('pa b\r\n').toString('base64'),
        base64: true,
        ascii: true,
        original: 'a b\r\n',
      });
      refused('a\ud800', '', true);
      refused('', '', true);
    });

    it('accepts 186 raw bytes (248 characters) and refuses 187', () => {
      expect(MAX_BINARY_KEY_BYTES).to.equal(186);
      expect(wireKey(Buffer.alloc(186, 0x78), '', false).token).to.have.length(248);
      refused(Buffer.alloc(187, 0x78));
      refused('x'.repeat(187), '', true);
      refused(Buffer.alloc(183), 'abcd');
    });
  });

  describe('returned keys', () => {
    it('decodes k tokens', () => {
      expect(decodeReturnedKey('foo', false)).to.equal('foo');
      expect(decodeReturnedKey('44OG44K544OI', true)).to.equal('テスト');
      expect(decodeReturnedKey(Buffer.from('ключ').toString('latin1'), false)).to.equal('ключ');
    });

    it('matches a reply key to the request key in either form', () => {
      const text = wireKey('a', '', false);
      const b64 = wireKey(Buffer.from('a'), '', false);
      expect(keyMatches(text, 'a', false)).to.equal(true);
      expect(keyMatches(text, 'b', false)).to.equal(false);
      expect(keyMatches(b64, 'YQ==', true)).to.equal(true);
      expect(keyMatches(b64, 'a', false)).to.equal(true); // mg YQ== b k → ka
      expect(keyMatches(text, 'YQ==', true)).to.equal(true);
      expect(keyMatches(b64, 'Yg==', true)).to.equal(false);
      const utf8 = wireKey('ключ', '', false);
      expect(keyMatches(utf8, Buffer.from('ключ').toString('latin1'), false)).to.equal(true);
      expect(keyMatches(utf8, Buffer.from('клюk').toString('latin1'), false)).to.equal(false);
    });
  });
});

describe('withoutRepeats (getMulti and deleteMulti send each key once)', () => {
  const key = (token: string) => ({ token, base64: false, ascii: true, original: token });
  /** What it replaces: a Set of the tokens, the first of each kept, in order. */
  function reference(tokens: string[]): string[] {
    const seen = new Set<string>();
    return tokens.filter((t) => !seen.has(t) && seen.add(t) !== undefined);
  }

  it('keeps the first of each token, in order, and works in place', () => {
    const wks = ['a', 'b', 'a', 'c', 'b', 'a'].map(key);
    const first = wks[0];
    const out = withoutRepeats(wks);
    expect(out).to.equal(wks);
    expect(out.map((wk) => wk.token)).to.deep.equal(['a', 'b', 'c']);
    expect(out[0]).to.equal(first);
    expect(withoutRepeats([]).length).to.equal(0);
    expect(withoutRepeats([key('x')]).map((wk) => wk.token)).to.deep.equal(['x']);
  });

  it('matches a Set for any keys, many repeats, calls of any size in any order (its table is shared)', () => {
    // Few distinct tokens make repeats and hash collisions common; sizes cross the shared table's cap.
    const token = fc.oneof(
      fc.constantFrom('a', 'b', 'k:1', 'k:2', 'ключ'),
      fc.string({ minLength: 1, maxLength: 6 }),
    );
    const call = fc.oneof(
      { weight: 5, arbitrary: fc.array(token, { maxLength: 300 }) },
      {
        weight: 1,
        arbitrary: fc
          .integer({ min: 30_000, max: 40_000 })
          .map((n) => Array.from({ length: n }, (_, i) => `k${i % 31_000}`)),
      },
    );
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 6 }), (calls) => {
        for (const tokens of calls) {
          expect(withoutRepeats(tokens.map(key)).map((wk) => wk.token)).to.deep.equal(reference(tokens));
        }
      }),
      { numRuns: 60 },
    );
  });
});
