import { expect } from 'chai';
import {
  MemcacheClient,
  type MemlineError,
  type PartialResultError,
  type Item,
} from '../../protocols/memcached-meta/index.js';
import { ElastiCacheDiscovery } from '../../protocols/memcached-meta/index.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';
import { startScriptedServer } from '../harness/scripted-server.js';
import { waitFor } from '../harness/resources.js';

const KEYS = Array.from({ length: 3000 }, (_, i) => `user:${i}:profile`);

/** Which of `servers` holds `key`, asked of each server directly (not through the client). */
async function holders(servers: MemcachedProcess[], keys: string[]): Promise<Map<string, string>> {
  const where = new Map<string, string>();
  for (const mc of servers) {
    const request = keys.map((k) => `mg ${k} k q\r\n`).join('') + 'mn\r\n';
    const reply = (await mc.command(request, { until: 'MN\r\n' })).toString('latin1');
    for (const m of reply.matchAll(/^HD k(\S+)\r$/gm)) where.set(m[1], mc.address);
  }
  return where;
}

function countBy<T>(values: Iterable<T>): Map<T, number> {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

describe('MemcacheClient over three real memcached servers', function () {
  let servers: MemcachedProcess[];
  let fourth: MemcachedProcess;
  let client: MemcacheClient;

  before(async () => {
    servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
    fourth = await startMemcached();
  });

  after(async () => {
    client?.destroy();
    await Promise.all([...servers, fourth].map((m) => m.kill()));
  });

  beforeEach(async () => {
    client?.destroy();
    for (const m of [...servers, fourth]) {
      if (!m.running) await m.restart();
    }
    client = new MemcacheClient({ servers: servers.map((m) => m.address) });
    await client.flushAll();
    await fourth.command('flush_all\r\n', { until: 'OK\r\n' });
  });

  it('spreads 3,000 keys within ±25% of an even share, where serverFor() says', async () => {
    await client.setMulti(KEYS.map((k) => [k, `v:${k}`] as const));
    const where = await holders(servers, KEYS);
    expect(where.size).to.equal(KEYS.length);
    const counts = countBy(where.values());
    for (const m of servers) expect(counts.get(m.address)).to.be.within(750, 1250);
    for (const k of KEYS) expect(where.get(k)).to.equal(client.serverFor(k));
  });

  it('getMulti of 1,000 keys across the servers returns every one', async () => {
    const keys = KEYS.slice(0, 1000);
    await client.setMulti(keys.map((k) => [k, `v:${k}`] as const));
    const items = await client.getMulti(keys);
    expect(items.size).to.equal(1000);
    for (const [k, item] of items) expect(item.value.toString()).to.equal(`v:${k}`);
    const m = client.metrics;
    expect(m.total.hits).to.equal(1000);
    expect(m.servers.every((s) => s.hits > 200)).to.equal(true);
  });

  it('adding a fourth server moves about a quarter of the keys, only to it', async () => {
    const before = new Map(KEYS.map((k) => [k, client.serverFor(k)]));
    await client.setMulti(KEYS.map((k) => [k, 'x'] as const));
    const created = client.metrics.total.created;
    const change = client.setServers([...servers.map((m) => m.address), fourth.address]);
    expect(change).to.deep.equal({ added: [fourth.address], removed: [] });
    let moved = 0;
    for (const k of KEYS) {
      const now = client.serverFor(k);
      if (now === before.get(k)) continue;
      moved++;
      expect(now).to.equal(fourth.address);
    }
    expect(moved / KEYS.length).to.be.within(0.17, 0.33);
    // The moved keys miss (the new server is empty); every other key is still found.
    const items = await client.getMulti(KEYS);
    expect(items.size).to.equal(KEYS.length - moved);
    expect(client.metrics.total.created).to.equal(created + 1); // kept servers kept their connections
  });

  it('removing a server moves only its keys; its requests in flight finish first', async () => {
    const before = new Map(KEYS.map((k) => [k, client.serverFor(k)]));
    const victim = servers[1].address;
    const victimKey = KEYS.find((k) => before.get(k) === victim)!;
    await client.set(victimKey, 'in flight');
    const inflight = client.get(victimKey);
    client.setServers([servers[0].address, servers[2].address]);
    expect((await inflight)!.value.toString()).to.equal('in flight');
    for (const k of KEYS) {
      if (before.get(k) !== victim) expect(client.serverFor(k)).to.equal(before.get(k));
      else expect(client.serverFor(k)).to.not.equal(victim);
    }
  });

  it('with one server killed, bulk calls reject ERR_PARTIAL_RESULT holding every key of the live ones', async () => {
    const keys = KEYS.slice(0, 600);
    await client.setMulti(keys.map((k) => [k, `v:${k}`] as const));
    const dead = servers[2];
    await dead.kill();
    const onDead = new Set(keys.filter((k) => client.serverFor(k) === dead.address));
    expect(onDead.size).to.be.greaterThan(100);

    const err = (await client.getMulti(keys).catch((e: unknown) => e)) as PartialResultError<
      Map<string, Item>
    >;
    expect(err.code).to.equal('ERR_PARTIAL_RESULT');
    expect(err.results.size).to.equal(keys.length - onDead.size);
    expect([...err.errors.keys()].sort()).to.deep.equal([...onDead].sort());
    for (const e of err.errors.values()) {
      expect(e.code).to.equal('ERR_CONNECTION');
      expect(e.server).to.equal(dead.address);
    }
    for (const call of [
      client.setMulti(keys.map((k) => [k, 'y'] as const)),
      client.deleteMulti(keys),
      client.touchMulti(keys, 60),
    ]) {
      const e = (await call.catch((x: unknown) => x)) as PartialResultError;
      expect(e.code).to.equal('ERR_PARTIAL_RESULT');
      expect(e.errors.size).to.equal(onDead.size);
    }
    // Keys of the dead server fail; they are not remapped to another server.
    // (by now the breaker may have opened for it: then it fails fast, without a connect attempt).
    const single = (await client.get([...onDead][0]).catch((x: unknown) => x)) as MemlineError;
    expect(['ERR_CONNECTION', 'ERR_CIRCUIT_OPEN']).to.include(single.code);
    expect(single.server).to.equal(dead.address);
  });

  it('touchMulti and gatMulti report per key', async () => {
    await client.setMulti([
      ['t1', 'a'],
      ['t2', 'b'],
    ]);
    const touched = await client.touchMulti(['t1', 't2', 't3'], 100);
    expect(Object.fromEntries(touched)).to.deep.equal({ t1: true, t2: true, t3: false });
    const items = await client.gatMulti(['t1', 't3'], 200);
    expect([...items.keys()]).to.deep.equal(['t1']);
    const r = await client.meta({ command: 'mg', key: 't1', flags: { t: true } });
    expect(r.flags.t).to.be.within(198, 200);
  });

  it('a routing key puts related keys on one server', async () => {
    const keys = Array.from({ length: 50 }, (_, i) => `cart:7:item:${i}`);
    await client.setMulti(
      keys.map((k) => [k, 'x'] as const),
      { routingKey: 'cart:7' },
    );
    const where = await holders(servers, keys);
    expect(new Set(where.values()).size).to.equal(1);
    expect([...where.values()][0]).to.equal(client.serverFor('anything', { routingKey: 'cart:7' }));
    expect((await client.getMulti(keys, { routingKey: 'cart:7' })).size).to.equal(50);
  });

  it('weights give a server a proportional share', () => {
    const weighted = new MemcacheClient({
      servers: [
        { host: '127.0.0.1', port: servers[0].port, weight: 1 },
        { host: '127.0.0.1', port: servers[1].port, weight: 3 },
      ],
    });
    const counts = countBy(KEYS.map((k) => weighted.serverFor(k)));
    weighted.destroy();
    expect(counts.get(servers[1].address)! / KEYS.length).to.be.within(0.65, 0.85);
  });

  it('hashKeyPrefix: false routes a prefixed key as its bare key would be', () => {
    const bare = new MemcacheClient({ servers: servers.map((m) => m.address) });
    const prefixed = new MemcacheClient({
      servers: servers.map((m) => m.address),
      keyPrefix: 'app:',
      hashKeyPrefix: false,
    });
    const hashed = new MemcacheClient({ servers: servers.map((m) => m.address), keyPrefix: 'app:' });
    let differs = 0;
    for (const k of KEYS.slice(0, 300)) {
      expect(prefixed.serverFor(k)).to.equal(bare.serverFor(k));
      if (hashed.serverFor(k) !== bare.serverFor(`app:${k}`)) differs++;
    }
    expect(differs).to.equal(0);
    for (const c of [bare, prefixed, hashed]) c.destroy();
  });

  it("follows ElastiCache auto discovery: the server list it reports becomes the client's", async () => {
    const nodes = [servers[0], servers[1]].map((m) => `localhost|127.0.0.1|${m.port}`).join(' ');
    const data = `7\n${nodes}\n`;
    const endpoint = await startScriptedServer((conn) =>
      conn.onRequest(() => conn.write(`CONFIG cluster 0 ${data.length}\r\n${data}\r\nEND\r\n`)),
    );
    const discovered = new MemcacheClient({
      servers: [servers[2].address],
      discovery: new ElastiCacheDiscovery({ endpoint: endpoint.address, interval: 50 }),
    });
    try {
      await waitFor(() => discovered.metrics.servers.length === 2);
      expect(discovered.metrics.servers.map((s) => s.server)).to.deep.equal([
        servers[0].address,
        servers[1].address,
      ]);
      await discovered.set('via-discovery', 'ok');
      expect((await discovered.get('via-discovery'))!.value.toString()).to.equal('ok');
    } finally {
      await discovered.close();
      await endpoint.close();
    }
  });

  it('version() and stats() answer per server, each with its own values', async () => {
    const versions = await client.version();
    expect([...versions.keys()]).to.deep.equal(servers.map((m) => m.address));
    const stats = await client.stats();
    for (const m of servers) expect(stats.get(m.address)!.pid).to.equal(String(m.pid));
  });
});
