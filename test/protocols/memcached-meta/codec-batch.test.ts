/** Batches: quiet items tagged with their key and consecutive opaques, fenced by `mn`. */
import { expect } from 'chai';
import { FrameFailure, MORE } from '../../../lib/codec.js';
import type { MetaFrame } from '../../../protocols/memcached-meta/frame.js';
import { OutBuffer } from '../../../lib/out-buffer.js';

import { wireKey } from '../../../protocols/memcached-meta/keys.js';
import { MetaRequest } from '../../../protocols/memcached-meta/request.js';
import { TestMetaCodec, batch, codec, failure, meta, verdicts } from './codec-helpers.js';
import { LIMITS, frame } from './helpers.js';

describe('MetaCodec batches', () => {
  it('collects replies by opaque, undefined where there was none, and ends at MN', () => {
    const req = batch(meta('mg', 'p1', ' v k'), meta('mg', 'p2', ' v k'), meta('mg', 'p3', ' v k'));
    const out = verdicts(req, 'VA 2 kp1 O0\r\nv1\r\nVA 2 kp3 O2\r\nv3\r\nMN\r\n');
    expect(out.slice(0, 2)).to.deep.equal([MORE, MORE]);
    const replies = out[2] as (MetaFrame | undefined)[];
    expect(replies).to.have.length(3);
    expect(replies[0]?.value?.toString()).to.equal('v1');
    expect(replies[1]).to.equal(undefined);
    expect(replies[2]?.value?.toString()).to.equal('v3');
    expect(Object.keys(replies)).to.deep.equal(['0', '1', '2']);
  });

  it('resolves an all-quiet batch at MN', () => {
    const out = verdicts(batch(meta('mg'), meta('ms'), meta('md')), 'MN\r\n');
    expect(out[0]).to.deep.equal([undefined, undefined, undefined]);
    expect(verdicts(batch(), 'MN\r\n')[0]).to.deep.equal([]);
  });

  it('checks each reply against its own command', () => {
    const req = batch(meta('ms', 'a'), meta('md', 'b'), meta('mg', 'c'));
    const out = verdicts(req, 'NS ka O0\r\nNF kb O1\r\nHD kc O2\r\nMN\r\n');
    expect(out.slice(0, 3)).to.deep.equal([MORE, MORE, MORE]);
    expect((out[3] as MetaFrame[]).map((f) => f.status)).to.deep.equal(['NS', 'NF', 'HD']);
    const bad = batch(meta('mg', 'a'), meta('md', 'b'));
    failure(verdicts(bad, 'NS ka O0\r\n')[0], 'ERR_PROTOCOL', true);
  });

  it('checks returned keys in a batch', () => {
    const req = batch(meta('mg', 'p1', ' v k'), meta('mg', 'p2', ' v k'));
    failure(verdicts(req, 'VA 2 kp2 O0\r\nv2\r\n')[0], 'ERR_PROTOCOL', true);
  });

  const outOfSync: [string, string][] = [
    ['a reply without an opaque', 'VA 1 kk\r\nx\r\n'],
    ['a reply without its key', 'HD O1\r\n'],
    ['a reply with another key', 'HD kj O1\r\n'],
    ['an opaque past the end', 'HD kk O3\r\n'],
    ['a non-numeric opaque', 'HD kk Oa\r\n'],
    ['a non-canonical opaque', 'HD kk O01\r\n'],
    ['a negative opaque', 'HD kk O-1\r\n'],
    ['an empty opaque', 'HD kk O\r\n'],
    ['out of order', 'HD kk O2\r\nHD kk O1\r\n'],
    ['a repeated opaque', 'HD kk O1\r\nHD kk O1\r\n'],
    ['an MN that carries an opaque', 'HD kk O1\r\nMN O2\r\n'],
    ['a status for no meta command', 'VERSION 1.6.18\r\n'],
    ['an ME', 'ME k a=1\r\n'],
  ];
  for (const [what, wire] of outOfSync) {
    it(`${what} is fatal`, () => {
      const out = verdicts(batch(meta('mg'), meta('mg'), meta('mg')), wire);
      const last = out[out.length - 1];
      failure(last, 'ERR_PROTOCOL', true);
      expect(out.slice(0, -1).every((v) => v === MORE)).to.equal(true);
    });
  }

  it('holds a SERVER_ERROR until MN, then fails the batch without dropping the connection', () => {
    const req = batch(meta('ms', 'a'), meta('ms', 'b'), meta('ms', 'c'));
    const out = verdicts(req, 'SERVER_ERROR out of memory storing object\r\nNS kc O2\r\nMN\r\n');
    expect(out.slice(0, 2)).to.deep.equal([MORE, MORE]);
    const f = failure(out[2], 'ERR_SERVER_ERROR', false);
    expect(f.error.message).to.include('out of memory');
  });

  it('CLIENT_ERROR poisons the batch and the connection', () => {
    const req = batch(meta('mg'), meta('mg'), meta('mg'));
    const out = verdicts(req, 'VA 2 kk O0\r\nv1\r\nCLIENT_ERROR duplicate flag\r\n');
    failure(out[1], 'ERR_CLIENT_ERROR', true);
  });

  it('follows a 2000-item pipeline with 857 hits in increasing opaque order', () => {
    const items = Array.from({ length: 2000 }, (_, i) => meta('mg', `p${i % 7}`, ' v'));
    const hits = items.map((_, i) => i).filter((i) => [1, 3, 5].includes(i % 7));
    expect(hits).to.have.length(857);
    const wire = hits.map((i) => `VA 2 kp${i % 7} O${i}\r\nv${i % 7}\r\n`).join('') + 'MN\r\n';
    const out = verdicts(batch(...items), wire);
    expect(out.slice(0, -1).every((v) => v === MORE)).to.equal(true);
    const replies = out[out.length - 1] as (MetaFrame | undefined)[];
    expect(replies).to.have.length(2000);
    expect(replies.filter((r) => r !== undefined)).to.have.length(857);
    expect(replies[3]?.value?.toString()).to.equal('v3');
    expect(replies[7]).to.equal(undefined);
  });

  it('a batch after others on its connection: opaques continue, and wrap around the cycle', () => {
    const codec = new TestMetaCodec({ ...LIMITS, maxPending: 4 });
    const out = new OutBuffer();
    const first = MetaRequest.batch([meta('mg', 'a', ' v'), meta('mg', 'b', ' v'), meta('mg', 'c', ' v')]);
    const second = MetaRequest.batch([meta('mg', 'd', ' v'), meta('mg', 'e', ' v')]);
    codec.encode(first, out);
    codec.encode(second, out);
    expect(out.take()?.toString()).to.include('mg d v q k O3\r\nmg e v q k O0\r\nmn');
    expect(codec.onFrame(first, frame('HD kb O1\r\n'))).to.equal(MORE);
    // the next batch's reply (an MN too early, or a proxy's mix-up) is not taken for the first's
    const wrong = codec.onFrame(first, frame('HD ke O0\r\n'));
    failure(wrong, 'ERR_PROTOCOL', true);
    expect(codec.onFrame(second, frame('HD ke O0\r\n'))).to.equal(MORE);
  });
});

describe('MetaCodec read batches (getMulti: keys, no request per key)', () => {
  const keys = ['p1', 'p2', 'p3'].map((k) => wireKey(k, '', false));
  /** The same reads, as a read batch or as items, each with its own sink; sent as a connection's first request. */
  function both(flags: string) {
    const sinks = [0, 1].map(() => ({ counts: { hits: 0, misses: 0 }, casTag: 0n }));
    const readBatch = MetaRequest.readBatch(keys, flags, sinks[0]);
    const items = keys.map((k) => MetaRequest.read(k, flags));
    for (const item of items) item.itemSink = sinks[1];
    const asItems = MetaRequest.batch(items);
    for (const req of [readBatch, asItems]) codec.encode(req, new OutBuffer());
    return { readBatch, asItems, sinks };
  }

  it('gives every verdict the same reads as items give: Items, misses, leases, out-of-sync replies', () => {
    const wires = [
      'VA 2 f0 c7 kp1 O0\r\nv1\r\nVA 2 f3 c9 kp3 O2\r\nv3\r\nMN\r\n', // hits, one key without a reply
      'VA 0 f0 c7 W kp2 O1\r\n\r\nMN\r\n', // a lease placeholder: a miss
      'VA 2 f0 c7 kp2 O0\r\nv1\r\n', // the wrong key for its opaque
      'HD kp1 O0\r\nMN\r\n', // a status an mg with v cannot get
      'VA 2 f0 c7 kp1 O7\r\nv1\r\n', // an opaque past the batch
      'SERVER_ERROR out of memory\r\nMN\r\n', // fails the batch at MN
    ];
    for (const wire of wires) {
      const { readBatch, asItems, sinks } = both(' v f c');
      const shown = (v: unknown) => (v instanceof FrameFailure ? v.error.code : v);
      expect(verdicts(readBatch, wire).map(shown), wire).to.deep.equal(verdicts(asItems, wire).map(shown));
      expect(sinks[0].counts, wire).to.deep.equal(sinks[1].counts);
    }
  });

  it('describes itself as the same batch, and counts the same bytes', () => {
    const { readBatch, asItems } = both(' v f c');
    expect(codec.describe(readBatch)).to.equal(codec.describe(asItems)).and.equal('batch of 3 mg');
    expect(codec.byteLength(readBatch)).to.equal(codec.byteLength(asItems));
    expect(codec.keys(readBatch)).to.deep.equal(['p1', 'p2', 'p3']);
  });
});
