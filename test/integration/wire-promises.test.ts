/**
 * Promises about the wire that real users and misbehaving servers put to the test: replies are
 * verified against their requests (scripted servers that answer out of turn), errors that leave the
 * stream in step are not fatal, and the value-size boundary is the server's (real memcached 1.6.18).
 */
import { expect } from 'chai';
import {
  MemcacheClient,
  type MemlineError,
  type PartialResultError,
} from '../../protocols/memcached-meta/index.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';
import { memcachedWithClients } from '../harness/memcached-clients.js';
import { rejection } from '../harness/rejection.js';
import {
  startScriptedServer,
  type ScriptedConnection,
  type ScriptedServer,
} from '../harness/scripted-server.js';

describe('wire promises', function () {
  describe('against real memcached 1.6.18', () => {
    const server = memcachedWithClients();
    const client = (): MemcacheClient => server.client();

    it('incr on a non-numeric value is ERR_NOT_NUMERIC; the 100 calls pipelined beside it succeed on the same connection', async () => {
      const c = client();
      await c.set('wire:text', 'not a number');
      await c.set('wire:n', '5');
      const calls = Array.from({ length: 100 }, (_, i) =>
        i % 2 === 0 ? c.get('wire:n').then((item) => item?.value.toString()) : c.incr('wire:n', 0),
      );
      const bad = rejection(c.incr('wire:text'));
      const decr = rejection(c.decr('wire:text', 2));
      const after = Array.from({ length: 100 }, () => c.get('wire:n').then((item) => item?.value.toString()));
      const err = await bad;
      expect(err.code).to.equal('ERR_NOT_NUMERIC');
      expect(err.server).to.equal(server.mc.address);
      expect((await decr).code).to.equal('ERR_NOT_NUMERIC');
      for (const v of await Promise.all([...calls, ...after])) expect(String(v)).to.equal('5');
      expect(c.metrics.total.created).to.equal(1);
      expect(c.metrics.total.reconnects).to.equal(0);
      // the value is untouched
      expect((await c.get('wire:text'))!.value.toString()).to.equal('not a number');
    });

    it('the default value-size check is what a default server stores: 1,048,263 bytes under a 250-byte key with flags', async () => {
      const c = client();
      const key = 'k'.repeat(250);
      await c.set(key, Buffer.alloc(1_048_263, 0x61), { flags: 1 });
      const item = (await c.get(key))!;
      expect(item.value.length).to.equal(1_048_263);
      expect(item.flags).to.equal(1);
      await c.set('wire:million', Buffer.alloc(1_000_000, 0x62));
      expect((await c.get('wire:million'))!.value.length).to.equal(1_000_000);
      // one byte more is refused before any I/O, and the stored item is untouched
      const err = await rejection(c.set(key, Buffer.alloc(1_048_264), { flags: 1 }));
      expect(err.code).to.equal('ERR_VALUE_TOO_LARGE');
      expect(err.mayHaveExecuted).to.equal(false);
      expect((await c.get(key))!.value.length).to.equal(1_048_263);
    });

    it('SERVER_ERROR object too large for cache is ERR_VALUE_TOO_LARGE, and the connection is kept', async () => {
      const c = server.client({ maxValueSize: 2 * 1024 * 1024 });
      await c.set('wire:old', 'old value');
      const pipelined = Array.from({ length: 20 }, () => c.get('wire:old'));
      const err = await rejection(c.set('wire:old', Buffer.alloc(1024 * 1024)));
      expect(err.code).to.equal('ERR_VALUE_TOO_LARGE');
      expect(err.mayHaveExecuted).to.equal(true);
      expect(err.server).to.equal(server.mc.address);
      for (const item of await Promise.all(pipelined)) expect(item!.value.toString()).to.equal('old value');
      // memcached drops the old item when it refuses the new one
      expect(await c.get('wire:old')).to.equal(null);
      expect(c.metrics.total.created).to.equal(1);
    });
  });

  describe('against real memcached 1.6.18 with -I 2m', () => {
    let mc: MemcachedProcess;
    const clients: MemcacheClient[] = [];

    before(async () => {
      mc = await startMemcached({ args: ['-I', '2m'] });
    });

    after(async () => {
      await Promise.all(clients.map((c) => c.close()));
      await mc?.stop();
    });

    it('getMulti with one value over maxValueSize names that key in ERR_PARTIAL_RESULT; the rest and the connection are fine', async () => {
      const big = new MemcacheClient({ servers: [mc.address], timeout: 5000, maxValueSize: 2 * 1024 * 1024 });
      const c = new MemcacheClient({ servers: [mc.address], timeout: 5000 });
      clients.push(big, c);
      await big.set('wire:huge', Buffer.alloc(1_500_000, 0x68));
      await c.set('wire:a', 'a');
      await c.set('wire:b', 'b');
      const err = (await rejection(
        c.getMulti(['wire:a', 'wire:huge', 'wire:b', 'wire:missing']),
      )) as PartialResultError<Map<string, { value: Buffer }>>;
      expect(err.code).to.equal('ERR_PARTIAL_RESULT');
      expect([...err.errors.keys()]).to.deep.equal(['wire:huge']);
      expect(err.errors.get('wire:huge')!.code).to.equal('ERR_RESPONSE_TOO_LARGE');
      expect(err.errors.get('wire:huge')!.server).to.equal(mc.address);
      expect([...err.results.keys()].sort()).to.deep.equal(['wire:a', 'wire:b']);
      expect(err.results.get('wire:b')!.value.toString()).to.equal('b');
      // the stream stayed in step: the same connection answers the next call
      expect((await c.get('wire:a'))!.value.toString()).to.equal('a');
      expect(c.metrics.total.created).to.equal(1);
      // a single read of it is refused at once (a value past the limit cannot be read back either)
      expect((await rejection(c.get('wire:huge'))).code).to.equal('ERR_RESPONSE_TOO_LARGE');
    });
  });

  describe('replies are verified, not trusted (scripted servers that answer out of turn)', () => {
    let server: ScriptedServer;
    let client: MemcacheClient;
    /** What the server does once it has received `count` request lines, in order. */
    let script: { count: number; reply: (lines: string[], conn: ScriptedConnection) => void };
    /** The opaque the client put on a request line. */
    const opaque = (line: string): string => / (O\d+)/.exec(line)![1];

    beforeEach(async () => {
      server = await startScriptedServer((conn) => {
        const lines: string[] = [];
        const first = server === undefined || server.connections[0] === conn;
        conn.onRequest((req) => {
          // Later connections (a get is resent after its first one was dropped) answer properly.
          if (!first) return conn.write(`EN ${opaque(req.line)}\r\n`);
          lines.push(req.line);
          if (lines.length === script.count) script.reply(lines, conn);
        });
      });
      client = new MemcacheClient({ servers: [server.address], timeout: 2000, breaker: { threshold: 0 } });
    });

    afterEach(async () => {
      client.destroy();
      await server.close();
    });

    it('two replies with swapped opaques: neither caller gets the other’s value', async () => {
      script = {
        count: 2,
        reply: ([a, b], conn) => conn.write(`VA 1 ${opaque(b)}\r\nB\r\nVA 1 ${opaque(a)}\r\nA\r\n`),
      };
      const [a, b] = await Promise.allSettled([client.get('a'), client.get('b')]);
      expect(a.status).to.equal('rejected');
      expect(((a as PromiseRejectedResult).reason as MemlineError).code).to.equal('ERR_PROTOCOL');
      // b's request went out again on a new connection, where it is answered in turn
      expect((b as PromiseFulfilledResult<unknown>).value).to.equal(null);
      await server.connections[0].closed;
    });

    it('one reply too many: the next caller does not get it', async () => {
      script = {
        count: 2,
        reply: ([a], conn) => conn.write(`VA 1 ${opaque(a)}\r\nA\r\nVA 1 ${opaque(a)}\r\nA\r\n`),
      };
      const [a, b] = await Promise.allSettled([client.get('a'), client.get('b')]);
      expect((a as PromiseFulfilledResult<{ value: Buffer }>).value.value.toString()).to.equal('A');
      expect(((b as PromiseRejectedResult).reason as MemlineError).code).to.equal('ERR_PROTOCOL');
    });

    it('MN before a batch’s replies: the batch’s hits are not handed to the next caller', async () => {
      // getMulti sends `mg a … q k O0`, `mg b … q k O1`, `mn`; then get('c')
      script = {
        count: 4,
        reply: ([a, , , c], conn) => {
          expect(c).to.match(/^mg c /);
          conn.write(`MN\r\nVA 1 ka ${opaque(a)}\r\nA\r\nEN ${opaque(c)}\r\n`);
        },
      };
      const multi = client.getMulti(['a', 'b']);
      const [m, c] = await Promise.allSettled([multi, client.get('c')]);
      // The server said "no hits" first: that is all the batch can know.
      expect([...(m as PromiseFulfilledResult<Map<string, unknown>>).value.keys()]).to.deep.equal([]);
      expect(((c as PromiseRejectedResult).reason as MemlineError).code).to.equal('ERR_PROTOCOL');
    });

    it('a wrong key in a batch reply is ERR_PROTOCOL', async () => {
      script = {
        count: 3,
        reply: ([a], conn) => conn.write(`VA 1 kb ${opaque(a)}\r\nB\r\nMN\r\n`),
      };
      const err = await rejection(client.getMulti(['a', 'b']));
      expect(err.code).to.equal('ERR_PROTOCOL');
      expect(err.message).to.include('wrong key');
    });

    it('an opaque on the reply to a request that sent none (mn) is ERR_PROTOCOL', async () => {
      script = { count: 1, reply: (_lines, conn) => conn.write('MN O0\r\n') };
      const err = await rejection(client.meta({ command: 'mn' }));
      expect(err.code).to.equal('ERR_PROTOCOL');
    });

    it('every meta request carries an opaque; batch items their key too', async () => {
      script = {
        count: 5,
        reply: (lines, conn) => {
          const [g, s, d, m1, m2] = lines;
          conn.write(`EN ${opaque(g)}\r\nHD ${opaque(s)}\r\nNF ${opaque(d)}\r\n`);
          expect(m1).to.match(/^mg x v f c q k O\d+$/);
          expect(m2).to.equal('mn');
          conn.write('MN\r\n');
        },
      };
      const results = await Promise.all([
        client.get('g'),
        client.set('s', 'v'),
        client.delete('d'),
        client.getMulti(['x']),
      ]);
      expect(results[0]).to.equal(null);
      expect(results[2]).to.equal(false);
      const lines = server.connections[0].requests.map((r) => r.line);
      expect(lines.slice(0, 3).map((l) => / O\d+$/.test(l))).to.deep.equal([true, true, true]);
      expect(new Set(lines.slice(0, 4).map(opaque)).size).to.equal(4);
    });
  });
});
