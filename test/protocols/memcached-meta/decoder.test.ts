import { expect } from 'chai';
import sinon from 'sinon';
import { MemlineError } from '../../../lib/errors.js';
import { MetaDecoder, READ_INTO_MIN, SHARED_CHUNK_MAX } from '../../../protocols/memcached-meta/decoder.js';
import type { MetaFrame } from '../../../protocols/memcached-meta/frame.js';
import { wireKey } from '../../../protocols/memcached-meta/keys.js';
import { MetaRequest, type ItemSink } from '../../../protocols/memcached-meta/request.js';
import { BatchState } from '../../../protocols/memcached-meta/reply-state.js';
import { ALL_REPLIES } from './fixtures.js';
import { LIMITS, byteByByte, cutAt, decode, frames, latin1, serialize, splittings } from './helpers.js';

describe('MetaDecoder', () => {
  describe('section 15 fixtures', () => {
    for (const wire of ALL_REPLIES) {
      it(`decodes ${JSON.stringify(wire).slice(0, 70)} the same however it is split`, () => {
        const bytes = latin1(wire);
        const whole = decode([bytes]);
        expect(whole.error).to.equal(undefined);
        // The frames are the stream: written back, they give the same bytes.
        expect(serialize(whole.frames)).to.equal(wire);
        for (const { name, chunks } of splittings(bytes)) {
          expect(decode(chunks), name).to.deep.equal(whole);
        }
      });
    }
  });

  describe('values: a view of the chunk or a copy', () => {
    const feedOne = (chunk: Buffer): MetaFrame[] => {
      const out: MetaFrame[] = [];
      new MetaDecoder(LIMITS).feed(chunk, (f) => out.push(f));
      return out;
    };

    it('hands a value over as a view of a small chunk, without copying it', () => {
      const chunk = Buffer.from('VA 5 c7\r\nhello\r\nHD\r\n', 'latin1');
      const [va] = feedOne(chunk);
      expect(va?.value?.toString()).to.equal('hello');
      expect(va?.value?.buffer).to.equal(chunk.buffer);
      // The line is read from the chunk only when asked for, and stays right after the callback.
      expect(va?.line).to.equal('VA 5 c7');
      expect(va?.cas).to.equal(7);
    });

    it('copies a small value out of a large chunk, so it never keeps the chunk alive', () => {
      const filler = 'HD\r\n'.repeat(SHARED_CHUNK_MAX / 4);
      const chunk = Buffer.from(`VA 5\r\nhello\r\n${filler}`, 'latin1');
      const [va] = feedOne(chunk);
      expect(va?.value?.toString()).to.equal('hello');
      expect(va?.value?.buffer).to.not.equal(chunk.buffer);
      // A value of at least half the chunk is a view: copying it would save nothing.
      const big = Buffer.from(
        `VA ${SHARED_CHUNK_MAX}\r\n${'x'.repeat(SHARED_CHUNK_MAX)}\r\nHD\r\n`,
        'latin1',
      );
      expect(feedOne(big)[0]?.value?.buffer).to.equal(big.buffer);
    });

    it('small values out of a large chunk share copies of its segments, each pinning at most a segment', () => {
      // 600 values of 1–200 bytes (about 64 KiB with their headers), then one over a segment's size.
      const values = Array.from({ length: 600 }, (_, i) =>
        String.fromCharCode(97 + (i % 26)).repeat(1 + (i % 200)),
      );
      const large = 'z'.repeat(SHARED_CHUNK_MAX + 100);
      const text = [...values, large].map((v) => `VA ${v.length}\r\n${v}\r\n`).join('') + 'HD\r\n';
      const chunk = Buffer.from(text, 'latin1');
      const frames: Buffer[] = [];
      new MetaDecoder({ maxValueSize: 1 << 20, maxLineLength: 1024 }).feed(chunk, (f) => {
        if (f.value !== undefined) frames.push(f.value);
      });
      chunk.fill(0x21); // the values are copies: writing over the chunk changes none of them
      expect(frames.map((v) => v.toString('latin1'))).to.deep.equal([...values, large]);
      const buffers = new Set(frames.map((v) => v.buffer));
      expect(buffers.has(chunk.buffer)).to.equal(false);
      // A few copies, not one per value; none larger than a segment unless its one value is.
      expect(buffers.size).to.be.within(2, Math.ceil(chunk.length / SHARED_CHUNK_MAX) + 2);
      for (const v of frames.slice(0, -1)) expect(v.buffer.byteLength).to.be.at.most(SHARED_CHUNK_MAX);
      expect(frames.at(-1)?.buffer.byteLength).to.equal(large.length);
      expect(Buffer.isBuffer(frames[0])).to.equal(true);
    });

    it('values of every size arrive whole however a stream of them is cut in three', () => {
      // Regression: a header ending one chunk, its value whole in the next, then a value split over
      // two chunks — the second value was read into a buffer left over from the first, and cut short.
      const bytes = latin1('STAT pid 1\r\nVA 1 f0 c1\r\nx\r\nVA 2 O0\r\nhi\r\nVA 3\r\nabc\r\nHD\r\n');
      const whole = decode([bytes]);
      expect(whole.frames.map((f) => f.value)).to.deep.equal([undefined, 'x', 'hi', 'abc', undefined]);
      expect(decode(cutAt(bytes, [24, 38])), 'the reported cut').to.deep.equal(whole);
      for (let i = 0; i <= bytes.length; i++) {
        for (let j = i; j <= bytes.length; j++) {
          expect(decode(cutAt(bytes, [i, j])), `cut at ${i} and ${j}`).to.deep.equal(whole);
        }
      }
    });

    it('a frame kept past the callback still has its line after the chunk is written over', () => {
      const chunk = Buffer.from('HD O12 kabc\r\n', 'latin1');
      const [hd] = feedOne(chunk);
      chunk.fill(0x78);
      expect(hd?.line).to.equal('HD O12 kabc');
      expect([hd?.opaque, hd?.keyAt]).to.deep.equal([12, 8]);
    });

    it('with stable chunks, a frame of a small chunk reads its line from it; of a large one, makes it at once', () => {
      const keep = (chunk: Buffer): MetaFrame[] => {
        const out: MetaFrame[] = [];
        new MetaDecoder(LIMITS, { stableChunks: true }).feed(chunk, (f) => out.push(f));
        return out;
      };
      // A socket chunk is never written over; writing over these shows which frames still read theirs.
      const small = Buffer.from('HD O12\r\n', 'latin1');
      const [fromSmall] = keep(small);
      small.write('HD O34', 'latin1');
      expect(fromSmall?.line).to.equal('HD O34');
      const large = Buffer.alloc(SHARED_CHUNK_MAX + 1, 0x20);
      large.write('HD O12\r\n', 'latin1');
      const [fromLarge] = keep(large.subarray(0, 8));
      large.write('HD O34', 'latin1');
      expect(fromLarge?.line).to.equal('HD O12');
      expect(fromLarge?.opaque).to.equal(12);
    });
  });

  describe('frames', () => {
    it('reads client flags up to 2^32-1 and CAS up to 2^64-1', () => {
      const out = frames('VA 1 f4294967295 c18446744073709551615\r\nx\r\nHD f0 c0\r\n');
      expect(out.map((f) => f.line)).to.deep.equal(['VA 1 f4294967295 c18446744073709551615', 'HD f0 c0']);
    });

    it('reads statuses, lines and values', () => {
      const out = frames('VA 2 s2 f0 t-1 c1 kfoo O123 h1 l0\r\nhi\r\nEN kfoo Oabc\r\nHD\r\nMN\r\n');
      expect(out.map((f) => f.status)).to.deep.equal(['VA', 'EN', 'HD', 'MN']);
      expect(out[0]?.line).to.equal('VA 2 s2 f0 t-1 c1 kfoo O123 h1 l0');
      expect(out[0]?.value?.toString()).to.equal('hi');
      expect(out[1]?.value).to.equal(undefined);
    });

    it('gives every line starting with ERROR the status ERROR', () => {
      const out = frames('ERROR\r\nERROR Too many open connections\r\nERROR: shutdown not enabled\r\n');
      expect(out.map((f) => f.status)).to.deep.equal(['ERROR', 'ERROR', 'ERROR']);
      expect(out[1]?.line).to.equal('ERROR Too many open connections');
    });

    it('reads the legacy lines', () => {
      const wire = 'VERSION 1.6.18\r\nOK\r\nSTAT pid 1\r\nEND\r\nSTORED\r\nRESET\r\nPREFIX a get 1\r\n';
      expect(frames(wire).map((f) => f.status)).to.deep.equal([
        'VERSION',
        'OK',
        'STAT',
        'END',
        'STORED',
        'RESET',
        'PREFIX',
      ]);
    });

    it('reads values by length, whatever they contain (A10)', () => {
      const values = ['ERROR\r\n', 'EN\r\n', 'MN\r\n', 'VA 5 O1\r\n', '\r\n\r\n', 'a\x00b\r', '\n', ''];
      const wire = values.map((v) => `VA ${v.length} O1\r\n${v}\r\n`).join('') + 'MN\r\n';
      for (const { name, chunks } of splittings(latin1(wire))) {
        const out = decode(chunks);
        expect(out.error, name).to.equal(undefined);
        expect(
          out.frames.map((f) => f.value),
          name,
        ).to.deep.equal([...values, undefined]);
      }
    });

    it('accepts values up to maxValueSize and lines up to maxLineLength', () => {
      const limits = { maxValueSize: 10, maxLineLength: 20 };
      const wire = `VA 10\r\n${'v'.repeat(10)}\r\nSTAT ${'n'.repeat(15)}\r\n`;
      for (const { name, chunks } of splittings(latin1(wire))) {
        expect(decode(chunks, limits).error, name).to.equal(undefined);
        expect(decode(chunks, limits).frames, name).to.have.length(2);
      }
    });

    it('reports what it holds back', () => {
      const decoder = new MetaDecoder(LIMITS);
      const none = (): void => {};
      decoder.feed(latin1('HD\r\nVA 4 t1\r\nab'), none);
      expect(decoder.buffered).to.equal(2);
      decoder.feed(latin1('cd\r\nEN k'), none);
      expect(decoder.buffered).to.equal(4);
      decoder.feed(latin1('x\r\n'), none);
      expect(decoder.buffered).to.equal(0);
    });
  });

  describe('large values', () => {
    afterEach(() => sinon.restore());

    it('allocates a value once at its size and fills it in linear time', () => {
      const size = 8 * 1024 * 1024;
      const value = Buffer.alloc(size, 0x61);
      value.write('\r\nEN\r\n', 1000);
      const wire = Buffer.concat([latin1(`VA ${size} c9\r\n`), value, latin1('\r\nMN\r\n')]);
      const alloc = sinon.spy(Buffer, 'allocUnsafe');
      const decoder = new MetaDecoder({ maxValueSize: size, maxLineLength: 1024 });
      const got: Buffer[] = [];
      for (let i = 0; i < wire.length; i += 1000) {
        decoder.feed(wire.subarray(i, i + 1000), (f) => got.push(f.value ?? Buffer.alloc(0)));
      }
      expect(alloc.getCalls().filter((c) => c.args[0] >= size)).to.have.length(1);
      expect(got).to.have.length(2);
      expect(got[0]?.equals(value)).to.equal(true);
    });

    it("offers a large value's own buffer to read into; what lands there is the value, with no copy", () => {
      const size = READ_INTO_MIN * 3 + 5;
      const value = Buffer.alloc(size, 0x62);
      value.write('\r\nEN\r\n', 7);
      const wire = Buffer.concat([latin1(`VA ${size} c9\r\n`), value, latin1('\r\nHD\r\n')]);
      const decoder = new MetaDecoder({ maxValueSize: size, maxLineLength: 1024 });
      const got: MetaFrame[] = [];
      const onFrame = (f: MetaFrame): void => void got.push(f);
      expect(decoder.readInto()).to.equal(undefined); // nothing pending: read a chunk
      decoder.feed(wire.subarray(0, 20), onFrame); // the header and a few bytes of the value
      let pos = 20;
      const intos: Buffer[] = [];
      for (let into = decoder.readInto(); into !== undefined; into = decoder.readInto()) {
        const n = Math.min(into.length, 50_000);
        wire.copy(into, 0, pos, pos + n);
        decoder.landed(n);
        intos.push(into);
        pos += n;
      }
      // The last stretch is under READ_INTO_MIN: it comes as a chunk, with the CRLF and what follows.
      expect(pos).to.be.above(size - READ_INTO_MIN);
      expect(got).to.have.length(0);
      decoder.feed(wire.subarray(pos), onFrame);
      expect(got.map((f) => f.status)).to.deep.equal(['VA', 'HD']);
      const read = got[0].value!;
      expect(read.equals(value)).to.equal(true);
      expect(intos.every((into) => into.buffer === read.buffer)).to.equal(true);
      expect(decoder.buffered).to.equal(0);
    });

    it('a value read in place and not followed by CRLF is ERR_PROTOCOL', () => {
      const size = READ_INTO_MIN;
      const decoder = new MetaDecoder({ maxValueSize: size, maxLineLength: 1024 });
      decoder.feed(latin1(`VA ${size}\r\n`), () => undefined);
      const into = decoder.readInto()!;
      expect(into.length).to.equal(size);
      into.fill(0x61);
      decoder.landed(size);
      expect(decoder.readInto()).to.equal(undefined);
      expect(() => decoder.feed(latin1('XY'), () => undefined))
        .to.throw(MemlineError)
        .with.property('code', 'ERR_PROTOCOL');
    });

    it('offers nothing to read into for a value under READ_INTO_MIN or one over the cap', () => {
      const decoder = new MetaDecoder({ maxValueSize: READ_INTO_MIN, maxLineLength: 1024 });
      decoder.feed(latin1(`VA ${READ_INTO_MIN - 1}\r\n`), () => undefined);
      expect(decoder.readInto()).to.equal(undefined);
      decoder.feed(Buffer.alloc(READ_INTO_MIN - 1), () => undefined);
      decoder.feed(latin1(`\r\nVA ${READ_INTO_MIN + 1}\r\n`), () => undefined); // skipped: over the cap
      expect(decoder.readInto()).to.equal(undefined);
    });
  });

  describe('hostile and malformed replies', () => {
    const cases: [string, string, string][] = [
      // B2: malformed header lines
      ['VA without size', 'VA\r\nhi\r\n', 'ERR_PROTOCOL'],
      ['VA with a space and no size', 'VA \r\n', 'ERR_PROTOCOL'],
      ['non-numeric size', 'VA x\r\nhi\r\n', 'ERR_PROTOCOL'],
      ['negative size', 'VA -1\r\n', 'ERR_PROTOCOL'],
      ['size with trailing garbage', 'VA 5abc\r\nhello\r\n', 'ERR_PROTOCOL'],
      ['21-digit size', 'VA 999999999999999999999\r\n', 'ERR_PROTOCOL'],
      ['lower-case status', 'va 2\r\nhi\r\n', 'ERR_PROTOCOL'],
      ['duplicated flags', 'HD c1 c2\r\n', 'ERR_PROTOCOL'],
      ['duplicated flags on VA', 'VA 1 t1 t2\r\nx\r\n', 'ERR_PROTOCOL'],
      ['bare LF', 'HD\n', 'ERR_PROTOCOL'],
      ['bare LF after a good line', 'HD\r\nEN\nMN\r\n', 'ERR_PROTOCOL'],
      ['CR without LF', 'HD\rEN\r\n', 'ERR_PROTOCOL'],
      ['leading space', ' HD\r\n', 'ERR_PROTOCOL'],
      ['double space', 'HD  c1\r\n', 'ERR_PROTOCOL'],
      ['trailing space', 'HD c1 \r\n', 'ERR_PROTOCOL'],
      ['unknown code', 'XX\r\n', 'ERR_PROTOCOL'],
      ['empty line', '\r\n', 'ERR_PROTOCOL'],
      ['non-numeric CAS', 'HD c12x\r\n', 'ERR_PROTOCOL'],
      ['empty CAS', 'HD c\r\n', 'ERR_PROTOCOL'],
      ['CAS of 21 digits', 'HD c123456789012345678901\r\n', 'ERR_PROTOCOL'],
      // Numbers outside what memcached stores: never an Item outside u32 / u64
      ['client flags of 2^32', 'VA 1 f4294967296 c1\r\nx\r\n', 'ERR_PROTOCOL'],
      ['client flags of 11 digits', 'EN f10000000000\r\n', 'ERR_PROTOCOL'],
      ['CAS of 2^64', 'VA 1 f0 c18446744073709551616\r\nx\r\n', 'ERR_PROTOCOL'],
      ['CAS of 20 nines', 'HD c99999999999999999999\r\n', 'ERR_PROTOCOL'],
      ['bad TTL', 'HD t-5\r\n', 'ERR_PROTOCOL'],
      ['bad h', 'HD h2\r\n', 'ERR_PROTOCOL'],
      ['b with a token', 'HD kfoo bx\r\n', 'ERR_PROTOCOL'],
      ['flag that is not a letter', 'HD 1\r\n', 'ERR_PROTOCOL'],
      // B3: bad value terminator
      ['value followed by garbage', 'VA 3\r\nabcXY', 'ERR_PROTOCOL'],
      ['value followed by LF only', 'VA 3\r\nabc\nHD\r\n', 'ERR_PROTOCOL'],
      ['value followed by CR only', 'VA 3\r\nabc\rHD\r\n', 'ERR_PROTOCOL'],
      ['value longer than declared', 'VA 2\r\nhello\r\n', 'ERR_PROTOCOL'],
      // B6: garbage
      ['garbage', 'foobarbaz\r\n', 'ERR_PROTOCOL'],
      ['HTTP', 'HTTP/1.1 400 Bad Request\r\n', 'ERR_PROTOCOL'],
      ['binary', '\x00\x01\x02\r\n', 'ERR_PROTOCOL'],
      ['error after good frames', 'VA 2 O1\r\nv1\r\nHD\r\nNOPE\r\n', 'ERR_PROTOCOL'],
      // giant size claims
      ['2^32-1 bytes', 'VA 4294967295\r\n', 'ERR_RESPONSE_TOO_LARGE'],
      ['2^31 bytes', 'VA 2147483648 t1\r\n', 'ERR_RESPONSE_TOO_LARGE'],
      ['20 digits', 'VA 99999999999999999999\r\n', 'ERR_RESPONSE_TOO_LARGE'],
      ['over 1 GiB (no memcached item is)', 'VA 1073741825\r\n', 'ERR_RESPONSE_TOO_LARGE'],
    ];
    for (const [what, wire, code] of cases) {
      it(`${what}: ${code} however it is split`, () => {
        const whole = decode([latin1(wire)]);
        expect(whole.error?.code).to.equal(code);
        expect(whole.error?.message).to.not.include('abcXY').and.not.include('hello');
        for (const { name, chunks } of splittings(latin1(wire))) {
          const out = decode(chunks);
          expect(out.frames, name).to.deep.equal(whole.frames);
          expect(out.error?.code, name).to.equal(code);
        }
      });
    }

    it('reads past a value over maxValueSize (up to 1 GiB) without holding it, and stays in step', () => {
      const size = LIMITS.maxValueSize + 1;
      const wire = Buffer.concat([
        latin1(`VA ${size} f1 O3\r\n`),
        Buffer.alloc(size, 0x0a),
        latin1('\r\nEN O4\r\n'),
      ]);
      const alloc = sinon.spy(Buffer, 'allocUnsafe');
      try {
        for (const chunks of [[wire], byteByByte(wire.subarray(0, 40)).concat([wire.subarray(40)])]) {
          const decoder = new MetaDecoder(LIMITS);
          const out: [string, number, number | undefined][] = [];
          for (const c of chunks) {
            decoder.feed(c, (f) => out.push([f.line, f.skipped, f.value?.length]));
            expect(decoder.buffered).to.be.at.most(64);
          }
          expect(out).to.deep.equal([
            [`VA ${size} f1 O3`, size, undefined],
            ['EN O4', -1, undefined],
          ]);
        }
        expect(alloc.getCalls().filter((c) => c.args[0] > 1024)).to.have.length(0);
      } finally {
        sinon.restore();
      }
      const bad = Buffer.concat([latin1(`VA ${size}\r\n`), Buffer.alloc(size), latin1('XX')]);
      expect(decode([bad]).error?.code).to.equal('ERR_PROTOCOL');
    });

    it('refuses a giant size from its header alone, before any value byte, allocating nothing', () => {
      const alloc = sinon.spy(Buffer, 'allocUnsafe');
      try {
        for (const header of ['VA 4294967295\r\n', 'VA 99999999999999999999\r\n']) {
          const out = decode(byteByByte(latin1(header)));
          expect(out.error?.code).to.equal('ERR_RESPONSE_TOO_LARGE');
        }
        expect(alloc.getCalls().filter((c) => c.args[0] > 1024)).to.have.length(0);
      } finally {
        sinon.restore();
      }
    });

    it('refuses an endless line at the cap, holding at most the cap (B5)', () => {
      const limits = { maxValueSize: 1024, maxLineLength: 8192 };
      const decoder = new MetaDecoder(limits);
      const chunk = Buffer.alloc(1000, 0x41);
      let fed = 0;
      let error: unknown;
      try {
        for (; fed < 10_000_000; fed += chunk.length) {
          decoder.feed(chunk, () => expect.fail('no frame expected'));
          expect(decoder.buffered).to.be.at.most(limits.maxLineLength + 1);
        }
      } catch (err) {
        error = err;
      }
      expect((error as { code?: string }).code).to.equal('ERR_PROTOCOL');
      expect(fed).to.equal(8000);
    });

    it('refuses a line one byte over the cap however it is split', () => {
      const limits = { maxValueSize: 10, maxLineLength: 20 };
      const wire = latin1(`STAT ${'n'.repeat(16)}\r\n`);
      for (const { name, chunks } of splittings(wire)) {
        expect(decode(chunks, limits).error?.code, name).to.equal('ERR_PROTOCOL');
      }
    });

    it('quotes at most 64 characters of a bad line', () => {
      const out = decode([latin1(`NOPE ${'z'.repeat(500)}\r\n`)]);
      expect(out.error?.message.length).to.be.below(120);
    });
  });
});

describe('MetaDecoder answering the FIFO head (plain reads)', () => {
  const key = wireKey('k1', '', false);
  /** A decoder whose FIFO head is a plain read sent with opaque 5, and what came out of it. */
  function reading(sink: Partial<ItemSink> = {}, limits = LIMITS) {
    const counts = { hits: 0, misses: 0 };
    const wins: [string, bigint][] = [];
    const req = MetaRequest.read(key, ' v f c');
    req.itemSink = {
      counts,
      casTag: 1n << 64n,
      returnWin: (k, cas) => void wins.push([k.token, cas]),
      ...sink,
    };
    const answered: unknown[] = [];
    let head: { req: MetaRequest; reply: unknown } | undefined = { req, reply: 5 };
    const decoder = new MetaDecoder(limits, {
      stableChunks: true,
      head: {
        peek: () => head,
        answer: (value) => {
          answered.push(value);
          head = undefined;
        },
      },
    });
    const emitted: MetaFrame[] = [];
    const feed = (...chunks: string[]): void => {
      for (const c of chunks) decoder.feed(Buffer.from(c, 'latin1'), (f) => void emitted.push(f));
    };
    return { feed, answered, emitted, counts, wins };
  }

  it('answers a hit with its Item, as the codec would, without making a frame (whole or split)', () => {
    for (const chunks of [['VA 3 f7 c9 O5\r\nabc\r\n'], ['VA 3 f7 c9 O5\r\nab', 'c\r', '\n']]) {
      const r = reading();
      r.feed(...chunks);
      expect(r.emitted).to.have.length(0);
      expect(r.answered).to.have.length(1);
      const item = r.answered[0] as { key: string; value: Buffer; flags: number; cas: bigint };
      expect({ ...item, value: item.value.toString() }).to.deep.equal({
        key: 'k1',
        value: 'abc',
        flags: 7,
        cas: 9n | (1n << 64n),
      });
      expect(r.counts.hits).to.equal(1);
    }
  });

  it('refuses a hit line that breaks the line rules, answering nothing, whole or split', () => {
    const short = { maxValueSize: 64, maxLineLength: 12 };
    for (const [wire, limits] of [
      ['VA 2 f7 c9 O5\rX\r\n\r\n', LIMITS], // a bare CR in the line (read whole, `\r\n` looks like a value)
      ['VA 2 f7 c9 O5\r\nab\r\n', short], // 13 bytes before its CRLF
    ] as const) {
      for (const chunks of [[wire], [...wire]]) {
        const r = reading({}, limits);
        expect(() => r.feed(...chunks)).to.throw(MemlineError, /CR|longer than maxLineLength/);
        expect(r.answered).to.have.length(0);
      }
    }
  });

  it('hands back a win (W) through the sink', () => {
    const r = reading();
    r.feed('VA 1 f0 c12 O5 W X\r\nv\r\n');
    expect(r.answered).to.have.length(1);
    expect(r.wins).to.deep.equal([['k1', 12n]]);
  });

  const declined: [string, string][] = [
    ['another opaque', 'VA 3 f7 c9 O6\r\nabc\r\n'],
    ['a key echo', 'VA 3 f7 c9 O5 kk1\r\nabc\r\n'],
    ['an empty value (maybe a lease placeholder)', 'VA 0 f0 c9 O5 Z\r\n\r\n'],
    ['a CAS past 15 digits', 'VA 3 f7 c1234567890123456 O5\r\nabc\r\n'],
  ];
  for (const [what, wire] of declined) {
    it(`leaves ${what} to the codec, as a frame`, () => {
      const r = reading();
      r.feed(wire);
      expect(r.answered).to.have.length(0);
      expect(r.emitted.map((f) => f.status)).to.deep.equal(['VA']);
      expect(r.counts.hits).to.equal(0);
    });
  }

  it('leaves a read without an item sink to the codec', () => {
    const r = reading();
    const req = MetaRequest.read(key, ' v f c');
    const decoder = new MetaDecoder(LIMITS, {
      head: { peek: () => ({ req, reply: 5 }), answer: () => expect.fail('answered') },
    });
    const out: MetaFrame[] = [];
    decoder.feed(Buffer.from('VA 3 f7 c9 O5\r\nabc\r\n', 'latin1'), (f) => void out.push(f));
    expect(out.map((f) => f.status)).to.deep.equal(['VA']);
    expect(r.answered).to.have.length(0);
  });
});

describe('MetaDecoder settling getMulti hits in their batch', () => {
  const MASK = 15;
  /** A decoder whose FIFO head is a batch of reads of `keys`, sent with opaques from 14 on (wrapping). */
  function batch(keys: string[], sinks = true) {
    const counts = { hits: 0, misses: 0 };
    const items = keys.map((k) => {
      const item = MetaRequest.read(wireKey(k, '', false), ' v f c');
      if (sinks) item.itemSink = { counts, casTag: 0n };
      return item;
    });
    const req = MetaRequest.batch(items);
    const state = new BatchState(14, items.length);
    const decoder = new MetaDecoder(LIMITS, {
      stableChunks: true,
      opaqueMask: MASK,
      head: { peek: () => ({ req, reply: state }), answer: () => expect.fail('a batch is answered at MN') },
    });
    const emitted: MetaFrame[] = [];
    const feed = (...chunks: string[]): void => {
      for (const c of chunks) decoder.feed(Buffer.from(c, 'latin1'), (f) => void emitted.push(f));
    };
    return { feed, state, emitted, counts };
  }

  it('puts each hit in its place (opaques wrapping), with no frame; MN is a frame', () => {
    const b = batch(['a', 'b', 'c']);
    // a (O14) missed; b is O15, c is O0 after the wrap.
    b.feed('VA 2 f3 c7 O15 kb\r\nbb\r\n', 'VA 2 f0 c8 O0 kc\r\n', 'cc\r\nMN\r\n');
    expect(b.emitted.map((f) => f.status)).to.deep.equal(['MN']);
    expect(b.state.replies[0]).to.equal(undefined);
    const [, hitB, hitC] = b.state.replies as { key: string; value: Buffer; flags: number; cas: bigint }[];
    expect([hitB.key, hitB.value.toString(), hitB.flags, hitB.cas]).to.deep.equal(['b', 'bb', 3, 7n]);
    expect([hitC.key, hitC.value.toString(), hitC.flags, hitC.cas]).to.deep.equal(['c', 'cc', 0, 8n]);
    expect(b.state.lastIndex).to.equal(2);
    expect(b.counts.hits).to.equal(2);
  });

  const declined: [string, string, boolean][] = [
    ['another key', 'VA 2 f0 c7 O15 kx\r\nbb\r\n', true],
    ['a key marked base64', 'VA 2 f0 c7 O15 kb b\r\nbb\r\n', true],
    ['no key echo', 'VA 2 f0 c7 O15\r\nbb\r\n', true],
    ['an opaque past the batch', 'VA 2 f0 c7 O1 kb\r\nbb\r\n', true],
    ['an empty value', 'VA 0 f0 c7 O15 kb\r\n\r\n', true],
    ['items without a sink', 'VA 2 f0 c7 O15 kb\r\nbb\r\n', false],
  ];
  for (const [what, wire, sinks] of declined) {
    it(`leaves ${what} to the codec, as a frame`, () => {
      const b = batch(['a', 'b', 'c'], sinks);
      b.feed(wire);
      expect(b.emitted.map((f) => f.status)).to.deep.equal(['VA']);
      expect(b.state.replies.every((r) => r === undefined)).to.equal(true);
      expect(b.state.lastIndex).to.equal(-1);
    });
  }
});
