/**
 * What only the meta protocol can do, against real memcached (1.6.18) with many concurrent callers:
 * stampede protection, stale-while-revalidate, CAS helpers, serializers and compression, long keys,
 * read metadata, `me`, and the gating of features newer than 1.6.18 (the positive side against a
 * scripted server that claims a newer version).
 */
import { deflateSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import fc from 'fast-check';
import {
  MemcacheClient,
  serializers,
  type MemcacheClientOptions,
  type MemlineError,
  type PartialResultError,
} from '../../protocols/memcached-meta/index.js';
import { hashedWireKey } from '../../protocols/memcached-meta/long-keys.js';
import { featuresOf } from '../../protocols/memcached-meta/features.js';
import { memcachedWithClients } from '../harness/memcached-clients.js';
import { rejection } from '../harness/rejection.js';
import { startScriptedServer, type ScriptedServer } from '../harness/scripted-server.js';

/** A promise and the function that resolves it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('meta-protocol features against real memcached', function () {
  const server = memcachedWithClients();
  const client = server.client.bind(server);

  beforeEach(async () => {
    await client().flushAll();
  });

  describe('stampede protection (getOrSet on the N lease)', () => {
    it('200 concurrent callers on a cold key: the loader runs once and all get its value', async () => {
      const c = client();
      let calls = 0;
      const loader = async (): Promise<string> => {
        calls++;
        await sleep(50);
        return 'computed once';
      };
      const values = await Promise.all(
        Array.from({ length: 200 }, () => c.getOrSet('cold:200', loader, { ttl: 60 })),
      );
      expect(calls).to.equal(1);
      expect(values.every((v) => v.toString() === 'computed once')).to.equal(true);
    });

    it('the same across two client instances (100 callers each): one loader run in total', async () => {
      const a = client();
      const b = client();
      let calls = 0;
      const loader = async (): Promise<string> => {
        calls++;
        await sleep(50);
        return `from call ${calls}`;
      };
      const values = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          (i % 2 === 0 ? a : b).getOrSet('cold:two', loader, { ttl: 60 }),
        ),
      );
      expect(calls).to.equal(1);
      expect(new Set(values.map(String))).to.deep.equal(new Set(['from call 1']));
    });

    it('a loader slower than leaseTtl does not block the others: the next caller wins when the lease expires', async () => {
      const c = client();
      const slowDone = gate();
      let calls = 0;
      const slow = c.getOrSet(
        'lease:slow',
        async () => {
          calls++;
          await slowDone.promise;
          return 'slow';
        },
        { ttl: 60, leaseTtl: 1 },
      );
      await sleep(50); // the slow caller holds the lease
      const started = performance.now();
      const other = await c.getOrSet(
        'lease:slow',
        () => {
          calls++;
          return 'fast';
        },
        { ttl: 60, leaseTtl: 1, waitTimeout: 5000 },
      );
      const waited = performance.now() - started;
      expect(other.toString()).to.equal('fast');
      expect(waited).to.be.below(3000); // 1 s of lease, on memcached's 1-second clock
      slowDone.open();
      expect((await slow).toString()).to.equal('slow'); // its caller still gets its own value…
      expect(calls).to.equal(2);
      // …but its late store, made with the CAS of an expired lease, did not overwrite the newer value.
      expect((await c.get('lease:slow'))!.value.toString()).to.equal('fast');
    });

    it('a failing loader gives the lease back at once: the waiting callers retry without waiting for leaseTtl', async () => {
      const c = client();
      let calls = 0;
      const loader = async (): Promise<string> => {
        calls++;
        await sleep(30);
        if (calls === 1) throw new Error('backend down');
        return 'second attempt';
      };
      const started = performance.now();
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, () => c.getOrSet('lease:fail', loader, { ttl: 60, leaseTtl: 30 })),
      );
      expect(performance.now() - started).to.be.below(2000);
      const failed = results.filter((r) => r.status === 'rejected');
      expect(failed).to.have.length(1);
      expect(failed[0].reason).to.have.property('message', 'backend down');
      expect(calls).to.equal(2);
      for (const r of results)
        if (r.status === 'fulfilled') expect(r.value.toString()).to.equal('second attempt');
    });
  });

  describe('lease placeholders are values to nobody', () => {
    /** Every read a plain caller has, on a client of its own: each must see a miss. */
    async function readsOf(c: MemcacheClient<unknown>, key: string): Promise<unknown[]> {
      return [
        await c.get(key),
        await c.get(key, { meta: ['ttl', 'size'] }),
        await c.gat(key, 60),
        await c.getValue(key),
        [...(await c.getMulti([key, 'lease:other'])).keys()],
        [...(await c.gatMulti([key], 60)).keys()],
        [...(await c.getValues([key])).keys()],
      ];
    }
    const MISSES = [null, null, null, null, [], [], []];

    it('while a getOrSet loader runs, get/gat/getValue/getMulti/getValues on other clients miss', async () => {
      const winner = client();
      const reader = client<unknown>();
      const withSerializer = client<unknown>({ serializer: serializers.memline });
      const loading = gate();
      const running = gate();
      const done = winner.getOrSet(
        'lease:reads',
        async () => {
          running.open();
          await loading.promise;
          return 'computed';
        },
        { ttl: 60, leaseTtl: 30 },
      );
      await running.promise;
      expect(await readsOf(reader, 'lease:reads')).to.deep.equal(MISSES);
      expect(await readsOf(withSerializer, 'lease:reads')).to.deep.equal(MISSES);
      // the reads did not disturb the lease: the winner stores, and then everyone sees the value
      loading.open();
      expect((await done).toString()).to.equal('computed');
      expect((await reader.get('lease:reads'))!.value.toString()).to.equal('computed');
    });

    it('after the winner died (its placeholder left to expire), reads miss for the whole leaseTtl', async () => {
      const dead = client();
      const reader = client<unknown>();
      // what a process that crashed inside its loader leaves behind
      const won = await dead.meta({ command: 'mg', key: 'lease:dead', flags: { N: 30, v: true } });
      expect(won.flags.W).to.equal(true);
      expect(await readsOf(reader, 'lease:dead')).to.deep.equal(MISSES);
      // a stored empty value is a value, and a stale one is served while it is recomputed
      await reader.set('lease:empty', '');
      expect((await reader.get('lease:empty'))!.value.length).to.equal(0);
      await reader.set('lease:stale', 'old', { ttl: 60 });
      await reader.invalidate('lease:stale');
      expect((await reader.get('lease:stale'))!.value.toString()).to.equal('old');
      expect((await reader.get('lease:stale'))!.value.toString()).to.equal('old');
    });
  });

  describe('stale-while-revalidate', () => {
    // Every way a plain read reaches the server: the codec's Items, the near cache's frames (one key
    // and a batch), a route's pool node, a routed batch, a read with metadata.
    const shapes = {
      plain: () => ({}),
      'near cache': () => ({ nearCache: { maxAge: 1000 }, coalesce: true }),
      pools: () => ({ servers: undefined, pools: { main: [server.mc.address] } }),
    } as const;
    for (const [shape, options] of Object.entries(shapes)) {
      it(`${shape}: a plain read or touch of an invalidated item does not keep its win: the next getOrSet recomputes`, async () => {
        for (const read of ['get', 'getMulti', 'get with meta', 'touch'] as const) {
          const c = client(options());
          const key = `stale:${shape}:${read}`.replaceAll(' ', '-');
          await c.set(key, 'old', { ttl: 60 });
          expect(await c.invalidate(key)).to.equal(true);
          // memcached hands the first reader of a stale item the win (X W), recipe or not; a touch
          // is an `mg` too.
          if (read === 'touch') {
            expect(await c.touch(key, 60), read).to.equal(true);
          } else {
            const seen =
              read === 'get'
                ? await c.get(key)
                : read === 'getMulti'
                  ? (await c.getMulti([key])).get(key)
                  : await c.get(key, { meta: ['ttl'] });
            expect(seen?.value.toString(), read).to.equal('old');
          }
          let loads = 0;
          const value = await c.getOrSet(key, () => `new ${++loads}`, { ttl: 60 });
          expect([String(value), loads], read).to.deep.equal(['new 1', 1]);
          expect((await c.get(key))?.value.toString(), read).to.equal('new 1');
        }
      });
    }

    it('recache: inside the window exactly one of 200 callers refreshes; the others get the current value', async () => {
      const c = client();
      await c.set('swr', 'v1', { ttl: 5 });
      let calls = 0;
      const loader = async (): Promise<string> => {
        calls++;
        await sleep(50);
        return `v${calls + 1}`;
      };
      // recache (10 s) is over the remaining TTL: the item is inside the window at once.
      const round = () =>
        Promise.all(Array.from({ length: 200 }, () => c.getOrSet('swr', loader, { ttl: 5, recache: 10 })));
      const first = (await round()).map(String);
      expect(calls).to.equal(1);
      expect(first.filter((v) => v === 'v2')).to.have.length(1); // the winner, inline
      expect(first.filter((v) => v === 'v1')).to.have.length(199); // everyone else, without waiting
      // The refreshed item is a new item, inside the window again: one more refresh, no more.
      const second = (await round()).map(String);
      expect(calls).to.equal(2);
      expect(second.filter((v) => v === 'v3')).to.have.length(1);
      expect(second.filter((v) => v === 'v2')).to.have.length(199);
    });

    it('recache over real time: one refresh per window, never two loaders at once, nobody waits', async function () {
      this.timeout(20_000);
      const c = client();
      let calls = 0;
      let running = 0;
      let maxRunning = 0;
      const refreshedAt: number[] = [];
      const loader = async (): Promise<string> => {
        calls++;
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(30);
        running--;
        refreshedAt.push(performance.now());
        return `version ${calls}`;
      };
      const options = { ttl: 3, recache: 2 };
      await c.getOrSet('swr:time', loader, options); // the first load (a miss)
      const start = performance.now();
      let slowest = 0;
      const worker = async () => {
        while (performance.now() - start < 6500) {
          const t0 = performance.now();
          const v = await c.getOrSet('swr:time', loader, options);
          if (!String(v).startsWith('version')) throw new Error(`unexpected ${String(v)}`);
          slowest = Math.max(slowest, performance.now() - t0);
          await sleep(25);
        }
      };
      await Promise.all(Array.from({ length: 20 }, worker));
      const refreshes = calls - 1;
      // A stored item (TTL 3) enters the window (remaining < 2) after 1–2 s on memcached's clock.
      expect(refreshes).to.be.within(3, 7);
      expect(maxRunning).to.equal(1);
      for (let i = 1; i < refreshedAt.length; i++) {
        expect(refreshedAt[i] - refreshedAt[i - 1]).to.be.above(500);
      }
      // The item never expired: no caller waited on a lease (a wait polls from 5 ms and takes a while).
      expect(slowest).to.be.below(1000);
    });

    it('after invalidate, 200 readers get the stale value until the one winner stores the new one', async () => {
      const a = client();
      const b = client();
      await a.set('inv:many', 'old', { ttl: 100 });
      expect(await a.invalidate('inv:many')).to.equal(true);
      const release = gate();
      let calls = 0;
      const loader = async (): Promise<string> => {
        calls++;
        await release.promise;
        return 'new';
      };
      const all = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).getOrSet('inv:many', loader));
      // Everyone but the winner is answered while the winner is still computing.
      const settled: string[] = [];
      for (const p of all) void p.then((v) => settled.push(v.toString()));
      for (let i = 0; i < 200 && settled.length < 199; i++) await sleep(10);
      expect(settled).to.have.length(199);
      expect(settled.every((v) => v === 'old')).to.equal(true);
      expect(calls).to.equal(1);
      // Plain reads see the stale value too, until the store.
      expect((await b.get('inv:many'))!.value.toString()).to.equal('old');
      release.open();
      const values = (await Promise.all(all)).map(String);
      expect(values.filter((v) => v === 'new')).to.have.length(1);
      expect((await a.get('inv:many'))!.value.toString()).to.equal('new');
      expect((await b.getOrSet('inv:many', loader)).toString()).to.equal('new');
      expect(calls).to.equal(1);
    });

    it('recache needs a ttl, and is at least one second', async () => {
      const c = client();
      expect((await rejection(c.getOrSet('k', () => 'x', { recache: 5 }))).code).to.equal(
        'ERR_INVALID_ARGUMENT',
      );
      expect((await rejection(c.getOrSet('k', () => 'x', { ttl: 10, recache: 0 }))).code).to.equal(
        'ERR_INVALID_ARGUMENT',
      );
    });
  });

  describe('CAS helpers', () => {
    it('a lock lost to its TTL: the old handle can neither release nor extend the new holder’s lock', async function () {
      this.timeout(10_000);
      const a = client();
      const b = client();
      const first = await a.lock('lock:ttl', { ttl: 1 });
      expect(first).to.not.equal(null);
      expect(await b.lock('lock:ttl', { ttl: 10 })).to.equal(null);
      await sleep(2100); // past the TTL on memcached's 1-second clock
      const second = await b.lock('lock:ttl', { ttl: 10 });
      expect(second).to.not.equal(null);
      expect(await first!.extend(30)).to.equal(false);
      expect(await first!.release()).to.equal(false);
      expect(await a.lock('lock:ttl', { ttl: 10 })).to.equal(null); // still b's
      expect(await second!.release()).to.equal(true);
    });

    it('extend refuses a TTL of 0 (an immortal lock)', async () => {
      const held = await client().lock('lock:zero', { ttl: 5 });
      expect((await rejection(held!.extend(0))).code).to.equal('ERR_INVALID_ARGUMENT');
      await held!.release();
    });

    it('update keeps a remaining TTL over 30 days (sent as a Unix time, not read as one from 1970)', async () => {
      const c = client();
      const fortyDays = 40 * 24 * 3600;
      await c.set('upd:long', '1', { ttl: fortyDays });
      await c.update('upd:long', (item) => String(Number(item!.value.toString()) + 1));
      const item = await c.get('upd:long', { meta: ['ttl'] });
      expect(item!.value.toString()).to.equal('2');
      // memcached's clock and this machine's may differ by a few seconds for absolute times.
      expect(item!.ttl).to.be.within(fortyDays - 30, fortyDays + 30);
    });
  });

  describe('values: serializers and compression', () => {
    it('memline serializer: every type round-trips through the server (property)', async () => {
      const c = client({ serializer: serializers.memline });
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown),
            fc.string({ unit: 'grapheme' }),
            fc.double(),
            fc.bigInt(),
            fc.uint8Array().map((u) => Buffer.from(u)),
          ),
          async (value) => {
            await c.setValue('ser:prop', value);
            const back = await c.getValue('ser:prop');
            if (typeof value === 'number') expect(Object.is(back, value)).to.equal(true);
            else expect(back).to.deep.equal(value);
          },
        ),
        { numRuns: 150 },
      );
    });

    it('flags on the wire follow the layout; raw set/get and the serializer read each other’s bytes', async () => {
      const c = client({ serializer: serializers.memline });
      await c.setValue('ser:obj', { a: 1 });
      expect(await c.get('ser:obj')).to.include({ flags: 2 });
      expect((await c.get('ser:obj'))!.value.toString()).to.equal('{"a":1}');
      await c.set('ser:raw', 'plain bytes'); // flags 0: bytes
      expect(await c.getValue('ser:raw')).to.deep.equal(Buffer.from('plain bytes'));
      expect(await c.getValue('ser:none')).to.equal(null);
    });

    it('without a serializer, getValue/setValue/getOrSet deal in bytes and nothing is decoded', async () => {
      const c = client();
      await c.setValue('raw:v', 'text');
      const v: Buffer | null = await c.getValue('raw:v');
      expect(v).to.deep.equal(Buffer.from('text'));
      const g: Buffer = await c.getOrSet('raw:g', () => 'loaded');
      expect(g).to.deep.equal(Buffer.from('loaded'));
    });

    it('getOrSet with a serializer: the winner gets its loader’s value, the others the decoded value', async () => {
      const c = client({ serializer: serializers.memline });
      const other = client({ serializer: serializers.memline });
      const loader = async () => {
        await sleep(20);
        return { user: 42, tags: ['a', 'b'] };
      };
      const values = await Promise.all([
        c.getOrSet('ser:gos', loader, { ttl: 60 }),
        ...Array.from({ length: 20 }, () => other.getOrSet('ser:gos', loader, { ttl: 60 })),
      ]);
      for (const v of values) expect(v).to.deep.equal({ user: 42, tags: ['a', 'b'] });
      expect((await rejection(c.getOrSet('ser:flags', () => 1, { flags: 3 }))).code).to.equal(
        'ERR_INVALID_ARGUMENT',
      );
    });

    it('compression: below the threshold stored plain, from it deflated and flagged', async () => {
      const c = client({ serializer: serializers.memline, compression: { threshold: 1000 } });
      const small = 'x'.repeat(999);
      const big = 'y'.repeat(50_000);
      await c.setValue('cmp:small', small);
      await c.setValue('cmp:big', big);
      const rawSmall = (await c.get('cmp:small'))!;
      const rawBig = (await c.get('cmp:big'))!;
      expect(rawSmall.flags).to.equal(1);
      expect(rawBig.flags).to.equal(1 | 0x10);
      expect(rawBig.value.length).to.be.below(1000);
      expect(await c.getValue('cmp:small')).to.equal(small);
      expect(await c.getValue('cmp:big')).to.equal(big);
      const values = await c.getValues(['cmp:small', 'cmp:big', 'cmp:missing']);
      expect([...values.keys()]).to.have.members(['cmp:small', 'cmp:big']);
    });

    it('a 1 MB value compressed with brotli goes through both ways off the event loop', async () => {
      const c = client({ serializer: serializers.memline, compression: { algorithm: 'brotli' } });
      const rows = Array.from({ length: 20_000 }, (_, i) => ({
        id: i,
        name: `user ${i % 100}`,
        ok: i % 3 === 0,
      }));
      await c.setValue('cmp:brotli', rows);
      const raw = (await c.get('cmp:brotli'))!;
      expect(raw.flags).to.equal(2 | 0x20);
      expect(await c.getValue('cmp:brotli')).to.deep.equal(rows);
    });

    it('a hostile compressed value from a raw ms is refused with ERR_RESPONSE_TOO_LARGE, without blowing up', async () => {
      const c = client({ serializer: serializers.memline, maxDecompressedSize: 8 * 1024 * 1024 });
      const bomb = deflateSync(Buffer.alloc(64 * 1024 * 1024)); // 64 MiB of zeros in about 64 kB
      // Written by someone else, with the "deflated string" flags.
      const raw = client();
      await raw.meta({ command: 'ms', key: 'bomb', flags: { F: 0x11 }, value: bomb });
      await c.setValue('fine', 'still here');
      const rssBefore = process.memoryUsage().rss;
      const err = await rejection(c.getValue('bomb'));
      expect(err.code).to.equal('ERR_RESPONSE_TOO_LARGE');
      expect(err.server).to.equal(server.mc.address);
      expect(process.memoryUsage().rss - rssBefore).to.be.below(64 * 1024 * 1024);
      // The connection is fine, and a bulk read fails only that key.
      expect(await c.getValue('fine')).to.equal('still here');
      const partial = (await rejection(c.getValues(['bomb', 'fine']))) as PartialResultError<
        Map<string, unknown>
      >;
      expect(partial.code).to.equal('ERR_PARTIAL_RESULT');
      expect(partial.results.get('fine')).to.equal('still here');
      expect(partial.errors.get('bomb')!.code).to.equal('ERR_RESPONSE_TOO_LARGE');
    });

    it('php layout: what it writes is what PHP memcached with SERIALIZER_JSON and zlib stores', async () => {
      const c = client({ serializer: serializers.php, compression: { threshold: 2000 } });
      await c.setValue('php:int', 42);
      await c.setValue('php:arr', { a: [1, 2] });
      await c.setValue('php:long', 'z'.repeat(5000));
      expect(await c.get('php:int')).to.include({ flags: 1 });
      expect((await c.get('php:arr'))!.flags).to.equal(6);
      const long = (await c.get('php:long'))!;
      expect(long.flags).to.equal(0x30);
      expect(long.value.readUInt32LE(0)).to.equal(5000);
      expect(await c.getValues(['php:int', 'php:arr', 'php:long'])).to.deep.equal(
        new Map<string, unknown>([
          ['php:int', 42],
          ['php:arr', { a: [1, 2] }],
          ['php:long', 'z'.repeat(5000)],
        ]),
      );
    });

    it('options are checked in the constructor', () => {
      const bad = (options: Partial<MemcacheClientOptions<unknown>>) => {
        try {
          new MemcacheClient({ servers: [server.mc.address], ...options });
        } catch (err) {
          return (err as MemlineError).code;
        }
        return 'accepted';
      };
      expect(bad({ compression: true })).to.equal('ERR_INVALID_ARGUMENT'); // no serializer
      expect(bad({ serializer: serializers.php, compression: { algorithm: 'brotli' } })).to.equal(
        'ERR_INVALID_ARGUMENT',
      );
      expect(bad({ serializer: serializers.memline, compression: { level: 12 } })).to.equal(
        'ERR_INVALID_ARGUMENT',
      );
      expect(bad({ serializer: {} as never })).to.equal('ERR_INVALID_ARGUMENT');
      expect(bad({ maxDecompressedSize: 0 })).to.equal('ERR_INVALID_ARGUMENT');
    });
  });

  describe('keys: hashLongKeys', () => {
    it('a key of any length works; short keys are untouched; the item reports the key as given', async () => {
      const c = client({ hashLongKeys: true });
      const plain = client();
      const long = 'user:' + 'k'.repeat(995);
      const sibling = 'user:' + 'k'.repeat(994) + 'x'; // same first 250 bytes
      await c.set(long, 'one');
      await c.set(sibling, 'two');
      expect((await c.get(long))!.value.toString()).to.equal('one');
      expect((await c.get(sibling))!.value.toString()).to.equal('two');
      const items = await c.getMulti([long, sibling]);
      expect([...items.keys()]).to.have.members([long, sibling]);
      await c.set('short', 's');
      expect((await plain.get('short'))!.value.toString()).to.equal('s');
      // The hashed form is an ordinary key: a client without the option reaches it by that name.
      const hashed = hashedWireKey(long, '', false).token;
      expect(Buffer.byteLength(hashed)).to.be.at.most(250);
      expect(hashed).to.match(/^user:k+~[A-Za-z0-9_-]{43}$/);
      expect((await plain.get(hashed))!.value.toString()).to.equal('one');
    });

    it('works with a prefix, unicode and binary keys; forbidden bytes are still refused', async () => {
      const c = client({ hashLongKeys: true, keyPrefix: 'app:' });
      const unicode = '日本語'.repeat(100); // 900 bytes
      await c.set(unicode, 'u');
      expect((await c.get(unicode))!.value.toString()).to.equal('u');
      const b = client({ hashLongKeys: true, binaryKeys: true });
      const spaced = 'a key with spaces '.repeat(20);
      await b.set(spaced, 'b');
      expect((await b.get(spaced))!.value.toString()).to.equal('b');
      expect((await rejection(c.get('bad key '.repeat(50)))).code).to.equal('ERR_INVALID_KEY');
      expect(
        (await rejection(client({ hashLongKeys: true, keyPrefix: 'p'.repeat(220) }).get('x'.repeat(40))))
          .code,
      ).to.equal('ERR_INVALID_KEY');
      expect((await rejection(client().get('k'.repeat(251)))).code).to.equal('ERR_INVALID_KEY');
    });
  });

  describe('metadata on reads, touch, me', () => {
    it('get(key, { meta }) returns ttl, lastAccess, fetched and size only when asked', async () => {
      const c = client();
      await c.set('md', 'hello', { ttl: 100 });
      const plain = (await c.get('md'))!;
      expect(Object.keys(plain)).to.deep.equal(['key', 'value', 'flags', 'cas']);
      await c.set('md2', 'hello', { ttl: 100 });
      const first = (await c.get('md2', { meta: ['ttl', 'lastAccess', 'fetched', 'size'] }))!;
      expect(first.value.toString()).to.equal('hello');
      expect(first.ttl).to.be.within(98, 100);
      expect(first.lastAccess).to.be.within(0, 2);
      expect(first.fetched).to.equal(false);
      expect(first.size).to.equal(5);
      expect((await c.get('md2', { meta: ['fetched'] }))!.fetched).to.equal(true);
      expect(await c.get('md:none', { meta: ['ttl'] })).to.equal(null);
      const forever = await c.get('md', { meta: ['ttl'], touch: 0 });
      expect(forever!.ttl).to.equal(-1);
    });

    it('touch on read sets the TTL (and ttl then reports the new one)', async () => {
      const c = client();
      await c.set('touch', 'x', { ttl: 10 });
      const item = await c.get('touch', { touch: 500, meta: ['ttl'] });
      expect(item!.ttl).to.be.within(498, 500);
      expect((await c.get('touch', { meta: ['ttl'] }))!.ttl).to.be.within(498, 500);
      expect(await c.getValue('touch', { touch: 20 })).to.deep.equal(Buffer.from('x'));
    });

    it('bad metadata options are refused before any I/O', async () => {
      const c = client();
      expect((await rejection(c.get('k', { meta: ['cas' as never] }))).code).to.equal('ERR_INVALID_ARGUMENT');
      expect((await rejection(c.get('k', { meta: 'ttl' as never }))).code).to.equal('ERR_INVALID_ARGUMENT');
      expect((await rejection(c.get('k', { touch: -1 }))).code).to.equal('ERR_INVALID_ARGUMENT');
    });

    it('debug(key) parses me; the negated exp of 1.6.18 comes back as the remaining TTL', async () => {
      const c = client();
      await c.set('dbg', 'value', { ttl: 100 });
      await c.get('dbg');
      const info = (await c.debug('dbg'))!;
      expect(info.key).to.equal('dbg');
      expect(info.fields.exp).to.match(/^-\d+$/); // 1.6.18 prints it negated
      expect(info.ttl).to.be.within(98, 100);
      expect(info.fetched).to.equal(true);
      expect(info.cas).to.equal((await c.get('dbg'))!.cas);
      expect(info.size).to.be.above(5);
      expect(info.slabClass).to.be.above(0);
      await c.set('dbg:forever', 'v');
      expect((await c.debug('dbg:forever'))!.ttl).to.equal(-1);
      expect(await c.debug('dbg:none')).to.equal(null);
    });

    it('me is refused for binary keys: memcached prints the raw bytes of an N placeholder’s key', async () => {
      const c = client({ binaryKeys: true });
      const key = 'a b\r\nEN\r\nx'; // as raw bytes in a reply: a line break and a forged EN
      expect((await c.getOrSet(key, () => 'v', { ttl: 60 })).toString()).to.equal('v');
      expect((await c.get(key))!.value.toString()).to.equal('v');
      expect((await rejection(c.debug(key))).code).to.equal('ERR_INVALID_ARGUMENT');
      const err = await rejection(c.meta({ command: 'me', key: Buffer.from(key) }));
      expect(err.code).to.equal('ERR_INVALID_ARGUMENT');
    });
  });

  describe('features newer than 1.6.18, gated by version', () => {
    it('features() reads the version: 1.6.18 has none of them', async () => {
      const c = client();
      const features = await c.features();
      expect(features.get(server.mc.address)).to.deep.equal({
        version: '1.6.18',
        appendVivify: false,
        storeReturnsSize: false,
        debugExpPositive: false,
        explicitCas: false,
        deleteKeepsItem: false,
        conditionalGet: false,
      });
    });

    it('methods that need them reject with ERR_INVALID_ARGUMENT naming the version, and send nothing', async () => {
      const c = client();
      await c.set('gate', 'v', { ttl: 100 });
      const item = (await c.get('gate'))!;
      const created = c.metrics.total.created;
      for (const [call, needs] of [
        [c.set('gate', 'w', { newCas: 12345n }), '1.6.27'],
        [c.append('gate', 'w', { vivify: 30 }), '1.6.20'],
        [c.delete('gate', { keepItem: true }), '1.6.27'],
        [c.revalidate(item), '1.6.40'],
      ] as const) {
        const err = await rejection(call);
        expect(err.code).to.equal('ERR_INVALID_ARGUMENT');
        expect(err.message).to.include(needs).and.include('1.6.18');
        expect(err.server).to.equal(server.mc.address);
      }
      // Nothing reached the server: the item is untouched and no connection was lost to CLIENT_ERROR.
      expect(await c.get('gate')).to.deep.equal(item);
      expect(c.metrics.total.created).to.equal(created);
    });

    it('vivify is refused for binary keys whatever the server', async () => {
      const c = client({ binaryKeys: true });
      expect((await rejection(c.append('k', 'v', { vivify: 10 }))).code).to.equal('ERR_INVALID_ARGUMENT');
    });

    it('the version table', () => {
      expect(featuresOf('1.6.20')).to.include({ appendVivify: true, storeReturnsSize: false });
      expect(featuresOf('1.6.24')).to.include({ debugExpPositive: true, explicitCas: false });
      expect(featuresOf('1.6.27')).to.include({
        explicitCas: true,
        deleteKeepsItem: true,
        conditionalGet: false,
      });
      expect(featuresOf('1.6.40')).to.include({ conditionalGet: true });
      expect(featuresOf('1.7.0')).to.include({ conditionalGet: true, appendVivify: true });
      expect(featuresOf('unknown')).to.include({ appendVivify: false, conditionalGet: false });
    });

    describe('against a server that says it is 1.6.40 (scripted)', () => {
      let server: ScriptedServer;
      let lines: string[];

      beforeEach(async () => {
        lines = [];
        server = await startScriptedServer((conn) =>
          conn.onRequest((req) => {
            lines.push(req.line);
            const [cmd] = req.line.split(' ');
            if (cmd === 'version') conn.write('VERSION 1.6.40\r\n');
            else if (cmd === 'ms' || cmd === 'md') conn.write('HD\r\n');
            else if (req.line.startsWith('mg gate C7 ')) conn.write('HD f0 c7\r\n');
            else if (req.line.startsWith('mg stale C7 ')) conn.write('HD f0 c7 X W\r\n');
            else if (cmd === 'me') conn.write('ME gate exp=100 la=2 cas=7 fetch=no cls=1 size=70\r\n');
          }),
        );
      });

      afterEach(async () => {
        await server.close();
      });

      it('asks version once, then sends E, md x, ms N and mg C; me exp is read as printed', async () => {
        const c = client({ servers: [server.address] });
        await c.set('gate', 'v', { newCas: 12345n });
        expect(await c.append('gate', 'w', { vivify: 30 })).to.equal(true);
        expect(await c.delete('gate', { keepItem: true })).to.equal(true);
        const item = { key: 'gate', value: Buffer.from('v'), flags: 0, cas: 7n };
        expect(await c.revalidate(item)).to.equal(item); // unchanged: the same object
        expect((await c.debug('gate'))!.ttl).to.equal(100);
        expect(lines).to.deep.equal([
          'version',
          'ms gate 1 E12345 O0',
          'ms gate 1 MA N30 O1',
          'md gate x O2',
          'mg gate C7 v f c O3',
          'me gate',
        ]);
      });

      it('revalidate() of a stale item hands back the win it took (md <key> I C<cas>), like any read', async () => {
        const c = client({ servers: [server.address] });
        const item = { key: 'stale', value: Buffer.from('v'), flags: 0, cas: 7n };
        expect(await c.revalidate(item)).to.equal(item);
        await c.close(); // graceful: the hand-back, queued before revalidate() resolved, is answered first
        expect(lines.filter((l) => l.startsWith('m'))).to.deep.equal([
          'mg stale C7 v f c O0',
          'md stale I C7 O1',
        ]);
      });
    });
  });
});
