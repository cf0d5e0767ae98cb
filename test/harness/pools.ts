/**
 * Two real memcached processes for the tests of routes over two pools, with the mocha hooks that
 * start them, flush them before each test, and after each test destroy the test's clients and bring
 * back a server a test paused or killed.
 */
import { MemcacheClient, type MemcacheClientOptions } from '../../protocols/memcached-meta/index.js';
import { startMemcached, type MemcachedProcess } from './memcached.js';

export interface TwoPools {
  readonly a: MemcachedProcess;
  readonly b: MemcachedProcess;
  /** A client destroyed after the test. */
  client(options: MemcacheClientOptions): MemcacheClient;
}

/** Registers the hooks in the calling `describe` and returns its two servers (set once `before` ran). */
export function twoPools(): TwoPools {
  const clients: MemcacheClient[] = [];
  let servers: MemcachedProcess[] = [];
  before(async () => {
    servers = await Promise.all([startMemcached(), startMemcached()]);
  });
  after(async () => {
    await Promise.all(servers.map((m) => m.kill()));
  });
  beforeEach(async () => {
    for (const m of servers) if (m.running) await m.command('flush_all\r\n', { until: 'OK\r\n' });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    for (const m of servers) {
      m.resume();
      if (!m.running) await m.restart();
    }
  });
  return {
    get a() {
      return servers[0];
    },
    get b() {
      return servers[1];
    },
    client(options) {
      const c = new MemcacheClient(options);
      clients.push(c);
      return c;
    },
  };
}
