import { once } from 'node:events';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { ConnectionError } from '../../lib/errors.js';
import type { DiscoverySource } from '../../lib/discovery.js';
import { MemcacheClient, StaticDiscovery, type MemlineError } from '../../protocols/memcached-meta/index.js';
import { startMemcached } from '../harness/memcached.js';

/** A pino destination that keeps every line in memory, parsed, and emits `entry` for each. */
class Lines extends Writable {
  readonly entries: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      const entry = JSON.parse(line) as Record<string, unknown>;
      this.entries.push(entry);
      this.emit('entry', entry);
    }
    done();
  }

  /** The first line with message `msg`, already written or the next one to come. */
  async next(msg: string): Promise<Record<string, unknown>> {
    for (;;) {
      const found = this.entries.find((e) => e.msg === msg);
      if (found !== undefined) return found;
      await once(this, 'entry');
    }
  }
}

/** A discovery source the test drives by hand. */
class HandDiscovery implements DiscoverySource {
  onServers: (servers: string[]) => void = () => {};
  onError: (error: MemlineError) => void = () => {};
  start(onServers: (servers: string[]) => void, onError: (error: MemlineError) => void): void {
    this.onServers = onServers;
    this.onError = onError;
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
}

describe('the logger option with a real pino logger', () => {
  it('logs a failed connection (debug) and a server marked down (warn) as pino JSON lines', async () => {
    const mc = await startMemcached();
    const lines = new Lines();
    const logger = pino({ level: 'debug', base: undefined }, lines);
    const client = new MemcacheClient({
      servers: [mc.address],
      logger,
      breaker: { threshold: 2 },
      auth: { username: 'u', password: 'hunter2' }, // whatever fails, the password never reaches the log
    });
    try {
      await client.get('x').catch((e: MemlineError) => e);
      await mc.kill();
      for (let i = 0; i < 3; i++) await client.get('x').catch((e: MemlineError) => e);
    } finally {
      client.destroy();
      await mc.stop();
    }
    const failed = lines.entries.filter((e) => e.msg === 'memline: connection failed');
    expect(failed.length).to.be.greaterThan(0);
    expect(failed[0]).to.include({ level: 20, server: mc.address });
    expect(failed[0].code).to.be.a('string');
    const down = lines.entries.find((e) => e.msg === 'memline: server marked down');
    expect(down).to.include({ level: 40, server: mc.address, state: 'open' });
    expect(JSON.stringify(lines.entries)).to.not.contain('hunter2');
  });

  it('logs discovery through a child logger: list changes (debug), failures and bad lists (warn)', async () => {
    const [one, two] = await Promise.all([startMemcached(), startMemcached()]);
    const lines = new Lines();
    const logger = pino({ level: 'debug', base: undefined }, lines).child({ component: 'cache' });
    const discovery = new StaticDiscovery([one.address, two.address]);
    const client = new MemcacheClient({ servers: [one.address], logger, discovery });
    try {
      const changed = await lines.next('memline: server list changed');
      expect(changed).to.deep.include({ level: 20, component: 'cache', added: [two.address], removed: [] });
      await client.set('k', 'v'); // the client works on the list it was given
    } finally {
      await client.close();
      await Promise.all([one.stop(), two.stop()]);
    }

    const hand = new HandDiscovery();
    const other = new MemcacheClient({ servers: ['127.0.0.1:1'], logger, discovery: hand });
    try {
      hand.onError(new ConnectionError('config endpoint refused', { server: '127.0.0.1:2' }));
      hand.onServers([]);
    } finally {
      other.destroy();
    }
    expect(await lines.next('memline: discovery failed')).to.deep.include({
      level: 40,
      component: 'cache',
      code: 'ERR_CONNECTION',
      server: '127.0.0.1:2',
    });
    const unusable = await lines.next('memline: discovery gave an unusable server list');
    expect(unusable).to.include({ level: 40, component: 'cache' });
    // pino's error serializer: the error's type and message, not an empty object.
    expect(unusable.err).to.include({ type: 'InvalidArgumentError' });
    expect((unusable.err as { message: string }).message)
      .to.be.a('string')
      .and.not.equal('');
  });

  it('is silent below the logger level', async () => {
    const mc = await startMemcached();
    const lines = new Lines();
    const client = new MemcacheClient({ servers: [mc.address], logger: pino({ level: 'error' }, lines) });
    try {
      await client.set('k', 'v');
      await mc.kill();
      await client.get('k').catch((e: MemlineError) => e);
    } finally {
      client.destroy();
      await mc.stop();
    }
    expect(lines.entries).to.deep.equal([]);
  });
});
