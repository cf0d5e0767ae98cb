import { expect } from 'chai';
import sinon from 'sinon';
import { RespDecoder } from '../../../protocols/redis-resp/decoder.js';
import { RespError, VerbatimString, type RespValue } from '../../../protocols/redis-resp/values.js';
import { LIMITS, byteByByte, cutAt, decode, splittings } from './helpers.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Replies as Redis writes them (RESP2 and RESP3), and what each decodes to. */
const FIXTURES: [string, RespValue[]][] = [
  ['+OK\r\n', ['OK']],
  ['+\r\n', ['']],
  ['+PONG\r\n+QUEUED\r\n', ['PONG', 'QUEUED']],
  ['-ERR unknown command\r\n', [new RespError('ERR unknown command')]],
  [
    '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n',
    [new RespError('WRONGTYPE Operation against a key holding the wrong kind of value')],
  ],
  [':0\r\n:-1\r\n:1000\r\n', [0n, -1n, 1000n]],
  [':9223372036854775807\r\n:-9223372036854775808\r\n', [2n ** 63n - 1n, -(2n ** 63n)]],
  ['$5\r\nhello\r\n', [b('hello')]],
  ['$0\r\n\r\n', [b('')]],
  ['$-1\r\n', [null]],
  // A bulk string is read by its length, whatever it holds.
  ['$10\r\n\r\n+OK\r\n$-1\r\n', [b('\r\n+OK\r\n$-1')]],
  ['$3\r\n\x00\xff\n\r\n', [b('\x00\xff\n')]],
  ['*0\r\n', [[]]],
  ['*-1\r\n', [null]],
  ['*3\r\n$3\r\nfoo\r\n$-1\r\n:7\r\n', [[b('foo'), null, 7n]]],
  ['*2\r\n*2\r\n:1\r\n:2\r\n*1\r\n*0\r\n', [[[1n, 2n], [[]]]]],
  ['*2\r\n-ERR one\r\n+OK\r\n', [[new RespError('ERR one'), 'OK']]],
  // RESP3
  ['_\r\n', [null]],
  ['#t\r\n#f\r\n', [true, false]],
  [',3.14\r\n,-2\r\n,1e10\r\n,1.5E-3\r\n', [3.14, -2, 1e10, 1.5e-3]],
  [',inf\r\n,-inf\r\n', [Infinity, -Infinity]],
  [',nan\r\n', [NaN]],
  ['(3492890328409238509324850943850943825024385\r\n', [3492890328409238509324850943850943825024385n]],
  ['(-1\r\n', [-1n]],
  ['!21\r\nSYNTAX invalid syntax\r\n', [new RespError('SYNTAX invalid syntax')]],
  ['=15\r\ntxt:Some string\r\n', [new VerbatimString('txt', b('Some string'))]],
  ['=4\r\nmkd:\r\n', [new VerbatimString('mkd', b(''))]],
  [
    '%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n:2\r\n',
    [
      new Map<RespValue, RespValue>([
        ['first', 1n],
        [b('second'), 2n],
      ]),
    ],
  ],
  ['%0\r\n', [new Map()]],
  ['~3\r\n+a\r\n:1\r\n#t\r\n', [new Set<RespValue>(['a', 1n, true])]],
  // A push is not a reply: read and dropped.
  ['>2\r\n+invalidate\r\n*1\r\n$3\r\nkey\r\n+OK\r\n', ['OK']],
  ['>0\r\n:1\r\n', [1n]],
  // An attribute describes the value after it: dropped, the value stays.
  ['|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:1\r\n:2\r\n', [[1n, 2n]]],
  ['*2\r\n|1\r\n+ttl\r\n:3600\r\n:1\r\n:2\r\n', [[1n, 2n]]],
  ['|0\r\n+OK\r\n', ['OK']],
  // The HELLO 3 reply of Redis 7.0 (abridged).
  [
    '%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n',
    [
      new Map<RespValue, RespValue>([
        [b('server'), b('redis')],
        [b('proto'), 3n],
        [b('modules'), []],
      ]),
    ],
  ],
];

describe('RespDecoder', () => {
  describe('fixtures', () => {
    for (const [wire, values] of FIXTURES) {
      it(`decodes ${JSON.stringify(wire).slice(0, 60)} the same however it is split`, () => {
        for (const { name, chunks } of splittings(b(wire))) {
          const out = decode(chunks);
          expect(out.error, name).to.equal(undefined);
          expect(out.values, name).to.deep.equal(values);
          expect(out.buffered, name).to.equal(0);
        }
      });
    }

    it('decodes every fixture in one stream, split three ways at every pair of positions', () => {
      const wire = b(FIXTURES.map(([w]) => w).join(''));
      const values = FIXTURES.flatMap(([, v]) => v);
      expect(decode([wire]).values).to.deep.equal(values);
      expect(decode(byteByByte(wire)).values).to.deep.equal(values);
      for (let i = 0; i < wire.length; i += 7) {
        for (let j = i; j < wire.length; j += 13) {
          expect(decode(cutAt(wire, [i, j])).values, `cut at ${i}, ${j}`).to.deep.equal(values);
        }
      }
    });
  });

  describe('values', () => {
    it('copies bulk strings into their own memory', () => {
      const chunk = b('$3\r\nabc\r\n' + '+OK\r\n'.repeat(3000));
      const got: RespValue[] = [];
      new RespDecoder(LIMITS).feed(chunk, (v) => got.push(v));
      expect(got[0]).to.deep.equal(b('abc'));
      expect((got[0] as Buffer).buffer).to.not.equal(chunk.buffer);
    });

    it('decodes simple strings and errors as UTF-8', () => {
      const out = decode([Buffer.from('+héllo\r\n-ERR ünïcode\r\n', 'utf8')]);
      expect(out.values).to.deep.equal(['héllo', new RespError('ERR ünïcode')]);
      expect((out.values[1] as RespError).prefix).to.equal('ERR');
    });

    it('reports what it holds back', () => {
      const decoder = new RespDecoder(LIMITS);
      const none = (): void => {};
      decoder.feed(b('+OK\r\n$4\r\nab'), none);
      expect(decoder.buffered).to.equal(2);
      decoder.feed(b('cd\r\n:12'), none);
      expect(decoder.buffered).to.equal(3);
      decoder.feed(b('\r\n'), none);
      expect(decoder.buffered).to.equal(0);
    });

    it('accepts sizes up to each cap', () => {
      const limits = { maxBulkSize: 10, maxElements: 4, maxDepth: 3, maxLineLength: 12 };
      const wire = b(
        `$10\r\n${'v'.repeat(10)}\r\n` + // a bulk of maxBulkSize
          '*2\r\n*2\r\n:1\r\n:2\r\n:3\r\n' + // 4 elements over two arrays
          '*1\r\n*1\r\n*1\r\n:1\r\n' + // depth 3
          `+${'s'.repeat(12)}\r\n`, // a line of maxLineLength
      );
      for (const { name, chunks } of splittings(wire)) {
        const out = decode(chunks, limits);
        expect(out.error, name).to.equal(undefined);
        expect(out.values, name).to.have.length(4);
      }
    });

    it('allocates a large bulk string once at its size and fills it in linear time', () => {
      const size = 8 * 1024 * 1024;
      const value = Buffer.alloc(size, 0x61);
      value.write('\r\n+OK\r\n', 1000);
      const wire = Buffer.concat([b(`$${size}\r\n`), value, b('\r\n+OK\r\n')]);
      const alloc = sinon.spy(Buffer, 'allocUnsafe');
      try {
        const decoder = new RespDecoder({ ...LIMITS, maxBulkSize: size });
        const got: RespValue[] = [];
        for (let i = 0; i < wire.length; i += 1000)
          decoder.feed(wire.subarray(i, i + 1000), (v) => got.push(v));
        expect(alloc.getCalls().filter((c) => c.args[0] >= size)).to.have.length(1);
        expect(got).to.have.length(2);
        expect((got[0] as Buffer).equals(value)).to.equal(true);
      } finally {
        sinon.restore();
      }
    });

    it('decodes a deep nesting without recursion', () => {
      const depth = 10_000;
      const wire = b('*1\r\n'.repeat(depth) + ':1\r\n');
      const out = decode([wire], { ...LIMITS, maxDepth: depth, maxElements: depth });
      expect(out.error).to.equal(undefined);
      let v = out.values[0];
      for (let i = 0; i < depth; i++) v = (v as RespValue[])[0];
      expect(v).to.equal(1n);
    });
  });

  describe('hostile and malformed replies', () => {
    const small = { maxBulkSize: 64, maxElements: 10, maxDepth: 4, maxLineLength: 32 };
    const cases: [string, string, string][] = [
      // sizes past the caps: refused from the header alone
      ['a 20-digit bulk size', '$99999999999999999999\r\n', 'ERR_RESPONSE_TOO_LARGE'],
      ['2^32 bytes', '$4294967296\r\n', 'ERR_RESPONSE_TOO_LARGE'],
      ['one byte over maxBulkSize', '$65\r\n', 'ERR_RESPONSE_TOO_LARGE'],
      ['a bulk error over the cap', '!65\r\n', 'ERR_RESPONSE_TOO_LARGE'],
      ['a verbatim string over the cap', '=65\r\n', 'ERR_RESPONSE_TOO_LARGE'],
      ['an array of 2^31', '*2147483648\r\n', 'ERR_RESPONSE_TOO_LARGE'],
      ['an array over maxElements', '*11\r\n', 'ERR_RESPONSE_TOO_LARGE'],
      ['a map over maxElements', '%6\r\n', 'ERR_RESPONSE_TOO_LARGE'],
      ['a set over maxElements', '~11\r\n', 'ERR_RESPONSE_TOO_LARGE'],
      ['a push over maxElements', '>11\r\n', 'ERR_RESPONSE_TOO_LARGE'],
      [
        'nested arrays over maxElements in total',
        '*2\r\n*5\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n*5\r\n',
        'ERR_RESPONSE_TOO_LARGE',
      ],
      ['nesting deeper than maxDepth', '*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n', 'ERR_PROTOCOL'],
      [
        'maps nested deeper than maxDepth',
        '%1\r\n+a\r\n%1\r\n+b\r\n%1\r\n+c\r\n%1\r\n+d\r\n%1\r\n',
        'ERR_PROTOCOL',
      ],
      ['a line over maxLineLength', `+${'x'.repeat(33)}\r\n`, 'ERR_PROTOCOL'],
      ['an endless line', '+' + 'x'.repeat(200), 'ERR_PROTOCOL'],
      // malformed
      ['an unknown type byte', '@foo\r\n', 'ERR_PROTOCOL'],
      ['HTTP', 'HTTP/1.1 400 Bad Request\r\n', 'ERR_PROTOCOL'],
      ['a memcached reply', 'VA 2 t1\r\nhi\r\n', 'ERR_PROTOCOL'],
      ['an empty line', '\r\n', 'ERR_PROTOCOL'],
      ['a bare LF', '+OK\n', 'ERR_PROTOCOL'],
      ['a bare CR', '+O\rK\r\n', 'ERR_PROTOCOL'],
      ['a negative bulk size', '$-2\r\n', 'ERR_PROTOCOL'],
      ['a bulk size with garbage', '$3x\r\nabc\r\n', 'ERR_PROTOCOL'],
      ['an empty bulk size', '$\r\n', 'ERR_PROTOCOL'],
      ['a signed bulk size', '$+3\r\nabc\r\n', 'ERR_PROTOCOL'],
      ['a null bulk error', '!-1\r\n', 'ERR_PROTOCOL'],
      ['a null set', '~-1\r\n', 'ERR_PROTOCOL'],
      ['a null map', '%-1\r\n', 'ERR_PROTOCOL'],
      ['a bulk followed by garbage', '$3\r\nabcXY', 'ERR_PROTOCOL'],
      ['a bulk followed by LF only', '$3\r\nabc\n+OK\r\n', 'ERR_PROTOCOL'],
      ['a bulk longer than declared', '$2\r\nhello\r\n', 'ERR_PROTOCOL'],
      ['an integer with letters', ':12a\r\n', 'ERR_PROTOCOL'],
      ['an empty integer', ':\r\n', 'ERR_PROTOCOL'],
      ['a lone minus', ':-\r\n', 'ERR_PROTOCOL'],
      ['a 20-digit integer', ':12345678901234567890\r\n', 'ERR_PROTOCOL'],
      ['a null with a body', '_x\r\n', 'ERR_PROTOCOL'],
      ['a boolean that is neither', '#x\r\n', 'ERR_PROTOCOL'],
      ['a double that is not', ',1.2.3\r\n', 'ERR_PROTOCOL'],
      ['a big number with letters', '(12a\r\n', 'ERR_PROTOCOL'],
      ['a verbatim string without its format', '=3\r\nabc\r\n', 'ERR_PROTOCOL'],
      ['a verbatim string without its colon', '=5\r\nabcde\r\n', 'ERR_PROTOCOL'],
      ['a push inside an array', '*1\r\n>0\r\n', 'ERR_PROTOCOL'],
      ['garbage after good replies', '+OK\r\n:1\r\nNOPE\r\n', 'ERR_PROTOCOL'],
    ];
    for (const [what, wire, code] of cases) {
      it(`${what}: ${code} however it is split`, () => {
        const whole = decode([b(wire)], small);
        expect(whole.error?.code).to.equal(code);
        expect(whole.error?.message).to.not.include('hello').and.not.include('abcXY');
        for (const { name, chunks } of splittings(b(wire))) {
          const out = decode(chunks, small);
          expect(out.values, name).to.deep.equal(whole.values);
          expect(out.error?.code, name).to.equal(code);
        }
      });
    }

    it('refuses a giant size or count from its header alone, allocating nothing', () => {
      const alloc = sinon.spy(Buffer, 'allocUnsafe');
      try {
        for (const header of [
          '$4294967295\r\n',
          '$99999999999999999999\r\n',
          '*99999999999\r\n',
          '%4294967295\r\n',
        ]) {
          const out = decode(byteByByte(b(header)));
          expect(out.error?.code, header).to.equal('ERR_RESPONSE_TOO_LARGE');
        }
        expect(alloc.getCalls().filter((c) => c.args[0] > 1024)).to.have.length(0);
      } finally {
        sinon.restore();
      }
    });

    it('refuses an endless line at the cap, holding at most the cap', () => {
      const decoder = new RespDecoder({ ...LIMITS, maxLineLength: 8192 });
      const chunk = Buffer.alloc(1000, 0x41);
      chunk[0] = 0x2b; // "+AAAA…"
      let fed = 0;
      let error: unknown;
      try {
        for (; fed < 10_000_000; fed += chunk.length) {
          decoder.feed(fed === 0 ? chunk : chunk.subarray(1), () => expect.fail('no value expected'));
          expect(decoder.buffered).to.be.at.most(8192 + 2);
        }
      } catch (err) {
        error = err;
      }
      expect((error as { code?: string }).code).to.equal('ERR_PROTOCOL');
      expect(fed).to.be.below(10_000);
    });

    it('refuses a million nested arrays at maxDepth, keeping at most maxDepth of them', () => {
      const out = decode([b('*1\r\n'.repeat(1_000_000))]);
      expect(out.error?.code).to.equal('ERR_PROTOCOL');
      expect(out.error?.message).to.include('maxDepth 32');
    });
  });
});
