/**
 * RedisClient against real redis-server processes (Debian's package) on free loopback ports, on the
 * same engine as the memcached client: keys spread over three servers, pipelines, transactions,
 * RESP3, errors that keep the connection, and a killed server.
 */
import net from 'node:net';
import { expect } from 'chai';
import {
  RedisClient,
  RedisServerError,
  type MemlineError,
  type PartialResultError,
  type RedisClientOptions,
  type RespValue,
} from '../../protocols/redis-resp/index.js';
import { startRedis, type RedisProcess } from '../harness/redis.js';
import { activeResources, snapshotResources, waitFor } from '../harness/resources.js';

const KEYS = Array.from({ length: 600 }, (_, i) => `user:${i}:name`);
const b = (s: string): Buffer => Buffer.from(s, 'latin1');

async function rejection(promise: Promise<unknown>): Promise<MemlineError> {
  try {
    await promise;
  } catch (err) {
    return err as MemlineError;
  }
  throw new Error('expected a rejection');
}

describe('RedisClient over real redis-server processes', function () {
  let servers: RedisProcess[];
  let client: RedisClient;
  const clients: RedisClient[] = [];

  /** A client over the three servers (destroyed after the test). */
  function connect(options: Partial<RedisClientOptions> = {}): RedisClient {
    const c = new RedisClient({ servers: servers.map((s) => s.address), ...options });
    clients.push(c);
    return c;
  }

  before(async () => {
    servers = await Promise.all([startRedis(), startRedis(), startRedis()]);
  });

  after(async () => {
    for (const c of clients) c.destroy();
    await Promise.all(servers.map((s) => s.kill()));
  });

  beforeEach(async () => {
    for (const s of servers) {
      if (!s.running) await s.restart();
      await s.command(['FLUSHALL']);
    }
    client = connect();
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.destroy();
  });

  describe('strings, counters, hashes', () => {
    it('sets and gets bytes as they are, and strings as UTF-8', async () => {
      const value = Buffer.from([0, 13, 10, 0xff, 0x24, 0x2a]);
      expect(await client.set('bin', value)).to.equal(true);
      expect(await client.get('bin')).to.deep.equal(value);
      expect(await client.set('text', 'héllo 😀')).to.equal(true);
      expect((await client.get('text'))?.toString('utf8')).to.equal('héllo 😀');
      expect(await client.get('missing')).to.equal(null);
      const big = Buffer.alloc(1_000_000, 0x61);
      await client.set('big', big);
      expect((await client.get('big'))?.equals(big)).to.equal(true);
    });

    it('set honours EX, PX, NX and XX', async () => {
      expect(await client.set('k', 'v', { ex: 100 })).to.equal(true);
      expect(Number(await client.sendCommand(['TTL', 'k']))).to.be.within(99, 100);
      expect(await client.set('k', 'v', { px: 50_000 })).to.equal(true);
      expect(Number(await client.sendCommand(['PTTL', 'k']))).to.be.within(49_000, 50_000);
      expect(await client.set('k', 'other', { nx: true })).to.equal(false);
      expect(await client.get('k')).to.deep.equal(b('v'));
      expect(await client.set('absent', 'v', { xx: true })).to.equal(false);
      expect(await client.exists('absent')).to.equal(0);
      expect(await client.set('absent', 'v', { nx: true })).to.equal(true);
      for (const bad of [{ ex: 0 }, { ex: 1.5 }, { ex: 1, px: 1 }, { nx: true, xx: true }, { nx: 'yes' }]) {
        const err = await rejection(client.set('k', 'v', bad as object));
        expect(err.code, JSON.stringify(bad)).to.equal('ERR_INVALID_ARGUMENT');
      }
    });

    it('counts with incr, incrBy, decr and decrBy as bigints', async () => {
      expect(await client.incr('n')).to.equal(1n);
      expect(await client.incrBy('n', 41)).to.equal(42n);
      expect(await client.decr('n')).to.equal(41n);
      expect(await client.decrBy('n', 2n ** 40n)).to.equal(41n - 2n ** 40n);
      await client.set('big', String(2n ** 62n));
      expect(await client.incrBy('big', 2n ** 62n - 1n)).to.equal(2n ** 63n - 1n);
      const overflow = await rejection(client.incr('big'));
      expect(overflow.code).to.equal('ERR_SERVER_ERROR');
      expect((overflow as RedisServerError).prefix).to.equal('ERR');
      expect((await rejection(client.incrBy('n', 2n ** 63n))).code).to.equal('ERR_INVALID_ARGUMENT');
    });

    it('keeps hashes: hset, hget, hgetall, hdel, hincrBy', async () => {
      expect(await client.hset('h', 'a', '1')).to.equal(1);
      expect(await client.hset('h', { b: '2', c: Buffer.from([0xff]) })).to.equal(2);
      expect(await client.hset('h', new Map([['a', 'one']]))).to.equal(0);
      expect(await client.hget('h', 'a')).to.deep.equal(b('one'));
      expect(await client.hget('h', 'zz')).to.equal(null);
      expect(await client.hgetall('h')).to.deep.equal(
        new Map([
          ['a', b('one')],
          ['b', b('2')],
          ['c', Buffer.from([0xff])],
        ]),
      );
      expect(await client.hincrBy('h', 'n', 5)).to.equal(5n);
      expect(await client.hdel('h', ['a', 'b', 'nope'])).to.equal(2);
      expect([...(await client.hgetall('h')).keys()].sort()).to.deep.equal(['c', 'n']);
      expect((await client.hgetall('nothing')).size).to.equal(0);
    });

    it('answers a Redis error with ERR_SERVER_ERROR and keeps the connection', async () => {
      await client.set('s', 'a string');
      const server = client.serverFor('s');
      const created = client.metrics.servers.find((m) => m.server === server)!.created;
      const wrongType = await rejection(client.hget('s', 'f'));
      expect(wrongType).to.be.instanceOf(RedisServerError);
      expect(wrongType.code).to.equal('ERR_SERVER_ERROR');
      expect((wrongType as RedisServerError).prefix).to.equal('WRONGTYPE');
      expect(wrongType.server).to.equal(server);
      const notInt = await rejection(client.incr('s'));
      expect((notInt as RedisServerError).prefix).to.equal('ERR');
      // The same connection goes on answering, in step.
      expect(await client.get('s')).to.deep.equal(b('a string'));
      const stats = client.metrics.servers.find((m) => m.server === server)!;
      expect(stats.created).to.equal(created);
      expect(stats.connections).to.equal(1);
    });
  });

  describe('several servers', () => {
    it('spreads keys over every server, each where serverFor says', async () => {
      await Promise.all(KEYS.map((k) => client.set(k, `v:${k}`)));
      const sizes = await Promise.all(servers.map((s) => s.command(['DBSIZE'])));
      const counts = sizes.map((r) => Number(/^:(\d+)/.exec(r.toString('latin1'))![1]));
      expect(counts.reduce((a, n) => a + n, 0)).to.equal(KEYS.length);
      for (const n of counts) expect(n).to.be.within(100, 300);
      // Each server, asked alone, holds exactly the keys the client maps to it.
      for (const s of servers) {
        const alone = new RedisClient({ servers: [s.address] });
        clients.push(alone);
        const held = await alone.mget(KEYS);
        expect([...held.keys()].sort()).to.deep.equal(
          KEYS.filter((k) => client.serverFor(k) === s.address).sort(),
        );
      }
    });

    it('mget splits by server and returns every hit, misses absent', async () => {
      await Promise.all(KEYS.slice(0, 400).map((k) => client.set(k, `v:${k}`)));
      const got = await client.mget([...KEYS, KEYS[0]]);
      expect(got.size).to.equal(400);
      for (const [k, v] of got) expect(v.toString()).to.equal(`v:${k}`);
      expect((await client.mget([])).size).to.equal(0);
    });

    it('del and exists count over every server', async () => {
      await Promise.all(KEYS.slice(0, 100).map((k) => client.set(k, 'x')));
      expect(await client.exists(KEYS.slice(0, 150))).to.equal(100);
      expect(await client.exists([KEYS[0], KEYS[0]])).to.equal(2);
      expect(await client.del(KEYS.slice(50, 150))).to.equal(50);
      expect(await client.exists(KEYS.slice(0, 150))).to.equal(50);
      expect(await client.del('nope')).to.equal(0);
    });

    it('correlates 10,000 concurrent requests with their replies', async () => {
      const keys = Array.from({ length: 2000 }, (_, i) => `c:${i}`);
      await Promise.all(keys.map((k) => client.set(k, k)));
      const reads = Array.from({ length: 10_000 }, (_, i) => keys[(i * 7919) % keys.length]);
      const values = await Promise.all(reads.map((k) => client.get(k)));
      values.forEach((v, i) => expect(v?.toString()).to.equal(reads[i]));
    });

    it('with one server killed, mget fails only its keys: ERR_PARTIAL_RESULT', async () => {
      await Promise.all(KEYS.map((k) => client.set(k, `v:${k}`)));
      const dead = servers[2];
      await dead.kill();
      const onDead = new Set(KEYS.filter((k) => client.serverFor(k) === dead.address));
      expect(onDead.size).to.be.greaterThan(100);

      const err = (await rejection(client.mget(KEYS))) as PartialResultError<Map<string, Buffer>>;
      expect(err.code).to.equal('ERR_PARTIAL_RESULT');
      expect(err.results.size).to.equal(KEYS.length - onDead.size);
      expect([...err.errors.keys()].sort()).to.deep.equal([...onDead].sort());
      for (const e of err.errors.values()) {
        expect(e.code).to.equal('ERR_CONNECTION');
        expect(e.server).to.equal(dead.address);
      }
      const single = await rejection(client.get([...onDead][0]));
      expect(['ERR_CONNECTION', 'ERR_CIRCUIT_OPEN']).to.include(single.code);
      const alive = KEYS.find((k) => !onDead.has(k))!;
      expect((await client.get(alive))?.toString()).to.equal(`v:${alive}`);
      const counted = (await rejection(client.del(KEYS))) as PartialResultError<number>;
      expect(counted.code).to.equal('ERR_PARTIAL_RESULT');
      expect(counted.results).to.equal(KEYS.length - onDead.size);

      // After it comes back, its keys are served by it again (empty now: it saved nothing).
      await dead.restart();
      const key = [...onDead][0];
      let value: Buffer | null | MemlineError = null;
      for (const deadline = Date.now() + 8000; Date.now() < deadline;) {
        value = await client.set(key, 'back').then(
          () => client.get(key),
          (e: MemlineError) => e,
        );
        if (Buffer.isBuffer(value)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(value).to.deep.equal(b('back'));
      expect((await servers[2].command(['GET', key])).toString()).to.equal('$4\r\nback\r\n');
    });

    it('a request in flight when its server dies rejects with ERR_CONNECTION', async () => {
      const key = KEYS.find((k) => client.serverFor(k) === servers[0].address)!;
      await client.set(key, '1');
      await servers[0].pause();
      const pending = rejection(client.incr(key, { timeout: 5000 }));
      await new Promise((resolve) => setTimeout(resolve, 50)); // written, waiting for its reply
      await servers[0].kill();
      const err = await pending;
      expect(err.code).to.equal('ERR_CONNECTION');
      expect(err.mayHaveExecuted).to.equal(true); // an INCR is not sent again: it may have run
    });
  });

  describe('pipelines and transactions', () => {
    it('pipeline: replies in order, commands spread over the servers', async () => {
      const commands = KEYS.slice(0, 60).flatMap((k, i) => [
        ['SET', k, String(i)],
        ['INCR', k],
        ['GET', k],
      ]);
      const replies = await client.pipeline([['PING'], ...commands]);
      expect(replies[0]).to.equal('PONG');
      for (let i = 0; i < 60; i++) {
        expect(replies.slice(1 + 3 * i, 4 + 3 * i)).to.deep.equal(['OK', BigInt(i + 1), b(String(i + 1))]);
      }
      const servers = new Set(KEYS.slice(0, 60).map((k) => client.serverFor(k)));
      expect(servers.size).to.equal(3);
      expect(await client.pipeline([])).to.deep.equal([]);
    });

    it('pipeline: an error reply fails only its command (ERR_PARTIAL_RESULT)', async () => {
      await client.set('str', 'x');
      const err = (await rejection(
        client.pipeline([['GET', 'str'], ['HGET', 'str', 'f'], ['NOSUCHCOMMAND'], ['SET', 'after', 'y']]),
      )) as PartialResultError<(RespValue | undefined)[]>;
      expect(err.code).to.equal('ERR_PARTIAL_RESULT');
      expect(err.results).to.deep.equal([b('x'), undefined, undefined, 'OK']);
      expect([...err.errors.keys()].sort()).to.deep.equal(['1', '2']); // parts answer in any order
      expect((err.errors.get('1') as RedisServerError).prefix).to.equal('WRONGTYPE');
      expect((err.errors.get('2') as RedisServerError).prefix).to.equal('ERR');
      expect(await client.get('after')).to.deep.equal(b('y'));
    });

    it('multi: applied together, on the server of its keys', async () => {
      const replies = await client.multi(
        [
          ['SET', 'acct:1', '100'],
          ['INCRBY', 'acct:1', 5],
          ['GET', 'acct:1'],
        ],
        { routingKey: 'acct' },
      );
      expect(replies).to.deep.equal(['OK', 105n, b('105')]);
      const on = new RedisClient({ servers: [client.serverFor('acct')] });
      clients.push(on);
      expect(await on.get('acct:1')).to.deep.equal(b('105'));
    });

    it('multi: refuses keys on several servers, and reports what failed', async () => {
      const [a, c] = [KEYS[0], KEYS.find((k) => client.serverFor(k) !== client.serverFor(KEYS[0]))!];
      const spread = await rejection(
        client.multi([
          ['SET', a, '1'],
          ['SET', c, '1'],
        ]),
      );
      expect(spread.code).to.equal('ERR_INVALID_ARGUMENT');
      const aborted = await rejection(client.multi([['SET', a, '1'], ['NOSUCHCOMMAND']], { routingKey: a }));
      expect(aborted.code).to.equal('ERR_SERVER_ERROR');
      expect(aborted.message).to.include('unknown command');
      expect(await client.exists(a)).to.equal(0); // nothing ran
      await client.set(a, 'str');
      const partial = (await rejection(
        client.multi([
          ['INCR', a],
          ['SET', a, '7'],
        ]),
      )) as PartialResultError<RespValue[]>;
      expect(partial.code).to.equal('ERR_PARTIAL_RESULT');
      expect(partial.results).to.deep.equal([undefined, 'OK']);
      expect(await client.get(a)).to.deep.equal(b('7'));
    });

    it('sendCommand sends any command and refuses the ones that break the connection', async () => {
      expect(await client.sendCommand(['PING'])).to.equal('PONG');
      expect(await client.sendCommand(['ECHO', Buffer.from([1, 2])])).to.deep.equal(Buffer.from([1, 2]));
      expect(await client.sendCommand(['RPUSH', 'list', 'a', 'b', 1])).to.equal(3n);
      expect(await client.sendCommand(['LRANGE', 'list', 0, -1])).to.deep.equal([b('a'), b('b'), b('1')]);
      const sizes = await Promise.all(
        servers.map((s) => client.sendCommand(['DBSIZE'], { server: s.address })),
      );
      expect(sizes.reduce((a, n) => (a as bigint) + (n as bigint), 0n)).to.equal(1n);
      for (const args of [
        ['SUBSCRIBE', 'ch'],
        ['MULTI'],
        ['SELECT', 1],
        ['BLPOP', 'list', 0],
        ['CLIENT', 'REPLY', 'OFF'],
      ]) {
        expect((await rejection(client.sendCommand(args))).code, args.join(' ')).to.equal(
          'ERR_INVALID_ARGUMENT',
        );
      }
      for (const bad of [[], [1, 2], [{}], ['GET', null], ['SET', 'k', NaN]]) {
        const err = await rejection(client.sendCommand(bad as never));
        expect(err.code, JSON.stringify(bad)).to.equal('ERR_INVALID_ARGUMENT');
      }
      expect((await rejection(client.sendCommand(['PING'], { server: '127.0.0.1:1' }))).code).to.equal(
        'ERR_INVALID_ARGUMENT',
      );
    });
  });

  describe('protocol, authentication, database', () => {
    it('speaks RESP3 after HELLO 3: maps, doubles, nulls', async () => {
      const resp3 = connect({ protocol: 3 });
      await resp3.hset('h', { a: '1', b: '2' });
      expect(await resp3.hgetall('h')).to.deep.equal(
        new Map([
          ['a', b('1')],
          ['b', b('2')],
        ]),
      );
      expect(await resp3.sendCommand(['HGETALL', 'h'])).to.be.instanceOf(Map);
      expect(await resp3.get('nope')).to.equal(null);
      await resp3.sendCommand(['ZADD', 'z', '1.5', 'm']);
      expect(await resp3.sendCommand(['ZSCORE', 'z', 'm'])).to.equal(1.5);
      expect(await resp3.sendCommand(['SMEMBERS', 'nope'])).to.deep.equal(new Set());
      expect(await resp3.mget(['h', 'nope'])).to.be.instanceOf(Map);
    });

    it('logs in with auth, and fails with ERR_AUTH without it or with a wrong password', async () => {
      const locked = await startRedis({ args: ['--requirepass', 'sesame'] });
      try {
        for (const protocol of [2, 3] as const) {
          const ok = new RedisClient({ servers: [locked.address], protocol, auth: { password: 'sesame' } });
          clients.push(ok);
          expect(await ok.set('k', 'v')).to.equal(true);
          expect(await ok.get('k')).to.deep.equal(b('v'));
          const wrong = new RedisClient({ servers: [locked.address], protocol, auth: { password: 'nope' } });
          clients.push(wrong);
          const refused = await rejection(wrong.get('k'));
          expect(refused.code, `RESP${protocol}`).to.equal('ERR_AUTH');
          expect(refused.message).to.not.include('nope');
        }
        const anonymous = new RedisClient({ servers: [locked.address] });
        clients.push(anonymous);
        expect((await rejection(anonymous.get('k'))).code).to.equal('ERR_AUTH');
      } finally {
        await locked.kill();
      }
    });

    it('selects the database on every connection', async () => {
      const db3 = connect({ database: 3 });
      await db3.set('where', 'three');
      expect(await db3.get('where')).to.deep.equal(b('three'));
      expect(await client.get('where')).to.equal(null);
    });
  });

  describe('deadlines, hostile servers, lifecycle', () => {
    it('a silent server gives ERR_TIMEOUT by the deadline; its late reply is thrown away', async () => {
      const key = KEYS.find((k) => client.serverFor(k) === servers[1].address)!;
      await client.set(key, 'x');
      await servers[1].pause();
      const started = performance.now();
      const err = await rejection(client.get(key, { timeout: 200 }));
      expect(err.code).to.equal('ERR_TIMEOUT');
      expect(performance.now() - started).to.be.below(450);
      servers[1].resume();
      // The late reply of the timed-out GET goes nowhere; the connection is in step.
      expect(await client.get(key)).to.deep.equal(b('x'));
    });

    it('a server sending a giant bulk size or garbage gives memline errors, not a crash', async () => {
      for (const [reply, code] of [
        ['$99999999999\r\n', 'ERR_RESPONSE_TOO_LARGE'],
        ['*1\r\n'.repeat(100), 'ERR_PROTOCOL'],
        ['HTTP/1.1 400 Bad Request\r\n\r\n', 'ERR_PROTOCOL'],
        [':1\r\n', 'ERR_PROTOCOL'], // an integer for a GET: out of step
      ] as const) {
        const hostile = net.createServer((socket) => socket.once('data', () => socket.write(reply)));
        await new Promise<void>((resolve) => hostile.listen({ host: '127.0.0.1', port: 0 }, resolve));
        const { port } = hostile.address() as net.AddressInfo;
        const c = new RedisClient({ servers: [`127.0.0.1:${port}`] });
        clients.push(c);
        const err = await rejection(c.get('k'));
        expect(err.code, JSON.stringify(reply)).to.equal(code);
        c.destroy();
        hostile.close();
      }
    });

    it('validates before any I/O', async () => {
      for (const call of [
        () => client.get(42 as unknown as string),
        () => client.set('k', 42 as unknown as string),
        () => client.hset('h', {}),
        () => client.hdel('h', []),
        () => client.incrBy('k', 1.5),
        () => client.get('k', { timeout: -1 }),
        () => client.mget(42 as unknown as string[]),
      ]) {
        const err = await rejection(call());
        expect(['ERR_INVALID_KEY', 'ERR_INVALID_ARGUMENT']).to.include(err.code);
        expect(err.mayHaveExecuted).to.equal(false);
      }
      const small = connect({ maxValueSize: 10 });
      expect((await rejection(small.set('k', 'x'.repeat(11)))).code).to.equal('ERR_VALUE_TOO_LARGE');
      expect(client.metrics.servers.every((m) => m.created === 0)).to.equal(true);
      expect(() => new RedisClient({ servers: [], protocol: 2 }))
        .to.throw()
        .with.property('code', 'ERR_INVALID_ARGUMENT');
      expect(() => new RedisClient({ servers: ['127.0.0.1:1'], protocol: 4 as 2 }))
        .to.throw()
        .with.property('code', 'ERR_INVALID_ARGUMENT');
    });

    it('close() finishes what is in flight, then leaves no socket or timer', async () => {
      const baseline = await snapshotResources();
      const c = new RedisClient({ servers: servers.map((s) => s.address) });
      await c.set('k', 'v');
      const inflight = c.get('k');
      await c.close();
      expect(await inflight).to.deep.equal(b('v'));
      expect((await rejection(c.get('k'))).code).to.equal('ERR_CLIENT_CLOSED');
      await waitFor(() => activeResources(baseline).length === 0);
    });
  });
});
