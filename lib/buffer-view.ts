/**
 * Buffers that view memory already there, made the cheapest way the runtime allows: the decoder
 * makes one per value it hands over.
 *
 * Node's `Buffer[Symbol.species]` is its internal `FastBuffer` class, whose constructor makes the
 * view directly; `Buffer.from(arrayBuffer, offset, length)` reaches the same constructor through
 * argument checks and a dispatch on the argument's type, which costs about twice as much (37 ns
 * against 17 ns on Node 20). A runtime whose species does not make such views (checked once, here)
 * gets `Buffer.from`.
 *
 * @module
 */

type ViewConstructor = new (memory: ArrayBufferLike, offset: number, length: number) => Buffer;

function fastView(): ViewConstructor | undefined {
  const species: unknown = (Buffer as unknown as Record<symbol, unknown>)[Symbol.species];
  if (typeof species !== 'function' || species === Buffer) return undefined;
  try {
    const Species = species as ViewConstructor;
    const memory = new ArrayBuffer(4);
    const probe = new Species(memory, 1, 2);
    return Buffer.isBuffer(probe) && probe.buffer === memory && probe.byteOffset === 1 && probe.length === 2
      ? Species
      : undefined;
  } catch {
    return undefined;
  }
}

const View = fastView();

/** A Buffer viewing `memory[offset, offset + length)`, with no copy. The caller checks the bounds. */
export const bufferView: (memory: ArrayBufferLike, offset: number, length: number) => Buffer =
  View === undefined
    ? (memory, offset, length) => Buffer.from(memory, offset, length)
    : (memory, offset, length) => new View(memory, offset, length);
