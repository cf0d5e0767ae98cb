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

async function rejection(promise: Promise<unknown>): Promise<MemlineError> {
  try {
    await promise;
  } catch (err) {
    return err as MemlineError;
  }
  throw new Error('expected a rejection');
}

describe('wire promises', function () {
  describe('against real memcached 1.6.18', () => {
    let mc: MemcachedProcess;
    const clients: MemcacheClient[] = [];

    function client(): MemcacheClient {
      const c = new MemcacheClient({ servers: [mc.address], timeout: 5000 });
      clients.push(c);
      return c;
    }

    before(async () => {
      mc = await startMemcached();
    });

    after(async () => {
      await Promise.all(clients.map((c) => c.close()));
      await mc?.stop();
    });

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
      expect(err.server).to.equal(mc.address);
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
      const c = new MemcacheClient({ servers: [mc.address], timeout: 5000, maxValueSize: 2 * 1024 * 1024 });
      clients.push(c);
      await c.set('wire:old', 'old value');
      const pipelined = Array.from({ length: 20 }, () => c.get('wire:old'));
      const err = await rejection(c.set('wire:old', Buffer.alloc(1024 * 1024)));
      expect(err.code).to.equal('ERR_VALUE_TOO_LARGE');
      expect(err.mayHaveExecuted).to.equal(true);
      expect(err.server).to.equal(mc.address);
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
      // a single read of it is refused at once (reliability.md I5)
      expect((await rejection(c.get('wire:huge'))).code).to.equal('ERR_RESPONSE_TOO_LARGE');
    });
  });
});
