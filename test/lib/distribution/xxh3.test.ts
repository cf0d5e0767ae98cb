/**
 * XXH3-64 and the 'proxy' distribution against known answers (test/fixtures/xxh3/vectors.json):
 *
 * - XXH3-64 with seed 0 over xxHash's sanity-check buffer: the rows xxHash publishes in
 *   cli/xsum_sanity_check.c (XSUM_XXH3_testdata, seed 0), and every length 0–300 plus long ones
 *   computed with the xxhash.h memcached vendors (equal to xxHash's own for lengths 0–2500), so each
 *   length class (0, 1–3, 4–8, 9–16, 17–128, 129–240, > 240: blocks, stripes, the overlapping last
 *   stripe) is crossed at and around its edges;
 * - the server memcached's proxy picks for a key: its XXH3 (from memcached's own xxhash.h) and the
 *   bucket its proxy_jump_hash.c selector returns, for pools of 1 to 10 backends.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import fc from 'fast-check';
import { createDistribution } from '../../../lib/distribution/index.js';
import { xxh3 } from '../../../lib/distribution/xxh3.js';
import { servers, server } from './helpers.js';

interface XxhVectors {
  published: Record<string, string>;
  lengths: Record<string, string>;
  keys: { key: string; xxh3: string; servers: number[] }[];
}

const vectors = JSON.parse(
  readFileSync(new URL('../../fixtures/xxh3/vectors.json', import.meta.url), 'utf8'),
) as XxhVectors;

/** xxHash's sanity-check buffer: byteGen starts at PRIME32; each byte is its top byte, then byteGen *= PRIME64. */
function sanityBuffer(length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let gen = 2654435761n;
  for (let i = 0; i < length; i++) {
    buffer[i] = Number(gen >> 56n);
    gen = (gen * 11400714785074694797n) & ((1n << 64n) - 1n);
  }
  return buffer;
}

const hex = (h: bigint): string => h.toString(16).padStart(16, '0');

describe('xxh3', () => {
  const buffer = sanityBuffer(4096 + 64 + 1);

  it("matches xxHash's published sanity-check values (seed 0)", () => {
    const published = Object.entries(vectors.published);
    expect(published).to.have.length(14);
    for (const [length, expected] of published) {
      expect(hex(xxh3(buffer.subarray(0, Number(length)))), `length ${length}`).to.equal(expected);
    }
  });

  it('matches the reference at every length 0–300 and at long lengths (blocks, stripes, last stripe)', () => {
    const lengths = Object.entries(vectors.lengths);
    expect(lengths.length).to.be.greaterThan(300);
    for (const [length, expected] of lengths) {
      expect(hex(xxh3(buffer.subarray(0, Number(length)))), `length ${length}`).to.equal(expected);
    }
  });

  it("hashes a string's UTF-8 bytes (the reference's keys, ASCII and not, up to 300 bytes)", () => {
    for (const { key, xxh3: expected } of vectors.keys) {
      expect(hex(xxh3(key)), key).to.equal(expected);
      expect(xxh3(Buffer.from(key, 'utf8'))).to.equal(xxh3(key));
    }
  });

  it('gives the same hash for a string and its UTF-8 bytes, whatever the length', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 400 }), (key) => {
        expect(xxh3(key)).to.equal(xxh3(Buffer.from(key, 'utf8')));
      }),
      { numRuns: 500 },
    );
  });
});

describe("distribution 'proxy'", () => {
  it("puts each key on the backend memcached's proxy picks, for pools of 1 to 10 servers", () => {
    for (let n = 1; n <= 10; n++) {
      const dist = createDistribution('proxy', servers(n));
      for (const { key, servers: expected } of vectors.keys) {
        expect(dist.pick(key), `${key} over ${n} servers`).to.equal(expected[n - 1]);
      }
    }
  });

  it("follows the list's order, not the addresses' (as the proxy's pool table)", () => {
    const list = servers(5);
    const reversed = [...list].reverse();
    const a = createDistribution('proxy', list);
    const b = createDistribution('proxy', reversed);
    let moved = 0;
    for (const { key } of vectors.keys) {
      // The bucket is a position in the list, whatever server stands there.
      expect(b.pick(key)).to.equal(a.pick(key));
      if (reversed[b.pick(key)] !== list[a.pick(key)]) moved++;
    }
    expect(moved).to.be.greaterThan(0);
  });

  it('refuses weights: the proxy has none', () => {
    expect(() => createDistribution('proxy', [server('127.0.0.1:11211', 2), server('127.0.0.1:11212')]))
      .to.throw(/weight 2/)
      .with.property('code', 'ERR_INVALID_ARGUMENT');
  });
});
