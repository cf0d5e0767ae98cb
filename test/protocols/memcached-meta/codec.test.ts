import { expect } from 'chai';
import { FrameFailure, MORE } from '../../../lib/codec.js';

import { wireKey } from '../../../protocols/memcached-meta/keys.js';
import { MetaRequest } from '../../../protocols/memcached-meta/request.js';
import type { MetaCommand } from '../../../protocols/memcached-meta/request.js';
import { TestMetaCodec, batch, codec, failure, meta, sent, verdicts } from './codec-helpers.js';
import { LIMITS, frame, frames, thrown, written } from './helpers.js';
import { MetaFrame } from '../../../protocols/memcached-meta/frame.js';

const ME = 'ME k exp=-1 la=0 cas=1 fetch=no cls=1 size=63\r\n';

describe('MetaCodec', () => {
  describe('meta commands', () => {
    const allowed: [MetaCommand, string[]][] = [
      ['mg', ['VA 1\r\nx\r\n', 'HD\r\n', 'EN\r\n']],
      ['ms', ['HD\r\n', 'NS\r\n', 'EX\r\n', 'NF\r\n']],
      ['md', ['HD\r\n', 'NF\r\n', 'EX\r\n']],
      ['ma', ['HD\r\n', 'VA 1\r\nx\r\n', 'NF\r\n', 'NS\r\n', 'EX\r\n']],
      ['mn', ['MN\r\n']],
      ['me', [ME, 'EN\r\n']],
    ];
    const every = ['VA 1\r\nx\r\n', 'HD\r\n', 'EN\r\n', 'NF\r\n', 'NS\r\n', 'EX\r\n', 'MN\r\n', ME];
    const others = ['VERSION 1.6.18\r\n', 'OK\r\n', 'STAT a 1\r\n', 'END\r\n', 'STORED\r\n', 'RESET\r\n'];
    for (const [command, statuses] of allowed) {
      it(`${command} resolves with ${statuses.length} statuses and refuses the rest`, () => {
        for (const wire of statuses) {
          const f = frame(wire);
          expect(codec.onFrame(meta(command), f), wire).to.equal(f);
        }
        for (const wire of [...every, ...others].filter((w) => !statuses.includes(w))) {
          const f = failure(codec.onFrame(meta(command), frame(wire)), 'ERR_PROTOCOL', true);
          expect(f.error.mayHaveExecuted).to.equal(true);
        }
      });
    }

    it('checks the opaque it put on a request; a reply with no opaque is taken as is', () => {
      const mg = (): MetaRequest => sent(meta('mg', 'k', ' v f c'));
      expect(codec.onFrame(mg(), frame('VA 1 f0 c1 O0\r\nx\r\n'))).to.not.be.instanceOf(FrameFailure);
      expect(codec.onFrame(mg(), frame('EN O0\r\n'))).to.not.be.instanceOf(FrameFailure);
      for (const wire of ['VA 1 O1\r\nx\r\n', 'EN O00\r\n', 'EN O\r\n', 'EN Ox\r\n', 'HD O10\r\n']) {
        failure(codec.onFrame(mg(), frame(wire)), 'ERR_PROTOCOL', true);
      }
      // a reply carrying a key the request never asked for
      failure(codec.onFrame(mg(), frame('EN kk O0\r\n')), 'ERR_PROTOCOL', true);
      // `mn` and `me` send none: a reply that carries one is another's
      failure(codec.onFrame(sent(meta('mn')), frame('MN O0\r\n')), 'ERR_PROTOCOL', true);
      failure(codec.onFrame(sent(meta('me', 'k')), frame('EN O0\r\n')), 'ERR_PROTOCOL', true);
      expect(codec.onFrame(sent(meta('me', 'k')), frame('EN\r\n'))).to.not.be.instanceOf(FrameFailure);
      // what memcached and mcrouter never do, but fakes do: no opaque at all
      expect(codec.onFrame(mg(), frame('HD\r\n'))).to.not.be.instanceOf(FrameFailure);
    });

    it('checks a caller’s own opaque', () => {
      expect(codec.onFrame(meta('mg', 'k', ' v O7'), frame('VA 1 O7\r\nx\r\n'))).to.be.instanceOf(Object);
      expect(codec.onFrame(meta('mg', 'k', ' v O7'), frame('EN O7\r\n'))).to.not.be.instanceOf(FrameFailure);
      failure(codec.onFrame(meta('mg', 'k', ' v O7'), frame('VA 1 O8\r\nx\r\n')), 'ERR_PROTOCOL', true);
      failure(codec.onFrame(meta('mg', 'k', ' v O7'), frame('VA 1\r\nx\r\n')), 'ERR_PROTOCOL', true);
      failure(codec.onFrame(meta('mg', 'k', ' v O7'), frame('EN O77\r\n')), 'ERR_PROTOCOL', true);
    });

    it('checks that an ME reply names the key asked for (a forged debug line is fatal)', () => {
      const ok = frame(ME);
      expect(codec.onFrame(meta('me', 'k'), ok)).to.equal(ok);
      failure(codec.onFrame(meta('me', 'other'), frame(ME)), 'ERR_PROTOCOL', true);
    });

    it('checks the key when both carry one (A6)', () => {
      expect(codec.onFrame(meta('mg', 'k1', ' v k'), frame('VA 1 kk1\r\nx\r\n'))).to.not.be.instanceOf(
        FrameFailure,
      );
      expect(codec.onFrame(meta('md', 'k1', ' k'), frame('NF kk1\r\n'))).to.not.be.instanceOf(FrameFailure);
      const f = failure(
        codec.onFrame(meta('mg', 'k1', ' v k'), frame('VA 1 kk2\r\nx\r\n')),
        'ERR_PROTOCOL',
        true,
      );
      expect(f.error.mayHaveExecuted).to.equal(true);
      // Without k in the request, a k in the reply is not checked.
      expect(codec.onFrame(meta('mg', 'k1', ' v'), frame('VA 1\r\nx\r\n'))).to.not.be.instanceOf(
        FrameFailure,
      );
    });

    it('matches base64 and non-ASCII keys by their bytes', () => {
      const b64 = MetaRequest.meta('mg', wireKey(Buffer.from('a'), '', false), ' v k', undefined, true);
      expect(codec.onFrame(b64, frame('VA 1 kYQ== b\r\nA\r\n'))).to.not.be.instanceOf(FrameFailure);
      expect(codec.onFrame(b64, frame('VA 1 ka\r\nA\r\n'))).to.not.be.instanceOf(FrameFailure);
      failure(codec.onFrame(b64, frame('VA 1 kb\r\nA\r\n')), 'ERR_PROTOCOL', true);
      const utf8 = meta('mg', 'ключ', ' k');
      const line = Buffer.from('HD kключ\r\n', 'utf8').toString('latin1');
      expect(codec.onFrame(utf8, frame(line))).to.not.be.instanceOf(FrameFailure);
    });

    it('SERVER_ERROR fails the request and keeps the connection', () => {
      const f = failure(
        codec.onFrame(meta('ms'), frame('SERVER_ERROR out of memory storing object\r\n')),
        'ERR_SERVER_ERROR',
        false,
      );
      expect(f.error.mayHaveExecuted).to.equal(true);
      expect(f.error.message).to.include('out of memory');
    });

    it('SERVER_ERROR object too large for cache is ERR_VALUE_TOO_LARGE; the connection is kept', () => {
      const f = failure(
        codec.onFrame(meta('ms'), frame('SERVER_ERROR object too large for cache\r\n')),
        'ERR_VALUE_TOO_LARGE',
        false,
      );
      expect(f.error.mayHaveExecuted).to.equal(true);
      expect(f.error.message).to.include('object too large');
    });

    it('a value over maxValueSize: one request fails with ERR_RESPONSE_TOO_LARGE, fatal; a batch names its item', () => {
      const over = `VA ${LIMITS.maxValueSize + 1} f0 c1\r\n`;
      failure(codec.onFrame(meta('mg', 'k', ' v f c'), frame(over)), 'ERR_RESPONSE_TOO_LARGE', true);
      const req = batch(meta('mg', 'a', ' v'), meta('mg', 'b', ' v'));
      const [hit] = frames('VA 1 ka O0\r\nx\r\n');
      // what the decoder emits at the header of a value it then reads past (decoder tests)
      const skipped = new MetaFrame(
        'VA',
        `VA ${LIMITS.maxValueSize + 1} kb O1`,
        undefined,
        LIMITS.maxValueSize + 1,
      );
      expect(codec.onFrame(req, hit)).to.equal(MORE);
      expect(codec.onFrame(req, skipped)).to.equal(MORE);
      const replies = codec.onFrame(req, frame('MN\r\n')) as MetaFrame[];
      expect(replies[1].skipped).to.equal(LIMITS.maxValueSize + 1);
      expect(replies[0].skipped).to.equal(-1);
    });

    it('a CLIENT_ERROR that leaves the stream in step fails its request only; the others are fatal', () => {
      const kept = (command: MetaCommand, wire: string, code: string): void => {
        const f = failure(codec.onFrame(meta(command), frame(wire)), code, false);
        expect(f.error.message).to.equal(wire.trim());
      };
      kept('ma', 'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n', 'ERR_NOT_NUMERIC');
      kept('mg', 'CLIENT_ERROR bad command line format\r\n', 'ERR_CLIENT_ERROR');
      kept('ms', 'CLIENT_ERROR invalid flag\r\n', 'ERR_CLIENT_ERROR');
      kept('md', 'CLIENT_ERROR invalid or duplicate flag\r\n', 'ERR_CLIENT_ERROR');
      // after an ms, the data block may have been read as commands
      for (const text of ['bad command line format', 'bad data chunk', 'options flags too long']) {
        failure(codec.onFrame(meta('ms'), frame(`CLIENT_ERROR ${text}\r\n`)), 'ERR_CLIENT_ERROR', true);
      }
      // a text memcached 1.6.18 does not send, and any CLIENT_ERROR inside a quiet batch
      failure(codec.onFrame(meta('ma'), frame('CLIENT_ERROR something new\r\n')), 'ERR_CLIENT_ERROR', true);
      const quiet = batch(meta('ma', 'a'), meta('ma', 'b'));
      const notNumeric = 'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n';
      failure(codec.onFrame(quiet, frame(notNumeric)), 'ERR_CLIENT_ERROR', true);
      // legacy commands are not meta commands
      failure(codec.onFrame(MetaRequest.version(), frame(notNumeric)), 'ERR_CLIENT_ERROR', true);
    });

    it('every ERROR line, and CLIENT_ERROR bad data chunk, are fatal', () => {
      for (const wire of [
        'CLIENT_ERROR bad data chunk\r\n',
        'ERROR\r\n',
        'ERROR Too many open connections\r\n',
        'ERROR: shutdown not enabled\r\n',
      ]) {
        const f = failure(codec.onFrame(meta('mg'), frame(wire)), 'ERR_CLIENT_ERROR', true);
        expect(f.error.mayHaveExecuted).to.equal(true);
      }
    });
  });

  describe('legacy commands', () => {
    it('version resolves the bare version', () => {
      expect(verdicts(MetaRequest.version(), 'VERSION 1.6.18\r\n')).to.deep.equal(['1.6.18']);
      failure(verdicts(MetaRequest.version(), 'VERSION\r\n')[0], 'ERR_PROTOCOL', true);
      failure(verdicts(MetaRequest.version(), 'HD\r\n')[0], 'ERR_PROTOCOL', true);
    });

    it('stats collects STAT lines until END into a null-prototype record (I7)', () => {
      const req = MetaRequest.stats(undefined);
      const out = verdicts(
        req,
        'STAT pid 1\r\nSTAT version 1.6.18\r\nSTAT __proto__ polluted\r\nSTAT constructor x\r\nSTAT empty\r\nEND\r\n',
      );
      expect(out.slice(0, 5)).to.deep.equal([MORE, MORE, MORE, MORE, MORE]);
      const stats = out[5] as Record<string, string>;
      expect(Object.getPrototypeOf(stats)).to.equal(null);
      expect({ ...stats }).to.deep.equal({
        pid: '1',
        version: '1.6.18',
        ['__proto__']: 'polluted',
        constructor: 'x',
        empty: '',
      });
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    });

    it('stats keeps values with spaces and reads detail dump lines', () => {
      const out = verdicts(MetaRequest.stats('detail dump'), 'PREFIX app get 1 hit 0 set 2 del 0\r\nEND\r\n');
      expect({ ...(out[1] as object) }).to.deep.equal({ app: 'get 1 hit 0 set 2 del 0' });
    });

    it('stats: an empty reply, RESET and OK resolve with an empty record', () => {
      for (const wire of ['END\r\n', 'RESET\r\n', 'OK\r\n']) {
        const [result] = verdicts(MetaRequest.stats('reset'), wire);
        expect(Object.getPrototypeOf(result)).to.equal(null);
        expect(Object.keys(result as object)).to.deep.equal([]);
      }
    });

    it('stats: anything else is fatal, an unknown group is a client error', () => {
      failure(verdicts(MetaRequest.stats(undefined), 'STAT a 1\r\nHD\r\n')[1], 'ERR_PROTOCOL', true);
      failure(verdicts(MetaRequest.stats(undefined), 'STAT\r\n')[0], 'ERR_PROTOCOL', true);
      failure(verdicts(MetaRequest.stats('bogus'), 'ERROR\r\n')[0], 'ERR_CLIENT_ERROR', true);
    });

    it('flush_all and verbosity resolve true on OK', () => {
      expect(verdicts(MetaRequest.flushAll(undefined), 'OK\r\n')).to.deep.equal([true]);
      expect(verdicts(MetaRequest.verbosity(1), 'OK\r\n')).to.deep.equal([true]);
      failure(verdicts(MetaRequest.flushAll(5), 'HD\r\n')[0], 'ERR_PROTOCOL', true);
      failure(
        verdicts(MetaRequest.flushAll(5), 'CLIENT_ERROR invalid exptime argument\r\n')[0],
        'ERR_CLIENT_ERROR',
        true,
      );
    });
  });

  describe('auth', () => {
    const password = 's3cr3t-pa55';
    const authCodec = new TestMetaCodec({ ...LIMITS, auth: { username: 'user1', password } });

    it('sends the login first on every connection', () => {
      const [login, ...rest] = authCodec.handshake();
      expect(rest).to.deep.equal([]);
      const bytes = written((out) => authCodec.encode(login, out));
      expect(bytes.toString()).to.equal(`set _ 0 0 17\r\nuser1 ${password}\r\n`);
      expect(authCodec.describe(login)).to.equal('auth');
      expect(codec.handshake()).to.deep.equal([]);
    });

    it('resolves true on STORED', () => {
      expect(verdicts(authCodec.handshake()[0], 'STORED\r\n', authCodec)).to.deep.equal([true]);
    });

    it('fails the connection with ERR_AUTH on anything else, never showing the password', () => {
      for (const wire of [
        'CLIENT_ERROR authentication failure\r\n',
        'CLIENT_ERROR bad authentication token format\r\n',
        `CLIENT_ERROR echo ${password}\r\n`,
        'ERROR\r\n',
        'SERVER_ERROR out of memory\r\n',
        'HD\r\n',
      ]) {
        const f = failure(verdicts(authCodec.handshake()[0], wire, authCodec)[0], 'ERR_AUTH', true);
        expect(f.error.message).to.include('authentication refused by the server');
        expect(f.error.message).to.not.include(password);
        expect(String(f.error.stack)).to.not.include(password);
      }
    });

    it('validates the credentials without echoing them', () => {
      for (const auth of [
        { username: 'a b', password },
        { username: '', password },
        { username: 'u', password: '' },
        { username: 'u\r\n', password },
      ]) {
        const err = thrown(() => new TestMetaCodec({ ...LIMITS, auth }));
        expect(err.code).to.equal('ERR_INVALID_ARGUMENT');
        expect(err.message).to.not.include(password);
      }
    });
  });

  describe('the rest of the contract', () => {
    it('unsolicited replies are protocol errors quoting at most 64 characters', () => {
      const err = codec.unsolicited(frame(`HD O${'x'.repeat(200)}\r\n`));
      expect(err.code).to.equal('ERR_PROTOCOL');
      expect(err.message).to.include('HD');
      expect(err.message.length).to.be.below(140);
    });

    it('describes requests without keys or values', () => {
      expect(codec.describe(meta('mg', 'secret-key'))).to.equal('mg');
      expect(codec.describe(batch(meta('mg'), meta('mg'), meta('mg')))).to.equal('batch of 3 mg');
      expect(codec.describe(batch(meta('mg'), meta('ms')))).to.equal('batch of 2');
      expect(codec.describe(MetaRequest.version())).to.equal('version');
      expect(codec.describe(MetaRequest.stats('items'))).to.equal('stats');
      expect(codec.describe(MetaRequest.flushAll(1))).to.equal('flush_all');
      expect(codec.describe(MetaRequest.verbosity(1))).to.equal('verbosity');
    });

    it('routes meta requests by the key as sent (prefix included), others nowhere', () => {
      const req = MetaRequest.meta('mg', wireKey('k', 'app:', false), '', undefined, true);
      expect(codec.routingKey(req)).to.equal('app:k');
      expect(codec.routingKey(meta('mn'))).to.equal(undefined);
      expect(codec.routingKey(batch(meta('mg')))).to.equal(undefined);
      expect(codec.routingKey(MetaRequest.version())).to.equal(undefined);
    });

    it('reports idempotency, no-reply value, name and a decoder with the limits', () => {
      expect(
        codec.isIdempotent(MetaRequest.meta('ma', wireKey('k', '', false), '', undefined, false)),
      ).to.equal(false);
      expect(codec.isIdempotent(meta('mg'))).to.equal(true);
      expect(codec.noReply(meta('mg'))).to.equal(undefined);
      expect(codec.name).to.equal('memcached-meta');
      const decoder = new TestMetaCodec({ maxValueSize: 4, maxLineLength: 64 }).createDecoder();
      const skipped: number[] = [];
      decoder.feed(Buffer.from('VA 5\r\n'), (f) => skipped.push(f.skipped));
      expect(skipped).to.deep.equal([5]);
    });

    it('encodes through encodeRequest', () => {
      expect(written((out) => codec.encode(meta('mg', 'k', ' v'), out)).toString()).to.equal('mg k v O0\r\n');
    });
  });
});
