/**
 * lib/Backend on its own: one server, its connections, reconnect back-off and circuit breaker,
 * driven through the toy line protocol against scripted servers and closed ports.
 */
import net from 'node:net';
import { expect } from 'chai';
import { Backend, type BackendOptions, type MemlineError } from '../../lib/index.js';
import {
  startScriptedServer,
  type ScriptedConnection,
  type ScriptedServer,
} from '../harness/scripted-server.js';
import { LineCodec, get, type LineRequest } from './line-codec.js';

type Back = Backend<LineRequest, unknown, string>;

function backend(port: number, options: Partial<BackendOptions<LineRequest, unknown, string>> = {}): Back {
  return new Backend<LineRequest, unknown, string>(
    { host: '127.0.0.1', port, weight: 1, address: `127.0.0.1:${port}` },
    {
      codec: new LineCodec(),
      connectTimeout: 1000,
      keepAlive: 0,
      maxPending: 10_000,
      connections: 1,
      ...options,
    },
  );
}

function send(b: Back, req: LineRequest, timeout = 1000): Promise<unknown> {
  return b.send(req, { deadline: performance.now() + timeout, timeout });
}

async function failure(p: Promise<unknown>): Promise<MemlineError> {
  return p.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`);
    },
    (e: unknown) => e as MemlineError,
  );
}

/** A loopback port where nothing listens: one a server had, closed again. */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Answers every GET with `OK <id> v-<id>`. */
function echo(conn: ScriptedConnection): void {
  conn.onRequest((req) => {
    const [kind, id] = req.line.split(' ');
    if (kind === 'GET') conn.write(`OK ${id} v-${id}\r\n`);
  });
}

/** Calls `send` every `every` ms for `forMs`, recording each outcome and how long it took. */
async function hammer(
  send: () => Promise<unknown>,
  forMs: number,
  every = 10,
): Promise<{ error: MemlineError | undefined; ms: number }[]> {
  const out: { error: MemlineError | undefined; ms: number }[] = [];
  const end = performance.now() + forMs;
  while (performance.now() < end) {
    const t = performance.now();
    const error = await send().then(
      () => undefined,
      (e: unknown) => e as MemlineError,
    );
    out.push({ error, ms: performance.now() - t });
    await new Promise((resolve) => setTimeout(resolve, every));
  }
  return out;
}

/** A plain server on `port` answering every GET like {@link echo}. */
async function listenEcho(port: number): Promise<net.Server> {
  const srv = net.createServer((socket) => {
    socket.on('data', (chunk) => {
      for (const line of chunk.toString('latin1').split('\r\n')) {
        const [kind, id] = line.split(' ');
        if (kind === 'GET') socket.write(`OK ${id} v-${id}\r\n`);
      }
    });
  });
  await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
  return srv;
}

describe('lib/Backend (scripted server, toy line protocol)', () => {
  let server: ScriptedServer | undefined;
  let b: Back | undefined;

  afterEach(async () => {
    b?.destroy();
    b = undefined;
    await server?.close();
    server = undefined;
  });

  for (const breaker of [undefined, { threshold: 3, openTime: 200, maxOpenTime: 400 }]) {
    it(`a refused server fails every call within 500 ms, through the back-off (breaker ${breaker ? 'on' : 'off'})`, async () => {
      const port = await closedPort();
      b = backend(port, { breaker, reconnect: { base: 400, cap: 2000 } });
      const results = await hammer(() => send(b!, get('x'), 1000), 1500);
      for (const { error, ms } of results) {
        expect(error?.code).to.be.oneOf(
          breaker ? ['ERR_CONNECTION', 'ERR_CIRCUIT_OPEN'] : ['ERR_CONNECTION'],
        );
        expect(error!.mayHaveExecuted).to.equal(false);
        expect(error!.server).to.equal(`127.0.0.1:${port}`);
        expect(ms).to.be.lessThan(500);
      }
      expect(results.filter((r) => r.error!.code === 'ERR_CONNECTION').length).to.be.greaterThan(2);
      // Connects are spaced by the back-off, not one per call.
      expect(b.stats.created).to.be.lessThan(results.length / 4);
    });
  }

  it('a refused server that comes back is used again within the back-off cap', async () => {
    const port = await closedPort();
    b = backend(port, { reconnect: { base: 50, cap: 400 } });
    await hammer(() => send(b!, get('x')), 600);
    const srv = await listenEcho(port);
    try {
      const back = performance.now();
      let value: unknown;
      while (value === undefined && performance.now() - back < 2000) {
        value = await send(b, get('y')).catch(() => new Promise((resolve) => setTimeout(resolve, 10)));
      }
      expect(value).to.equal('v-y');
      expect(performance.now() - back).to.be.lessThan(400 + 300);
    } finally {
      b.destroy();
      await new Promise((resolve) => srv.close(resolve));
    }
  });

  it('refuses a deadline that is not a finite number with ERR_INVALID_ARGUMENT, before any I/O', async () => {
    server = await startScriptedServer(echo);
    b = backend(server.port, { breaker: { threshold: 1, openTime: 60_000, maxOpenTime: 60_000 } });
    for (const deadline of [NaN, Infinity, -Infinity]) {
      const err = await failure(b.send(get('x'), { deadline, timeout: 1000 }));
      expect(err.code).to.equal('ERR_INVALID_ARGUMENT');
      expect(err.mayHaveExecuted).to.equal(false);
    }
    expect(b.stats.created).to.equal(0); // no connection opened
    expect(b.breaker).to.equal('closed');
    expect(await send(b, get('y'))).to.equal('v-y');
    expect(server.received().toString()).to.equal('GET y\r\n');
  });
  it('spreads concurrent requests over its connections, the least loaded first', async () => {
    server = await startScriptedServer(echo);
    b = backend(server.port, { connections: 3 });
    const ids = Array.from({ length: 9 }, (_, i) => `k${i}`);
    const values = await Promise.all(ids.map((id) => send(b!, get(id))));
    expect(values).to.deep.equal(ids.map((id) => `v-${id}`));
    expect(server.connections.map((c) => c.requests.length)).to.deep.equal([3, 3, 3]);
    expect(b.stats).to.include({ created: 3, reconnects: 0, connections: 3, pending: 0 });
  });

  it('replaces a connection the server dropped, running its idempotent request again there', async () => {
    server = await startScriptedServer((conn) => {
      if (server!.connections.length === 1) conn.onRequest(() => conn.destroy());
      else echo(conn);
    });
    b = backend(server.port);
    expect(await send(b, get('a'))).to.equal('v-a');
    expect(await send(b, get('b'))).to.equal('v-b');
    expect(server.connections).to.have.length(2);
    expect(b.stats).to.include({ created: 2, reconnects: 1, connections: 1 });
  });

  it('after a failed connect (a refused login), the replacement waits out the reconnect back-off', async () => {
    server = await startScriptedServer((conn) => {
      const first = server!.connections.length === 1;
      conn.onRequest((req) => {
        const [kind, id] = req.line.split(' ');
        if (kind === 'HELLO') conn.write(first ? 'FATAL go away\r\n' : 'OK hello welcome\r\n');
        else if (kind === 'GET') conn.write(`OK ${id} v-${id}\r\n`);
      });
    });
    b = new Backend<LineRequest, unknown, string>(
      { host: '127.0.0.1', port: server.port, weight: 1, address: server.address },
      {
        codec: new LineCodec({ handshake: true }),
        connectTimeout: 1000,
        keepAlive: 0,
        maxPending: 10,
        connections: 1,
        reconnect: { base: 300, cap: 300 },
      },
    );
    expect((await failure(send(b, get('a')))).code).to.equal('ERR_CLIENT_ERROR');
    const retried = performance.now();
    expect(await send(b, get('b'), 2000)).to.equal('v-b');
    // backoff(1, 300, 300) is 150..300 ms.
    expect(performance.now() - retried).to.be.at.least(140);
    expect(b.stats).to.include({ created: 2, reconnects: 1 });
  });

  it('fails fast with ERR_CIRCUIT_OPEN once the breaker opens, opening no connection', async () => {
    server = await startScriptedServer((conn) => conn.onRequest(() => conn.destroy()));
    b = backend(server.port, { breaker: { threshold: 2, openTime: 60_000, maxOpenTime: 60_000 } });
    for (const id of ['a', 'b']) {
      const err = await failure(send(b, { kind: 'GET', id, idempotent: false }));
      expect(err.code).to.equal('ERR_CONNECTION');
      expect(err.mayHaveExecuted).to.equal(true);
    }
    expect(b.breaker).to.equal('open');
    const created = b.stats.created;
    const received = server.received().length;
    const t = performance.now();
    const err = await failure(send(b, get('c')));
    expect(err.code).to.equal('ERR_CIRCUIT_OPEN');
    expect(err.mayHaveExecuted).to.equal(false);
    expect(performance.now() - t).to.be.lessThan(50);
    expect(b.stats.created).to.equal(created);
    expect(server.received().length).to.equal(received);
  });
});
