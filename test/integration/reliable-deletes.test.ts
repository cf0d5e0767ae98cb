/**
 * Reliable deletes against real memcached: a delete sent while the server is paused (SIGSTOP)
 * fails with its own error, is journaled, and is replayed once the server answers again; a store
 * after the failed delete cancels the replay. With `servers` and with `pools`.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemcacheClient, type MemcacheClientOptions } from '../../protocols/memcached-meta/index.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';
import { waitFor } from '../harness/resources.js';

describe('reliable deletes against real memcached', function () {
  this.timeout(60_000);
  let mc: MemcachedProcess;
  const clients: MemcacheClient[] = [];

  before(async () => {
    mc = await startMemcached();
  });
  after(async () => {
    await mc.kill();
  });
  afterEach(async () => {
    mc.resume();
    for (const c of clients.splice(0)) await c.close();
  });

  function client(shape: Partial<MemcacheClientOptions>, retryInterval = 50, file?: string): MemcacheClient {
    const c = new MemcacheClient({
      ...shape,
      timeout: 200,
      breaker: { threshold: 1, openTime: 100, maxOpenTime: 200 },
      reliableDeletes: {
        retryInterval,
        maxRetryInterval: Math.max(200, retryInterval),
        ...(file === undefined ? {} : { file, fileInterval: 50 }),
      },
    });
    clients.push(c);
    return c;
  }

  for (const [name, shape] of [
    ['servers', () => ({ servers: [mc.address] })],
    ['pools', () => ({ pools: { main: [mc.address] } })],
  ] as const) {
    it(`${name}: the failed delete rejects, is journaled, and is replayed once the server is back`, async () => {
      const c = client(shape());
      await c.set('rd:k', 'old');
      await mc.pause();
      const err = await c.delete('rd:k').then(
        () => undefined,
        (e: Error & { code?: string }) => e,
      );
      expect(err?.code).to.equal('ERR_TIMEOUT');
      expect(c.metrics.reliableDeletes).to.include({ depth: 1, journaled: 1 });
      mc.resume();
      await waitFor(() => c.metrics.reliableDeletes?.depth === 0, 10_000);
      expect(c.metrics.reliableDeletes).to.include({ replayed: 1, cancelled: 0 });
      expect(await c.get('rd:k')).to.equal(null);
    });

    it(`${name}: a set after the failed delete cancels the replay; the new value survives`, async () => {
      // No replay round in this test's time: the set alone must cancel the entry.
      const c = client(shape(), 60_000);
      await c.set('rd:s', 'old');
      await mc.pause();
      await c.delete('rd:s').catch(() => undefined);
      expect(c.metrics.reliableDeletes?.depth).to.equal(1);
      mc.resume();
      // The breaker may still be open for a moment: the set goes through once it lets calls by.
      for (let i = 0; ; i++) {
        try {
          await c.set('rd:s', 'new');
          break;
        } catch (e) {
          if (i > 50) throw e;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      expect(c.metrics.reliableDeletes).to.include({ depth: 0, cancelled: 1 });
      expect((await c.get('rd:s'))?.value.toString()).to.equal('new');
      expect(c.metrics.reliableDeletes).to.include({ replayed: 0 });
    });
  }

  it('deleteMulti: the keys of the paused server are journaled and replayed', async () => {
    const c = client({ servers: [mc.address] });
    await c.setMulti([
      ['rd:m1', 'a'],
      ['rd:m2', 'b'],
    ]);
    await mc.pause();
    await c.deleteMulti(['rd:m1', 'rd:m2']).catch(() => undefined);
    expect(c.metrics.reliableDeletes?.depth).to.equal(2);
    mc.resume();
    await waitFor(() => c.metrics.reliableDeletes?.depth === 0, 10_000);
    expect(await c.getMulti(['rd:m1', 'rd:m2'])).to.have.property('size', 0);
  });

  it('the journal file follows the journal while the client is open: a crash loses at most fileInterval', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'memline-journal-'));
    try {
      const file = join(dir, 'deletes.jsonl');
      const lines = () => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
      const c = client({ servers: [mc.address] }, 100, file);
      await c.set('rd:f', 'old');
      await mc.pause();
      await c.delete('rd:f').catch(() => undefined);
      expect(c.metrics.reliableDeletes?.depth).to.equal(1);
      // Written while the client is open, without close() or destroy().
      await waitFor(() => lines().length === 1);
      expect(JSON.parse(lines()[0])).to.deep.equal({ server: mc.address, key: 'rd:f' });
      mc.resume();
      await waitFor(() => c.metrics.reliableDeletes?.depth === 0, 10_000);
      await waitFor(() => lines().length === 0);
      expect(c.metrics.reliableDeletes?.fileErrors).to.equal(0);
      clients.splice(clients.indexOf(c), 1);
      await c.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
