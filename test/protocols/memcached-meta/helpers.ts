/**
 * Test helpers for the meta codec: feeding a decoder in chunks and comparing what comes out as
 * plain data, so runs over different splittings can be compared with deep equality.
 */
import { MemlineError } from '../../../lib/errors.js';
import { MetaDecoder } from '../../../protocols/memcached-meta/decoder.js';
import type { DecoderLimits } from '../../../protocols/memcached-meta/decoder.js';
import type { MetaFrame } from '../../../protocols/memcached-meta/frame.js';

export { byteByByte, cutAt, splittings, written } from '../../harness/chunks.js';

export const LIMITS: DecoderLimits = { maxValueSize: 1024 * 1024, maxLineLength: 8 * 1024 };

/** Bytes from a string written one byte per character. */
export function latin1(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** A frame as plain data: the value as a latin1 string. */
export interface FrameData {
  status: string;
  line: string;
  value: string | undefined;
  /** The size of a value over the cap that was read past (only on such frames). */
  skipped?: number;
}

/** What decoding a stream gave: its frames, then the error it stopped at, if any. */
export interface Outcome {
  frames: FrameData[];
  error: { code: string; message: string } | undefined;
}

export function frameData(frame: MetaFrame): FrameData {
  const data: FrameData = { status: frame.status, line: frame.line, value: frame.value?.toString('latin1') };
  if (frame.skipped !== -1) data.skipped = frame.skipped;
  return data;
}

/** Feeds `chunks` to a fresh decoder and records everything that comes out. */
export function decode(chunks: readonly Buffer[], limits: DecoderLimits = LIMITS): Outcome {
  const decoder = new MetaDecoder(limits);
  const frames: FrameData[] = [];
  try {
    for (const chunk of chunks) decoder.feed(chunk, (frame) => frames.push(frameData(frame)));
  } catch (err) {
    if (!(err instanceof MemlineError)) throw err;
    return { frames, error: { code: err.code, message: err.message } };
  }
  return { frames, error: undefined };
}

/** Decodes frames that must come out cleanly, as MetaFrame objects. */
export function frames(wire: string, limits: DecoderLimits = LIMITS): MetaFrame[] {
  const decoder = new MetaDecoder(limits);
  const out: MetaFrame[] = [];
  decoder.feed(latin1(wire), (frame) => out.push(frame));
  if (decoder.buffered !== 0) throw new Error(`fixture ${JSON.stringify(wire)} is incomplete`);
  return out;
}

/** The one frame `wire` decodes to. */
export function frame(wire: string): MetaFrame {
  const out = frames(wire);
  if (out.length !== 1) throw new Error(`expected one frame in ${JSON.stringify(wire)}`);
  return out[0];
}

/** The wire form of frames: each line with its CRLF, and the value with its CRLF after a VA. */
export function serialize(frames: readonly FrameData[]): string {
  let out = '';
  for (const f of frames) out += f.line + '\r\n' + (f.value === undefined ? '' : f.value + '\r\n');
  return out;
}

/** Expects `fn` to throw a memline error with `code`; returns it. */
export function thrown(fn: () => unknown): MemlineError {
  try {
    fn();
  } catch (err) {
    if (err instanceof MemlineError) return err;
    throw err;
  }
  throw new Error('expected a memline error, nothing was thrown');
}
