import { expect } from 'chai';
import { FrameFailure, MORE } from '../../../lib/codec.js';
import { MemlineError } from '../../../lib/errors.js';
import { type RespCodecOptions } from '../../../protocols/redis-resp/codec.js';
import { COMMANDS, refusal, specOf } from '../../../protocols/redis-resp/commands.js';
import type { RedisArg } from '../../../protocols/redis-resp/encoder.js';
import { RedisServerError } from '../../../protocols/redis-resp/errors.js';
import { RedisRequest } from '../../../protocols/redis-resp/request.js';
import { RespError, type RespValue } from '../../../protocols/redis-resp/values.js';
import { LIMITS, TestRespCodec, command, decode, written } from './helpers.js';

const codec = (options: Partial<RespCodecOptions> = {}): TestRespCodec =>
  new TestRespCodec({ ...LIMITS, protocol: 2, ...options });
const b = (s: string): Buffer => Buffer.from(s, 'latin1');
/** The one value `wire` decodes to. */
const reply = (wire: string): RespValue => {
  const out = decode([b(wire)]);
  if (out.values.length !== 1 || out.error !== undefined) throw new Error(`bad fixture ${wire}`);
  return out.values[0];
};

function failure(verdict: unknown): FrameFailure {
  expect(verdict).to.be.instanceOf(FrameFailure);
  return verdict as FrameFailure;
}

describe('RespCodec', () => {
  describe('one command, one reply', () => {
    it('resolves a command with its reply', () => {
      const c = codec();
      expect(c.onFrame(RedisRequest.command(['GET', 'k']), reply('$2\r\nhi\r\n'))).to.deep.equal(b('hi'));
      expect(c.onFrame(RedisRequest.command(['GET', 'k']), reply('$-1\r\n'))).to.equal(null);
      expect(c.onFrame(RedisRequest.command(['INCR', 'k']), reply(':5\r\n'))).to.equal(5n);
      expect(c.onFrame(RedisRequest.command(['SET', 'k', 'v']), reply('+OK\r\n'))).to.equal('OK');
    });

    it('fails only its command on an error reply: a Redis error is a result, the stream is in step', () => {
      const verdict = failure(
        codec().onFrame(
          RedisRequest.command(['INCR', 'k']),
          reply('-WRONGTYPE Operation against a key holding the wrong kind of value\r\n'),
        ),
      );
      expect(verdict.fatal).to.equal(false);
      expect(verdict.error.code).to.equal('ERR_SERVER_ERROR');
      expect(verdict.error).to.be.instanceOf(RedisServerError);
      expect((verdict.error as RedisServerError).prefix).to.equal('WRONGTYPE');
      expect(verdict.error.message).to.match(/^WRONGTYPE Operation/);
    });

    it('makes NOAUTH an ERR_AUTH, still not fatal', () => {
      const verdict = failure(
        codec().onFrame(RedisRequest.command(['GET', 'k']), reply('-NOAUTH Authentication required.\r\n')),
      );
      expect(verdict.fatal).to.equal(false);
      expect(verdict.error.code).to.equal('ERR_AUTH');
    });

    it('treats a bulk error like an error line', () => {
      const verdict = failure(
        codec().onFrame(RedisRequest.command(['GET', 'k']), reply('!9\r\nERR oops!\r\n')),
      );
      expect(verdict.fatal).to.equal(false);
      expect((verdict.error as RedisServerError).prefix).to.equal('ERR');
    });

    it('is out of step on a reply its command cannot answer with: fatal', () => {
      const cases: [RedisArg[], string][] = [
        [['GET', 'k'], ':1\r\n'],
        [['INCR', 'k'], '$1\r\n1\r\n'],
        [['SET', 'k', 'v'], ':1\r\n'],
        [['HGETALL', 'k'], '+OK\r\n'],
        [['MGET', 'a', 'b', 'c'], '*2\r\n$-1\r\n$-1\r\n'],
        [['HMGET', 'h', 'f1', 'f2'], '*1\r\n$-1\r\n'],
      ];
      for (const [args, wire] of cases) {
        const verdict = failure(codec().onFrame(RedisRequest.command(args), reply(wire)));
        expect(verdict.fatal, JSON.stringify(wire)).to.equal(true);
        expect(verdict.error.code).to.equal('ERR_PROTOCOL');
        expect(verdict.error.message).to.include('out of step').and.not.include('"k"');
      }
    });

    it('accepts the RESP3 forms of replies', () => {
      const c = codec({ protocol: 3 });
      const map = reply('%1\r\n$1\r\nf\r\n$1\r\nv\r\n');
      expect(c.onFrame(RedisRequest.command(['HGETALL', 'h']), map)).to.equal(map);
      expect(c.onFrame(RedisRequest.command(['GET', 'k']), reply('_\r\n'))).to.equal(null);
      expect(c.onFrame(RedisRequest.command(['ZSCORE', 'z', 'm']), reply(',1.5\r\n'))).to.equal(1.5);
    });

    it('accepts any reply to a command it does not know', () => {
      for (const wire of [':1\r\n', '*0\r\n', '+OK\r\n', '%0\r\n']) {
        expect(
          codec().onFrame(RedisRequest.command(['OBJECT', 'ENCODING', 'k']), reply(wire)),
        ).to.not.be.instanceOf(FrameFailure);
      }
    });

    it('calls a reply with no command pending a protocol error', () => {
      const err = codec().unsolicited(reply(':1\r\n'));
      expect(err.code).to.equal('ERR_PROTOCOL');
      expect(err.message).to.include('integer');
    });
  });

  describe('pipelines and transactions: one reply per command, MORE until all are in', () => {
    it('collects a pipeline, keeping error replies as data', () => {
      const c = codec();
      const req = RedisRequest.pipeline([
        ['SET', 'a', '1'],
        ['INCR', 'h'],
        ['GET', 'a'],
      ]);
      written((out) => c.encode(req, out));
      expect(c.onFrame(req, reply('+OK\r\n'))).to.equal(MORE);
      expect(c.onFrame(req, reply('-WRONGTYPE no\r\n'))).to.equal(MORE);
      expect(c.onFrame(req, reply('$1\r\n1\r\n'))).to.deep.equal([
        'OK',
        new RespError('WRONGTYPE no'),
        b('1'),
      ]);
    });

    it('encodes a pipeline as its commands back to back', () => {
      const req = RedisRequest.pipeline([
        ['SET', 'a', '1'],
        ['GET', 'a'],
      ]);
      expect(written((out) => codec().encode(req, out))).to.deep.equal(
        Buffer.concat([command('SET', 'a', '1'), command('GET', 'a')]),
      );
    });

    it('checks each reply of a pipeline against its own command', () => {
      const c = codec();
      const req = RedisRequest.pipeline([
        ['GET', 'a'],
        ['INCR', 'b'],
      ]);
      written((out) => c.encode(req, out));
      expect(c.onFrame(req, reply('$-1\r\n'))).to.equal(MORE);
      expect(failure(c.onFrame(req, reply('$1\r\nx\r\n'))).fatal).to.equal(true);
    });

    it('starts over when the request is written again on another connection', () => {
      const c = codec();
      const req = RedisRequest.pipeline([
        ['GET', 'a'],
        ['GET', 'b'],
      ]);
      written((out) => c.encode(req, out));
      expect(c.onFrame(req, reply('$1\r\n1\r\n'))).to.equal(MORE);
      // The connection died here; the engine sends the (idempotent) pipeline again.
      written((out) => c.encode(req, out));
      expect(c.onFrame(req, reply('$1\r\nA\r\n'))).to.equal(MORE);
      expect(c.onFrame(req, reply('$1\r\nB\r\n'))).to.deep.equal([b('A'), b('B')]);
    });

    it('wraps a transaction in MULTI and EXEC and resolves with EXEC results', () => {
      const c = codec();
      const req = RedisRequest.transaction([
        ['INCR', 'n'],
        ['GET', 'n'],
      ]);
      expect(written((out) => c.encode(req, out))).to.deep.equal(
        Buffer.concat([command('MULTI'), command('INCR', 'n'), command('GET', 'n'), command('EXEC')]),
      );
      expect(c.onFrame(req, reply('+OK\r\n'))).to.equal(MORE);
      expect(c.onFrame(req, reply('+QUEUED\r\n'))).to.equal(MORE);
      expect(c.onFrame(req, reply('+QUEUED\r\n'))).to.equal(MORE);
      expect(c.onFrame(req, reply('*2\r\n:1\r\n$1\r\n1\r\n'))).to.deep.equal([1n, b('1')]);
    });

    it('fails a transaction that could not be queued with the queueing error, not fatally', () => {
      const c = codec();
      const req = RedisRequest.transaction([['NOSUCH'], ['GET', 'n']]);
      written((out) => c.encode(req, out));
      c.onFrame(req, reply('+OK\r\n'));
      expect(c.onFrame(req, reply("-ERR unknown command 'NOSUCH'\r\n"))).to.equal(MORE);
      expect(c.onFrame(req, reply('+QUEUED\r\n'))).to.equal(MORE);
      const verdict = failure(
        c.onFrame(req, reply('-EXECABORT Transaction discarded because of previous errors.\r\n')),
      );
      expect(verdict.fatal).to.equal(false);
      expect(verdict.error.message).to.include('unknown command');
    });

    it('is out of step on a transaction reply that does not fit', () => {
      const c = codec();
      const req = RedisRequest.transaction([['GET', 'n']]);
      written((out) => c.encode(req, out));
      expect(failure(c.onFrame(req, reply('+QUEUED\r\n'))).fatal).to.equal(true);
      const again = RedisRequest.transaction([['GET', 'n']]);
      written((out) => c.encode(again, out));
      c.onFrame(again, reply('+OK\r\n'));
      c.onFrame(again, reply('+QUEUED\r\n'));
      expect(failure(c.onFrame(again, reply('*2\r\n:1\r\n:2\r\n'))).fatal).to.equal(true);
    });
  });

  describe('handshake', () => {
    const steps = (c: TestRespCodec): Buffer =>
      written((out) => {
        for (const req of c.handshake({ server: 'h:1', tls: false })) c.encode(req, out);
      });

    it('sends nothing for RESP2 without credentials or database', () => {
      expect(codec().handshake({ server: 'h:1', tls: false })).to.deep.equal([]);
    });

    it('sends AUTH for RESP2, HELLO 3 for RESP3, then SELECT', () => {
      expect(steps(codec({ auth: { password: 'pw' } }))).to.deep.equal(command('AUTH', 'pw'));
      expect(steps(codec({ auth: { username: 'u', password: 'pw' }, database: 2 }))).to.deep.equal(
        Buffer.concat([command('AUTH', 'u', 'pw'), command('SELECT', '2')]),
      );
      expect(steps(codec({ protocol: 3 }))).to.deep.equal(command('HELLO', '3'));
      expect(steps(codec({ protocol: 3, auth: { password: 'pw' } }))).to.deep.equal(
        command('HELLO', '3', 'AUTH', 'default', 'pw'),
      );
    });

    it('accepts the expected replies', () => {
      const c = codec({ protocol: 3, auth: { password: 'pw' }, database: 1 });
      const [hello, select] = c.handshake({ server: 'h:1', tls: false });
      expect(c.onFrame(hello, reply('%1\r\n$5\r\nproto\r\n:3\r\n'))).to.be.instanceOf(Map);
      expect(c.onFrame(select, reply('+OK\r\n'))).to.equal(true);
      const [auth] = codec({ auth: { password: 'pw' } }).handshake({ server: 'h:1', tls: false });
      expect(codec().onFrame(auth, reply('+OK\r\n'))).to.equal(true);
    });

    it('fails the connection on a refused login, never quoting the reply', () => {
      const c = codec({ protocol: 3, auth: { password: 'secret-pw' } });
      const [hello] = c.handshake({ server: 'h:1', tls: false });
      const refused = failure(c.onFrame(hello, reply('-WRONGPASS invalid username-password pair\r\n')));
      expect(refused.fatal).to.equal(true);
      expect(refused.error.code).to.equal('ERR_AUTH');
      // A server that echoes what it was sent answers with the HELLO command itself.
      const echo = failure(
        c.onFrame(hello, reply(command('HELLO', '3', 'AUTH', 'default', 'secret-pw').toString('latin1'))),
      );
      expect(echo.fatal).to.equal(true);
      expect(echo.error.message).to.not.include('secret-pw');
      const [auth] = codec({ auth: { password: 'secret-pw' } }).handshake({ server: 'h:1', tls: false });
      const wrong = failure(codec().onFrame(auth, reply('-ERR invalid password secret-pw\r\n')));
      expect(wrong.error.code).to.equal('ERR_AUTH');
      expect(wrong.error.message).to.not.include('secret-pw');
    });

    it('says what to do when the server does not know HELLO', () => {
      const c = codec({ protocol: 3 });
      const [hello] = c.handshake({ server: 'h:1', tls: false });
      const verdict = failure(c.onFrame(hello, reply("-ERR unknown command 'HELLO'\r\n")));
      expect(verdict.fatal).to.equal(true);
      expect(verdict.error.message).to.include('protocol: 2');
    });

    it('refuses bad options with ERR_INVALID_ARGUMENT', () => {
      for (const bad of [
        { protocol: 4 as 2 },
        { database: -1 },
        { database: 1.5 },
        { auth: { password: 1 as unknown as string } },
      ]) {
        expect(() => codec(bad))
          .to.throw(MemlineError)
          .with.property('code', 'ERR_INVALID_ARGUMENT');
      }
    });
  });

  describe('the command table', () => {
    it('says which commands may be retried', () => {
      const idempotent = (...args: RedisArg[]): boolean => codec().isIdempotent(RedisRequest.command(args));
      for (const args of [
        ['GET', 'k'],
        ['MGET', 'a', 'b'],
        ['EXISTS', 'k'],
        ['TTL', 'k'],
        ['HGET', 'h', 'f'],
        ['HGETALL', 'h'],
        ['SET', 'k', 'v'],
        ['SET', 'k', 'v', 'EX', 10],
        ['get', 'k'],
      ]) {
        expect(idempotent(...args), args.join(' ')).to.equal(true);
      }
      for (const args of [
        ['INCR', 'k'],
        ['INCRBY', 'k', 2],
        ['HINCRBY', 'h', 'f', 1],
        ['APPEND', 'k', 'v'],
        ['LPUSH', 'l', 'v'],
        ['SET', 'k', 'v', 'NX'],
        ['SET', 'k', 'v', 'xx'],
        ['SET', 'k', 'v', 'GET'],
        ['NOSUCH', 'k'],
      ]) {
        expect(idempotent(...args), args.join(' ')).to.equal(false);
      }
      expect(
        codec().isIdempotent(
          RedisRequest.pipeline([
            ['GET', 'a'],
            ['SET', 'b', 'v'],
          ]),
        ),
      ).to.equal(true);
      expect(
        codec().isIdempotent(
          RedisRequest.pipeline([
            ['GET', 'a'],
            ['INCR', 'b'],
          ]),
        ),
      ).to.equal(false);
    });

    it('routes by the first key', () => {
      const key = (...args: RedisArg[]): string | undefined => codec().routingKey(RedisRequest.command(args));
      expect(key('GET', 'user:1')).to.equal('user:1');
      expect(key('MGET', 'a', 'b')).to.equal('a');
      expect(key('HSET', 'h', 'f', 'v')).to.equal('h');
      expect(key('PING')).to.equal(undefined);
      expect(key('FLUSHDB')).to.equal(undefined);
      expect(key('GET', Buffer.from('é'))).to.equal('é'); // a Buffer key routes as its UTF-8 text
      expect(key('NOSUCH', 'k', 'x')).to.equal('k'); // unknown: the second word
      expect(codec().routingKey(RedisRequest.pipeline([['PING'], ['GET', 'x']]))).to.equal('x');
    });

    it('describes a request without its keys or values', () => {
      const c = codec({ protocol: 3, auth: { password: 'pw' } });
      expect(c.describe(RedisRequest.command(['GET', 'secret-key']))).to.equal('get');
      expect(c.describe(RedisRequest.command([Buffer.from('\r\nEVIL'), 'k']))).to.equal('command');
      expect(
        c.describe(
          RedisRequest.pipeline([
            ['GET', 'a'],
            ['GET', 'b'],
            ['GET', 'c'],
          ]),
        ),
      ).to.equal('pipeline of 3');
      expect(c.describe(RedisRequest.transaction([['GET', 'a']]))).to.equal('transaction of 1');
      expect(c.describe(c.handshake({ server: 'h:1', tls: false })[0])).to.equal('hello');
    });

    it('refuses commands that break one reply per command or per-connection state', () => {
      const refused = (...args: RedisArg[]): boolean =>
        refusal(specOf(String(args[0]).toUpperCase()), args) !== undefined;
      for (const args of [
        ['SUBSCRIBE', 'c'],
        ['MULTI'],
        ['EXEC'],
        ['WATCH', 'k'],
        ['SELECT', 1],
        ['HELLO', 3],
        ['AUTH', 'p'],
        ['BLPOP', 'l', 0],
        ['MONITOR'],
        ['CLIENT', 'REPLY', 'OFF'],
        ['client', 'tracking', 'on'],
        ['XREAD', 'BLOCK', 0, 'STREAMS', 's', '$'],
      ]) {
        expect(refused(...args), args.join(' ')).to.equal(true);
      }
      for (const args of [
        ['GET', 'k'],
        ['CLIENT', 'SETNAME', 'x'],
        ['XREAD', 'STREAMS', 's', '0'],
        ['NOSUCH'],
      ]) {
        expect(refused(...args), args.join(' ')).to.equal(false);
      }
    });

    it('lists only commands whose key position and replies are consistent', () => {
      for (const [name, spec] of Object.entries(COMMANDS)) {
        expect(name, name).to.equal(name.toUpperCase());
        expect(spec.key, name).to.be.at.least(0);
        if (spec.onePerArgFrom !== undefined) expect(spec.replies, name).to.deep.equal(['array']);
      }
    });
  });
});
