/**
 * The back-fill race: a read-through (warmUp, migrate) reads a value from the warm/old pool, the
 * caller deletes the key, and the back-fill must not put the deleted value back on the cold/new
 * pool. Two moments of the delete:
 *
 * - before the back-fill is sent: the warm pool's reply is held by a fault proxy (downstream
 *   latency) while the delete goes out; the back-fill is then not sent at all (real memcached);
 * - while the back-fill is on its way: a scripted cold server holds the add and says it stored it
 *   after the delete; the client takes back exactly the version it stored (`md <key> C<cas>`).
 */
import { expect } from 'chai';
import { MemcacheClient, routes, type MemcacheClientOptions } from '../../protocols/memcached-meta/index.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';
import { waitFor } from '../harness/resources.js';
import { startScriptedServer, type ScriptedServer } from '../harness/scripted-server.js';

const { warmUp, migrate } = routes;

async function has(mc: MemcachedProcess, key: string): Promise<boolean> {
  const reply = (await mc.command(`mg ${key} k\r\nmn\r\n`, { until: 'MN\r\n' })).toString();
  return reply.startsWith('HD');
}

describe('routes: a back-fill never restores a value deleted meanwhile', function () {
  this.timeout(60_000);
  let cold: MemcachedProcess;
  let warm: MemcachedProcess;
  let proxy: FaultProxy;
  const clients: MemcacheClient[] = [];

  before(async () => {
    [cold, warm] = await Promise.all([startMemcached(), startMemcached()]);
    proxy = await startFaultProxy({ host: warm.host, port: warm.port });
  });
  after(async () => {
    await proxy.close();
    await Promise.all([cold.kill(), warm.kill()]);
  });
  beforeEach(async () => {
    proxy.clear();
    for (const m of [cold, warm]) await m.command('flush_all\r\n', { until: 'OK\r\n' });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.destroy();
  });

  function client(options: MemcacheClientOptions): MemcacheClient {
    const c = new MemcacheClient({ timeout: 2000, ...options });
    clients.push(c);
    return c;
  }

  const idle = (c: MemcacheClient) => () =>
    c.routeMetrics!.background.running === 0 && c.routeMetrics!.background.queued === 0;

  /** Reads `key` through `c` with warm's reply held; deletes it once the read reached warm. */
  async function readThenDelete(c: MemcacheClient, key: string, op: 'delete' | 'deleteMulti'): Promise<void> {
    await c.get('connect'); // both pools' connections open before the faults
    const before = proxy.bytesUpstream;
    proxy.latency(300, 0, 'downstream');
    const read = c.get(key);
    await waitFor(() => proxy.bytesUpstream > before);
    // The read of warm is on the wire; its reply (the value) arrives after the delete was issued.
    const deleted = op === 'delete' ? c.delete(key) : c.deleteMulti([key]);
    expect((await read)?.value.toString()).to.equal('warm');
    await deleted;
    proxy.clear();
    await waitFor(idle(c));
  }

  for (const op of ['delete', 'deleteMulti'] as const) {
    it(`warmUp: ${op} issued while the read of warm is in flight: the back-fill is not sent`, async () => {
      const c = client({
        pools: { cold: [cold.address], warm: [proxy.address] },
        route: warmUp({ cold: 'cold', warm: 'warm' }),
      });
      await warm.command('ms wu:k 4 T300\r\nwarm\r\n', { until: '\r\n' });
      await readThenDelete(c, 'wu:k', op);
      expect(await has(cold, 'wu:k'), 'restored on cold').to.equal(false);
      expect(await has(warm, 'wu:k')).to.equal(false);
      expect(c.routeMetrics!.routes.route).to.include({ warmHits: 1, backfills: 0, cancelledBackfills: 1 });
      expect(await c.get('wu:k')).to.equal(null);
    });
  }

  it('migrate: a delete issued while the fallback read is in flight: the back-fill is not sent', async () => {
    const c = client({
      pools: { from: [proxy.address], to: [cold.address] },
      // An hour's window that began 10 s ago: the keys whose moment is past (1 in 360) have moved.
      route: migrate({ from: 'from', to: 'to', start: Date.now() - 10_000, duration: 3_600_000 }),
    });
    // A key that has moved: its owner now is the new pool.
    let key = '';
    for (let i = 0; key === ''; i++) {
      if (c.serverFor(`mg:${i}`) === cold.address) key = `mg:${i}`;
    }
    await warm.command(`ms ${key} 4 T300\r\nwarm\r\n`, { until: '\r\n' });
    await readThenDelete(c, key, 'delete');
    expect(await has(cold, key), 'restored on the new pool').to.equal(false);
    expect(c.routeMetrics!.routes.route).to.include({ fallbacks: 1, backfills: 0, cancelledBackfills: 1 });
  });

  it('warmUp: a delete issued while the back-fill is on its way: the version it stored is taken back', async () => {
    const opaque = (line: string): string => {
      const m = / (O\d+)/.exec(line);
      return m === null ? '' : ` ${m[1]}`;
    };
    const lines: string[] = [];
    let heldAdd: string | undefined;
    const scripted: ScriptedServer = await startScriptedServer((conn) => {
      conn.onRequest((req) => {
        lines.push(req.line);
        const [command] = req.line.split(' ');
        if (command === 'mg') return conn.write(`EN${opaque(req.line)}\r\n`);
        if (command === 'ms') {
          heldAdd = req.line; // held: answered with the delete that follows
          return;
        }
        if (command === 'md' && / C\d/.test(req.line)) return conn.write(`HD${opaque(req.line)}\r\n`);
        if (command === 'md') {
          // The add stored (its CAS 42), and the delete reached the item first (another
          // connection, another server thread): NF. Replies in the order of the requests.
          conn.write(`HD c42${opaque(heldAdd!)}\r\nNF${opaque(req.line)}\r\n`);
          return;
        }
        conn.write('SERVER_ERROR unexpected\r\n');
      });
    });
    try {
      const c = client({
        pools: { cold: [scripted.address], warm: [warm.address] },
        route: warmUp({ cold: 'cold', warm: 'warm' }),
      });
      await warm.command('ms wu:held 4 T300\r\nwarm\r\n', { until: '\r\n' });
      expect((await c.get('wu:held'))?.value.toString()).to.equal('warm');
      await waitFor(() => heldAdd !== undefined);
      expect(heldAdd).to.match(/^ms wu:held 4 .*ME/);
      expect(heldAdd).to.match(/ c( |$)/); // the add asks for the CAS of what it stores
      await c.delete('wu:held');
      await waitFor(() => lines.some((l) => /^md wu:held C42( |$)/.test(l)));
      await waitFor(idle(c));
      expect(c.routeMetrics!.routes.route).to.include({
        backfills: 1,
        cancelledBackfills: 1,
        backfillErrors: 0,
      });
    } finally {
      await scripted.close();
    }
  });
});
