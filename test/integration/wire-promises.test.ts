/**
 * Promises about the wire that real users and misbehaving servers put to the test: replies are
 * verified against their requests (scripted servers that answer out of turn), errors that leave the
 * stream in step are not fatal, and the value-size boundary is the server's (real memcached 1.6.18).
 */
import { expect } from 'chai';
import { MemcacheClient, type MemlineError } from '../../protocols/memcached-meta/index.js';
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
  });
});
