/**
 * Property tests of the decoder (docs/reliability.md: hostile or broken servers). fast-check prints the seed and the shrunk
 * counterexample of a failure; replay it with `{ seed, path }` in `fc.assert`'s options.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { MemlineError } from '../../../lib/errors.js';
import { MetaDecoder } from '../../../protocols/memcached-meta/decoder.js';
import { wireKey } from '../../../protocols/memcached-meta/keys.js';
import { MetaRequest } from '../../../protocols/memcached-meta/request.js';
import { BatchState } from '../../../protocols/memcached-meta/reply-state.js';
import { byteByByte, cutAt, decode, frameData, latin1 } from './helpers.js';
import type { FrameData } from './helpers.js';

const SMALL = { maxValueSize: 64, maxLineLength: 128 };
const RUNS = { numRuns: 300 };

/** Returned flags as the server writes them: each letter at most once, in any order. */
const flagTokens: fc.Arbitrary<string> = fc
  .record(
    {
      s: fc.nat().map((n) => `s${n}`),
      f: fc.nat({ max: 2 ** 32 - 1 }).map((n) => `f${n}`),
      t: fc.oneof(
        fc.constant('t-1'),
        fc.nat().map((n) => `t${n}`),
      ),
      c: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((n) => `c${n}`),
      k: fc.stringMatching(/^[!-~]{1,20}$/).map((k) => `k${k}`),
      b: fc.constant('b'),
      O: fc.stringMatching(/^[!-~]{0,31}$/).map((o) => `O${o}`),
      h: fc.constantFrom('h0', 'h1'),
      l: fc.nat().map((n) => `l${n}`),
      W: fc.constant('W'),
      X: fc.constant('X'),
      Z: fc.constant('Z'),
    },
    { requiredKeys: [] },
  )
  .chain((flags) => {
    const tokens = Object.values(flags);
    return fc.shuffledSubarray(tokens, { minLength: tokens.length, maxLength: tokens.length });
  })
  .map((tokens) => tokens.map((t) => ' ' + t).join(''));

/** Values as latin1 strings, biased towards bytes that look like protocol. */
const values: fc.Arbitrary<string> = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1')),
  fc.constantFrom('', '\r\n', 'EN\r\n', 'MN\r\n', 'ERROR\r\n', 'VA 5 O1\r\n', '\x00\r', '\n'),
);

interface Reply {
  wire: string;
  frame: FrameData;
}

const reply: fc.Arbitrary<Reply> = fc.oneof(
  fc.tuple(values, flagTokens).map(([value, flags]) => {
    const line = `VA ${value.length}${flags}`;
    return { wire: `${line}\r\n${value}\r\n`, frame: { status: 'VA', line, value } };
  }),
  fc.tuple(fc.constantFrom('HD', 'EN', 'NF', 'NS', 'EX', 'MN'), flagTokens).map(([status, flags]) => {
    const line = status + flags;
    return { wire: `${line}\r\n`, frame: { status, line, value: undefined } };
  }),
  fc
    .constantFrom(
      ['STAT', 'STAT pid 1'],
      ['END', 'END'],
      ['VERSION', 'VERSION 1.6.18'],
      ['OK', 'OK'],
      ['STORED', 'STORED'],
      ['RESET', 'RESET'],
      ['ERROR', 'ERROR'],
      ['ERROR', 'ERROR Too many open connections'],
      ['CLIENT_ERROR', 'CLIENT_ERROR bad data chunk'],
      ['SERVER_ERROR', 'SERVER_ERROR out of memory storing object'],
      ['ME', 'ME k exp=-1 la=0 cas=1 fetch=no cls=1 size=63'],
    )
    .map(([status, line]) => ({ wire: `${line}\r\n`, frame: { status, line, value: undefined } })),
);

/** Cut points for a stream of `length` bytes. */
const cuts = fc.array(fc.nat(), { maxLength: 12 });

function chunksOf(wire: Buffer, points: number[]): Buffer[] {
  const sorted = [...new Set(points.map((p) => p % (wire.length + 1)))].sort((a, b) => a - b);
  return cutAt(wire, sorted);
}

describe('MetaDecoder properties', () => {
  it('gives the same frames however a stream of valid replies is split', () => {
    fc.assert(
      fc.property(fc.array(reply, { maxLength: 20 }), cuts, (replies, points) => {
        const wire = latin1(replies.map((r) => r.wire).join(''));
        const out = decode(chunksOf(wire, points));
        expect(out.error).to.equal(undefined);
        expect(out.frames).to.deep.equal(replies.map((r) => r.frame));
      }),
      RUNS,
    );
  });

  const fragments = fc.array(
    fc.oneof(
      fc.constantFrom(
        'VA ',
        'VA 3',
        'HD',
        'EN',
        'MN',
        'STAT x',
        'ERROR',
        ' c1',
        ' k',
        ' b',
        ' O',
        ' t-1',
        ' W',
      ),
      fc.constantFrom('\r\n', '\r', '\n', ' ', '5', '99999999999999999999', 'abc'),
      fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b).toString('latin1')),
    ),
    { maxLength: 40 },
  );

  it('only ever throws memline errors on arbitrary bytes, the same however they are split', () => {
    fc.assert(
      fc.property(fragments, cuts, (parts, points) => {
        const wire = latin1(parts.join(''));
        const whole = decode([wire], SMALL);
        if (whole.error !== undefined) {
          expect(['ERR_PROTOCOL', 'ERR_RESPONSE_TOO_LARGE']).to.include(whole.error.code);
        }
        const split = decode(chunksOf(wire, points), SMALL);
        expect(split.frames).to.deep.equal(whole.frames);
        expect(split.error?.code).to.equal(whole.error?.code);
      }),
      RUNS,
    );
  });

  it('handles structured VA fuzz: any declared size, any data length, any terminator (B8)', () => {
    const header = fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 64n }), flagTokens);
    const tail = fc.tuple(values, fc.constantFrom('\r\n', '\n', '\r', '', 'xx', '\r\nHD\r\n'));
    fc.assert(
      fc.property(header, tail, cuts, ([size, flags], [value, end], points) => {
        const line = `VA ${size}${flags}`;
        const wire = latin1(`${line}\r\n${value}${end}`);
        const whole = decode([wire], SMALL);
        if (size > 2n ** 30n && line.length <= SMALL.maxLineLength) {
          expect(whole.error?.code).to.equal('ERR_RESPONSE_TOO_LARGE');
        }
        // between the cap and 1 GiB: read past, the frame has no value (decoder.test.ts)
        if (whole.frames[0]?.skipped !== undefined) {
          expect(BigInt(whole.frames[0].skipped)).to.equal(size);
          expect(whole.frames[0].value).to.equal(undefined);
        } else if (whole.frames.length > 0) {
          expect(whole.frames[0]?.value?.length).to.equal(Number(size));
        }
        if (whole.error !== undefined) {
          expect(['ERR_PROTOCOL', 'ERR_RESPONSE_TOO_LARGE']).to.include(whole.error.code);
        }
        const split = decode(chunksOf(wire, points), SMALL);
        expect(split).to.deep.equal(whole);
      }),
      RUNS,
    );
  });
});

describe('MetaDecoder settling reads at the FIFO head', () => {
  /** Digits as a server might write them: usually canonical, sometimes long or zero-padded. */
  const number = fc.oneof(
    fc.nat({ max: 999 }).map(String),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
    fc.tuple(fc.constantFrom('0', '00'), fc.nat({ max: 99 })).map(([z, n]) => z + String(n)),
  );
  const often = <T>(usual: T, others: fc.Arbitrary<T>): fc.Arbitrary<T> =>
    fc.oneof({ arbitrary: fc.constant(usual), weight: 4 }, others);
  /**
   * A hit's line and its end: the forms the codec asks for (`f c O`, and `f c k O` for a getMulti
   * item), or near them (order, flags, keys, numbers, ends).
   */
  const hitLine = fc
    .record({
      size: fc.oneof(
        { arbitrary: fc.integer({ min: 1, max: 40 }).map(String), weight: 4 },
        fc.constantFrom('0', '007', '100', '99999999999'),
      ),
      f: often('0', number),
      c: fc.oneof({ arbitrary: fc.nat({ max: 999_999 }).map(String), weight: 4 }, number),
      O: often('5', fc.oneof(fc.constantFrom('05', '005'), number)),
      k: fc.oneof(
        { arbitrary: fc.constantFrom(undefined, 'k1'), weight: 6 },
        fc.constantFrom('k9', '', 'k1\x7f', 'k\x001'),
      ),
      extra: often('', fc.constantFrom(' W', ' X', ' kk1', ' t-1')),
      order: often('f c k O', fc.constantFrom('c f k O', 'f O c k', 'f c O k', 'f c k X O', 'f c k t')),
      end: fc.oneof({ arbitrary: fc.constant('\r\n'), weight: 6 }, fc.constantFrom('\r', '\n', '\rx\r\n')),
    })
    .map(({ size, f, c, O, k, extra, order, end }) => {
      const tokens: Record<string, string | undefined> = {
        f: `f${f}`,
        c: `c${c}`,
        O: `O${O}`,
        X: 'X',
        t: 't5',
        k: k === undefined ? undefined : `k${k}`,
      };
      const flags = order.split(' ').flatMap((t) => tokens[t] ?? []);
      return { line: `VA ${size} ${flags.join(' ')}${extra}${end}`, size: Number(size) };
    });

  /**
   * Feeds `chunks` to a decoder whose FIFO head is a plain read of `k1` sent with opaque 5, or a
   * getMulti of `k0`, `k1`, `k2` sent with opaques 4, 5, 6; what came out.
   */
  function decodeAtHead(chunks: Buffer[], batch: boolean, readBatch = false) {
    const counts = { hits: 0, misses: 0 };
    const sink = { counts, casTag: 0n, returnWin: () => undefined };
    const keys = ['k0', 'k1', 'k2'].map((k) => wireKey(k, '', false));
    const reads = keys.map((k) => MetaRequest.read(k, ' v f c'));
    for (const r of reads) r.itemSink = sink;
    const state = new BatchState(4, reads.length);
    // The getMulti as its client sends it (one read batch, no request per key) or as items.
    const many = readBatch ? MetaRequest.readBatch(keys, ' v f c', sink) : MetaRequest.batch(reads);
    let head: { req: MetaRequest; reply: unknown } | undefined = batch
      ? { req: many, reply: state }
      : { req: reads[1], reply: 5 };
    const shown = (item: unknown): unknown => {
      if (item === undefined) return undefined;
      const { value, ...rest } = item as { value: Buffer };
      return { ...rest, value: value.toString('latin1') };
    };
    const answered: unknown[] = [];
    const emitted: FrameData[] = [];
    const decoder = new MetaDecoder(SMALL, {
      stableChunks: true,
      opaqueMask: 15,
      head: {
        peek: () => head,
        answer: (item) => {
          answered.push(shown(item));
          head = undefined;
        },
      },
    });
    let error: string | undefined;
    try {
      for (const c of chunks) decoder.feed(c, (f) => void emitted.push(frameData(f)));
    } catch (err) {
      error = (err as MemlineError).code;
    }
    const inBatch = state.replies.map(shown);
    return { answered, inBatch, lastIndex: state.lastIndex, emitted, hits: counts.hits, error };
  }

  it('settles a hit the same whether it lies whole in a chunk or comes split', () => {
    // Whole, the line may take the decoder's quick path (readHitLine); split, it never can.
    let settled = 0;
    fc.assert(
      fc.property(
        hitLine,
        fc.boolean(),
        fc.uint8Array({ maxLength: 40 }),
        fc.oneof({ arbitrary: fc.constant('\r\n'), weight: 4 }, fc.constantFrom('xx', '')),
        (hit, batch, bytes, end) => {
          const value = Buffer.from(bytes)
            .toString('latin1')
            .padEnd(Math.min(hit.size, 128), 'v')
            .slice(0, hit.size);
          const wire = latin1(`${hit.line}${value}${end}HD\r\n`);
          const whole = decodeAtHead([wire], batch);
          if (whole.hits > 0) settled++;
          // The line whole in one chunk and the value in the next: the general path, from a chunk.
          const lineEnd = wire.indexOf(0x0a) + 1;
          const split = [wire.subarray(0, lineEnd), wire.subarray(lineEnd)];
          expect(decodeAtHead(split, batch)).to.deep.equal(whole);
          // Byte by byte, the line is a copy: a getMulti item's hit is then left to the codec, as a frame.
          if (!batch) expect(decodeAtHead(byteByByte(wire), batch)).to.deep.equal(whole);
          // A read batch (keys, no request per key) is settled exactly as the same reads as items.
          if (batch) {
            expect(decodeAtHead([wire], true, true)).to.deep.equal(whole);
            expect(decodeAtHead(split, true, true)).to.deep.equal(whole);
          }
        },
      ),
      RUNS,
    );
    expect(settled, 'runs that settled a hit').to.be.above(RUNS.numRuns / 10);
  });
});
