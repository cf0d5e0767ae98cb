import { once } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import { startFaultProxy, type FaultProxy, type FaultProxyOptions } from './fault-proxy.js';
import { startMemcached, type MemcachedProcess } from './memcached.js';
import { activeResources, eventWithin, snapshotResources, waitFor } from './resources.js';
import { startScriptedServer } from './scripted-server.js';

/** Resolves with the bytes read (and in how many reads) once they match `done`. */
function readUntil(socket: net.Socket, done: RegExp): Promise<{ text: string; reads: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('latin1');
      if (!done.test(text)) return;
      socket.off('data', onData).off('close', onClose);
      resolve({ text, reads: chunks.length });
    };
    const onClose = (): void => reject(new Error(`closed after ${JSON.stringify(Buffer.concat(chunks))}`));
    socket.on('data', onData).once('close', onClose);
  });
}

const VERSION = /^VERSION \S+\r\n$/;

describe('fault proxy', () => {
  let memcached: MemcachedProcess;
  const cleanups: (() => unknown)[] = [];
  const proxy = async (options?: FaultProxyOptions, port = memcached.port): Promise<FaultProxy> => {
    const p = await startFaultProxy({ host: '127.0.0.1', port }, options);
    cleanups.push(() => p.close());
    return p;
  };
  const client = async (port: number): Promise<net.Socket> => {
    const socket = net.connect({ host: '127.0.0.1', port });
    cleanups.push(() => socket.destroy());
    await once(socket, 'connect');
    return socket;
  };
  /** Stores `size` bytes under `key` directly in memcached; returns the `mg` request and its whole reply. */
  const stored = async (key: string, size: number): Promise<{ request: string; reply: RegExp }> => {
    await memcached.command(`ms ${key} ${size} T0\r\n${'x'.repeat(size)}\r\n`, { until: 'HD\r\n' });
    return { request: `mg ${key} v\r\n`, reply: new RegExp(`^VA ${size}\\r\\nx{${size}}\\r\\n$`) };
  };

  before(async () => (memcached = await startMemcached()));
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  after(() => memcached.stop()); // only ours: other suites may share this module's processes

  it('passes bytes through both ways and counts them', async () => {
    const p = await proxy();
    expect(p.address).to.equal(`127.0.0.1:${p.port}`);
    const socket = await client(p.port);
    socket.write('version\r\n');
    const { text } = await readUntil(socket, VERSION);
    expect([p.connections, p.totalAccepted, p.bytesUpstream]).to.deep.equal([1, 1, 9]);
    expect(p.bytesDownstream).to.equal(text.length);
    socket.end();
    await waitFor(() => p.connections === 0);
  });

  it('latency delays the reply by at least the delay; clear() releases a live wait', async () => {
    const p = await proxy();
    const socket = await client(p.port);
    p.latency(150);
    const start = performance.now();
    socket.write('version\r\n');
    await readUntil(socket, VERSION);
    expect(performance.now() - start).to.be.at.least(150);

    p.latency(60_000, 0, 'both');
    socket.write('version\r\n');
    expect(await eventWithin(socket, ['data'], 100)).to.equal('timeout');
    const released = performance.now();
    p.clear();
    await readUntil(socket, VERSION);
    expect(performance.now() - released).to.be.below(1000);
  });

  it('latency with jitter keeps the byte order', async () => {
    const server = await startScriptedServer(() => {});
    cleanups.push(() => server.close());
    const p = await proxy({}, server.port);
    p.latency(20, 20, 'upstream');
    const socket = await client(p.port);
    const lines = Array.from({ length: 20 }, (_, i) => `mn ${i}\r\n`);
    for (const line of lines) {
      socket.write(line);
      await new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
    }
    await waitFor(() => server.received().length === lines.join('').length, 5000);
    expect(server.received().toString()).to.equal(lines.join(''));
  });

  it('slicer delivers the same bytes in many more reads', async () => {
    const { request, reply } = await stored('sliced', 1000);
    const p = await proxy();
    const socket = await client(p.port);
    socket.write(request);
    const whole = await readUntil(socket, reply);
    p.slicer(10, 5);
    socket.write(request);
    const sliced = await readUntil(socket, reply);
    expect(sliced.text).to.equal(whole.text);
    expect(sliced.reads).to.be.greaterThan(whole.text.length / 30);
    expect(whole.reads).to.be.lessThan(5);
  });

  it('blackhole leaves a request unanswered until clear(); later requests are answered', async () => {
    const p = await proxy();
    const socket = await client(p.port);
    p.blackhole();
    socket.write('mg nothing v\r\n');
    expect(await eventWithin(socket, ['data', 'end', 'close'], 300)).to.equal('timeout');
    expect([p.connections, p.bytesUpstream]).to.deep.equal([1, 0]);
    p.clear();
    socket.write('version\r\n');
    // The dropped request never reached memcached: the only reply is the one to `version`.
    expect((await readUntil(socket, /\r\n$/)).text).to.match(VERSION);
  });

  it('limitData closes the pair (FIN) after exactly N bytes', async () => {
    const p = await proxy();
    p.limitData(10);
    const socket = await client(p.port);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = once(socket, 'end');
    socket.write('version\r\n');
    await ended;
    expect(Buffer.concat(chunks).toString()).to.equal('VERSION 1.');
    expect(p.bytesDownstream).to.equal(10);
    await waitFor(() => p.connections === 0);
  });

  it('resetPeer gives a live client ECONNRESET', async () => {
    const p = await proxy();
    const socket = await client(p.port);
    socket.write('version\r\n');
    await readUntil(socket, VERSION);
    p.resetPeer();
    const [err] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).to.equal('ECONNRESET');
    await waitFor(() => p.connections === 0);
  });

  it('resetNew resets and refuse closes new connections, until clear()', async () => {
    const p = await proxy();
    p.resetNew();
    const reset = net.connect({ host: '127.0.0.1', port: p.port }); // the RST may come before 'connect'
    cleanups.push(() => reset.destroy());
    const [err] = (await once(reset, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).to.equal('ECONNRESET');
    p.refuse(true);
    const refused = await client(p.port);
    expect(await eventWithin(refused, ['end', 'data'], 2000)).to.equal('end');
    p.clear();
    const socket = await client(p.port);
    socket.write('version\r\n');
    await readUntil(socket, VERSION);
    expect([p.totalAccepted, p.connections]).to.deep.equal([3, 1]);
  });

  it('halfClose sends FIN to the client while the upstream still takes requests', async () => {
    const p = await proxy();
    const socket = net.connect({ host: '127.0.0.1', port: p.port, allowHalfOpen: true });
    cleanups.push(() => socket.destroy());
    await once(socket, 'connect');
    await waitFor(() => p.connections === 1);
    const ended = once(socket, 'end');
    p.halfClose();
    await ended;
    socket.write('version\r\n');
    await waitFor(() => p.bytesUpstream === 9);
    expect(p.connections).to.equal(1);
  });

  it('bandwidth limits throughput (within -100 ms / +400 ms of size / rate)', async () => {
    const { request, reply } = await stored('wide', 20_000);
    const p = await proxy();
    const rate = 50_000; // bytes per second: 20 kB take 400 ms
    p.bandwidth(rate);
    const socket = await client(p.port);
    const start = performance.now();
    socket.write(request);
    const { text } = await readUntil(socket, reply);
    const elapsed = performance.now() - start;
    const expected = (text.length / rate) * 1000;
    // The first piece (a tenth of a second's worth) leaves at once; timers and the loop add a little.
    expect(elapsed).to.be.within(expected - 100, expected + 400);
  });

  it('close() destroys every socket and timer and is idempotent', async () => {
    const before = await snapshotResources();
    const p = await proxy({ ref: true }); // ref'd, so that activeResources() sees what the proxy holds
    p.latency(60_000, 0, 'upstream');
    const socket = await client(p.port);
    socket.write('version\r\n');
    await waitFor(() => activeResources(before).includes('Timeout'));
    const closed = once(socket, 'close');
    await Promise.all([p.close(), p.close()]);
    await closed;
    expect(p.connections).to.equal(0);
    await waitFor(() => activeResources(before).length === 0);
    const refused = net.connect({ host: '127.0.0.1', port: p.port });
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).to.equal('ECONNREFUSED');
  });
});
