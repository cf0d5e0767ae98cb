/**
 * One real memcached for a `describe` block, and clients of it that are all closed after the block:
 * call {@link memcachedWithClients} inside the block; it registers the `before` and `after` hooks.
 */
import { MemcacheClient, type MemcacheClientOptions } from '../../protocols/memcached-meta/index.js';
import { startMemcached, type MemcachedProcess } from './memcached.js';

export interface MemcachedWithClients {
  /** The server (set once the block's `before` hook has run). */
  readonly mc: MemcachedProcess;
  /** A client of {@link mc} with a 5 s timeout, plus `options`; closed after the block. */
  client<V = Buffer>(options?: Partial<MemcacheClientOptions<V>>): MemcacheClient<V>;
}

export function memcachedWithClients(): MemcachedWithClients {
  let mc: MemcachedProcess | undefined;
  const clients: MemcacheClient<unknown>[] = [];
  before(async () => {
    mc = await startMemcached();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await mc?.stop();
  });
  return {
    get mc(): MemcachedProcess {
      if (mc === undefined) throw new Error('the server is started in the before hook');
      return mc;
    },
    client<V = Buffer>(options: Partial<MemcacheClientOptions<V>> = {}): MemcacheClient<V> {
      const c = new MemcacheClient<V>({ servers: [this.mc.address], timeout: 5000, ...options });
      clients.push(c);
      return c;
    },
  };
}
