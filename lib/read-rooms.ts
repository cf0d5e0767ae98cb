/**
 * Where a plain TCP connection's reads land when its decoder takes part ({@link FrameDecoder.readInto}).
 * Node's `onread` reads into memory the reader supplies instead of allocating a chunk per read and
 * pushing it through a stream. A large data block of known size is read straight into the buffer it
 * is handed over in, with no copy; every other read goes into a room of its own, never written again
 * (a decoder may keep views of chunks, as it may of Node's own).
 *
 * A room is as small as the reads have been ({@link READ_SMALL}), so that a chunk from a short read
 * has as little memory behind it as Node's own (which it trims to the bytes read), and grows to
 * {@link READ_LARGE} once a read fills it.
 *
 * @module
 */
import { bufferView } from './buffer-view.js';
import type { FrameDecoder } from './codec.js';

/** The room for a read while reads have been short. */
export const READ_SMALL = 8 * 1024;
/** The room for a read once one filled its room (what Node's own reads ask for). */
export const READ_LARGE = 64 * 1024;

/** The rooms ordinary reads go into, one per read. */
export class ReadRooms {
  #size = READ_SMALL;
  /** The last room handed out: a read into it is an ordinary chunk. */
  #room: Buffer | undefined;

  /** Room for the next read. */
  room(): Buffer {
    // Uninitialised memory: a chunk is only the bytes a read wrote.
    const room = Buffer.allocUnsafeSlow(this.#size);
    this.#room = room;
    return room;
  }

  /** Whether `buf` is the room last handed out. */
  isRoom(buf: Uint8Array): boolean {
    return buf === this.#room;
  }

  /** The `n` bytes just read into the room, as a chunk; the next room is sized by this read. */
  take(n: number): Buffer {
    const room = this.#room!;
    this.#room = undefined;
    if (n === room.length) this.#size = READ_LARGE;
    else if (n <= READ_SMALL) this.#size = READ_SMALL;
    return bufferView(room.buffer, room.byteOffset, n);
  }
}

/** Whether a decoder can take reads in place (both optional methods present). */
export function readsInPlace<Frame>(
  decoder: FrameDecoder<Frame>,
): decoder is FrameDecoder<Frame> & Required<Pick<FrameDecoder<Frame>, 'readInto' | 'landed'>> {
  return decoder.readInto !== undefined && decoder.landed !== undefined;
}
