/**
 * Promises of the client API against real memcached and scripted servers: metrics counted once per
 * key, TTLs always relative, CAS tokens that never cross servers, getOrSet deadlines, and the server
 * address forms the constructor accepts.
 */
import { expect } from 'chai';
import { MemcacheClient, type MemlineError } from '../../protocols/memcached-meta/index.js';
import { startScriptedServer, type ScriptedServer } from '../harness/scripted-server.js';

describe('client API: metrics', () => {
  const servers: ScriptedServer[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it('getMulti with missOnError over several failing servers counts errorMisses once per key', async () => {
    for (let i = 0; i < 3; i++) {
      servers.push(await startScriptedServer((conn) => conn.onRequest(() => conn.socket.destroy())));
    }
    const seen: MemlineError[] = [];
    const client = new MemcacheClient({
      servers: servers.map((s) => s.address),
      missOnError: true,
      onError: (e) => seen.push(e),
      breaker: { threshold: 0 },
    });
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
      const owners = new Set(keys.map((k) => client.serverFor(k)));
      expect(owners.size, 'the keys span every server').to.equal(3);
      expect((await client.getMulti(keys)).size).to.equal(0);
      expect(client.metrics.total.errorMisses).to.equal(keys.length);
      for (const s of client.metrics.servers) {
        expect(s.errorMisses).to.equal(keys.filter((k) => client.serverFor(k) === s.server).length);
      }
      expect(seen.length).to.equal(3);
    } finally {
      client.destroy();
    }
  });
});
