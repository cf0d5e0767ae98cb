import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { MemcacheClient, type MemlineError } from '../../protocols/memcached-meta/index.js';
import { startMemcached } from '../harness/memcached.js';

/** A pino destination that keeps every line in memory, parsed. */
class Lines extends Writable {
  readonly entries: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line) this.entries.push(JSON.parse(line) as Record<string, unknown>);
    }
    done();
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
