import { expect } from 'chai';
import { READ_LARGE, READ_SMALL, ReadRooms } from '../../lib/read-rooms.js';

describe('ReadRooms', () => {
  it('gives each read a room of its own, small while reads are short, large once one fills it', () => {
    const rooms = new ReadRooms();
    const first = rooms.room();
    expect(first.length).to.equal(READ_SMALL);
    expect(rooms.isRoom(first)).to.equal(true);
    first.write('abc');
    const chunk = rooms.take(3);
    expect(chunk.toString()).to.equal('abc');
    expect(chunk.buffer).to.equal(first.buffer); // no copy
    expect(rooms.isRoom(first)).to.equal(false);

    const second = rooms.room();
    expect(second.buffer).not.to.equal(first.buffer); // never written again
    expect(second.length).to.equal(READ_SMALL);
    rooms.take(READ_SMALL); // filled: more is waiting
    expect(rooms.room().length).to.equal(READ_LARGE);
    rooms.take(READ_SMALL + 1); // a long read keeps the large room
    expect(rooms.room().length).to.equal(READ_LARGE);
    rooms.take(100); // short again
    expect(rooms.room().length).to.equal(READ_SMALL);
  });

  it('a chunk has as little memory behind it as its room', () => {
    const rooms = new ReadRooms();
    rooms.room();
    expect(rooms.take(10).buffer.byteLength).to.equal(READ_SMALL);
  });
});
