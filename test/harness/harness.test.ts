import { once } from 'node:events';
import net from 'node:net';
import { expect } from 'chai';
import { startBlackhole } from './blackhole.js';
import { startMemcached, stopAllMemcached, type MemcachedProcess } from './memcached.js';
import { activeResources, eventWithin, pidAlive, snapshotResources, waitFor } from './resources.js';
import {
  startScriptedServer,
  type ScriptedConnection,
  type ScriptedRequest,
  type ScriptedServer,
} from './scripted-server.js';

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  return socket;
}

/** Writes one byte at a time, each after the previous left and the peer's loop could read it. */
async function writeBytewise(socket: net.Socket, bytes: string): Promise<void> {
  for (const byte of Buffer.from(bytes)) {
    await new Promise<void>((resolve, reject) =>
      socket.write(Buffer.of(byte), (e) => (e ? reject(e) : resolve())),
    );
    await new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
  }
}

describe('test harness', () => {
  // Run after each test even when it fails, so that one failure cannot leave sockets behind.
  const cleanups: (() => unknown)[] = [];
  const scripted = async (handler: (conn: ScriptedConnection) => void): Promise<ScriptedServer> => {
    const server = await startScriptedServer(handler);
    cleanups.push(() => server.close());
    return server;
  };
  const client = async (port: number): Promise<net.Socket> => {
    const socket = await connect(port);
    cleanups.push(() => socket.destroy());
    return socket;
  };
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const pids: number[] = [];
  const track = (m: MemcachedProcess): MemcachedProcess => (pids.push(m.pid), m);

  after(async () => {
    await stopAllMemcached();
    for (const pid of pids) expect(pidAlive(pid), `pid ${pid}`).to.equal(false);
  });

  describe('memcached', () => {
    it('starts on a free port and answers version and stats', async () => {
      const m = track(await startMemcached());
      expect(m.address).to.equal(`127.0.0.1:${m.port}`);
      const version = await m.command('version\r\n', { until: '\r\n' });
      expect(version.toString()).to.match(/^VERSION 1\.\d+\.\d+\r\n$/);
      const stats = await m.stats();
      expect(stats.pid).to.equal(String(m.pid));
      expect(stats.threads).to.equal('1');
      expect(stats.limit_maxbytes).to.equal(String(64 * 1024 * 1024));
    });

    it('command() without a terminator returns everything up to the close', async () => {
      const m = track(await startMemcached());
      const reply = await m.command('ms k 5 T0\r\nhello\r\nmg k v\r\n');
      expect(reply.toString()).to.equal('HD\r\nVA 5\r\nhello\r\n');
    });

    it('pause() leaves a request unanswered until resume()', async () => {
      const m = track(await startMemcached());
      const socket = await client(m.port);
      await m.pause();
      socket.write('mg nothing v\r\n');
      expect(await eventWithin(socket, ['data'], 300)).to.equal('timeout');
      const reply = once(socket, 'data');
      m.resume();
      expect(String((await reply)[0])).to.equal('EN\r\n');
      socket.destroy();
    });

    it('kill() then restart() serves again on the same port with a new pid', async () => {
      const m = track(await startMemcached());
      const { port, pid } = m;
      await m.kill();
      expect(m.running).to.equal(false);
      expect(pidAlive(pid)).to.equal(false);
      const refused = net.connect({ host: '127.0.0.1', port });
      const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
      expect(err.code).to.equal('ECONNREFUSED');

      await m.restart();
      track(m);
      expect(m.port).to.equal(port);
      expect(m.pid).to.not.equal(pid);
      expect((await m.stats()).pid).to.equal(String(m.pid));
    });

    it('stop() is idempotent and works on a paused process', async () => {
      const m = track(await startMemcached());
      await m.pause();
      await Promise.all([m.stop(), m.stop()]);
      await m.stop();
      expect(pidAlive(m.pid)).to.equal(false);
    });

    it('rejects with memcached stderr when the given port is taken', async () => {
      const taken = await scripted(() => {});
      let error: unknown;
      await startMemcached({ port: taken.port }).catch((e: unknown) => (error = e));
      expect(String(error)).to.match(/exited early[\s\S]*stderr: .*Address already in use/);
    });

    it('runs two processes at once on different ports', async () => {
      const [a, b] = await Promise.all([startMemcached(), startMemcached()]);
      track(a);
      track(b);
      expect(a.port).to.not.equal(b.port);
      expect((await a.stats()).pid).to.equal(String(a.pid));
      expect((await b.stats()).pid).to.equal(String(b.pid));
    });
  });

  describe('scripted server', () => {
    it('records the exact bytes received and answers as scripted', async () => {
      const server = await scripted((conn) => conn.onRequest(() => conn.write('HD\r\n')));
      const socket = await client(server.port);
      const replies: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => replies.push(chunk));
      const sent = Buffer.from('mn\r\nmg \x00\xff\x7f v\r\n', 'latin1');
      socket.write(sent);
      await waitFor(() => Buffer.concat(replies).length === 8);
      expect(Buffer.concat(replies).toString()).to.equal('HD\r\nHD\r\n');
      expect(server.received()).to.deep.equal(sent);
      expect(server.connections[0].received).to.deep.equal(sent);
      expect(server.connections[0].requests[1].line).to.equal('mg \x00\xff\x7f v');
    });

    it('parses ms and set data blocks split byte by byte', async () => {
      let dataEvents = 0;
      const server = await scripted((conn) => conn.socket.on('data', () => dataEvents++));
      const socket = await client(server.port);
      const conn = await server.nextConnection();
      const wire = 'ms k 8 T0\r\nab\r\nmn\r\n\r\nset s 0 0 2 noreply\r\nxy\r\nmn\r\n';
      await writeBytewise(socket, wire);
      const requests: ScriptedRequest[] = [];
      for (let i = 0; i < 3; i++) requests.push(await conn.nextRequest());
      expect(requests).to.deep.equal([
        { line: 'ms k 8 T0', data: Buffer.from('ab\r\nmn\r\n') },
        { line: 'set s 0 0 2 noreply', data: Buffer.from('xy') },
        { line: 'mn' },
      ]);
      expect(dataEvents).to.be.greaterThan(wire.length / 2);
    });

    it('writeChunks() delivers the exact bytes in separate reads', async () => {
      const reply = 'VA 3\r\nabc\r\nHD\r\n';
      const server = await scripted((conn) => void conn.writeChunks(reply, 'bytewise'));
      const socket = await client(server.port);
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      await waitFor(() => Buffer.concat(chunks).length === reply.length);
      expect(Buffer.concat(chunks).toString()).to.equal(reply);
      expect(chunks.length).to.be.greaterThan(reply.length / 2);
    });

    it('reset() gives the client ECONNRESET; a silent handler just hangs', async () => {
      const server = await scripted((conn) => conn.onRequest((req) => req.line === 'reset' && conn.reset()));
      const socket = await client(server.port);
      socket.write('mg k v\r\n');
      expect(await eventWithin(socket, ['data', 'end', 'error'], 200)).to.equal('timeout');
      socket.write('reset\r\n');
      const [err] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
      expect(err.code).to.equal('ECONNRESET');
      await server.connections[0].closed;
    });

    it('close() ends every connection and leaves no resource behind', async () => {
      const before = await snapshotResources();
      const server = await scripted(() => {});
      const socket = await client(server.port);
      socket.on('error', () => {});
      await server.nextConnection();
      const closed = once(socket, 'close');
      await Promise.all([server.close(), server.close()]);
      await closed;
      await server.connections[0].closed;
      await waitFor(() => activeResources(before).length === 0);
    });
  });

  describe('blackhole', () => {
    it('keeps a connect pending: neither connected nor failed after 300 ms', async () => {
      const hole = await startBlackhole();
      cleanups.push(() => hole.close());
      const socket = net.connect({ host: '127.0.0.1', port: hole.port });
      cleanups.push(() => socket.destroy());
      expect(await eventWithin(socket, ['connect', 'error', 'close'], 300)).to.equal('timeout');
      expect(socket.pending).to.equal(true);
      socket.destroy();
      await hole.close();
    });
  });

  describe('waitFor', () => {
    it('resolves once the condition holds and fails clearly otherwise', async () => {
      let n = 0;
      await waitFor(() => ++n > 20);
      let error: unknown;
      await waitFor(() => false, 30).catch((e: unknown) => (error = e));
      expect(String(error)).to.match(/waitFor: condition still false after 30 ms/);
    });
  });
});
