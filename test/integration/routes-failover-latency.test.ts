/**
 * The latency of a failover read with the primary paused (SIGSTOP of the memcached this test
 * started), against real memcached, under the settings that decide it: the call's `timeout`, the
 * failover's `attemptTimeout` (else the time left split over the tries) and the primary's circuit
 * breaker. Prints p50/p99 per setting; asserts only what the design promises (every read answered
 * by the gutter within its deadline; a try costs about `attemptTimeout` until the breaker opens,
 * then next to nothing), so machine load cannot fail it.
 */
import { expect } from 'chai';
import { MemcacheClient, routes, type MemcacheClientOptions } from '../../protocols/memcached-meta/index.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';

const { pool, failover, gutter } = routes;

const TIMEOUT = 1000;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

interface Figures {
  n: number;
  p50: number;
  p99: number;
  max: number;
  /** Reads that waited out a try on the paused primary (50 ms or more). */
  slow: number;
}

function figures(times: readonly number[]): Figures {
  const sorted = [...times].sort((x, y) => x - y);
  return {
    n: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.at(-1)!,
    slow: sorted.filter((t) => t >= 50).length,
  };
}

const show = (f: Figures): string =>
  `n ${f.n}, p50 ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms, max ${f.max.toFixed(1)} ms, ` +
  `${f.slow} reads ≥ 50 ms`;

describe('routes: failover read latency with the primary paused (SIGSTOP)', function () {
  this.timeout(120_000);
  let main: MemcachedProcess;
  let spare: MemcachedProcess;
  const clients: MemcacheClient[] = [];
  const report: string[] = [];

  before(async () => {
    [main, spare] = await Promise.all([startMemcached(), startMemcached()]);
    await spare.command('ms hot 6 T600\r\ngutter\r\n', { until: '\r\n' });
  });
  after(async () => {
    main.resume();
    await Promise.all([main.kill(), spare.kill()]);
    console.log(`      failover read latency, timeout ${TIMEOUT} ms:\n        ${report.join('\n        ')}`);
  });
  afterEach(() => {
    main.resume();
    for (const c of clients.splice(0)) c.destroy();
  });

  function client(options: Partial<MemcacheClientOptions>, attemptTimeout?: number): MemcacheClient {
    const c = new MemcacheClient({
      pools: { main: [main.address], gutter: [spare.address] },
      route: failover(pool('main'), gutter('gutter', { maxTtl: 600 }), {
        ...(attemptTimeout === undefined ? {} : { attemptTimeout }),
      }),
      timeout: TIMEOUT,
      ...options,
    });
    clients.push(c);
    return c;
  }

  /** Reads `hot` one call after another for `ms` (at least `min` reads) with main paused; the times. */
  async function pausedReads(c: MemcacheClient, ms: number, min = 1): Promise<number[]> {
    await c.get('hot'); // connections open before the pause
    await main.pause();
    const times: number[] = [];
    const end = performance.now() + ms;
    while (performance.now() < end || times.length < min) {
      const t0 = performance.now();
      const item = await c.get('hot');
      times.push(performance.now() - t0);
      expect(item?.value.toString()).to.equal('gutter');
    }
    return times;
  }

  it('baseline: the primary answering (each read a miss on main: one round trip)', async () => {
    const c = client({});
    await c.get('hot');
    const times: number[] = [];
    for (let i = 0; i < 500; i++) {
      const t0 = performance.now();
      await c.get('hot');
      times.push(performance.now() - t0);
    }
    report.push(`primary answering:                          ${show(figures(times))}`);
  });

  it('attemptTimeout 100 ms, default breaker (5 failures, open 1 s doubling to 5 s)', async () => {
    const times = await pausedReads(client({}, 100), 4000);
    const f = figures(times);
    report.push(`paused, attemptTimeout 100, breaker on:     ${show(f)}`);
    // Until the breaker opens, a read waits out its try on main; after, the gutter answers at once.
    expect(times[0]).to.be.within(90, TIMEOUT);
    expect(f.p50).to.be.below(50);
    expect(f.max).to.be.below(TIMEOUT + 100);
  });

  it('attemptTimeout 100 ms, breaker off: every read waits out its try on main', async () => {
    const times = await pausedReads(client({ breaker: { threshold: 0 } }, 100), 3000, 20);
    const f = figures(times);
    report.push(`paused, attemptTimeout 100, breaker off:    ${show(f)}`);
    expect(f.p50).to.be.within(90, 400);
    expect(f.max).to.be.below(TIMEOUT + 100);
  });

  it('no attemptTimeout (the time left split over the tries: 500 ms), default breaker', async () => {
    const times = await pausedReads(client({}), 4000);
    const f = figures(times);
    report.push(`paused, no attemptTimeout, breaker on:      ${show(f)}`);
    expect(times[0]).to.be.within(450, TIMEOUT + 100);
    expect(f.max).to.be.below(TIMEOUT + 100);
  });
});
