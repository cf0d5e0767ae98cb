import { expect } from 'chai';
import Keyv from 'keyv';
import keyvTestSuite from '@keyv/test-suite';
import { createCache } from 'cache-manager';
import { MemcacheClient } from '../../protocols/memcached-meta/index.js';
import { KeyvStore } from '../../protocols/memcached-meta/integrations/keyv.js';
import { createRequire } from 'node:module';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';
import { vitestShim } from './vitest-shim.js';

type SuiteTest = Parameters<typeof keyvTestSuite>[0];

/**
 * cache-manager 7 reads through Keyv v5's `get(key, { raw: true })`, which Keyv v6 no longer has:
 * with it, use the Keyv v5 that cache-manager itself depends on (the store speaks both).
 */
type CacheManagerKeyv = NonNullable<NonNullable<Parameters<typeof createCache>[0]>['stores']>[number];
const { Keyv: KeyvForCacheManager } = createRequire(import.meta.resolve('cache-manager'))('keyv') as {
  Keyv: new (options: object) => CacheManagerKeyv;
};

describe('memline/keyv: KeyvStore against real memcached', function () {
  let mc: MemcachedProcess;
  let client: MemcacheClient;

  async function wireKeyOf(ns: string, key: string): Promise<string> {
    return `${ns}:${(await client.get(`${ns}:gen`))!.value.toString()}:${key}`;
  }

  before(async () => {
    mc = await startMemcached();
    client = new MemcacheClient({ servers: [mc.address] });
  });

  after(async () => {
    await client?.close();
    await mc?.stop();
  });

  describe('@keyv/test-suite', () => {
    const skip = new Map([
      // Written for Keyv v5's `serialize`/`deserialize` options; Keyv v6 takes `serialization`.
      ['value can be BigInt using other serializer/deserializer', 'Keyv v5 option names'],
      // Keyv v6's delete([keys]) answers one boolean per key (`[false, false, false]` here).
      ['.deleteMany([keys]) with nonexistent keys resolves to false', 'Keyv v5 return shape'],
    ]);
    keyvTestSuite(vitestShim(skip) as unknown as SuiteTest, Keyv, () => new KeyvStore(client));
  });

  describe('the adapter itself', () => {
    beforeEach(() => client.flushAll());

    it('is used directly by Keyv v6 (declares the absolute-expiry contract)', () => {
      const store = new KeyvStore(client);
      expect(store.capabilities.expires).to.equal(true);
      expect(new Keyv({ store }).store).to.equal(store);
    });

    it('writes namespaced, generation-numbered keys and sends a whole-second TTL', async () => {
      const keyv = new Keyv({ store: new KeyvStore(client), namespace: 'users' });
      await keyv.set('ann', { age: 7 }, 10_500);
      const gen = (await client.get('users:gen'))!.value.toString();
      const r = await client.meta({ command: 'mg', key: `users:${gen}:ann`, flags: { t: true, v: true } });
      expect(r.status).to.equal('VA');
      expect(r.flags.t).to.be.within(10, 11);
      expect(JSON.parse(r.value!.toString())).to.deep.include({ value: { age: 7 } });
    });

    it('getMany is one bulk request: a single write carries every key', async () => {
      const keyv = new Keyv({ store: new KeyvStore(client), namespace: 'bulk' });
      await keyv.setMany(Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: i })));
      await keyv.get('k0'); // the generation is read; the next call's read is its own request
      const before = Number((await mc.stats()).cmd_get);
      const values = await keyv.get([...Array.from({ length: 50 }, (_, i) => `k${i}`), 'missing']);
      expect(values).to.deep.equal([...Array.from({ length: 50 }, (_, i) => i), undefined]);
      // 51 keys read, plus the generation counter (an incr, not a get).
      expect(Number((await mc.stats()).cmd_get) - before).to.equal(51);
    });

    it('clear() empties its namespace only, without flush_all, and is seen by every store', async () => {
      const a = new Keyv({ store: new KeyvStore(client), namespace: 'a' });
      const a2 = new Keyv({ store: new KeyvStore(client), namespace: 'a' });
      const b = new Keyv({ store: new KeyvStore(client), namespace: 'b' });
      await a.set('x', 1);
      await b.set('x', 2);
      expect(await a2.get('x')).to.equal(1);
      const flushes = Number((await mc.stats()).cmd_flush);
      await a.clear();
      expect(await a.get('x')).to.equal(undefined);
      expect(await a2.get('x')).to.equal(undefined);
      expect(await b.get('x')).to.equal(2);
      expect(Number((await mc.stats()).cmd_flush)).to.equal(flushes);
    });

    it('an evicted generation counter restarts above every generation used before', async () => {
      const keyv = new Keyv({ store: new KeyvStore(client), namespace: 'ev' });
      await keyv.set('x', 1);
      await client.delete('ev:gen');
      expect(await keyv.get('x')).to.equal(undefined);
    });

    it('has/hasMany/deleteMany report per key', async () => {
      const keyv = new Keyv({ store: new KeyvStore(client), namespace: 'h', checkExpired: false });
      await keyv.set('p', 1);
      expect(await keyv.has(['p', 'q'])).to.deep.equal([true, false]);
      expect(await keyv.store.deleteMany(['p', 'q'])).to.deep.equal([true, false]);
    });

    it('a past expiry deletes the key instead of storing it', async () => {
      const store = new KeyvStore(client, { namespace: 'past' });
      await store.set('k', 'v');
      expect(await store.set('k', 'v2', Date.now() - 1)).to.equal(true);
      expect(await store.get('k')).to.equal(undefined);
    });

    it('disconnect() closes a client it created, and leaves a borrowed one open', async () => {
      const owned = new KeyvStore({ servers: [mc.address] });
      await owned.set('o', 'v');
      await owned.disconnect();
      await owned.client.get('o').then(
        () => expect.fail('the owned client should be closed'),
        (err: { code: string }) => expect(err.code).to.equal('ERR_CLIENT_CLOSED'),
      );
      await new KeyvStore(client).disconnect();
      expect(await client.get('o')).to.equal(null);
    });
  });

  describe('through cache-manager', () => {
    it('createCache({ stores: [new Keyv({ store })] }): set, get, mget, del, wrap', async () => {
      expect(new KeyvForCacheManager({}).constructor).to.not.equal(Keyv);
      const keyv = new KeyvForCacheManager({ store: new KeyvStore(client), namespace: 'cm' });
      const cache = createCache({ stores: [keyv] });
      await cache.set('user:1', { name: 'Ann' }, 60_000);
      expect(await cache.get('user:1')).to.deep.equal({ name: 'Ann' });
      expect(await cache.ttl('user:1')).to.be.within(Date.now() + 59_000, Date.now() + 60_000);
      // Keyv v5 passes the TTL in ms, not an expiry: the item lives 60 s on the server too.
      const r = await client.meta({
        command: 'mg',
        key: await wireKeyOf('cm', 'cm:user:1'),
        flags: { t: true },
      });
      expect(r.flags.t).to.be.within(59, 60);
      expect(await cache.mget(['user:1', 'user:2'])).to.deep.equal([{ name: 'Ann' }, undefined]);
      let loads = 0;
      const load = () => Promise.resolve({ n: ++loads });
      expect(await cache.wrap('w', load, 60_000)).to.deep.equal({ n: 1 });
      expect(await cache.wrap('w', load, 60_000)).to.deep.equal({ n: 1 });
      expect(await cache.del('user:1')).to.equal(true);
      expect(await cache.get('user:1')).to.equal(undefined);
      await cache.clear();
      expect(await cache.get('w')).to.equal(undefined);
      await cache.disconnect();
    });
  });
});
