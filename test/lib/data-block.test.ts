import { expect } from 'chai';
import { BAD_TERMINATOR, fillBlock } from '../../lib/data-block.js';

/** Feeds `chunks` into a block of `size` as a decoder would; the block, or BAD_TERMINATOR. */
function read(size: number, chunks: string[]): Buffer | typeof BAD_TERMINATOR {
  const block = Buffer.alloc(size);
  let filled = 0;
  for (const text of chunks) {
    const chunk = Buffer.from(text, 'latin1');
    const next = fillBlock(block, filled, chunk, 0);
    if (next === BAD_TERMINATOR) return BAD_TERMINATOR;
    filled += next;
    if (filled === size + 2) {
      expect(next, 'stops after the CRLF').to.be.at.most(chunk.length);
      return block;
    }
  }
  expect.fail(`incomplete after ${filled} bytes`);
}

describe('lib/data-block fillBlock', () => {
  const value = 'a\r\nb'.padEnd(40, 'x'); // holds a CRLF, and is long enough for the copy path

  it('reads a block holding CRLF by its length, however it is split', () => {
    const wire = `${value}\r\n`;
    for (let cut = 0; cut <= wire.length; cut++) {
      const got = read(value.length, [wire.slice(0, cut), wire.slice(cut)]);
      expect(got, `cut at ${cut}`).to.deep.equal(Buffer.from(value));
    }
    expect(read(value.length, [...wire])).to.deep.equal(Buffer.from(value));
  });

  it('stops at the end of the block, leaving what follows', () => {
    const chunk = Buffer.from('hi\r\n+OK\r\n');
    expect(fillBlock(Buffer.alloc(2), 0, chunk, 0)).to.equal(4);
  });

  it('BAD_TERMINATOR when the block is not followed by CRLF', () => {
    expect(read(3, ['abcXY'])).to.equal(BAD_TERMINATOR);
    expect(read(3, ['abc\n'])).to.equal(BAD_TERMINATOR);
    expect(read(3, ['abc\r', 'X'])).to.equal(BAD_TERMINATOR);
  });
});
