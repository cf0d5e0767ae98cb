/**
 * Auto-eject against real memcached: a pool of three, one server killed. After `after` failed calls
 * its keys are served by the other two (the others' keys stay where they were); once it is back on
 * the same port, a probe restores the exact mapping. A server in two pools is ejected once for both,
 * logged and published on `memline:eject:change`.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { expect } from 'chai';
import { MemcacheClient, routes, type MemlineError } from '../../protocols/memcached-meta/index.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';
import { waitFor } from '../harness/resources.js';

async function has(mc: MemcachedProcess, key: string): Promise<boolean> {
  const reply = (await mc.command(`mg ${key} k\r\nmn\r\n`, { until: 'MN\r\n' })).toString();
  return reply.startsWith('HD');
}

describe('routes: auto-eject against real memcached', function () {
  this.timeout(60_000);
  let servers: MemcachedProcess[] = [];
  let c: MemcacheClient | undefined;

  before(async () => {
    servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
  });
  after(async () => {
    c?.destroy();
    await Promise.all(servers.map((m) => m.kill()));
  });

  it('ejects a killed server after `after` failures, moves only its keys, restores them when it is back', async () => {
    const after = 3;
    const [victim, ...rest] = servers;
    c = new MemcacheClient({
      pools: { main: { servers: servers.map((m) => m.address), eject: { after, probeInterval: 100 } } },
      timeout: 500,
      reconnectCap: 200,
    });
    const keys = Array.from({ length: 300 }, (_, i) => `ej:${i}`);
    const before = new Map(keys.map((k) => [k, c!.serverFor(k)]));
    const own = keys.filter((k) => before.get(k) === victim.address);
    const others = keys.filter((k) => before.get(k) !== victim.address);
    expect(own.length).to.be.greaterThan(30);
    await c.setMulti(keys.map((k) => [k, 'v1'] as const));

    await victim.kill();
    const key = own[0];
    const failures: string[] = [];
    for (let i = 0; i < 10; i++) {
      try {
        await c.get(key);
        break;
      } catch (err) {
        failures.push((err as MemlineError).code);
      }
    }
    expect(failures).to.have.length(after);
    expect(c.routeMetrics!.ejects.main).to.deep.equal({
      ejections: 1,
      restorations: 0,
      ejected: [victim.address],
    });

    // Its keys are served by the two others: a set then a get works, no error.
    await c.set(key, 'v2');
    expect((await c.get(key))?.value.toString()).to.equal('v2');
    const now = c.serverFor(key);
    expect(now).to.not.equal(victim.address);
    expect(
      await has(
        rest.find((m) => m.address === now)!,
        key,
      ),
    ).to.equal(true);
    for (const k of own) expect(c.serverFor(k)).to.not.equal(victim.address);
    // The others' keys did not move, and still read their values.
    for (const k of others) expect(c.serverFor(k)).to.equal(before.get(k));
    const got = await c.getMulti(others);
    expect(got.size).to.equal(others.length);

    // Back on the same port: after a probe, its keys map to it again, key for key.
    await victim.restart();
    const restarted = performance.now();
    await waitFor(() => c!.routeMetrics!.ejects.main.ejected.length === 0, 10_000);
    const restoreMs = performance.now() - restarted;
    expect(c.routeMetrics!.ejects.main).to.deep.equal({ ejections: 1, restorations: 1, ejected: [] });
    for (const k of keys) expect(c.serverFor(k)).to.equal(before.get(k));
    // The restarted server is empty: the value written elsewhere meanwhile is not on it.
    expect(await c.get(key)).to.equal(null);
    await c.set(key, 'v3');
    expect(await has(victim, key)).to.equal(true);
    if (process.env.MEMLINE_FIGURES)
      console.log(`failures ${failures.join(',')}; restored ${Math.round(restoreMs)} ms after it answered`);
  });

  it('a server in two pools: its failures through either count together; ejected and restored once, logged and published', async () => {
    c?.destroy();
    const [shared, onlyA, onlyB] = servers;
    if (!shared.running) await shared.restart();
    const logged: [object, string | undefined][] = [];
    const logger = { debug: () => undefined, warn: (obj: object, msg?: string) => logged.push([obj, msg]) };
    const published: unknown[] = [];
    const listen = (message: unknown) => published.push(message);
    subscribe('memline:eject:change', listen);
    const eject = { after: 2, probeInterval: 100 };
    c = new MemcacheClient({
      pools: {
        a: { servers: [shared.address, onlyA.address], eject },
        b: { servers: [shared.address, onlyB.address], eject },
      },
      route: routes.byPrefix({ 'b:': 'b', default: 'a' }),
      timeout: 500,
      reconnectCap: 200,
      logger,
    });
    try {
      const keyOn = (prefix: string) => {
        for (let i = 0; ; i++) if (c!.serverFor(`${prefix}${i}`) === shared.address) return `${prefix}${i}`;
      };
      const [ka, kb] = [keyOn('a:'), keyOn('b:')];
      await shared.kill();
      // One failure through pool a, one through pool b: two in a row for the server.
      const codeOf = (p: Promise<unknown>) =>
        p.then(
          () => 'ok',
          (err: MemlineError) => err.code,
        );
      expect(await codeOf(c.get(ka))).to.equal('ERR_CONNECTION');
      expect(await codeOf(c.get(kb))).to.not.equal('ok');
      expect(c.routeMetrics!.ejects).to.deep.equal({
        a: { ejections: 1, restorations: 0, ejected: [shared.address] },
        b: { ejections: 1, restorations: 0, ejected: [shared.address] },
      });
      expect(await c.get(ka)).to.equal(null); // served by the other server of a
      const ejected = { server: shared.address, state: 'ejected', pools: ['a', 'b'], failures: 2 };
      expect(published).to.deep.equal([ejected]);
      expect(logged).to.deep.equal([[ejected, 'memline: server ejected']]);

      await shared.restart();
      await waitFor(() => published.length === 2, 10_000);
      const restored = { server: shared.address, state: 'restored', pools: ['a', 'b'] };
      expect(published[1]).to.deep.equal(restored);
      expect(logged[1]).to.deep.equal([restored, 'memline: server restored']);
      expect(c.serverFor(ka)).to.equal(shared.address);
      expect(c.serverFor(kb)).to.equal(shared.address);
    } finally {
      unsubscribe('memline:eject:change', listen);
    }
  });
});
