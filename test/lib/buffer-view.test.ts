import { expect } from 'chai';
import { bufferView } from '../../lib/buffer-view.js';

describe('bufferView', () => {
  it('is a Buffer over the memory given, with no copy, that behaves as any Buffer', () => {
    const memory = new ArrayBuffer(16);
    new Uint8Array(memory).set(Buffer.from('0123456789abcdef'));
    const view = bufferView(memory, 4, 6);
    expect(Buffer.isBuffer(view)).to.equal(true);
    expect(view.constructor).to.equal(Buffer);
    expect(view.buffer).to.equal(memory);
    expect([view.byteOffset, view.length]).to.deep.equal([4, 6]);
    expect(view.toString()).to.equal('456789');
    const sub = view.subarray(1, 3);
    expect(Buffer.isBuffer(sub)).to.equal(true);
    expect(sub.toString('latin1')).to.equal('56');
    new Uint8Array(memory)[5] = 0x58; // the view sees writes to the memory
    expect(view.toString()).to.equal('4X6789');
    expect(view.equals(Buffer.from('4X6789'))).to.equal(true);
  });
});
