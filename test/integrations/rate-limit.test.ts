import diagnostics from 'node:diagnostics_channel';
import { expect } from 'chai';
import express from 'express';
import { rateLimit } from 'express-rate-limit';
import { MemcacheClient } from '../../protocols/memcached-meta/index.js';
import { RateLimitStore } from '../../protocols/memcached-meta/integrations/rate-limit.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';
import { Browser, listen } from './http.js';

describe('memline/rate-limit: RateLimitStore against real memcached', function () {
  let mc: MemcachedProcess;
  let client: MemcacheClient;

  async function ttlOnServer(key: string): Promise<number | undefined> {
    return (await client.meta({ command: 'mg', key, flags: { t: true } })).flags.t;
  }

  before(async () => {
    mc = await startMemcached();
    client = new MemcacheClient({ servers: [mc.address] });
  });

  after(async () => {
    await client?.close();
    await mc?.stop();
  });

  beforeEach(() => client.flushAll());

  it('increment, get, decrement, resetKey; the first hit opens a window of windowMs', async () => {
    const store = new RateLimitStore(client);
    store.init({ windowMs: 60_000 });
    const first = await store.increment('1.2.3.4');
    expect(first.totalHits).to.equal(1);
    expect(first.resetTime!.getTime() - Date.now()).to.be.within(59_000, 60_000);
    expect((await store.increment('1.2.3.4')).totalHits).to.equal(2);
    expect(await ttlOnServer('rl:1.2.3.4')).to.be.within(59, 60);
    expect((await store.get('1.2.3.4'))!.totalHits).to.equal(2);
    await store.decrement('1.2.3.4');
    expect((await store.get('1.2.3.4'))!.totalHits).to.equal(1);
    await store.resetKey('1.2.3.4');
    expect(await store.get('1.2.3.4')).to.equal(undefined);
    await store.decrement('1.2.3.4'); // nothing to take back: no error, nothing created
    expect(await store.get('1.2.3.4')).to.equal(undefined);
  });

  it('one round trip per hit', async () => {
    const store = new RateLimitStore(client);
    store.init({ windowMs: 10_000 });
    let requests = 0;
    const count = () => void requests++;
    diagnostics.subscribe('memline:request:start', count);
    try {
      await store.increment('one');
      await store.increment('one');
    } finally {
      diagnostics.unsubscribe('memline:request:start', count);
    }
    expect(requests).to.equal(2);
  });

  it('the window is fixed: later hits leave its end alone', async () => {
    const store = new RateLimitStore(client);
    store.init({ windowMs: 60_000 });
    await store.increment('fixed');
    await client.touch('rl:fixed', 100); // as if the window had opened earlier with a longer length
    const hit = await store.increment('fixed');
    expect(hit.resetTime!.getTime() - Date.now()).to.be.within(99_000, 100_000);
    expect(await ttlOnServer('rl:fixed')).to.be.within(99, 100);
  });

  it('windows are whole seconds: 500 ms counts as 1 s, 1,500 ms as 2 s', () => {
    const store = new RateLimitStore(client);
    store.init({ windowMs: 500 });
    expect(store.windowSeconds).to.equal(1);
    store.init({ windowMs: 1500 });
    expect(store.windowSeconds).to.equal(2);
    expect(() => store.init({ windowMs: 0 }))
      .to.throw()
      .with.property('code', 'ERR_INVALID_ARGUMENT');
  });

  it('exact under 1,000 concurrent hits from 4 client instances', async () => {
    const clients = Array.from({ length: 4 }, () => new MemcacheClient({ servers: [mc.address] }));
    try {
      const stores = clients.map((c) => new RateLimitStore(c));
      for (const s of stores) s.init({ windowMs: 60_000 });
      const hits = await Promise.all(Array.from({ length: 1000 }, (_, i) => stores[i % 4].increment('hot')));
      const counts = hits.map((h) => h.totalHits).sort((a, b) => a - b);
      expect(counts).to.deep.equal(Array.from({ length: 1000 }, (_, i) => i + 1));
      expect((await stores[0].get('hot'))!.totalHits).to.equal(1000);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  describe('with a real Express app', () => {
    function app(store: RateLimitStore) {
      const a = express();
      a.use(
        rateLimit({ windowMs: 60_000, limit: 3, standardHeaders: 'draft-6', legacyHeaders: false, store }),
      );
      a.get('/', (_req, res) => res.send('hello'));
      return a;
    }

    it('exact under 1,000 concurrent HTTP hits spread over 4 apps, each with its own client', async () => {
      const limit = 600;
      const stores = Array.from({ length: 4 }, () => new RateLimitStore({ servers: [mc.address] }));
      const servers = await Promise.all(
        stores.map((store) => {
          const a = express();
          a.use(
            rateLimit({ windowMs: 60_000, limit, standardHeaders: 'draft-6', legacyHeaders: false, store }),
          );
          a.get('/', (_req, res) => res.send('ok'));
          return listen(a);
        }),
      );
      try {
        const replies = await Promise.all(
          Array.from({ length: 1000 }, (_, i) => new Browser(servers[i % 4].url).request('GET', '/')),
        );
        const ok = replies.filter((r) => r.status === 200);
        expect(ok).to.have.length(limit);
        expect(replies.filter((r) => r.status === 429)).to.have.length(1000 - limit);
        // Every count from 1 to the limit was handed out exactly once, whichever app served it.
        const remaining = ok.map((r) => Number(r.headers.get('ratelimit-remaining'))).sort((a, b) => a - b);
        expect(remaining).to.deep.equal(Array.from({ length: limit }, (_, i) => i));
        expect((await stores[0].get('127.0.0.1'))!.totalHits).to.equal(1000);
      } finally {
        await Promise.all(servers.map((s) => s.close()));
        await Promise.all(stores.map((s) => s.shutdown()));
      }
    });

    it('429 after the limit, with the RateLimit headers, counted across two app processes', async () => {
      // Two servers with their own client and store, as two processes behind a load balancer would be.
      const other = new RateLimitStore({ servers: [mc.address] });
      const servers = [await listen(app(new RateLimitStore(client))), await listen(app(other))];
      try {
        const replies = [];
        for (let i = 0; i < 5; i++) replies.push(await new Browser(servers[i % 2].url).request('GET', '/'));
        expect(replies.map((r) => r.status)).to.deep.equal([200, 200, 200, 429, 429]);
        expect(replies.map((r) => r.headers.get('ratelimit-remaining'))).to.deep.equal([
          '2',
          '1',
          '0',
          '0',
          '0',
        ]);
        for (const r of replies) {
          expect(r.headers.get('ratelimit-limit')).to.equal('3');
          expect(Number(r.headers.get('ratelimit-reset'))).to.be.within(59, 60);
        }
        expect(Number(replies[3].headers.get('retry-after'))).to.be.within(59, 60);
        expect(replies[0].body).to.equal('hello');
        // resetKey (what a successful login might call) opens the gate again.
        const key = (await client.meta({ command: 'mg', key: 'rl:127.0.0.1', flags: { v: true } })).value;
        expect(key?.toString()).to.equal('5');
        await other.resetKey('127.0.0.1');
        expect((await new Browser(servers[0].url).request('GET', '/')).status).to.equal(200);
      } finally {
        await Promise.all(servers.map((s) => s.close()));
        await other.shutdown();
      }
    });
  });
});
