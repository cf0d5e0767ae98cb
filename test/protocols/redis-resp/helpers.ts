/**
 * Test helpers for the RESP codec: an independent RESP writer (a model value → the bytes a server
 * would send, and the value the decoder must give back), feeding a decoder in chunks, and
 * splittings of a stream. Nothing here uses the code under test to build expected bytes.
 */
import type { FrameVerdict, ReplySlot } from '../../../lib/codec.js';
import { MemlineError } from '../../../lib/errors.js';
import type { OutBuffer } from '../../../lib/out-buffer.js';
import { RespCodec } from '../../../protocols/redis-resp/codec.js';
import { RespDecoder, type RespLimits } from '../../../protocols/redis-resp/decoder.js';
import type { RedisRequest } from '../../../protocols/redis-resp/request.js';
import { RespError, VerbatimString, type RespValue } from '../../../protocols/redis-resp/values.js';

export { byteByByte, cutAt, splittings, written } from '../../harness/chunks.js';

export const LIMITS: RespLimits = {
  maxBulkSize: 1024 * 1024,
  maxElements: 100_000,
  maxDepth: 32,
  maxLineLength: 8 * 1024,
};

/** A RESP value as a server writes it, tagged with its wire type. */
export type Model =
  | { t: 'simple'; v: string }
  | { t: 'error'; v: string }
  | { t: 'int'; v: bigint }
  | { t: 'bulk'; v: Buffer }
  | { t: 'null'; form: '_' | '$' | '*' }
  | { t: 'bool'; v: boolean }
  | { t: 'double'; text: string }
  | { t: 'big'; v: bigint }
  | { t: 'bulkError'; v: string }
  | { t: 'verbatim'; format: string; v: Buffer }
  | { t: 'array'; v: Model[] }
  | { t: 'map'; v: [Model, Model][] }
  | { t: 'set'; v: Model[] }
  /** Read and dropped by the decoder (only at the top). */
  | { t: 'push'; v: Model[] }
  /** An attribute before a value: dropped, the value stays. */
  | { t: 'attr'; v: [Model, Model][]; then: Model };

const text = (s: string): Buffer => Buffer.from(s, 'utf8');

/** The bytes of `m`, written by hand from the RESP spec. */
export function wire(m: Model): Buffer {
  switch (m.t) {
    case 'simple':
      return text(`+${m.v}\r\n`);
    case 'error':
      return text(`-${m.v}\r\n`);
    case 'int':
      return text(`:${m.v}\r\n`);
    case 'bulk':
      return Buffer.concat([text(`$${m.v.length}\r\n`), m.v, text('\r\n')]);
    case 'null':
      return text(m.form === '_' ? '_\r\n' : `${m.form}-1\r\n`);
    case 'bool':
      return text(m.v ? '#t\r\n' : '#f\r\n');
    case 'double':
      return text(`,${m.text}\r\n`);
    case 'big':
      return text(`(${m.v}\r\n`);
    case 'bulkError': {
      const b = text(m.v);
      return Buffer.concat([text(`!${b.length}\r\n`), b, text('\r\n')]);
    }
    case 'verbatim':
      return Buffer.concat([text(`=${m.v.length + 4}\r\n${m.format}:`), m.v, text('\r\n')]);
    case 'array':
    case 'set':
    case 'push':
      return Buffer.concat([
        text(`${{ array: '*', set: '~', push: '>' }[m.t]}${m.v.length}\r\n`),
        ...m.v.map(wire),
      ]);
    case 'map':
      return Buffer.concat([text(`%${m.v.length}\r\n`), ...m.v.flatMap(([k, v]) => [wire(k), wire(v)])]);
    case 'attr':
      return Buffer.concat([
        text(`|${m.v.length}\r\n`),
        ...m.v.flatMap(([k, v]) => [wire(k), wire(v)]),
        wire(m.then),
      ]);
  }
}

/** What the decoder must give for `m` (`undefined` for a push: it gives nothing). */
export function expected(m: Model): RespValue | undefined {
  switch (m.t) {
    case 'simple':
      return m.v;
    case 'error':
    case 'bulkError':
      return new RespError(m.v);
    case 'int':
    case 'big':
      return m.v;
    case 'bulk':
      return m.v;
    case 'null':
      return null;
    case 'bool':
      return m.v;
    case 'double':
      return { inf: Infinity, '-inf': -Infinity, nan: NaN }[m.text] ?? Number(m.text);
    case 'verbatim':
      return new VerbatimString(m.format, m.v);
    case 'array':
      return m.v.map((x) => expected(x)!);
    case 'set':
      return new Set(m.v.map((x) => expected(x)!));
    case 'map':
      return new Map(m.v.map(([k, v]) => [expected(k)!, expected(v)!]));
    case 'push':
      return undefined;
    case 'attr':
      return expected(m.then);
  }
}

/** What decoding a stream gave: its values, then the error it stopped at, if any. */
export interface Outcome {
  values: RespValue[];
  error: { code: string; message: string } | undefined;
  /** Bytes the decoder still held at the end. */
  buffered: number;
}

/** Feeds `chunks` to a fresh decoder and records everything that comes out. */
export function decode(chunks: readonly Buffer[], limits: RespLimits = LIMITS): Outcome {
  const decoder = new RespDecoder(limits);
  const values: RespValue[] = [];
  try {
    for (const chunk of chunks) decoder.feed(chunk, (v) => values.push(v));
  } catch (err) {
    if (!(err instanceof MemlineError)) throw err;
    return { values, error: { code: err.code, message: err.message }, buffered: decoder.buffered };
  }
  return { values, error: undefined, buffered: decoder.buffered };
}

/**
 * A command as RESP, built by hand: `*<n>` and one `$<len>` bulk string per argument, lengths in
 * UTF-8 bytes as `TextEncoder` counts them.
 */
export function command(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [text(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(new TextEncoder().encode(arg)) : arg;
    parts.push(text(`$${bytes.length}\r\n`), bytes, text('\r\n'));
  }
  return Buffer.concat(parts);
}

import { slotOf } from '../../harness/reply-slots.js';

export { slotOf } from '../../harness/reply-slots.js';

/** A RESP codec whose `encode` and `onFrame` default to {@link slotOf} the request. */
export class TestRespCodec extends RespCodec {
  override encode(req: RedisRequest, out: OutBuffer, slot: ReplySlot = slotOf(req)): void {
    super.encode(req, out, slot);
  }

  override onFrame(
    req: RedisRequest,
    frame: RespValue,
    slot: ReplySlot = slotOf(req),
  ): FrameVerdict<unknown> {
    return super.onFrame(req, frame, slot);
  }
}
