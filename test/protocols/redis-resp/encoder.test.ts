import { expect } from 'chai';
import fc from 'fast-check';
import { OutBuffer } from '../../../lib/out-buffer.js';
import { encodeCommand, type RedisArg } from '../../../protocols/redis-resp/encoder.js';
import { command, decode, written } from './helpers.js';

const encoded = (...args: RedisArg[]): Buffer => written((out) => encodeCommand(args, out));

describe('encodeCommand', () => {
  it('writes a command as an array of bulk strings', () => {
    expect(encoded('SET', 'key', 'value')).to.deep.equal(command('SET', 'key', 'value'));
    expect(encoded('GET', 'key').toString('latin1')).to.equal('*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n');
  });

  it('counts string lengths in UTF-8 bytes, lone surrogates included', () => {
    for (const s of ['é', 'naïve', '日本語', '😀', 'a\uD800b', '\uDC00', '']) {
      expect(encoded('SET', s, s), JSON.stringify(s)).to.deep.equal(command('SET', s, s));
    }
  });

  it('writes numbers and bigints in decimal', () => {
    expect(encoded('INCRBY', 'k', 5)).to.deep.equal(command('INCRBY', 'k', '5'));
    expect(encoded('INCRBY', 'k', -(2n ** 63n))).to.deep.equal(
      command('INCRBY', 'k', '-9223372036854775808'),
    );
    expect(encoded('EXPIRE', 'k', 0)).to.deep.equal(command('EXPIRE', 'k', '0'));
  });

  it('writes bytes as they are, CR and LF included', () => {
    const value = Buffer.from([0, 13, 10, 0xff, 0x2a, 0x24]);
    expect(encoded('SET', 'k', value)).to.deep.equal(command('SET', 'k', value));
    const view = new Uint8Array([1, 2, 3]);
    expect(encoded('SET', 'k', view)).to.deep.equal(command('SET', 'k', Buffer.from([1, 2, 3])));
  });

  it('references a large value instead of copying it', () => {
    const value = Buffer.alloc(1000, 0x78);
    const out = new OutBuffer(256, 64);
    encodeCommand(['SET', 'k', value], out);
    const taken = out.take();
    expect(Array.isArray(taken)).to.equal(true);
    expect((taken as Buffer[]).some((piece) => piece === value)).to.equal(true);
    expect(Buffer.concat(taken as Buffer[])).to.deep.equal(command('SET', 'k', value));
  });

  it('writes commands back to back', () => {
    const bytes = written((out) => {
      encodeCommand(['PING'], out);
      encodeCommand(['GET', 'a'], out);
    });
    expect(bytes).to.deep.equal(Buffer.concat([command('PING'), command('GET', 'a')]));
  });

  it('keeps any argument inside its own bulk string (no injection)', () => {
    const arg = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.uint8Array({ maxLength: 30 }).map((a) => Buffer.from(a)),
      fc.constantFrom('\r\n*1\r\n$8\r\nFLUSHALL\r\n', '\r\n', '$-1\r\n', '*'),
    );
    fc.assert(
      fc.property(fc.array(arg, { minLength: 1, maxLength: 6 }), (args) => {
        const bytes = encoded(...args);
        const out = decode([bytes]);
        // One command: one array, whose elements are exactly the arguments' bytes.
        expect(out.error).to.equal(undefined);
        expect(out.values).to.have.length(1);
        expect(out.values[0]).to.deep.equal(
          args.map((a) => (typeof a === 'string' ? Buffer.from(a, 'utf8') : a)),
        );
        expect(bytes).to.deep.equal(command(...args));
      }),
      { numRuns: 300 },
    );
  });
});
