/**
 * Property tests of the RESP decoder: arbitrary nested values, written by the test's own RESP writer
 * (helpers.ts), decode back to the same values however the stream is cut. fast-check prints the
 * seed and the shrunk counterexample of a failure; replay it with `{ seed, path }` in `fc.assert`.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { RespValue } from '../../../protocols/redis-resp/values.js';
import { cutAt, decode, expected, wire, type Model } from './helpers.js';

const RUNS = { numRuns: 300 };

/** Text without CR or LF (simple strings and errors are one line). */
const line = fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !/[\r\n]/.test(s));
/** Bytes biased towards ones that look like RESP. */
const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  fc.constantFrom('', '\r\n', '+OK\r\n', '$-1\r\n', '*2\r\n', '\r', '\n').map((s) => Buffer.from(s)),
);
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });

const scalar: fc.Arbitrary<Model> = fc.oneof(
  line.map((v) => ({ t: 'simple', v }) as const),
  line.map((v) => ({ t: 'error', v: 'ERR ' + v }) as const),
  int64.map((v) => ({ t: 'int', v }) as const),
  bytes.map((v) => ({ t: 'bulk', v }) as const),
  fc.constantFrom('_', '$', '*').map((form) => ({ t: 'null', form }) as const),
  fc.boolean().map((v) => ({ t: 'bool', v }) as const),
  fc
    .oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => String(d)),
      fc.constantFrom('inf', '-inf', 'nan', '0', '-1.5', '1e-7'),
    )
    .map((text) => ({ t: 'double', text }) as const),
  fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }).map((v) => ({ t: 'big', v }) as const),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map((v) => ({ t: 'bulkError', v }) as const),
  fc
    .tuple(fc.constantFrom('txt', 'mkd'), bytes)
    .map(([format, v]) => ({ t: 'verbatim', format, v }) as const),
);

const { model } = fc.letrec<{ model: Model }>((tie) => ({
  model: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('model'), { maxLength: 4 }).map((v) => ({ t: 'array', v }) as const),
    fc.array(fc.tuple(tie('model'), tie('model')), { maxLength: 3 }).map((v) => ({ t: 'map', v }) as const),
    fc.array(tie('model'), { maxLength: 4 }).map((v) => ({ t: 'set', v }) as const),
    fc
      .tuple(fc.array(fc.tuple(scalar, tie('model')), { maxLength: 2 }), tie('model'))
      .map(([v, then]) => ({ t: 'attr', v, then }) as const),
  ),
}));

/** A top-level reply: any value, or now and then a push (which must vanish). */
const reply: fc.Arbitrary<Model> = fc.oneof(
  { weight: 6, arbitrary: model },
  { weight: 1, arbitrary: fc.array(model, { maxLength: 3 }).map((v) => ({ t: 'push', v }) as const) },
);

describe('RespDecoder properties', () => {
  it('gives back every value written, however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(reply, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (replies, cuts) => {
          const stream = Buffer.concat(replies.map(wire));
          const want = replies.map(expected).filter((v): v is RespValue => v !== undefined);
          const whole = decode([stream]);
          expect(whole.error).to.equal(undefined);
          expect(whole.values).to.deep.equal(want);
          const points = cuts.map((c) => c % (stream.length + 1));
          const cut = decode(cutAt(stream, points));
          expect(cut.error).to.equal(undefined);
          expect(cut.values).to.deep.equal(want);
          expect(cut.buffered).to.equal(0);
        },
      ),
      RUNS,
    );
  });

  it('never throws anything but a memline error on arbitrary bytes, and holds at most its caps', () => {
    const limits = { maxBulkSize: 256, maxElements: 64, maxDepth: 8, maxLineLength: 64 };
    const noise = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      // Valid replies with a few bytes flipped: closer to what a confused server sends.
      fc
        .tuple(model, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }))
        .map(([m, flips]) => {
          const buf = Buffer.from(wire(m));
          for (const [at, byte] of flips) if (buf.length > 0) buf[at % buf.length] = byte;
          return buf;
        }),
    );
    fc.assert(
      fc.property(noise, fc.array(fc.nat(), { maxLength: 6 }), (stream, cuts) => {
        const out = decode(
          cutAt(
            stream,
            cuts.map((c) => c % (stream.length + 1)),
          ),
          limits,
        );
        // decode() rethrows anything that is not a MemlineError, failing the property.
        expect(out.buffered).to.be.at.most(limits.maxLineLength + 2 + limits.maxBulkSize + 2);
      }),
      RUNS,
    );
  });
});
