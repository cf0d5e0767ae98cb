/**
 * Shared pieces of the codec tests: requests built the way the client builds them, and verdicts of
 * a codec for the frames a wire string decodes to.
 */
import { expect } from 'chai';
import { FrameFailure } from '../../../lib/codec.js';
import { OutBuffer } from '../../../lib/out-buffer.js';
import type { FrameVerdict, ReplySlot } from '../../../lib/codec.js';
import { MetaCodec } from '../../../protocols/memcached-meta/codec.js';
import type { MetaFrame } from '../../../protocols/memcached-meta/frame.js';
import { wireKey } from '../../../protocols/memcached-meta/keys.js';
import { MetaRequest } from '../../../protocols/memcached-meta/request.js';
import type { MetaCommand } from '../../../protocols/memcached-meta/request.js';
import { LIMITS, frames } from './helpers.js';

import { slotOf } from '../../harness/reply-slots.js';

export { slotOf } from '../../harness/reply-slots.js';

/** A meta codec whose `encode` and `onFrame` default to {@link slotOf} the request. */
export class TestMetaCodec extends MetaCodec {
  override encode(req: MetaRequest, out: OutBuffer, slot: ReplySlot = slotOf(req)): void {
    super.encode(req, out, slot);
  }

  override onFrame(req: MetaRequest, frame: MetaFrame, slot: ReplySlot = slotOf(req)): FrameVerdict<unknown> {
    return super.onFrame(req, frame, slot);
  }
}

export const codec = new TestMetaCodec(LIMITS);

/** A meta request on a text key (`ms` gets a one-byte value). */
export function meta(command: MetaCommand, key = 'k', flags = ''): MetaRequest {
  const value = command === 'ms' ? Buffer.from('v') : undefined;
  const wk = command === 'mn' ? undefined : wireKey(key, '', false);
  return MetaRequest.meta(command, wk, flags, value, true);
}

/** A batch as a connection's first request sent it: its items carry opaques 0, 1, 2… */
export function batch(...items: MetaRequest[]): MetaRequest {
  const req = MetaRequest.batch(items);
  codec.encode(req, new OutBuffer());
  return req;
}

/** `req` encoded as a connection's first request (a meta request gets opaque 0); returns it. */
export function sent(req: MetaRequest): MetaRequest {
  codec.encode(req, new OutBuffer());
  return req;
}

/** Feeds every frame of `wire` to `req`, returning each verdict. */
export function verdicts(req: MetaRequest, wire: string, c: MetaCodec = codec): FrameVerdict<unknown>[] {
  return frames(wire).map((f) => c.onFrame(req, f, slotOf(req)));
}

/** Expects a FrameFailure with `code`, fatal or not; returns it. */
export function failure(verdict: unknown, code: string, fatal: boolean): FrameFailure {
  expect(verdict).to.be.instanceOf(FrameFailure);
  const f = verdict as FrameFailure;
  expect(f.error.code).to.equal(code);
  expect(f.fatal).to.equal(fatal);
  return f;
}
