import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { expect } from 'chai';
import { isTlsErrorCode, tlsServername, Transport, type TransportTarget } from '../../lib/transport.js';
import { makeTestPki, type TestPki } from '../security/certs.js';

/** Opens a transport and resolves once its socket has closed, with whether it became ready first. */
async function openAndClose(
  target: TransportTarget,
  onReady: (t: Transport) => void = () => undefined,
): Promise<{ transport: Transport; wasReady: boolean }> {
  let wasReady = false;
  const transport: Transport = new Transport(target, () => {
    wasReady = true;
    onReady(transport);
  });
  // Not events.once: it rejects on the socket's 'error', which the transport records instead.
  await new Promise((resolve) => transport.socket.once('close', resolve));
  return { transport, wasReady };
}

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

async function closeServer(server: net.Server): Promise<void> {
  await new Promise((resolve) => server.close(resolve));
}

describe('lib/Transport', function () {
  this.timeout(20_000);
  let pki: TestPki;
  const servers: net.Server[] = [];

  before(async () => {
    pki = await makeTestPki();
  });
  after(async () => {
    await pki?.remove();
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(closeServer));
  });

  function track<S extends net.Server>(server: S): S {
    servers.push(server);
    return server;
  }

  describe('plain TCP', () => {
    it('becomes ready once connected; a server that closes gives ERR_CONNECTION with the given message', async () => {
      const port = await listen(track(net.createServer((s) => s.end())));
      const { transport, wasReady } = await openAndClose({ host: '127.0.0.1', port }, () => undefined);
      expect(wasReady).to.equal(true);
      expect(transport.ready).to.equal(true);
      expect(transport.tcpConnected).to.equal(true);
      const err = transport.closeError('127.0.0.1:1', 'gone before the reply');
      expect(err.code).to.equal('ERR_CONNECTION');
      expect(err.message).to.equal('gone before the reply');
      expect(err.server).to.equal('127.0.0.1:1');
      expect(transport.closeError('s:1').message).to.equal('connection to s:1 was closed by the server');
    });

    it('a refused connect is ERR_CONNECTION with the socket error as cause, never ready', async () => {
      const port = await listen(track(net.createServer()));
      await closeServer(servers.pop()!);
      const { transport, wasReady } = await openAndClose({ host: '127.0.0.1', port });
      expect(wasReady).to.equal(false);
      expect(transport.phase).to.equal('connect');
      const err = transport.closeError(`127.0.0.1:${port}`);
      expect(err.code).to.equal('ERR_CONNECTION');
      expect((err.cause as NodeJS.ErrnoException).code).to.equal('ECONNREFUSED');
      expect(err.mayHaveExecuted).to.equal(false);
    });
  });

  it('opens a Unix socket by path', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'memline-transport-'));
    try {
      const file = path.join(dir, 's.sock');
      const server = track(net.createServer((s) => s.end('hi')));
      server.listen(file);
      await once(server, 'listening');
      let received = '';
      const { wasReady } = await openAndClose({ path: file }, (t) =>
        t.socket.on('data', (d: Buffer) => (received += d.toString())),
      );
      expect(wasReady).to.equal(true);
      expect(received).to.equal('hi');
    } finally {
      await Promise.all(servers.splice(0).map(closeServer));
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('TLS', () => {
    function tlsServer(
      cert: { cert: Buffer; key: Buffer },
      seen: (string | false | null)[] = [],
    ): tls.Server {
      return track(
        tls.createServer({ cert: cert.cert, key: cert.key }, (s) => {
          seen.push(s.servername);
          s.end();
        }),
      );
    }

    it('sends the host name as servername and verifies it; becomes ready after the handshake', async () => {
      const seen: (string | false | null)[] = [];
      const port = await listen(tlsServer(pki.server, seen));
      const { transport, wasReady } = await openAndClose({
        host: 'localhost',
        port,
        tls: { ca: pki.ca.cert },
      });
      expect(wasReady).to.equal(true);
      expect(transport.secure).to.equal(true);
      expect(seen).to.deep.equal(['localhost']);
    });

    it('sends no servername for an IP address (the certificate IP SAN is checked)', async () => {
      const seen: (string | false | null)[] = [];
      const port = await listen(tlsServer(pki.server, seen));
      const { wasReady } = await openAndClose({ host: '127.0.0.1', port, tls: { ca: pki.ca.cert } });
      expect(wasReady).to.equal(true);
      expect(seen).to.deep.equal([false]);
    });

    it('a certificate that does not verify is ERR_TLS', async () => {
      const port = await listen(tlsServer(pki.selfSigned));
      const { transport, wasReady } = await openAndClose({
        host: 'localhost',
        port,
        tls: { ca: pki.ca.cert },
      });
      expect(wasReady).to.equal(false);
      const err = transport.closeError(`localhost:${port}`);
      expect(err.code).to.equal('ERR_TLS');
      expect(err.message).to.match(/^TLS with localhost:\d+ failed: /);
    });

    it('a server that closes during the handshake is ERR_TLS (TCP was up, TLS never was)', async () => {
      const port = await listen(track(net.createServer((s) => s.resume().end('not tls\r\n'))));
      const { transport } = await openAndClose({ host: '127.0.0.1', port, tls: { ca: pki.ca.cert } });
      expect(transport.tcpConnected).to.equal(true);
      expect(transport.ready).to.equal(false);
      expect(transport.closeError('x:1').code).to.equal('ERR_TLS');
    });

    it('reports phase handshake while TCP is up and the handshake is not done', async () => {
      const silent: net.Socket[] = [];
      const port = await listen(track(net.createServer((s) => silent.push(s))));
      const transport = new Transport({ host: '127.0.0.1', port, tls: { ca: pki.ca.cert } }, () => {});
      transport.socket.on('error', () => {});
      await once(transport.socket, 'connect');
      expect(transport.phase).to.equal('handshake');
      const closed = new Promise((resolve) => transport.socket.once('close', resolve));
      transport.destroy();
      for (const s of silent) s.destroy();
      await closed;
    });
  });

  it('tlsServername: the given name wins; a host name is used; an IP address gets none', () => {
    expect(tlsServername('10.0.0.1', { servername: 'cache.example' })).to.equal('cache.example');
    expect(tlsServername('cache.example', {})).to.equal('cache.example');
    expect(tlsServername('10.0.0.1', {})).to.equal(undefined);
    expect(tlsServername('::1', {})).to.equal(undefined);
    expect(tlsServername(undefined, {})).to.equal(undefined);
  });

  it('isTlsErrorCode knows certificate and handshake codes, not socket ones', () => {
    for (const code of ['ERR_SSL_WRONG_VERSION_NUMBER', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT']) {
      expect(isTlsErrorCode(code), code).to.equal(true);
    }
    for (const code of ['ECONNREFUSED', 'ECONNRESET', undefined])
      expect(isTlsErrorCode(code)).to.equal(false);
  });
});
