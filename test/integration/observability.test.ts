import diagnostics from 'node:diagnostics_channel';
import { expect } from 'chai';
import { MemcacheClient, type MemlineError } from '../../protocols/memcached-meta/index.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';

const CHANNELS = [
  'memline:request:start',
  'memline:request:end',
  'memline:request:error',
  'memline:connection:open',
  'memline:connection:close',
  'memline:breaker:change',
] as const;

describe('observability: diagnostics channels and the logger', () => {
  let mc: MemcachedProcess;
  const seen: { channel: string; message: Record<string, unknown> }[] = [];
  const listeners = new Map<string, (message: unknown) => void>();

  before(async () => {
    mc = await startMemcached();
    for (const name of CHANNELS) {
      const listener = (message: unknown): void => {
        seen.push({ channel: name, message: message as Record<string, unknown> });
      };
      listeners.set(name, listener);
      diagnostics.subscribe(name, listener);
    }
  });

  after(async () => {
    for (const [name, listener] of listeners) diagnostics.unsubscribe(name, listener);
    await mc.kill();
  });

  beforeEach(() => {
    seen.length = 0;
  });

  it('publishes request start and end, and connection open, without keys or values', async () => {
    const client = new MemcacheClient({ servers: [mc.address] });
    await client.set('secret-key', 'secret-value');
    await client.get('secret-key');
    await client.close();
    const names = seen.map((s) => s.channel);
    expect(names).to.include.members([
      'memline:connection:open',
      'memline:request:start',
      'memline:request:end',
    ]);
    const ends = seen.filter((s) => s.channel === 'memline:request:end').map((s) => s.message);
    expect(ends.map((m) => m.request)).to.deep.equal(['ms', 'mg']);
    for (const m of ends) {
      expect(m.server).to.equal(mc.address);
      expect(m.duration).to.be.a('number').and.to.be.at.least(0);
    }
    expect(JSON.stringify(seen)).to.not.contain('secret');
    expect(names.at(-1)).to.equal('memline:connection:close');
  });

  it('publishes request errors and breaker changes, and logs them through the logger', async () => {
    const scratch = await startMemcached();
    const logged: { level: string; obj: object; msg?: string }[] = [];
    const logger = {
      debug: (obj: object, msg?: string) => logged.push({ level: 'debug', obj, msg }),
      warn: (obj: object, msg?: string) => logged.push({ level: 'warn', obj, msg }),
    };
    const client = new MemcacheClient({ servers: [scratch.address], logger, breaker: { threshold: 2 } });
    await client.set('x', '1');
    await scratch.kill();
    for (let i = 0; i < 3; i++) await client.get('x').catch((e: MemlineError) => e);
    client.destroy();
    const errors = seen.filter((s) => s.channel === 'memline:request:error').map((s) => s.message);
    expect(errors.length).to.be.greaterThan(0);
    expect((errors[0].error as MemlineError).code).to.equal('ERR_CONNECTION');
    const breaker = seen.filter((s) => s.channel === 'memline:breaker:change').map((s) => s.message.state);
    expect(breaker).to.include('open');
    expect(logged.some((l) => l.level === 'warn' && l.msg === 'memline: server marked down')).to.equal(true);
    expect(logged.some((l) => l.msg === 'memline: connection failed')).to.equal(true);
  });

  it('costs nothing when nobody listens: no request events without subscribers', async () => {
    for (const [name, listener] of listeners) diagnostics.unsubscribe(name, listener);
    try {
      expect(diagnostics.channel('memline:request:start').hasSubscribers).to.equal(false);
      const client = new MemcacheClient({ servers: [mc.address] });
      await client.get('x');
      await client.close();
      expect(seen).to.have.length(0);
    } finally {
      for (const [name, listener] of listeners) diagnostics.subscribe(name, listener);
    }
  });
});
