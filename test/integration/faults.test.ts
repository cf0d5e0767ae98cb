/**
 * The fault-injection suite (docs/reliability.md: servers that fail): real memcached stopped with
 * SIGSTOP, killed and restarted, and an in-process fault proxy for resets and black holes.
 */
import net from 'node:net';
import { expect } from 'chai';
import { MemcacheClient, type MemlineError } from '../../protocols/memcached-meta/index.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';
import { activeResources, snapshotResources, waitFor } from '../harness/resources.js';

type Outcome = { ok: true; value: unknown; at: number } | { ok: false; error: MemlineError; at: number };

/** Settles every promise, recording when (ms after `start`) and how. */
function track(promises: Promise<unknown>[], start: number): Promise<Outcome[]> {
  return Promise.all(
    promises.map((p) =>
      p.then(
        (value): Outcome => ({ ok: true, value, at: performance.now() - start }),
        (error: MemlineError): Outcome => ({ ok: false, error, at: performance.now() - start }),
      ),
    ),
  );
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

describe('failures against real memcached and a fault proxy', function () {
  this.timeout(60_000);
  const started: MemcachedProcess[] = [];
  const clients: MemcacheClient[] = [];
  let proxy: FaultProxy | undefined;

  async function server(args: string[] = []): Promise<MemcachedProcess> {
    const m = await startMemcached({ args });
    started.push(m);
    return m;
  }
  function client(options: ConstructorParameters<typeof MemcacheClient>[0]): MemcacheClient {
    const c = new MemcacheClient(options);
    clients.push(c);
    return c;
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await proxy?.close();
    proxy = undefined;
    await Promise.all(started.splice(0).map((m) => m.kill()));
  });

  it('a server killed with 1,000 requests in flight: every one settles within a second, none wrong', async () => {
    const mc = await server();
    const c = client({ servers: [mc.address], timeout: 5000 });
    const keys = Array.from({ length: 1000 }, (_, i) => `k${i}`);
    await c.setMulti(keys.map((k) => [k, `value-of-${k}`] as const));
    await mc.pause(); // hold the replies so that all 1,000 are in flight
    const start = performance.now();
    const calls = keys.map((k) => c.get(k));
    await waitFor(() => c.metrics.total.inflight === 1000);
    const settled = track(calls, start); // handlers attached before the rejections come
    const killedAt = performance.now() - start;
    await mc.kill();
    const outcomes = await settled;
    for (const [i, o] of outcomes.entries()) {
      expect(o.at - killedAt).to.be.lessThan(1000);
      if (o.ok) expect((o.value as { value: Buffer }).value.toString()).to.equal(`value-of-${keys[i]}`);
      else {
        expect(['ERR_CONNECTION', 'ERR_CIRCUIT_OPEN']).to.include(o.error.code);
        // Written before the kill (and perhaps moved once): the server may have run it.
        if (o.error.code === 'ERR_CONNECTION') expect(o.error.mayHaveExecuted).to.equal(true);
      }
    }
  });

  it('the breaker opens after repeated failures: ERR_CIRCUIT_OPEN in well under a millisecond, no socket', async () => {
    const mc = await server();
    const c = client({ servers: [mc.address], breaker: { threshold: 3, openTime: 60_000 } });
    await c.set('x', '1');
    await mc.kill();
    // Each failed connect counts; between them (the reconnect back-off) calls fail at once with the
    // refusal, counting nothing. The breaker opens after the third failed connect.
    const codes: string[] = [];
    const openBy = performance.now() + 2000;
    while (codes.at(-1) !== 'ERR_CIRCUIT_OPEN' && performance.now() < openBy) {
      const t = performance.now();
      codes.push(((await c.get('x').catch((e: MemlineError) => e)) as MemlineError).code);
      expect(performance.now() - t).to.be.lessThan(500);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(codes[0]).to.equal('ERR_CONNECTION');
    expect(codes.at(-1)).to.equal('ERR_CIRCUIT_OPEN');
    expect(new Set(codes.slice(0, -1))).to.deep.equal(new Set(['ERR_CONNECTION']));
    const created = c.metrics.total.created;
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      const err = (await c.get('x').catch((e: MemlineError) => e)) as MemlineError;
      times.push(performance.now() - t);
      expect(err.code).to.equal('ERR_CIRCUIT_OPEN');
      expect(err.mayHaveExecuted).to.equal(false);
      expect(err.server).to.equal(mc.address);
    }
    expect(percentile(times, 50)).to.be.lessThan(0.5);
    expect(c.metrics.total.created).to.equal(created); // no connect attempt while open
    expect(c.metrics.servers[0].breaker).to.equal('open');
  });

  for (const breaker of [{ threshold: 0 }, { threshold: 3, openTime: 200 }]) {
    it(`a refused port fails every call within 500 ms with ERR_CONNECTION, and is used again once it listens (breaker ${breaker.threshold > 0 ? 'on' : 'off'})`, async () => {
      const probe = net.createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const port = (probe.address() as net.AddressInfo).port;
      await new Promise((resolve) => probe.close(resolve));
      // Default timeout (1 s) and reconnect back-off (50 ms doubling to 2 s): several back-off periods.
      const c = client({ servers: [`127.0.0.1:${port}`], breaker });
      const end = performance.now() + 3000;
      let calls = 0;
      while (performance.now() < end) {
        const t = performance.now();
        const err = (await c.get('x').catch((e: MemlineError) => e)) as MemlineError;
        expect(performance.now() - t, `call ${calls}`).to.be.lessThan(500);
        if (breaker.threshold === 0) expect(err.code).to.equal('ERR_CONNECTION');
        else expect(err.code).to.be.oneOf(['ERR_CONNECTION', 'ERR_CIRCUIT_OPEN']);
        expect(err.mayHaveExecuted).to.equal(false);
        expect(err.server).to.equal(`127.0.0.1:${port}`);
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(calls).to.be.greaterThan(50);
      // Connects are spaced by the back-off, not one per call.
      expect(c.metrics.total.created).to.be.lessThan(calls / 5);
      const mc = await startMemcached({ port });
      started.push(mc);
      const back = performance.now();
      let ok = false;
      while (!ok && performance.now() - back < 5000) {
        ok = await c.set('x', '1').then(
          () => true,
          () => false,
        );
        if (!ok) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(ok).to.equal(true);
      // Within the back-off cap (2 s) or the breaker's longest open time (5 s × 1.2), plus a connect.
      expect(performance.now() - back).to.be.lessThan(breaker.threshold === 0 ? 2500 : 6500);
      expect((await c.get('x'))!.value.toString()).to.equal('1');
    });
  }

  it('bursts of 1 ms timeouts do not mark a healthy server down; the next call with 10 s succeeds', async () => {
    const mc = await server();
    const c = client({ servers: [mc.address], breaker: { threshold: 5, openTime: 60_000 }, coalesce: false });
    await c.set('x', '1');
    for (let round = 0; round < 5; round++) {
      const calls = Array.from({ length: 50 }, () => c.get('x', { timeout: 1 }));
      await new Promise((resolve) => process.nextTick(resolve)); // the requests are written
      // Keep the event loop busy past the deadline so the timer fires before the replies are read.
      for (const t = performance.now(); performance.now() - t < 5;);
      const settled = await Promise.allSettled(calls);
      const timedOut = settled.filter(
        (r) => r.status === 'rejected' && (r.reason as MemlineError).code === 'ERR_TIMEOUT',
      );
      expect(timedOut.length).to.be.greaterThan(5);
      expect(c.metrics.servers[0].breaker).to.equal('closed');
      expect((await c.get('x', { timeout: 10_000 }))!.value.toString()).to.equal('1');
    }
  });

  for (const timeout of [50, 400]) {
    it(`a silent (stopped) server still opens the breaker on ${timeout} ms timeouts`, async () => {
      const mc = await server();
      const c = client({
        servers: [mc.address],
        breaker: { threshold: 5, openTime: 60_000 },
        coalesce: false,
      });
      await c.set('x', '1');
      await mc.pause();
      try {
        const results = await Promise.allSettled(Array.from({ length: 5 }, () => c.get('x', { timeout })));
        for (const r of results) {
          expect(r.status).to.equal('rejected');
          expect(((r as PromiseRejectedResult).reason as MemlineError).code).to.equal('ERR_TIMEOUT');
        }
        await waitFor(() => c.metrics.servers[0].breaker === 'open', 2000);
        const err = (await c.get('x', { timeout: 10_000 }).catch((e: MemlineError) => e)) as MemlineError;
        expect(err.code).to.equal('ERR_CIRCUIT_OPEN');
      } finally {
        mc.resume();
      }
    });
  }

  it('recovers after a restart within the open time plus the connect timeout, with one probe', async () => {
    const mc = await server();
    const openTime = 300;
    const connectTimeout = 500;
    const c = client({ servers: [mc.address], breaker: { threshold: 2, openTime }, connectTimeout });
    await c.set('x', '1');
    await mc.kill();
    while (c.metrics.servers[0].breaker !== 'open') await c.get('x').catch(() => undefined);
    await mc.restart();
    const restartedAt = performance.now();
    let recovered = -1;
    while (performance.now() - restartedAt < 3000) {
      const r = await c.set('x', '2').then(
        () => true,
        () => false,
      );
      if (r) {
        recovered = performance.now() - restartedAt;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(recovered).to.be.within(0, openTime * 1.2 + connectTimeout + 100);
    expect(c.metrics.servers[0].breaker).to.equal('closed');
    expect((await c.get('x'))!.value.toString()).to.equal('2');
  });

  it('misses, not-stored, CAS conflicts and SERVER_ERROR (object too large) never open the breaker', async () => {
    const mc = await server();
    const c = client({ servers: [mc.address], breaker: { threshold: 2 }, maxValueSize: 2 * 1024 * 1024 });
    for (let i = 0; i < 20; i++) {
      await c.get(`missing${i}`);
      await c.add('exists', 'x');
      await c.cas('exists', 'y', 1n);
      await c
        .set('huge', Buffer.alloc(1_500_000))
        .catch((e: MemlineError) => expect(e.code).to.equal('ERR_VALUE_TOO_LARGE'));
    }
    expect(c.metrics.servers[0].breaker).to.equal('closed');
    expect(c.metrics.total.created).to.equal(1);
  });

  it('one of three servers paused: the keys of the other two keep error rate 0 and p99 under twice the baseline', async () => {
    const servers = await Promise.all([server(), server(), server()]);
    const c = client({ servers: servers.map((m) => m.address), timeout: 300 });
    // The baseline: a client of the two healthy servers alone, measured in the same moments, so that
    // what else the machine runs weighs on both alike.
    const control = client({ servers: servers.slice(1).map((m) => m.address), timeout: 300 });
    const keys = Array.from({ length: 3000 }, (_, i) => `iso:${i}`);
    await c.setMulti(keys.map((k) => [k, 'v'] as const));
    await control.setMulti(keys.map((k) => [k, 'v'] as const));
    const sick = servers[0].address;
    const healthy = keys.filter((k) => c.serverFor(k) !== sick);
    const sickKeys = keys.filter((k) => c.serverFor(k) === sick);

    /** One round of 400 concurrent gets of healthy keys: its p99 and its errors. */
    async function round(on: typeof c): Promise<{ p99: number; errors: number }> {
      const latencies: number[] = [];
      let errors = 0;
      await Promise.all(
        healthy.slice(0, 400).map(async (k) => {
          const t = performance.now();
          try {
            await on.get(k);
          } catch {
            errors++;
          }
          latencies.push(performance.now() - t);
        }),
      );
      return { p99: percentile(latencies, 99), errors };
    }
    /** Seven rounds each, interleaved; the median of the rounds' p99s (one stalled round moves nothing). */
    async function measure(): Promise<{ p99: number; control: number; errors: number }> {
      const mine: number[] = [];
      const theirs: number[] = [];
      let errors = 0;
      for (let i = 0; i < 7; i++) {
        const r = await round(c);
        errors += r.errors;
        mine.push(r.p99);
        theirs.push((await round(control)).p99);
      }
      return { p99: percentile(mine, 50), control: percentile(theirs, 50), errors };
    }
    await measure(); // warm both clients' paths
    await servers[0].pause();
    const sickCalls = sickKeys.slice(0, 200).map((k) => c.get(k).catch((e: MemlineError) => e));
    const during = await measure();
    expect(during.errors).to.equal(0);
    expect(during.p99).to.be.lessThan(Math.max(2 * during.control, during.control + 5));
    for (const r of await Promise.all(sickCalls))
      expect((r as MemlineError).code).to.match(/ERR_TIMEOUT|ERR_CONNECTION|ERR_CIRCUIT_OPEN/);
    servers[0].resume();
  });

  it('a silent connection (server stopped) is destroyed after silentTimeout and its requests rejected', async () => {
    const mc = await server();
    const c = client({ servers: [mc.address], timeout: 5000, silentTimeout: 200 });
    await c.set('x', '1');
    await mc.pause();
    const start = performance.now();
    const err = (await c.get('x').catch((e: MemlineError) => e)) as MemlineError;
    const elapsed = performance.now() - start;
    mc.resume();
    expect(err.code).to.equal('ERR_CONNECTION');
    expect(elapsed).to.be.within(150, 900); // silentTimeout, not the 5 s request timeout
  });

  it('retries an idempotent request once on a fresh connection after a reset; never resends incr', async () => {
    const mc = await server();
    proxy = await startFaultProxy({ host: mc.host, port: mc.port });
    const c = client({ servers: [proxy.address], timeout: 2000 });
    await c.set('n', '10');
    await c.set('v', 'value');
    proxy.blackhole('downstream'); // requests reach the server, replies do not come back
    const get = c.get('v');
    const incr = c.incr('n').catch((e: MemlineError) => e);
    await waitFor(() => c.metrics.total.inflight === 2);
    // Wait until the server has run the incr (its reply is held by the black hole).
    for (let i = 0; i < 100; i++) {
      const raw = (await mc.command('mg n v\r\n', { until: '\r\n' })).toString();
      if (raw.includes('11')) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    proxy.clear();
    proxy.resetPeer();
    expect((await get)!.value.toString()).to.equal('value');
    const err = (await incr) as MemlineError;
    expect(err.code).to.equal('ERR_CONNECTION');
    expect(err.mayHaveExecuted).to.equal(true);
    // The incr ran once on the server (its reply was lost) and was not sent again.
    expect((await c.get('n'))!.value.toString().trim()).to.equal('11');
  });

  it('a server down under 5,000 requests/s for 10 s: every call settles by its deadline, memory bounded', async function () {
    const mc = await server();
    const c = client({ servers: [mc.address], timeout: 200, breaker: { threshold: 5, openTime: 250 } });
    await c.set('x', '1');
    await mc.kill();
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let late = 0;
    let settled = 0;
    let issued = 0;
    const codes = new Map<string, number>();
    const pending = new Set<Promise<void>>();
    const end = performance.now() + 10_000;
    while (performance.now() < end) {
      const tickStart = performance.now();
      for (let i = 0; i < 50; i++) {
        const t = performance.now();
        issued++;
        const p: Promise<void> = c
          .get(`k${issued % 1000}`)
          .then(
            () => undefined,
            (e: MemlineError) => {
              codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
            },
          )
          .then(() => {
            settled++;
            if (performance.now() - t > 200 + 100) late++;
            pending.delete(p);
          });
        pending.add(p);
      }
      // 50 requests every 10 ms: 5,000 per second.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 10 - (performance.now() - tickStart))));
    }
    await Promise.all(pending);
    global.gc?.();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    expect(settled).to.equal(issued);
    expect(issued).to.be.greaterThan(35_000);
    expect(late).to.equal(0);
    expect(growth).to.be.lessThan(32 * 1024 * 1024);
    expect(
      [...codes.keys()].every((code) => ['ERR_CONNECTION', 'ERR_CIRCUIT_OPEN', 'ERR_TIMEOUT'].includes(code)),
    ).to.be.true;
  });

  it('50 kill/restart cycles under load leave no extra socket, timer or handle', async () => {
    const mc = await server();
    const baseline = await snapshotResources();
    const c = client({
      servers: [mc.address],
      timeout: 200,
      breaker: { threshold: 3, openTime: 20, maxOpenTime: 100 },
    });
    for (let cycle = 0; cycle < 50; cycle++) {
      const load = Array.from({ length: 50 }, (_, i) => c.set(`c${i}`, 'v').catch(() => undefined));
      await mc.kill();
      await Promise.all(load);
      await mc.restart();
    }
    // Back in service: requests succeed again on one connection.
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      ok = await c.set('final', 'v').then(
        () => true,
        async () => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          return false;
        },
      );
    }
    expect(ok).to.equal(true);
    const stats = await mc.stats();
    // our one pooled connection, plus the harness's own stats connection
    expect(Number(stats.curr_connections)).to.be.at.most(2 + 1);
    expect(c.metrics.total.connections).to.equal(1);
    await c.close();
    await waitFor(() => activeResources(baseline).length === 0);
  });

  it('missOnError answers a failed read as a miss, reported to onError and counted apart', async () => {
    const mc = await server();
    const seen: MemlineError[] = [];
    const c = client({ servers: [mc.address], missOnError: true, onError: (e) => seen.push(e) });
    await c.set('x', '1');
    await mc.kill();
    expect(await c.get('x')).to.equal(null);
    expect((await c.getMulti(['x', 'y'])).size).to.equal(0);
    expect(seen.length).to.equal(2);
    expect(c.metrics.total.errorMisses).to.equal(3);
    expect(c.metrics.total.misses).to.equal(0);
    // Writes still fail loudly.
    expect(((await c.set('x', '2').catch((e: MemlineError) => e)) as MemlineError).code).to.match(/ERR_/);
  });

  it('past maxQueuedBytes a write fails with ERR_QUEUE_FULL at once, nothing sent', async () => {
    const mc = await server();
    const c = client({ servers: [mc.address], maxQueuedBytes: 1024 * 1024, timeout: 2000 });
    await c.set('warm', 'x');
    await mc.pause();
    const value = Buffer.alloc(100 * 1024, 1);
    const calls = Array.from({ length: 100 }, (_, i) =>
      c.set(`big${i}`, value).catch((e: MemlineError) => e),
    );
    const results = await Promise.all(calls.slice(-10));
    mc.resume();
    expect(results.some((r) => (r as MemlineError | undefined)?.code === 'ERR_QUEUE_FULL')).to.equal(true);
    await Promise.all(calls);
  });
});
