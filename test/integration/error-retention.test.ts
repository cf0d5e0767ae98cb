/**
 * An error does not keep the failed call's value alive: callers keep errors (`Promise.allSettled`,
 * logs, retry queues) long after the call, and an error must hold its code, server and message, not
 * the request. Real memcached; heap measured after a forced collection.
 */
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { expect } from 'chai';
import { MemcacheClient, type MemlineError } from '../../protocols/memcached-meta/index.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Heap plus Buffer memory after full collections. */
function retained(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const N = 100;
const SIZE = 256 * 1024;

/** Fails N sets of distinct SIZE-byte values with `fail`, keeps the errors, returns the growth. */
async function growthKeeping(
  fail: (key: string, value: Buffer) => Promise<unknown>,
  code: string,
): Promise<{ growth: number; errors: MemlineError[] }> {
  const before = retained();
  const errors: MemlineError[] = [];
  for (let i = 0; i < N; i++) {
    const err = await fail(`k${i}`, Buffer.alloc(SIZE, i)).then(
      () => undefined,
      (e: unknown) => e as MemlineError,
    );
    expect(err?.code).to.equal(code);
    errors.push(err!);
  }
  return { growth: retained() - before, errors };
}

describe('errors do not keep the failed call’s value alive', function () {
  this.timeout(30_000);
  let mc: MemcachedProcess | undefined;
  let c: MemcacheClient | undefined;

  afterEach(async () => {
    c?.destroy();
    c = undefined;
    mc?.resume();
    await mc?.kill();
    mc = undefined;
  });

  it(`${N} kept ERR_QUEUE_FULL errors of ${SIZE / 1024} KiB sets hold far less than their values`, async () => {
    mc = await startMemcached();
    c = new MemcacheClient({ servers: [mc.address], maxPending: 1 });
    await c.set('w', '1');
    await mc.pause();
    const held = c.get('w', { timeout: 5000 }).catch(() => undefined); // fills the one pending slot
    const { growth, errors } = await growthKeeping((k, v) => c!.set(k, v), 'ERR_QUEUE_FULL');
    expect(growth).to.be.lessThan((N * SIZE) / 10);
    expect(errors[0].stack).to.include('QueueFullError');
    mc.resume();
    await held;
  });

  it(`${N} kept ERR_TIMEOUT errors hold far less than their values once the connection is gone`, async () => {
    mc = await startMemcached();
    c = new MemcacheClient({ servers: [mc.address], silentTimeout: 0 });
    await c.set('w', '1');
    await mc.pause();
    const before = retained();
    const errors = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        c!.set(`k${i}`, Buffer.alloc(SIZE, i), { timeout: 100 }).then(
          () => undefined,
          (e: unknown) => e as MemlineError,
        ),
      ),
    );
    for (const e of errors) expect(e?.code).to.equal('ERR_TIMEOUT');
    c.destroy(); // written requests stay as tombstones until their replies: drop the connection
    expect(retained() - before).to.be.lessThan((N * SIZE) / 10);
    expect(errors.length).to.equal(N);
  });

  for (const breaker of [{ threshold: 0 }, { threshold: 1, openTime: 60_000 }]) {
    const code = breaker.threshold === 0 ? 'ERR_CONNECTION' : 'ERR_CIRCUIT_OPEN';
    it(`${N} kept ${code} errors of a refused server hold far less than their values`, async () => {
      const probe = net.createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const port = (probe.address() as net.AddressInfo).port;
      await new Promise((resolve) => probe.close(resolve));
      c = new MemcacheClient({
        servers: [`127.0.0.1:${port}`],
        breaker,
        reconnectBase: 60_000,
        reconnectCap: 60_000,
      });
      await c.get('w').catch(() => undefined); // the first refusal starts the back-off / opens the breaker
      const { growth } = await growthKeeping((k, v) => c!.set(k, v), code);
      expect(growth).to.be.lessThan((N * SIZE) / 10);
    });
  }
});
