/** The structured builders: immutable requests, flags from the command table, exact bytes. */
import { expect } from 'chai';
import { OutBuffer } from '../../../lib/out-buffer.js';
import { meta } from '../../../protocols/memcached-meta/builders.js';
import { wireKey } from '../../../protocols/memcached-meta/keys.js';
import type { MetaRequest } from '../../../protocols/memcached-meta/request.js';
import { TestMetaCodec } from './codec-helpers.js';
import { LIMITS } from './helpers.js';
import { dataBlock, metaLine } from './test-bytes.js';

/** The bytes of `req` as a fresh connection's first request (opaque 0). */
function bytes(req: MetaRequest): Buffer {
  const out = new OutBuffer();
  new TestMetaCodec(LIMITS).encode(req, out, { reply: undefined });
  const taken = out.take();
  return taken === undefined ? Buffer.alloc(0) : Buffer.concat([taken].flat());
}

const key = wireKey('k1', '', false);

describe('meta builders', () => {
  it('get: value, flags and CAS by default; touch adds T', () => {
    expect(bytes(meta.get(key))).to.deep.equal(metaLine('mg', 'k1', 'v', 'f', 'c', 'O0'));
    expect(bytes(meta.get(key, { fetch: ['v', 't'], touch: 30 }))).to.deep.equal(
      metaLine('mg', 'k1', 'T30', 'v', 't', 'O0'),
    );
  });

  it('set: the value follows, its length from the Buffer; append and CAS stores are not idempotent', () => {
    const req = meta.set(key, Buffer.from('hello'), { ttl: 60, flags: 3 });
    expect(bytes(req)).to.deep.equal(
      Buffer.concat([metaLine('ms', 'k1', 5, 'T60', 'F3', 'O0'), dataBlock('hello')]),
    );
    expect(req.idempotent).to.equal(true);
    expect(meta.set(key, Buffer.from('x'), { mode: 'A' }).idempotent).to.equal(false);
    expect(meta.set(key, Buffer.from('x'), { cas: 5n }).idempotent).to.equal(false);
  });

  it('delete, arith and noop', () => {
    expect(bytes(meta.delete(key, { invalidate: 30 }))).to.deep.equal(metaLine('md', 'k1', 'T30', 'I', 'O0'));
    const arith = meta.arith(key, { delta: 2n, mode: 'decr', autoVivify: { ttl: 0, initial: 10n } });
    expect(bytes(arith)).to.deep.equal(metaLine('ma', 'k1', 'N0', 'MD', 'D2', 'J10', 'v', 'O0'));
    expect(arith.idempotent).to.equal(false);
    expect(bytes(meta.noop())).to.deep.equal(Buffer.from('mn\r\n'));
  });

  it('refuses what the command table does not allow', () => {
    expect(() => meta.get(key, { touch: -1 })).to.throw(/T/);
    expect(() => meta.set(key, Buffer.from('x'), { flags: 2 ** 32 })).to.throw();
  });

  it('builds immutable requests: encoding leaves no state on them', () => {
    const req = meta.get(key);
    const before = { ...req };
    bytes(req);
    bytes(req);
    expect({ ...req }).to.deep.equal(before);
  });
});
