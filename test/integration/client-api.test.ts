/**
 * Promises of the client API against real memcached and scripted servers: metrics counted once per
 * key, TTLs always relative, CAS tokens that never cross servers, getOrSet deadlines, and the server
 * address forms the constructor accepts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { MemcacheClient, type MemlineError } from '../../protocols/memcached-meta/index.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';
import {
  startScriptedServer,
  type ScriptedConnection,
  type ScriptedServer,
} from '../harness/scripted-server.js';

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

describe('client API: TTLs are seconds from now, whatever their length', () => {
  const DAYS_31 = 31 * 86400;
  let mc: MemcachedProcess;
  let client: MemcacheClient;
  before(async () => {
    mc = await startMemcached();
    client = new MemcacheClient({ servers: [mc.address] });
  });
  after(async () => {
    await client.close();
    await mc.stop();
  });

  /** The remaining TTL of a key, read with `mg t`. */
  async function remaining(key: string): Promise<number | undefined> {
    return (await client.get(key, { meta: ['ttl'] }))?.ttl;
  }

  /**
   * A long TTL goes on the wire as a Unix time, and memcached's clock ticks once a second, up to a
   * second behind the client's: the remaining TTL it reports can be one more than asked.
   */
  function expectAbout31Days(ttl: number | undefined, what: string, lag = 1): void {
    expect(ttl, what).to.be.within(DAYS_31 - 5, DAYS_31 + lag);
  }

  it('a 31-day ttl is readable, with about 31 days left, in every method that takes one', async () => {
    await client.set('s', 'v', { ttl: DAYS_31 });
    expect((await client.get('s'))?.value.toString()).to.equal('v');
    expectAbout31Days(await remaining('s'), 'set');
    await client.setMulti([['sm', 'v']], { ttl: DAYS_31 });
    expectAbout31Days(await remaining('sm'), 'setMulti');
    expect(await client.add('a', 'v', { ttl: DAYS_31 })).to.equal(true);
    expectAbout31Days(await remaining('a'), 'add');
    expect(await client.replace('a', 'w', { ttl: DAYS_31 })).to.equal(true);
    expectAbout31Days(await remaining('a'), 'replace');
    const item = (await client.get('a'))!;
    expect(await client.cas('a', 'x', item.cas, { ttl: DAYS_31 })).to.equal(true);
    expectAbout31Days(await remaining('a'), 'cas');
    await client.set('t', 'v');
    expect(await client.touch('t', DAYS_31)).to.equal(true);
    expectAbout31Days(await remaining('t'), 'touch');
    await client.set('g', 'v');
    expect((await client.gat('g', DAYS_31))?.value.toString()).to.equal('v');
    expectAbout31Days(await remaining('g'), 'gat');
    await client.set('gm', 'v');
    expect((await client.gatMulti(['gm'], DAYS_31)).size).to.equal(1);
    expectAbout31Days(await remaining('gm'), 'gatMulti');
    await client.set('tm', 'v');
    expect((await client.touchMulti(['tm'], DAYS_31)).get('tm')).to.equal(true);
    expectAbout31Days(await remaining('tm'), 'touchMulti');
    await client.set('gt', 'v');
    expect(await client.get('gt', { touch: DAYS_31 })).to.not.equal(null);
    expectAbout31Days(await remaining('gt'), 'get({ touch })');
    expect(await client.incr('n', 1, { initial: 5, ttl: DAYS_31 })).to.equal(5n);
    expectAbout31Days(await remaining('n'), 'incr initial');
    expect((await client.getOrSet('gs', () => 'v', { ttl: DAYS_31 })).toString()).to.equal('v');
    expectAbout31Days(await remaining('gs'), 'getOrSet');
    await client.set('u', 'v');
    await client.update('u', () => 'w', { ttl: DAYS_31 });
    expectAbout31Days(await remaining('u'), 'update');
    // update without a ttl keeps the remaining one, even past 30 days. The remaining TTL it reads may
    // already be a second long (the server's clock lags), and the one it stores gains the same again.
    await client.update('u', () => 'x');
    expectAbout31Days(await remaining('u'), 'update keeping the TTL', 2);
    const held = await client.lock('l', { ttl: DAYS_31 });
    expectAbout31Days(await remaining('l'), 'lock');
    expect(await held!.extend(DAYS_31 + 10)).to.equal(true);
    expect(await remaining('l')).to.be.within(DAYS_31 + 5, DAYS_31 + 11);
    await client.set('i', 'v', { ttl: 60 });
    expect(await client.invalidate('i', { staleTtl: DAYS_31 })).to.equal(true);
    expectAbout31Days(await remaining('i'), 'invalidate staleTtl');
  });

  it('expiresAt stores an absolute expiry: a Date or Unix seconds', async () => {
    const at = new Date(Date.now() + 40 * 86400 * 1000);
    await client.set('e', 'v', { expiresAt: at });
    expect(await remaining('e')).to.be.within(40 * 86400 - 5, 40 * 86400 + 1); // see expectAbout31Days
    await client.set('e2', 'v', { expiresAt: Math.floor(Date.now() / 1000) + 100 });
    expect(await remaining('e2')).to.be.within(95, 101);
    // A time already past stores an item that has already expired.
    await client.set('e3', 'v', { expiresAt: Math.floor(Date.now() / 1000) - 10 });
    expect(await client.get('e3')).to.equal(null);
  });
});

describe('client API: a CAS token never crosses servers', () => {
  let a: ScriptedServer;
  let b: ScriptedServer;
  /** Both servers hold every key at CAS 5: the same number, on two servers. */
  const handler = (conn: ScriptedConnection): void =>
    conn.onRequest((req) => {
      const o = / O(\S+)/.exec(req.line)?.[1];
      const tokens = req.line.split(' ');
      // Echo what a batch item asks to be told back: its opaque, and its key with `k`.
      const opaque =
        (o === undefined ? '' : ` O${o}`) + (tokens.slice(2).includes('k') ? ` k${tokens[1]}` : '');
      if (tokens[0] === 'mn') conn.write(`MN${o === undefined ? '' : ` O${o}`}\r\n`);
      else if (req.line.startsWith('mg') && req.line.includes(' N')) conn.write('VA 0 c5 W\r\n\r\n');
      else if (req.line.startsWith('mg')) conn.write(`VA 1 f0 c5 t-1${opaque}\r\nv\r\n`);
      else if (req.line.startsWith('ms')) conn.write('HD c6\r\n');
      else conn.write('HD\r\n');
    });
  /** The request lines a server received. */
  const lines = (s: ScriptedServer): string[] => s.connections.flatMap((c) => c.requests.map((r) => r.line));

  beforeEach(async () => {
    a = await startScriptedServer(handler);
    b = await startScriptedServer(handler);
  });
  afterEach(async () => {
    await a.close();
    await b.close();
  });

  it('cas() with a token read before setServers moved the key answers false, sending nothing', async () => {
    const client = new MemcacheClient({ servers: [a.address] });
    try {
      const item = (await client.get('k'))!;
      expect(item.cas > 2n ** 64n, 'the token carries its server').to.equal(true);
      expect(await client.cas('k', 'x', item.cas), 'same server: sent').to.equal(true);
      expect(lines(a).at(-1)).to.match(/^ms k 1 C5\b/);
      const multi = (await client.getMulti(['k'])).get('k')!;
      const detailed = (await client.get('k', { meta: ['ttl'] }))!;
      client.setServers([b.address]);
      expect(await client.cas('k', 'x', item.cas)).to.equal(false);
      expect(await client.cas('k', 'x', multi.cas)).to.equal(false);
      expect(await client.cas('k', 'x', detailed.cas)).to.equal(false);
      const err = (await client
        .meta({ command: 'ms', key: 'k', flags: { C: item.cas }, value: 'x' })
        .catch((e: unknown) => e)) as MemlineError;
      expect(err.code).to.equal('ERR_CAS_CONFLICT');
      expect(err.mayHaveExecuted).to.equal(false);
      expect(b.received().length, 'nothing reached the new server').to.equal(0);
      // A bare number (e.g. from the low-level meta()) names no server and is sent as is.
      expect(await client.cas('k', 'x', 5n)).to.equal(true);
      expect(lines(b)).to.have.length(1);
      expect(lines(b)[0]).to.match(/^ms k 1 C5\b/);
    } finally {
      await client.close();
    }
  });

  it('a lock taken before the key moved is lost: release and extend answer false, sending nothing', async () => {
    const client = new MemcacheClient({ servers: [a.address] });
    try {
      const held = (await client.lock('k', { ttl: 30 }))!;
      client.setServers([b.address]);
      expect(await held.extend(60)).to.equal(false);
      expect(await held.release()).to.equal(false);
      expect(b.received().length).to.equal(0);
    } finally {
      await client.close();
    }
  });

  it('update re-reads on the new server instead of applying the old token there', async () => {
    const client = new MemcacheClient({ servers: [a.address] });
    try {
      let calls = 0;
      await client.update('k', () => {
        if (calls++ === 0) client.setServers([b.address]);
        return 'w';
      });
      expect(calls).to.equal(2);
      expect(lines(a).filter((l) => l.startsWith('ms'))).to.deep.equal([]);
      expect(lines(b).map((l) => l.split(' ')[0])).to.deep.equal(['mg', 'ms']);
    } finally {
      await client.close();
    }
  });

  it('getOrSet whose key moved while the loader ran returns the value without storing it anywhere', async () => {
    const client = new MemcacheClient({ servers: [a.address] });
    try {
      const value = await client.getOrSet('k', () => {
        client.setServers([b.address]);
        return 'fresh';
      });
      expect(value.toString()).to.equal('fresh');
      expect(lines(a).filter((l) => !l.startsWith('mg'))).to.deep.equal([]);
      expect(b.received().length).to.equal(0);
    } finally {
      await client.close();
    }
  });
});

describe('client API: getOrSet settles at its deadline and gives its lease back', function () {
  // Without the fix these calls never settle: fail in seconds, not after the suite's timeout.
  this.timeout(3000);
  let mc: MemcachedProcess;
  let client: MemcacheClient;
  before(async () => {
    mc = await startMemcached();
    client = new MemcacheClient({ servers: [mc.address] });
  });
  after(async () => {
    await client.close();
    await mc.stop();
  });

  /** A loader that never finishes by itself; it records the signal it was given. */
  function stuckLoader(seen: AbortSignal[]): (signal: AbortSignal) => Promise<string> {
    return (signal) => {
      seen.push(signal);
      return new Promise<string>(() => undefined);
    };
  }

  it('times out at its timeout with a stuck loader, aborts the loader, and the next caller loads at once', async () => {
    const seen: AbortSignal[] = [];
    const started = performance.now();
    const err = (await client
      .getOrSet('gos:timeout', stuckLoader(seen), { timeout: 150, leaseTtl: 30 })
      .catch((e: unknown) => e)) as MemlineError;
    expect(err.code).to.equal('ERR_TIMEOUT');
    expect(performance.now() - started).to.be.within(140, 1000);
    expect(seen).to.have.length(1);
    expect(seen[0].aborted, 'the loader was told').to.equal(true);
    // The lease was given back: the next caller wins now, not after leaseTtl (30 s).
    let loads = 0;
    const value = await client.getOrSet('gos:timeout', () => (loads++, 'v'), { waitTimeout: 1000 });
    expect(loads).to.equal(1);
    expect(value.toString()).to.equal('v');
  });

  it('rejects ERR_ABORTED as soon as its signal fires during the loader, giving the lease back', async () => {
    const seen: AbortSignal[] = [];
    const ac = new AbortController();
    const call = client.getOrSet(
      'gos:abort',
      (signal) => {
        queueMicrotask(() => ac.abort());
        return stuckLoader(seen)(signal);
      },
      { signal: ac.signal },
    );
    const err = (await call.catch((e: unknown) => e)) as MemlineError;
    expect(err.code).to.equal('ERR_ABORTED');
    expect(seen[0].aborted).to.equal(true);
    let loads = 0;
    await client.getOrSet('gos:abort', () => (loads++, 'v'), { waitTimeout: 1000 });
    expect(loads).to.equal(1);
  });
});

describe('client API: a Unix socket server (memcached -s)', () => {
  let dir: string;
  let child: ChildProcess;
  let sock: string;

  /** Resolves once something accepts connections on `path` (memcached binds, then listens). */
  async function connectable(path: string, deadline = Date.now() + 5000): Promise<void> {
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect({ path });
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      });
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`memcached did not listen on ${path}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'memline-sock-'));
    sock = join(dir, 'm.sock');
    const args = ['-s', sock, '-U', '0', '-t', '1', '-m', '16'];
    if (process.getuid?.() === 0) args.push('-u', 'root');
    child = spawn('memcached', args, { stdio: 'ignore' });
    await connectable(sock);
  });

  after(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads and writes through the socket path given as a server', async () => {
    const client = new MemcacheClient({ servers: [sock] });
    try {
      await client.set('over-unix', 'v');
      expect((await client.get('over-unix'))?.value.toString()).to.equal('v');
      expect([...(await client.version()).keys()]).to.deep.equal([sock]);
      expect(client.serverFor('over-unix')).to.equal(sock);
    } finally {
      await client.close();
    }
  });
});

describe('client API: the per-call server option', () => {
  let a: MemcachedProcess;
  let b: MemcachedProcess;
  let client: MemcacheClient;
  before(async () => {
    [a, b] = await Promise.all([startMemcached(), startMemcached()]);
    client = new MemcacheClient({ servers: [a.address, b.address] });
  });
  after(async () => {
    await client.close();
    await Promise.all([a.stop(), b.stop()]);
  });

  it('sends per-server calls to that server only: version, stats, flushAll', async () => {
    expect([...(await client.version({ server: b.address })).keys()]).to.deep.equal([b.address]);
    const stats = await client.stats('settings', { server: a.address });
    expect([...stats.keys()]).to.deep.equal([a.address]);
    expect(stats.get(a.address)!['tcpport']).to.equal(String(a.port));
    await client.set('on-a', '1', { server: a.address });
    await client.set('on-b', '1', { server: b.address });
    await client.flushAll(undefined, { server: a.address });
    expect(await client.get('on-a', { server: a.address })).to.equal(null);
    expect((await client.get('on-b', { server: b.address }))?.value.toString()).to.equal('1');
  });

  it('routes key calls, bulk calls and meta to the server named, whatever the key maps to', async () => {
    const key = 'pinned';
    const other = client.serverFor(key) === a.address ? b.address : a.address;
    expect(client.serverFor(key, { server: other })).to.equal(other);
    await client.setMulti([[key, 'x']], { server: other });
    expect(await client.get(key), 'not on the key’s own server').to.equal(null);
    expect((await client.getMulti([key], { server: other })).get(key)?.value.toString()).to.equal('x');
    const r = await client.meta({ command: 'mg', key, flags: { v: true } }, { server: other });
    expect(r.value?.toString()).to.equal('x');
    expect(await client.delete(key, { server: other })).to.equal(true);
  });

  it('an unknown server is ERR_INVALID_ARGUMENT, before any I/O', async () => {
    for (const call of [
      () => client.get('k', { server: '127.0.0.1:1' }),
      () => client.stats(undefined, { server: 'nope' }),
      () => client.getMulti(['k'], { server: 'nope' }),
    ]) {
      const err = (await call().catch((e: unknown) => e)) as MemlineError;
      expect(err.code).to.equal('ERR_INVALID_ARGUMENT');
    }
  });
});
