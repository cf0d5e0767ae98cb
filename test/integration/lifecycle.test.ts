import { expect } from 'chai';
import { MemcacheClient, MemlineError } from '../../protocols/memcached-meta/index.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';
import { activeResources, snapshotResources, waitFor } from '../harness/resources.js';

async function rejection(promise: Promise<unknown>): Promise<MemlineError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err as MemlineError,
  );
}

describe('MemcacheClient lifecycle and deadlines against real memcached', function () {
  let mc: MemcachedProcess;

  before(async () => {
    mc = await startMemcached();
  });

  after(async () => {
    await mc.kill();
  });

  it('close() finishes what is in flight, then every call rejects ERR_CLIENT_CLOSED; no handle remains', async () => {
    const baseline = await snapshotResources();
    const client = new MemcacheClient({ servers: [mc.address] });
    await client.set('lc', 'v');
    const inflight = Promise.all([client.get('lc'), client.getMulti(['lc', 'none'])]);
    const closing = client.close();
    const [item, many] = await inflight;
    expect(item!.value.toString()).to.equal('v');
    expect(many.size).to.equal(1);
    await closing;
    for (const call of [
      client.get('lc'),
      client.set('lc', 'x'),
      client.version(),
      client.getOrSet('lc', () => 'x'),
    ]) {
      expect((await rejection(call)).code).to.equal('ERR_CLIENT_CLOSED');
    }
    await waitFor(() => activeResources(baseline).length === 0);
  });

  it('destroy() rejects requests in flight with ERR_CLIENT_CLOSED and leaves no handle', async () => {
    const baseline = await snapshotResources();
    const client = new MemcacheClient({ servers: [mc.address] });
    await client.version();
    await mc.pause();
    try {
      const pending = [client.get('a'), client.set('b', 'x')];
      await waitFor(() => client.metrics.total.pending === 2);
      client.destroy();
      for (const p of pending) {
        const err = await rejection(p);
        expect(['ERR_CLIENT_CLOSED', 'ERR_CONNECTION']).to.include(err.code);
      }
    } finally {
      mc.resume();
    }
    await waitFor(() => activeResources(baseline).length === 0);
  });

  it('a late reply after a timeout never reaches the next request (promise 1, real server)', async () => {
    const client = new MemcacheClient({ servers: [mc.address] });
    try {
      await client.set('A', 'value-of-A');
      await client.set('B', 'value-of-B');
      await mc.pause();
      const a = client.get('A', { timeout: 50 });
      const aErr = await rejection(a);
      expect(aErr.code).to.equal('ERR_TIMEOUT');
      expect(aErr.mayHaveExecuted).to.equal(true);
      const b = client.get('B', { timeout: 3000 });
      mc.resume();
      expect((await b)!.value.toString()).to.equal('value-of-B');
    } finally {
      mc.resume();
      await client.close();
    }
  });

  it('a timeout is never reported as a miss, and settles by its deadline', async () => {
    const client = new MemcacheClient({ servers: [mc.address], timeout: 100 });
    try {
      await client.version();
      await mc.pause();
      const started = performance.now();
      const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => client.get(`k${i}`)));
      const elapsed = performance.now() - started;
      expect(
        results.every((r) => r.status === 'rejected' && (r.reason as MemlineError).code === 'ERR_TIMEOUT'),
      ).to.be.true;
      expect(elapsed).to.be.lessThan(100 + 250);
    } finally {
      mc.resume();
      await client.close();
    }
  });

  it('an aborted call rejects with ERR_ABORTED at once and the others are unaffected', async () => {
    const client = new MemcacheClient({ servers: [mc.address] });
    try {
      await client.set('x', '1');
      const ac = new AbortController();
      const aborted = client.get('x', { signal: ac.signal });
      const normal = client.get('x');
      ac.abort();
      expect((await rejection(aborted)).code).to.equal('ERR_ABORTED');
      expect((await normal)!.value.toString()).to.equal('1');
      expect((await client.get('x'))!.value.toString()).to.equal('1');
    } finally {
      await client.close();
    }
  });

  it('fails fast with ERR_CONNECTION when the server is down, and works again after a restart', async () => {
    const client = new MemcacheClient({ servers: [mc.address] });
    try {
      await client.set('r', '1');
      await mc.kill();
      const started = performance.now();
      const err = await rejection(client.get('r'));
      expect(err.code).to.equal('ERR_CONNECTION');
      expect(err.server).to.equal(mc.address);
      expect(performance.now() - started).to.be.lessThan(500);
      await mc.restart();
      // The refusal left the server in reconnect back-off: calls fail fast (ERR_CONNECTION) until it
      // ends, then the next call connects. Recovery must come within the back-off cap (1 s here).
      const restarted = performance.now();
      let first: unknown;
      for (;;) {
        first = await client.get('r').catch((e: unknown) => e);
        if (!(first instanceof MemlineError) || performance.now() - restarted > 1500) break;
        expect(first.code).to.equal('ERR_CONNECTION');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(first).to.equal(null); // a cold cache after the restart
      await client.set('r', '2');
      expect((await client.get('r'))!.value.toString()).to.equal('2');
    } finally {
      await client.close();
    }
  });
});
