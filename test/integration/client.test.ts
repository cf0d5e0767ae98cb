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

describe('MemcacheClient against real memcached (one server)', function () {
  let mc: MemcachedProcess;
  let client: MemcacheClient;

  before(async () => {
    mc = await startMemcached();
    client = new MemcacheClient({ servers: [mc.address] });
  });

  after(async () => {
    await client?.close();
    await mc?.stop();
  });

  beforeEach(async () => {
    await client.flushAll();
  });

  describe('get / set', () => {
    it('stores and reads back a value with flags 0 and a CAS', async () => {
      await client.set('greeting', 'hello');
      const item = await client.get('greeting');
      expect(item).to.not.equal(null);
      expect(item!.key).to.equal('greeting');
      expect(item!.value.toString()).to.equal('hello');
      expect(item!.flags).to.equal(0);
      expect(item!.cas > 0n).to.equal(true);
    });

    it('returns null for a miss', async () => {
      expect(await client.get('nope')).to.equal(null);
    });

    it('stores flags and a TTL', async () => {
      await client.set('f', Buffer.from('x'), { flags: 4294967295, ttl: 100 });
      expect((await client.get('f'))!.flags).to.equal(4294967295);
      const r = await client.meta({ command: 'mg', key: 'f', flags: { t: true } });
      expect(r.flags.t).to.be.within(98, 100);
    });

    for (const [name, value] of [
      ['CRLF and protocol words', Buffer.from('x\r\nEN\r\nMN\r\nVA 5 O1\r\nset evil 0 0 1\r\nZ\r\n')],
      ['NUL bytes', Buffer.from([0, 1, 0, 255, 0])],
      ['multibyte UTF-8', Buffer.from('héllo wörld — 日本語 🎉')],
      ['0 bytes', Buffer.alloc(0)],
      ['1,000,000 bytes', Buffer.alloc(1_000_000, 0x61)],
    ] as const) {
      it(`round-trips a value with ${name} byte for byte`, async () => {
        await client.set('v', value);
        const item = await client.get('v');
        expect(item!.value.equals(value)).to.equal(true);
      });
    }

    it('stores a string as UTF-8', async () => {
      await client.set('s', 'ünïcode');
      expect((await client.get('s'))!.value.toString('utf8')).to.equal('ünïcode');
    });
  });

  describe('conditional stores', () => {
    it('add stores only a missing key', async () => {
      expect(await client.add('a', '1')).to.equal(true);
      expect(await client.add('a', '2')).to.equal(false);
      expect((await client.get('a'))!.value.toString()).to.equal('1');
    });

    it('replace stores only an existing key', async () => {
      expect(await client.replace('r', '1')).to.equal(false);
      await client.set('r', '0');
      expect(await client.replace('r', '1')).to.equal(true);
      expect((await client.get('r'))!.value.toString()).to.equal('1');
    });

    it('append and prepend keep TTL and flags, and refuse a missing key', async () => {
      expect(await client.append('ap', 'x')).to.equal(false);
      expect(await client.prepend('ap', 'x')).to.equal(false);
      await client.set('ap', 'mid', { flags: 7, ttl: 100 });
      expect(await client.append('ap', '-end')).to.equal(true);
      expect(await client.prepend('ap', 'start-')).to.equal(true);
      const item = await client.get('ap');
      expect(item!.value.toString()).to.equal('start-mid-end');
      expect(item!.flags).to.equal(7);
    });

    it('cas succeeds with the current token and fails with a stale one or a missing key', async () => {
      await client.set('c', 'v1');
      const { cas } = (await client.get('c'))!;
      expect(await client.cas('c', 'v2', cas)).to.equal(true);
      expect(await client.cas('c', 'v3', cas)).to.equal(false);
      expect((await client.get('c'))!.value.toString()).to.equal('v2');
      expect(await client.cas('missing', 'v', 12345n)).to.equal(false);
    });
  });

  describe('delete, touch, gat', () => {
    it('delete reports whether the key existed', async () => {
      await client.set('d', 'x');
      expect(await client.delete('d')).to.equal(true);
      expect(await client.delete('d')).to.equal(false);
      expect(await client.get('d')).to.equal(null);
    });

    it('touch and gat set a new TTL', async () => {
      await client.set('t', 'x');
      expect(await client.touch('t', 200)).to.equal(true);
      expect(await client.touch('missing', 200)).to.equal(false);
      const r1 = await client.meta({ command: 'mg', key: 't', flags: { t: true } });
      expect(r1.flags.t).to.be.within(198, 200);
      const item = await client.gat('t', 300);
      expect(item!.value.toString()).to.equal('x');
      const r2 = await client.meta({ command: 'mg', key: 't', flags: { t: true } });
      expect(r2.flags.t).to.be.within(298, 300);
      expect(await client.gat('missing', 10)).to.equal(null);
    });
  });

  describe('incr / decr', () => {
    it('returns null for a missing key without initial', async () => {
      expect(await client.incr('n')).to.equal(null);
      expect(await client.decr('n')).to.equal(null);
    });

    it('stores and returns initial on a missing key (delta not applied), then counts', async () => {
      expect(await client.incr('n', 5, { initial: 10 })).to.equal(10n);
      expect(await client.incr('n', 5, { initial: 10 })).to.equal(15n);
      expect(await client.incr('n')).to.equal(16n);
      expect(await client.decr('n', 6n)).to.equal(10n);
    });

    it('decrements to 0 and no further; increments wrap at 2^64', async () => {
      await client.set('n', '3');
      expect(await client.decr('n', 100)).to.equal(0n);
      // The wrap comes from the delta: a stored counter of 2^63 or more can meet a memcached bug
      // (README, "A server quirk to know about counters").
      await client.set('big', '1');
      expect(await client.incr('big', 2n ** 64n - 1n)).to.equal(0n);
      expect(await client.incr('big', 2n ** 64n - 2n)).to.equal(2n ** 64n - 2n);
    });

    it('parses a counter memcached padded with a trailing space', async () => {
      await client.set('pad', '100');
      expect(await client.decr('pad')).to.equal(99n);
      expect(await client.incr('pad')).to.equal(100n);
    });
  });

  describe('bulk', () => {
    it('getMulti returns the hits and leaves misses out', async () => {
      await client.set('m1', 'one');
      await client.set('m3', 'three');
      const items = await client.getMulti(['m1', 'm2', 'm3', 'm1']);
      expect([...items.keys()].sort()).to.deep.equal(['m1', 'm3']);
      expect(items.get('m3')!.value.toString()).to.equal('three');
      expect((await client.getMulti([])).size).to.equal(0);
    });

    it('getMulti counts each hit and miss once, and its CAS tokens work with cas()', async () => {
      await client.set('mc1', 'one');
      await client.delete('mc2');
      const before = client.metrics.total;
      const items = await client.getMulti(['mc1', 'mc2']);
      const after = client.metrics.total;
      expect([after.hits - before.hits, after.misses - before.misses]).to.deep.equal([1, 1]);
      expect(await client.cas('mc1', 'two', items.get('mc1')!.cas)).to.equal(true);
      expect((await client.get('mc1'))!.value.toString()).to.equal('two');
    });

    it('setMulti stores every entry (Map or array), with TTL and flags', async () => {
      await client.setMulti(
        new Map([
          ['s1', 'a'],
          ['s2', 'b'],
        ]),
        { flags: 3, ttl: 60 },
      );
      await client.setMulti([['s3', Buffer.from('c')]]);
      const items = await client.getMulti(['s1', 's2', 's3']);
      expect([...items.values()].map((i) => i.value.toString())).to.deep.equal(['a', 'b', 'c']);
      expect(items.get('s1')!.flags).to.equal(3);
    });

    it('deleteMulti reports deleted and not-found keys', async () => {
      await client.setMulti([
        ['d1', 'x'],
        ['d3', 'x'],
      ]);
      const result = await client.deleteMulti(['d1', 'd2', 'd3']);
      expect(Object.fromEntries(result)).to.deep.equal({ d1: true, d2: false, d3: true });
    });

    it('getMulti of 1,000 keys over one pipelined batch', async () => {
      const keys = Array.from({ length: 1000 }, (_, i) => `bulk:${i}`);
      await client.setMulti(keys.filter((_, i) => i % 2 === 0).map((k) => [k, `value-of-${k}`] as const));
      const items = await client.getMulti(keys);
      expect(items.size).to.equal(500);
      for (const [key, item] of items) expect(item.value.toString()).to.equal(`value-of-${key}`);
    });
  });

  describe('per-server commands', () => {
    it('version is keyed by the address as given and holds the bare version', async () => {
      const versions = await client.version();
      expect([...versions.keys()]).to.deep.equal([mc.address]);
      expect(versions.get(mc.address)).to.match(/^\d+\.\d+\.\d+$/);
    });

    it('stats and stats settings', async () => {
      const stats = (await client.stats()).get(mc.address)!;
      expect(Number(stats.curr_connections)).to.be.greaterThan(0);
      expect(Object.getPrototypeOf(stats)).to.equal(null);
      const settings = (await client.stats('settings')).get(mc.address)!;
      expect(settings.item_size_max).to.equal('1048576');
    });

    it('flushAll empties the cache', async () => {
      await client.set('x', 'y');
      await client.flushAll();
      expect(await client.get('x')).to.equal(null);
    });
  });

  describe('meta-protocol recipes', () => {
    it('getOrSet runs the loader once for 50 concurrent callers and gives all its value', async () => {
      let calls = 0;
      const loader = async (): Promise<string> => {
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 20));
        return 'computed';
      };
      const values = await Promise.all(
        Array.from({ length: 50 }, () => client.getOrSet('cold', loader, { ttl: 60 })),
      );
      expect(calls).to.equal(1);
      expect(values.every((v) => v.toString() === 'computed')).to.equal(true);
      expect((await client.get('cold'))!.value.toString()).to.equal('computed');
    });

    it('a failing loader releases the lease so the next caller can load', async () => {
      const err = await rejection(client.getOrSet('flaky', () => Promise.reject(new Error('boom'))));
      expect(err.message).to.equal('boom');
      const value = await client.getOrSet('flaky', () => 'second try');
      expect(value.toString()).to.equal('second try');
    });

    it('a caller waiting on another loader gives up with ERR_TIMEOUT, or ERR_ABORTED when aborted', async () => {
      // Someone else holds the lease: a placeholder created with N and never filled.
      const lease = await client.meta({ command: 'mg', key: 'held', flags: { N: 30, c: true } });
      expect(lease.flags.W).to.equal(true);
      const timedOut = await rejection(client.getOrSet('held', () => 'x', { waitTimeout: 50 }));
      expect(timedOut.code).to.equal('ERR_TIMEOUT');
      const ac = new AbortController();
      const waiting = client.getOrSet('held', () => 'x', { signal: ac.signal });
      ac.abort();
      expect((await rejection(waiting)).code).to.equal('ERR_ABORTED');
    });

    it('invalidate serves the stale value while one caller recomputes', async () => {
      await client.set('inv', 'old', { ttl: 100 });
      expect(await client.invalidate('inv')).to.equal(true);
      expect(await client.invalidate('missing')).to.equal(false);
      let release!: () => void;
      let started!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const loaderStarted = new Promise<void>((resolve) => (started = resolve));
      const winner = client.getOrSet('inv', async () => {
        started();
        await gate;
        return 'new';
      });
      await loaderStarted; // the winner holds the lease now
      const other = await client.getOrSet('inv', () => 'should not run');
      expect(other.toString()).to.equal('old');
      release();
      expect((await winner).toString()).to.equal('new');
      expect((await client.get('inv'))!.value.toString()).to.equal('new');
    });

    it('update applies concurrent read-modify-writes without losing one', async () => {
      await client.set('counter', '0', { ttl: 500 });
      await Promise.all(
        Array.from({ length: 10 }, () =>
          client.update('counter', (item) => String(Number(item!.value.toString()) + 1), { maxRetries: 50 }),
        ),
      );
      expect((await client.get('counter'))!.value.toString()).to.equal('10');
      const r = await client.meta({ command: 'mg', key: 'counter', flags: { t: true } });
      expect(r.flags.t).to.be.greaterThan(400);
    });

    it('lock is exclusive, released by its holder, and extendable', async () => {
      const held = await client.lock('job', { ttl: 10 });
      expect(held).to.not.equal(null);
      expect(await client.lock('job', { ttl: 10 })).to.equal(null);
      expect(await held!.extend(20)).to.equal(true);
      expect(await held!.release()).to.equal(true);
      expect(await held!.release()).to.equal(false);
      const again = await client.lock('job', { ttl: 10 });
      expect(again).to.not.equal(null);
    });
  });

  describe('low-level meta', () => {
    it('sends any meta request and returns status, returned flags and value', async () => {
      const set = await client.meta({
        command: 'ms',
        key: 'low',
        flags: { T: 30, F: 5, c: true },
        value: 'abc',
      });
      expect(set.status).to.equal('HD');
      expect(typeof set.flags.c).to.equal('bigint');
      const got = await client.meta({
        command: 'mg',
        key: 'low',
        flags: { v: true, f: true, s: true, k: true },
      });
      expect(got.status).to.equal('VA');
      expect(got.value!.toString()).to.equal('abc');
      expect(got.flags.f).to.equal(5);
      expect(got.flags.s).to.equal(3);
      expect(got.flags.k).to.equal('low');
      expect((await client.meta({ command: 'mn' })).status).to.equal('MN');
      const me = await client.meta({ command: 'me', key: 'low' });
      expect(me.status).to.equal('ME');
    });
  });

  describe('server errors', () => {
    it('SERVER_ERROR object too large rejects with ERR_VALUE_TOO_LARGE and keeps the connection in sync', async () => {
      const big = new MemcacheClient({ servers: [mc.address], maxValueSize: 2 * 1024 * 1024 });
      try {
        const err = await rejection(big.set('huge', Buffer.alloc(1_500_000)));
        expect(err.code).to.equal('ERR_VALUE_TOO_LARGE');
        await big.set('after', 'ok');
        expect((await big.get('after'))!.value.toString()).to.equal('ok');
        expect(big.metrics.servers[0].created).to.equal(1);
      } finally {
        await big.close();
      }
    });
  });

  describe('10,000 concurrent gets', () => {
    it('each reply carries its own key', async () => {
      const keys = Array.from({ length: 10_000 }, (_, i) => `conc:${i}`);
      await client.setMulti(keys.map((k) => [k, `payload:${k}`] as const));
      const items = await Promise.all(keys.map((k) => client.get(k)));
      items.forEach((item, i) => {
        expect(item!.key).to.equal(keys[i]);
        expect(item!.value.toString()).to.equal(`payload:${keys[i]}`);
      });
    });
  });
});
