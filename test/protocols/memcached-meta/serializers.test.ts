/**
 * Serializers, their flags layouts and the value pipeline (compression, caps), without a server.
 * fast-check prints the seed and the shrunk counterexample of a failure; replay it with
 * `{ seed, path }` in `fc.assert`'s options.
 */
import { deflateSync, brotliCompressSync } from 'node:zlib';
import { expect } from 'chai';
import fc from 'fast-check';
import {
  memlineSerializer,
  phpSerializer,
  type Serializer,
} from '../../../protocols/memcached-meta/serializers.js';
import { ValueCodec } from '../../../protocols/memcached-meta/values.js';
import type { MemlineError } from '../../../protocols/memcached-meta/index.js';

const RUNS = { numRuns: 300 };
const MiB = 1024 * 1024;

/** A JSON value as JSON.parse gives it back (no -0, which JSON cannot carry). */
const jsonValue: fc.Arbitrary<unknown> = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown);

function roundTrip(s: Serializer, value: unknown): unknown {
  const { value: bytes, flags } = s.serialize(value);
  return s.deserialize(bytes, flags);
}

async function rejection(f: () => unknown): Promise<MemlineError> {
  try {
    await f();
  } catch (err) {
    return err as MemlineError;
  }
  throw new Error('expected a rejection');
}

describe('serializers', () => {
  describe('memline layout', () => {
    const s = memlineSerializer;

    it('flags: bytes 0, string 1, JSON 2, number 3, bigint 4', () => {
      expect(s.serialize(Buffer.from('x')).flags).to.equal(0);
      expect(s.serialize(new Uint8Array([1])).flags).to.equal(0);
      expect(s.serialize('x').flags).to.equal(1);
      for (const v of [{}, [], true, false, null]) expect(s.serialize(v).flags).to.equal(2);
      expect(s.serialize(1.5).flags).to.equal(3);
      expect(s.serialize(5n).flags).to.equal(4);
    });

    it('a Buffer is stored as it is (no copy) and read back as the same bytes', () => {
      const buf = Buffer.from([0, 255, 13, 10]);
      expect(s.serialize(buf).value).to.equal(buf);
      expect(roundTrip(s, buf)).to.deep.equal(buf);
    });

    it('round-trips strings, including lone-surrogate-free unicode (property)', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'grapheme' }), (v) => {
          expect(roundTrip(s, v)).to.equal(v);
        }),
        RUNS,
      );
    });

    it('round-trips JSON values (property)', () => {
      fc.assert(
        fc.property(jsonValue, (v) => {
          expect(roundTrip(s, v)).to.deep.equal(v);
        }),
        RUNS,
      );
    });

    it('round-trips every number, -0, NaN and ±Infinity included (property)', () => {
      fc.assert(
        fc.property(fc.double(), (v) => {
          expect(Object.is(roundTrip(s, v), v)).to.equal(true);
        }),
        RUNS,
      );
    });

    it('round-trips bigints (property)', () => {
      fc.assert(
        fc.property(fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }), (v) => {
          expect(roundTrip(s, v)).to.equal(v);
        }),
        RUNS,
      );
    });

    it('refuses values with no stored form with ERR_INVALID_ARGUMENT', () => {
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      for (const v of [undefined, () => 1, Symbol('s'), circular, { n: 1n }]) {
        let code: string | undefined;
        try {
          s.serialize(v);
        } catch (err) {
          code = (err as MemlineError).code;
        }
        expect(code, String(typeof v)).to.equal('ERR_INVALID_ARGUMENT');
      }
    });

    it('refuses to read flags outside its layout and text that is not its number format', () => {
      expect(() => s.deserialize(Buffer.from('1'), 7)).to.throw(/not a type/);
      expect(() => s.deserialize(Buffer.from('1'), 0x100)).to.throw(/not memline/);
      expect(() => s.deserialize(Buffer.from(' 1'), 3)).to.throw(/not a decimal/);
      expect(() => s.deserialize(Buffer.from(''), 3)).to.throw(/not a decimal/);
      expect(() => s.deserialize(Buffer.from('1.5'), 4)).to.throw(/not a decimal/);
      expect(() => s.deserialize(Buffer.from('{'), 2)).to.throw(/does not parse/);
    });
  });

  describe('php layout (php-memcached with SERIALIZER_JSON)', () => {
    const s = phpSerializer;

    it('writes what PHP writes: string 0, long 1, double 2, bool 3 ("1" / ""), JSON 6', () => {
      const show = (v: unknown) => {
        const out = s.serialize(v);
        return [out.flags, out.value.toString('latin1')];
      };
      expect(show('héllo')).to.deep.equal([0, Buffer.from('héllo').toString('latin1')]);
      expect(show(42)).to.deep.equal([1, '42']);
      expect(show(-7n)).to.deep.equal([1, '-7']);
      expect(show(1.5)).to.deep.equal([2, '1.5']);
      expect(show(true)).to.deep.equal([3, '1']);
      expect(show(false)).to.deep.equal([3, '']);
      expect(show({ a: [1] })).to.deep.equal([6, '{"a":[1]}']);
      expect(show(null)).to.deep.equal([6, 'null']);
    });

    it("reads what PHP's g_fmt writes for doubles, and ints beyond 2^53 as bigints", () => {
      for (const [text, value] of [
        ['.5', 0.5],
        ['1e+21', 1e21],
        ['1e-05', 1e-5],
        ['-0', -0],
        ['Infinity', Infinity],
        ['-Infinity', -Infinity],
      ] as const) {
        expect(Object.is(s.deserialize(Buffer.from(text), 2), value), text).to.equal(true);
      }
      expect(Number.isNaN(s.deserialize(Buffer.from('NaN'), 2))).to.equal(true);
      expect(s.deserialize(Buffer.from('9223372036854775807'), 1)).to.equal(9223372036854775807n);
      expect(s.deserialize(Buffer.from('-12'), 1)).to.equal(-12);
    });

    it('ignores the application flags in bits 16–31', () => {
      expect(s.deserialize(Buffer.from('7'), 1 | (0xabcd << 16))).to.equal(7);
    });

    it('refuses PHP serialize(), igbinary and msgpack values by name', () => {
      expect(() => s.deserialize(Buffer.from('i:1;'), 4)).to.throw(/serialize\(\)/);
      expect(() => s.deserialize(Buffer.from(''), 5)).to.throw(/igbinary/);
      expect(() => s.deserialize(Buffer.from(''), 7)).to.throw(/msgpack/);
    });

    it('refuses bigints outside 64 bits', () => {
      expect(() => s.serialize(2n ** 63n)).to.throw(/64 bits/);
    });

    it('round-trips JSON values, strings, safe integers and doubles (property)', () => {
      fc.assert(
        fc.property(
          fc.oneof(
            jsonValue.filter((v) => typeof v === 'object'),
            fc.string(),
            fc.maxSafeInteger(),
            fc.double({ noNaN: true }),
          ),
          (v) => {
            const back = roundTrip(s, v);
            // -0 is an integer to PHP: it comes back as 0.
            if (Object.is(v, -0)) expect(back).to.equal(0);
            else expect(back).to.deep.equal(v);
          },
        ),
        RUNS,
      );
    });
  });
});

describe('ValueCodec (serializer + compression + caps)', () => {
  const deflate = (threshold: number) => ({ algorithm: 'deflate' as const, threshold, level: undefined });

  it('compresses from the threshold on, sets the layout bit, and reads it back', async () => {
    const codec = new ValueCodec(memlineSerializer, deflate(100), 8 * MiB);
    const small = await codec.encode('x'.repeat(99));
    expect(small.flags).to.equal(1);
    const big = await codec.encode('x'.repeat(100));
    expect(big.flags).to.equal(1 | 0x10);
    expect(big.value.length).to.be.lessThan(100);
    expect(await codec.decode(big.value, big.flags)).to.equal('x'.repeat(100));
  });

  it('keeps the plain form when compression does not save space', async () => {
    const codec = new ValueCodec(memlineSerializer, deflate(0), 8 * MiB);
    const random = Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 7919) % 251));
    const out = await codec.encode(random);
    expect(out.flags).to.equal(0);
  });

  it('brotli sets bit 5; values larger than the synchronous limit go through the thread pool', async () => {
    const codec = new ValueCodec(
      memlineSerializer,
      { algorithm: 'brotli', threshold: 10, level: 4 },
      8 * MiB,
    );
    const value = { rows: Array.from({ length: 20_000 }, (_, i) => ({ i, name: `row ${i % 50}` })) };
    const encoded = codec.encode(value);
    expect(encoded).to.be.instanceOf(Promise); // 500 kB of JSON: compressed off the event loop
    const out = await encoded;
    expect(out.flags).to.equal(2 | 0x20);
    const decoded = codec.decode(out.value, out.flags);
    expect(decoded).to.be.instanceOf(Promise); // expands past 256 KiB: decompressed off the event loop
    expect(await decoded).to.deep.equal(value);
  });

  it('refuses on write a value that could not be read back (over maxDecompressedSize)', async () => {
    const codec = new ValueCodec(memlineSerializer, deflate(0), 1000);
    const err = await rejection(() => codec.encode('x'.repeat(1001)));
    expect(err.code).to.equal('ERR_VALUE_TOO_LARGE');
  });

  for (const [name, bomb, flags] of [
    ['deflate', deflateSync(Buffer.alloc(64 * MiB)), 0x10],
    ['brotli', brotliCompressSync(Buffer.alloc(64 * MiB)), 0x20],
  ] as const) {
    it(`a ${name} bomb (64 MiB from ${bomb.length} bytes) stops at the cap with ERR_RESPONSE_TOO_LARGE`, async () => {
      const codec = new ValueCodec(memlineSerializer, undefined, 8 * MiB);
      const err = await rejection(() => codec.decode(bomb, flags));
      expect(err.code).to.equal('ERR_RESPONSE_TOO_LARGE');
      expect(err.message).to.match(/maxDecompressedSize/);
    });
  }

  it('a small bomb is caught synchronously below the thread-pool limit', () => {
    const codec = new ValueCodec(memlineSerializer, undefined, 100_000);
    const bomb = deflateSync(Buffer.alloc(200_000));
    let code: string | undefined;
    try {
      codec.decode(bomb, 0x10);
    } catch (err) {
      code = (err as MemlineError).code;
    }
    expect(code).to.equal('ERR_RESPONSE_TOO_LARGE');
  });

  it('corrupt compressed data, both compression bits, and unknown types are ERR_PROTOCOL', async () => {
    const codec = new ValueCodec(memlineSerializer, undefined, 8 * MiB);
    for (const [bytes, flags] of [
      [Buffer.from('not deflate at all'), 0x10],
      [deflateSync(Buffer.from('x')), 0x30],
      [Buffer.from('x'), 9],
    ] as const) {
      const err = await rejection(() => codec.decode(bytes, flags));
      expect(err.code, `flags ${flags}`).to.equal('ERR_PROTOCOL');
    }
  });

  describe('php framing', () => {
    /** What php-memcached's s_compress_value stores: the length (uint32, little-endian), then compress2(). */
    function phpCompressed(text: string): Buffer {
      const plain = Buffer.from(text);
      const head = Buffer.alloc(4);
      head.writeUInt32LE(plain.length);
      return Buffer.concat([head, deflateSync(plain)]);
    }

    it("reads PHP's zlib-compressed strings and JSON (flags 0x30 | type)", async () => {
      const codec = new ValueCodec(phpSerializer, undefined, 8 * MiB);
      expect(await codec.decode(phpCompressed('a'.repeat(3000)), 0x30)).to.equal('a'.repeat(3000));
      expect(await codec.decode(phpCompressed('{"k":[1,2]}'), 0x30 | 6)).to.deep.equal({ k: [1, 2] });
    });

    it('writes the same framing, and compresses only strings and JSON (as PHP does)', async () => {
      const codec = new ValueCodec(phpSerializer, deflate(10), 8 * MiB);
      const out = await codec.encode('b'.repeat(3000));
      expect(out.flags).to.equal(0x30);
      expect(out.value.readUInt32LE(0)).to.equal(3000);
      expect(out.value.subarray(4)).to.deep.equal(deflateSync(Buffer.from('b'.repeat(3000))));
      expect((await codec.encode(12345678901)).flags).to.equal(1);
    });

    it('checks the declared length before decompressing, and the output against it', async () => {
      const codec = new ValueCodec(phpSerializer, undefined, 1000);
      const lying = phpCompressed('c'.repeat(500));
      lying.writeUInt32LE(5000, 0);
      expect((await rejection(() => codec.decode(lying, 0x30))).code).to.equal('ERR_RESPONSE_TOO_LARGE');
      lying.writeUInt32LE(100, 0);
      expect((await rejection(() => codec.decode(lying, 0x30))).code).to.equal('ERR_PROTOCOL');
      lying.writeUInt32LE(900, 0);
      expect((await rejection(() => codec.decode(lying, 0x30))).code).to.equal('ERR_PROTOCOL');
    });

    it('refuses fastlz and zstd by name', async () => {
      const codec = new ValueCodec(phpSerializer, undefined, 8 * MiB);
      expect((await rejection(() => codec.decode(Buffer.alloc(8), 0x50))).message).to.match(/fastlz/);
      expect((await rejection(() => codec.decode(Buffer.alloc(8), 0x90))).message).to.match(/zstd/);
    });

    it('has no brotli bit: brotli with the php layout is refused', () => {
      expect(
        () => new ValueCodec(phpSerializer, { algorithm: 'brotli', threshold: 0, level: 4 }, MiB),
      ).to.throw(/cannot be flagged/);
    });
  });

  it('a custom serializer works without compression and cannot be given compression', async () => {
    const upper: Serializer<string> = {
      serialize: (v) => ({ value: Buffer.from(v.toUpperCase()), flags: 77 }),
      deserialize: (b, f) => `${b.toString()}/${f}`,
    };
    const codec = new ValueCodec(upper, undefined, MiB);
    const out = await codec.encode('abc');
    expect(out).to.deep.equal({ value: Buffer.from('ABC'), flags: 77 });
    expect(codec.decode(out.value, out.flags)).to.equal('ABC/77');
    expect(() => new ValueCodec(upper, deflate(0), MiB)).to.throw(/built-in serializer/);
  });

  it('a serializer that returns bad flags or throws is reported as ERR_INVALID_ARGUMENT', async () => {
    const bad: Serializer = {
      serialize: () => ({ value: Buffer.alloc(0), flags: -1 }),
      deserialize: () => 0,
    };
    expect((await rejection(() => new ValueCodec(bad, undefined, MiB).encode(1))).code).to.equal(
      'ERR_INVALID_ARGUMENT',
    );
    const throws: Serializer = {
      serialize: () => {
        throw new Error('nope');
      },
      deserialize: () => {
        throw new Error('unreadable');
      },
    };
    const codec = new ValueCodec(throws, undefined, MiB);
    expect((await rejection(() => codec.encode(1))).code).to.equal('ERR_INVALID_ARGUMENT');
    expect((await rejection(() => codec.decode(Buffer.alloc(0), 0))).code).to.equal('ERR_PROTOCOL');
  });
});
