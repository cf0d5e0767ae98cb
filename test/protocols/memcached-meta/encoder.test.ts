/**
 * Request bytes. The expected bytes come from the small template helpers below, written from
 * docs/meta-protocol.md, never from the encoder under test.
 */
import { expect } from 'chai';
import { OutBuffer } from '../../../lib/out-buffer.js';
import { encodeRequest, opaqueCursor } from '../../../protocols/memcached-meta/encoder.js';
import type { BatchState, ReplyState } from '../../../protocols/memcached-meta/reply-state.js';
import { MetaRequest } from '../../../protocols/memcached-meta/request.js';
import type { MetaCommand, WireKey } from '../../../protocols/memcached-meta/request.js';
import { written } from './helpers.js';

/** `<cmd> <key> <flags>\r\n` */
function line(cmd: string, key: string, flags = ''): string {
  return `${cmd} ${key}${flags}\r\n`;
}

/** `ms <key> <len> <flags>\r\n<data>\r\n` as bytes. */
function set(key: string | Buffer, data: Buffer, flags = ''): Buffer {
  const k = typeof key === 'string' ? Buffer.from(key, 'latin1') : key;
  return Buffer.concat([
    Buffer.from('ms '),
    k,
    Buffer.from(` ${data.length}${flags}\r\n`),
    data,
    Buffer.from('\r\n'),
  ]);
}

function textKey(token: string): WireKey {
  return { token, base64: false, ascii: /^[\x21-\x7e]*$/.test(token), original: token };
}

function b64Key(raw: Buffer): WireKey {
  const token = raw.toString('base64');
  return { token, base64: true, ascii: true, original: token };
}

function meta(command: MetaCommand, key: WireKey | undefined, flags = '', value?: Buffer): MetaRequest {
  return MetaRequest.meta(command, key, flags, value, true);
}

/** Encodes `req` as the first request of a connection: a meta request gets opaque 0. */
function encode(req: MetaRequest, out?: OutBuffer): Buffer {
  return written((o) => encodeRequest(req, o, opaqueCursor(16)), out);
}

describe('encodeRequest', () => {
  describe('meta commands', () => {
    it('mg, md, ma: command, key, flags', () => {
      expect(encode(meta('mg', textKey('foo'), ' T30 v t c')).toString()).to.equal(
        line('mg', 'foo', ' T30 v t c O0'),
      );
      expect(encode(meta('mg', textKey('foo'))).toString()).to.equal(line('mg', 'foo', ' O0'));
      expect(encode(meta('md', textKey('d1'), ' I T30')).toString()).to.equal(line('md', 'd1', ' I T30 O0'));
      expect(encode(meta('ma', textKey('n1'), ' N0 J10 v')).toString()).to.equal(
        line('ma', 'n1', ' N0 J10 v O0'),
      );
      // a caller's own opaque (low-level meta) is the only one
      expect(encode(meta('mg', textKey('foo'), ' v Oab')).toString()).to.equal(line('mg', 'foo', ' v Oab'));
    });

    it('mn has no key', () => {
      expect(encode(meta('mn', undefined)).toString()).to.equal('mn\r\n');
    });

    it('me: the b of a base64 key is the first token after the key', () => {
      expect(encode(meta('me', textKey('e1'))).toString()).to.equal('me e1\r\n');
      const raw = Buffer.from('テスト');
      expect(encode(meta('me', b64Key(raw))).toString()).to.equal(`me ${raw.toString('base64')} b\r\n`);
    });

    it('ms: datalen, flags, then the data block and CRLF', () => {
      const data = Buffer.from('hello');
      expect(encode(meta('ms', textKey('bar'), ' T60 F42 c', data))).to.deep.equal(
        set('bar', data, ' T60 F42 c O0'),
      );
    });

    it('ms: values containing CRLF, NUL and protocol words go as they are', () => {
      for (const text of ['\r\n', 'x\r\nset evil 0 0 1\r\nZ\r\n', 'a\0b', 'ERROR\r\n', 'MN\r\n']) {
        const data = Buffer.from(text, 'latin1');
        expect(encode(meta('ms', textKey('k'), '', data))).to.deep.equal(set('k', data, ' O0'));
      }
    });

    it('ms: a 0-byte value', () => {
      expect(encode(meta('ms', textKey('zero'), '', Buffer.alloc(0))).toString()).to.equal(
        'ms zero 0 O0\r\n\r\n',
      );
    });

    it('ms: a value larger than the copy threshold is referenced, and the bytes are the same', () => {
      const data = Buffer.alloc(100_000, 0x78);
      data.write('\r\n', 500);
      const out = new OutBuffer(256, 64);
      expect(encode(meta('ms', textKey('big'), ' T1', data), out)).to.deep.equal(set('big', data, ' T1 O0'));
    });

    it('ms: the datalen of each size, on both sides of the table of small lengths, and again', () => {
      for (const size of [1, 9, 10, 4095, 4096, 4097, 10, 4095, 1]) {
        const data = Buffer.alloc(size, 0x61);
        expect(encode(meta('ms', textKey('n'), ' T5', data)), String(size)).to.deep.equal(
          set('n', data, ' T5 O0'),
        );
      }
    });

    it('ms: a multi-byte value length is the byte length', () => {
      const data = Buffer.from('я€😀');
      expect(encode(meta('ms', textKey('u'), '', data)).toString()).to.equal(`ms u 9 O0\r\n${'я€😀'}\r\n`);
    });

    it('writes non-ASCII keys as UTF-8', () => {
      const key = 'ключ-€';
      expect(encode(meta('mg', textKey(key), ' v'))).to.deep.equal(Buffer.from(`mg ${key} v O0\r\n`, 'utf8'));
      const data = Buffer.from('hi');
      expect(encode(meta('ms', textKey(key), ' T5', data))).to.deep.equal(
        set(Buffer.from(key), data, ' T5 O0'),
      );
    });

    it('base64 keys carry b after the key (and after datalen for ms)', () => {
      const raw = Buffer.from([0x61, 0x20, 0x62, 0x0d, 0x0a, 0x00, 0xff]);
      const token = raw.toString('base64');
      expect(token).to.equal('YSBiDQoA/w==');
      expect(encode(meta('mg', b64Key(raw), ' v k')).toString()).to.equal(`mg ${token} b v k O0\r\n`);
      expect(encode(meta('md', b64Key(raw))).toString()).to.equal(`md ${token} b O0\r\n`);
      const data = Buffer.from('X');
      expect(encode(meta('ms', b64Key(raw), ' c', data))).to.deep.equal(set(token, data, ' b c O0'));
    });
  });

  describe('batches', () => {
    it('tags each item quiet with its key and the next opaques, then mn', () => {
      const items = ['p1', 'p2', 'p3'].map((k) => meta('mg', textKey(k), ' v k'));
      const expected = items.map((_, i) => line('mg', `p${i + 1}`, ` v k q O${i}`)).join('') + 'mn\r\n';
      expect(encode(MetaRequest.batch(items)).toString()).to.equal(expected);
    });

    it('mixes commands, values and base64 keys', () => {
      const raw = Buffer.from([0, 1, 2]);
      const data = Buffer.from('v\r\n');
      const req = MetaRequest.batch([
        meta('ms', textKey('a'), ' T10', data),
        meta('md', b64Key(raw)),
        meta('mg', textKey('ü'), ' v'),
      ]);
      const expected = Buffer.concat([
        set('a', data, ' T10 q k O0'),
        Buffer.from(`md ${raw.toString('base64')} b q k O1\r\n`),
        Buffer.from('mg ü v q k O2\r\nmn\r\n', 'utf8'),
      ]);
      expect(encode(req)).to.deep.equal(expected);
    });

    it('an empty batch is just mn', () => {
      expect(encode(MetaRequest.batch([])).toString()).to.equal('mn\r\n');
      expect(encode(MetaRequest.readBatch([], ' v f c', undefined)).toString()).to.equal('mn\r\n');
    });

    it('a read batch (keys, no request per key) writes what the same reads as items write', () => {
      const raw = Buffer.from([0, 1, 2]);
      const keys = [textKey('a'), b64Key(raw), textKey('ü'), textKey('k:12')];
      for (const flags of [' v f c', ' v f c h l t', ' v k', '']) {
        const items = keys.map((k) => MetaRequest.read(k, flags));
        expect(encode(MetaRequest.readBatch(keys, flags, undefined))).to.deep.equal(
          encode(MetaRequest.batch(items)),
        );
      }
      const batch = MetaRequest.readBatch(keys, ' v', undefined);
      expect([batch.itemCount, batch.items!.length, batch.readKeys]).to.deep.equal([4, 4, keys]);
      expect(batch.item(1)).to.include({ command: 'mg', key: keys[1], flags: ' v' });
      expect(MetaRequest.batch([]).readKeys).to.equal(undefined);
    });

    it('writes indexes past 9 in decimal', () => {
      const items = Array.from({ length: 12 }, (_, i) => meta('mg', textKey(`k${i}`)));
      const text = encode(MetaRequest.batch(items)).toString();
      expect(text).to.include('mg k11 q k O11\r\nmn\r\n');
    });
  });

  describe('legacy commands', () => {
    it('version', () => {
      expect(encode(MetaRequest.version()).toString()).to.equal('version\r\n');
    });

    it('stats with and without a group', () => {
      expect(encode(MetaRequest.stats(undefined)).toString()).to.equal('stats\r\n');
      expect(encode(MetaRequest.stats('settings')).toString()).to.equal('stats settings\r\n');
      expect(encode(MetaRequest.stats('detail dump')).toString()).to.equal('stats detail dump\r\n');
    });

    it('flush_all with and without a delay', () => {
      expect(encode(MetaRequest.flushAll(undefined)).toString()).to.equal('flush_all\r\n');
      expect(encode(MetaRequest.flushAll(10)).toString()).to.equal('flush_all 10\r\n');
    });

    it('verbosity', () => {
      expect(encode(MetaRequest.verbosity(1)).toString()).to.equal('verbosity 1\r\n');
    });

    it('auth: a set whose data is "<user> <pass>"', () => {
      const credentials = Buffer.from('user1 pa ss\r\n1');
      expect(encode(MetaRequest.auth(credentials)).toString()).to.equal(
        `set _ 0 0 ${credentials.length}\r\nuser1 pa ss\r\n1\r\n`,
      );
    });
  });

  it('appends: several requests in one OutBuffer come out in order', () => {
    const out = new OutBuffer(64, 16);
    const reqs = [MetaRequest.version(), meta('mg', textKey('a'), ' v'), meta('mn', undefined)];
    const cursor = opaqueCursor(16);
    const bytes = written((o) => reqs.forEach((r) => encodeRequest(r, o, cursor)), out);
    expect(bytes.toString()).to.equal('version\r\nmg a v O0\r\nmn\r\n');
  });

  it('lines written straight into the slab: each fits whole where the slab has room, and none is cut at a slab end', () => {
    // A 40-byte slab holds one or two lines: most lines land at a slab's end and need a fresh one.
    const out = new OutBuffer(40, 16);
    const cursor = opaqueCursor(1024);
    let expected = '';
    for (let i = 0; i < 200; i++) {
      const key = 'k'.repeat(1 + (i % 23));
      const b64 = i % 7 === 0;
      const wk = b64 ? b64Key(Buffer.from(key)) : textKey(key);
      const value = i % 5 === 0 ? Buffer.from('v'.repeat(i % 11)) : undefined;
      encodeRequest(MetaRequest.meta(value ? 'ms' : 'mg', wk, ' v f c', value, true), out, cursor);
      const token = wk.token + (value ? ` ${value.length}` : '') + (b64 ? ' b' : '');
      expected +=
        `${value ? 'ms' : 'mg'} ${token} v f c O${i}\r\n` + (value ? `${value.toString()}\r\n` : '');
    }
    const taken = out.take();
    const bytes = Array.isArray(taken) ? Buffer.concat(taken) : taken;
    expect(bytes?.toString()).to.equal(expected);
  });

  it('a connection cycles through its opaques: a batch takes one per item, me and mn none', () => {
    const cursor = opaqueCursor(4);
    const a = meta('mg', textKey('a'), ' v');
    const batch = MetaRequest.batch([meta('md', textKey('b')), meta('md', textKey('c'))]);
    const reqs = [a, meta('me', textKey('e')), batch, meta('mn', undefined), meta('mg', textKey('d'))];
    const states: ReplyState[] = [];
    const bytes = written((o) => reqs.forEach((r) => states.push(encodeRequest(r, o, cursor))));
    expect(bytes.toString()).to.equal(
      'mg a v O0\r\nme e\r\nmd b q k O1\r\nmd c q k O2\r\nmn\r\nmn\r\nmg d O3\r\n',
    );
    // The opaques go into the reply state, never onto the (immutable) requests.
    expect([states[0], (states[2] as BatchState).opaque, states[1], states[4]]).to.deep.equal([0, 1, -1, 3]);
    expect(Object.keys(a)).to.not.include('opaque');
    // the cycle wraps at its size
    expect(encode(meta('mg', textKey('x')), undefined).toString()).to.equal('mg x O0\r\n');
    encodeRequest(meta('mg', textKey('y')), new OutBuffer(), cursor);
    expect(cursor.next).to.equal(1);
  });
});
