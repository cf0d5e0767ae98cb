import { getEventListeners } from 'node:events';
import net from 'node:net';
import { expect } from 'chai';
import sinon from 'sinon';
import { Connection, type ConnectionEvents, type MemlineError } from '../../lib/index.js';
import {
  startScriptedServer,
  type ScriptedConnection,
  type ScriptedServer,
} from '../harness/scripted-server.js';
import { startBlackhole } from '../harness/blackhole.js';
import { waitFor } from '../harness/resources.js';
import { LineCodec, get, type LineRequest } from './line-codec.js';

type Conn = Connection<LineRequest, unknown, string>;

function open(
  port: number,
  options: { handshake?: boolean; maxPending?: number; connectTimeout?: number; replyGrace?: number } = {},
  events: ConnectionEvents<LineRequest, unknown, string> = {},
): Conn {
  return new Connection<LineRequest, unknown, string>(
    {
      host: '127.0.0.1',
      port,
      codec: new LineCodec({ handshake: options.handshake ?? false }),
      connectTimeout: options.connectTimeout ?? 1000,
      keepAlive: 0,
      maxPending: options.maxPending ?? 10_000,
      replyGrace: options.replyGrace,
    },
    events,
  );
}

function send(conn: Conn, req: LineRequest, timeout = 1000, signal?: AbortSignal): Promise<unknown> {
  return conn.send(req, { deadline: performance.now() + timeout, timeout, signal });
}

/** Settles every promise and reports each outcome, so a test can assert on all of them. */
async function outcomes(promises: Promise<unknown>[]): Promise<unknown[]> {
  const settled = await Promise.allSettled(promises);
  return settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as MemlineError)));
}

/** A server that answers every GET with `OK <id> v-<id>`. */
function echo(conn: ScriptedConnection): void {
  conn.onRequest((req) => {
    const [kind, id] = req.line.split(' ');
    if (kind === 'GET') conn.write(`OK ${id} v-${id}\r\n`);
    if (kind === 'HELLO') conn.write('OK hello welcome\r\n');
  });
}

describe('lib/Connection (scripted server, toy line protocol)', () => {
  let server: ScriptedServer | undefined;
  let conn: Conn | undefined;

  afterEach(async () => {
    conn?.destroy();
    conn = undefined;
    await server?.close();
    server = undefined;
    sinon.restore();
  });

  it('pipelines the requests of one tick into one socket write, replies in order', async () => {
    server = await startScriptedServer(echo);
    conn = open(server.port);
    await send(conn, get('warmup'));
    const write = sinon.spy(net.Socket.prototype, 'write');
    const ids = Array.from({ length: 200 }, (_, i) => `k${i}`);
    const values = await Promise.all(ids.map((id) => send(conn!, get(id))));
    expect(values).to.deep.equal(ids.map((id) => `v-${id}`));
    const clientWrites = write.getCalls().filter((c) => c.thisValue !== server!.connections[0].socket);
    expect(clientWrites).to.have.length(1);
  });

  it('gives the same results when every reply arrives byte by byte', async () => {
    server = await startScriptedServer((c) => {
      c.onRequest(() => {
        if (c.requests.length === 3)
          void c.writeChunks('OK a value\r\nOK b value\r\nOK c value\r\n', 'bytewise');
      });
    });
    conn = open(server.port);
    const values = await Promise.all(['a', 'b', 'c'].map((id) => send(conn!, get(id))));
    expect(values).to.deep.equal(['value', 'value', 'value']);
  });

  it('collects a reply of several frames (MORE) and skips a quiet request with no reply (SKIP)', async () => {
    server = await startScriptedServer((c) => {
      c.onRequest((req) => {
        const [kind, id] = req.line.split(' ');
        if (kind === 'MULTI') c.write(`OK ${id} one\r\nOK ${id} two\r\nOK ${id} three\r\n`);
        if (kind === 'GET') c.write(`OK ${id} v-${id}\r\n`);
      });
    });
    conn = open(server.port);
    const [multi, quiet, after] = await Promise.all([
      send(conn, { kind: 'MULTI', id: 'm', count: 3 }),
      send(conn, { kind: 'QUIET', id: 'q' }),
      send(conn, get('g')),
    ]);
    expect(multi).to.deep.equal(['one', 'two', 'three']);
    expect(quiet).to.equal(null);
    expect(after).to.equal('v-g');
  });

  it('rejects a request on a silent server with ERR_TIMEOUT at its deadline (phase request)', async () => {
    server = await startScriptedServer(() => undefined);
    conn = open(server.port);
    const started = performance.now();
    const err = (await send(conn, get('x'), 100).catch((e: unknown) => e)) as MemlineError & {
      phase: string;
    };
    const elapsed = performance.now() - started;
    expect(err.code).to.equal('ERR_TIMEOUT');
    expect(err.phase).to.equal('request');
    expect(err.mayHaveExecuted).to.equal(true);
    expect(elapsed).to.be.within(95, 350);
  });

  it('throws away the late reply of a timed-out request: the next request gets its own (promise 1)', async () => {
    server = await startScriptedServer(() => undefined);
    conn = open(server.port);
    const first = send(conn, get('A'), 60);
    const serverConn = await server.nextConnection();
    const firstErr = (await first.catch((e: unknown) => e)) as MemlineError;
    expect(firstErr.code).to.equal('ERR_TIMEOUT');
    const second = send(conn, get('B'));
    await serverConn.nextRequest();
    await serverConn.nextRequest();
    serverConn.write('OK A value-of-A\r\nOK B value-of-B\r\n');
    expect(await second).to.equal('value-of-B');
  });

  it('keeps the replies of the other requests in order when one in the middle is aborted', async () => {
    server = await startScriptedServer(() => undefined);
    conn = open(server.port);
    const ac = new AbortController();
    const ids = ['r1', 'r2', 'r3', 'r4', 'r5'];
    const promises = ids.map((id) => send(conn!, get(id), 1000, id === 'r3' ? ac.signal : undefined));
    const serverConn = await server.nextConnection();
    for (let i = 0; i < 5; i++) await serverConn.nextRequest();
    ac.abort();
    serverConn.write(ids.map((id) => `OK ${id} v-${id}\r\n`).join(''));
    const results = await outcomes(promises);
    expect(results[0]).to.equal('v-r1');
    expect(results[1]).to.equal('v-r2');
    expect((results[2] as MemlineError).code).to.equal('ERR_ABORTED');
    expect((results[2] as MemlineError).mayHaveExecuted).to.equal(true);
    expect(results[3]).to.equal('v-r4');
    expect(results[4]).to.equal('v-r5');
  });

  it('a timeout shorter than the reply time does not count against a server that answers', async () => {
    server = await startScriptedServer((c) => {
      c.onRequest((req) => {
        const id = req.line.split(' ')[1];
        setTimeout(() => c.write(`OK ${id} late\r\n`), 30);
      });
    });
    const timedOut = sinon.spy();
    conn = open(server.port, { replyGrace: 100 }, { timedOut });
    await send(conn, get('warmup'));
    const results = await outcomes(['a', 'b', 'c'].map((id) => send(conn!, get(id), 5)));
    for (const r of results) expect((r as MemlineError).code).to.equal('ERR_TIMEOUT');
    await waitFor(() => conn!.inflight === 0); // the late replies came and were thrown away
    // Past the grace the timer would have blamed the server; it answered, so it must not.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(timedOut.callCount).to.equal(0);
    expect(await send(conn, get('d'))).to.equal('late');
  });

  it('a timeout shorter than the reply time counts once the server stays silent for replyGrace', async () => {
    server = await startScriptedServer(() => undefined);
    const timedOut = sinon.spy();
    conn = open(server.port, { replyGrace: 100 }, { timedOut });
    const started = performance.now();
    const results = await outcomes(['a', 'b'].map((id) => send(conn!, get(id), 5)));
    for (const r of results) expect((r as MemlineError).code).to.equal('ERR_TIMEOUT');
    expect(timedOut.callCount).to.equal(0);
    await waitFor(() => timedOut.callCount === 2);
    expect(performance.now() - started).to.be.within(90, 1000);
    // A timeout after the grace counts at once.
    const late = (await send(conn, get('c'), 150).catch((e: unknown) => e)) as MemlineError;
    expect(late.code).to.equal('ERR_TIMEOUT');
    expect(timedOut.callCount).to.equal(3);
  });

  it('1,000 calls on one signal share one abort listener, and the abort rejects them all', async () => {
    server = await startScriptedServer(() => undefined);
    conn = open(server.port);
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const ac = new AbortController();
      const promises = Array.from({ length: 1000 }, (_, i) => send(conn!, get(`k${i}`), 5000, ac.signal));
      expect(getEventListeners(ac.signal, 'abort')).to.have.length(1);
      await waitFor(() => conn!.inflight === 1000);
      ac.abort();
      const results = await outcomes(promises);
      for (const r of results) expect((r as MemlineError).code).to.equal('ERR_ABORTED');
      expect(getEventListeners(ac.signal, 'abort')).to.have.length(0);
      // A warning is emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((w) => w.name)).to.not.include('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('removes the shared abort listener once the last call on the signal settles', async () => {
    server = await startScriptedServer(echo);
    conn = open(server.port);
    const ac = new AbortController();
    const ids = Array.from({ length: 100 }, (_, i) => `k${i}`);
    const results = await Promise.all(ids.map((id) => send(conn!, get(id), 5000, ac.signal)));
    expect(results).to.deep.equal(ids.map((id) => `v-${id}`));
    expect(getEventListeners(ac.signal, 'abort')).to.have.length(0);
    // A later call on the same signal watches it again.
    const later = send(conn, get('x'), 5000, ac.signal);
    expect(getEventListeners(ac.signal, 'abort')).to.have.length(1);
    expect(await later).to.equal('v-x');
    expect(getEventListeners(ac.signal, 'abort')).to.have.length(0);
  });

  it('rejects an already-aborted signal at once, without writing', async () => {
    server = await startScriptedServer(echo);
    conn = open(server.port);
    const err = (await send(conn, get('x'), 1000, AbortSignal.abort()).catch(
      (e: unknown) => e,
    )) as MemlineError;
    expect(err.code).to.equal('ERR_ABORTED');
    expect(err.mayHaveExecuted).to.equal(false);
    expect(await send(conn, get('y'))).to.equal('v-y');
    expect(server.received().toString()).to.equal('GET y\r\n');
  });

  it('rejects everything in flight with ERR_CONNECTION when the server closes mid-reply', async () => {
    server = await startScriptedServer((c) => {
      c.onRequest(() => {
        if (c.requests.length === 3) {
          c.write('OK a v-a\r\nOK b partial');
          c.end();
        }
      });
    });
    conn = open(server.port);
    const results = await outcomes(['a', 'b', 'c'].map((id) => send(conn!, get(id))));
    expect(results[0]).to.equal('v-a');
    for (const r of results.slice(1)) {
      expect((r as MemlineError).code).to.equal('ERR_CONNECTION');
      expect((r as MemlineError).mayHaveExecuted).to.equal(true);
    }
    expect(conn.closed).to.equal(true);
  });

  it('destroys the connection on an unsolicited reply and on a second reply to one request', async () => {
    server = await startScriptedServer((c) => {
      c.onRequest((req) => {
        const id = req.line.split(' ')[1];
        c.write(`OK ${id} v\r\nOK ${id} again\r\n`);
      });
    });
    conn = open(server.port);
    const first = send(conn, get('a'));
    expect(await first).to.equal('v');
    await waitFor(() => conn!.closed);
    const err = (await send(conn, get('b')).catch((e: unknown) => e)) as MemlineError;
    expect(err.code).to.equal('ERR_CLIENT_CLOSED');
  });

  it('on garbage, the head gets ERR_PROTOCOL and the rest ERR_CONNECTION with mayHaveExecuted', async () => {
    server = await startScriptedServer((c) => {
      c.onRequest(() => {
        if (c.requests.length === 3) c.write('\x00\x01garbage\r\n');
      });
    });
    conn = open(server.port);
    const results = await outcomes(['a', 'b', 'c'].map((id) => send(conn!, get(id))));
    expect((results[0] as MemlineError).code).to.equal('ERR_PROTOCOL');
    expect((results[1] as MemlineError).code).to.equal('ERR_CONNECTION');
    expect((results[2] as MemlineError).code).to.equal('ERR_CONNECTION');
    expect(results.every((r) => (r as MemlineError).mayHaveExecuted)).to.equal(true);
  });

  it('keeps the connection after a non-fatal error frame; destroys it after a fatal one', async () => {
    server = await startScriptedServer((c) => {
      c.onRequest((req) => {
        const id = req.line.split(' ')[1];
        if (id === 'soft') c.write('SOFT out of memory\r\n');
        else if (id === 'fatal') c.write('FATAL bad command\r\n');
        else c.write(`OK ${id} v-${id}\r\n`);
      });
    });
    conn = open(server.port);
    const soft = (await send(conn, get('soft')).catch((e: unknown) => e)) as MemlineError;
    expect(soft.code).to.equal('ERR_SERVER_ERROR');
    expect(await send(conn, get('ok'))).to.equal('v-ok');
    const results = await outcomes([send(conn, get('fatal')), send(conn, get('after'))]);
    expect((results[0] as MemlineError).code).to.equal('ERR_CLIENT_ERROR');
    expect((results[1] as MemlineError).code).to.equal('ERR_CONNECTION');
    expect(server.connections).to.have.length(1);
  });

  it('holds requests back until drain when the socket is full, then delivers every one', async () => {
    server = await startScriptedServer((c) => {
      c.pauseReading();
      echo(c);
    });
    conn = open(server.port, { maxPending: 200_000 });
    const big = 'x'.repeat(1000);
    const promises: Promise<unknown>[] = [];
    // Drive back-pressure rather than hope for it: the server reads nothing, so the kernel's buffers
    // (a few MB on loopback, however they are tuned) fill and a write must come back short. Send 1 MB
    // per turn until requests stay queued behind the full socket; 128 MB bounds the loop.
    for (let round = 0; conn.queued === 0; round++) {
      expect(round, 'the kernel absorbed 128 MB without back-pressure').to.be.lessThan(128);
      for (let i = 0; i < 1000; i++) promises.push(send(conn, get(`${big}${promises.length}`), 30_000));
      await waitFor(() => conn!.inflight > 0); // this round's flush has run
      await new Promise((resolve) => setImmediate(resolve));
    }
    // A writer that ignored back-pressure would have handed every request to the socket at once.
    expect(conn.queued).to.be.greaterThan(0);
    server.connections[0].resumeReading();
    const values = await Promise.all(promises);
    const last = promises.length - 1;
    expect(values[last]).to.equal(`v-${big}${last}`);
  });

  it('refuses a deadline or timeout that is not a finite number with ERR_INVALID_ARGUMENT, nothing sent', async () => {
    server = await startScriptedServer(echo);
    conn = open(server.port);
    const now = performance.now();
    const bad = [
      { deadline: NaN, timeout: 1000 },
      { deadline: Infinity, timeout: 1000 },
      { deadline: -Infinity, timeout: 1000 },
      { deadline: now + 1000, timeout: NaN },
      { deadline: now + 1000, timeout: Infinity },
      { deadline: '1000' as unknown as number, timeout: 1000 },
    ];
    const results = await outcomes(bad.map((options, i) => conn!.send(get(`bad${i}`), options)));
    for (const r of results) {
      expect((r as MemlineError).code).to.equal('ERR_INVALID_ARGUMENT');
      expect((r as MemlineError).mayHaveExecuted).to.equal(false);
    }
    expect(conn.pending).to.equal(0);
    expect(await send(conn, get('after'))).to.equal('v-after');
    expect(server.received().toString()).to.equal('GET after\r\n');
  });

  it('refuses a request past maxPending with ERR_QUEUE_FULL, nothing sent', async () => {
    server = await startScriptedServer(() => undefined);
    conn = open(server.port, { maxPending: 2 });
    const a = send(conn, get('a'), 200);
    const b = send(conn, get('b'), 200);
    const err = (await send(conn, get('c')).catch((e: unknown) => e)) as MemlineError;
    expect(err.code).to.equal('ERR_QUEUE_FULL');
    expect(err.mayHaveExecuted).to.equal(false);
    await outcomes([a, b]);
  });

  it('fails fast with ERR_CONNECTION when refused, mayHaveExecuted false', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    conn = open(port);
    const started = performance.now();
    const err = (await send(conn, get('x')).catch((e: unknown) => e)) as MemlineError;
    expect(err.code).to.equal('ERR_CONNECTION');
    expect(err.mayHaveExecuted).to.equal(false);
    expect(performance.now() - started).to.be.lessThan(500);
  });

  it('times out a connect that never completes with ERR_TIMEOUT phase connect', async () => {
    const hole = await startBlackhole();
    try {
      conn = open(hole.port, { connectTimeout: 150 });
      const err = (await send(conn, get('x'), 5000).catch((e: unknown) => e)) as MemlineError & {
        phase: string;
      };
      expect(err.code).to.equal('ERR_TIMEOUT');
      expect(err.phase).to.equal('connect');
      expect(err.mayHaveExecuted).to.equal(false);
    } finally {
      conn?.destroy();
      await hole.close();
    }
  });

  it('a request deadline shorter than the connect timeout reports phase connect', async () => {
    const hole = await startBlackhole();
    try {
      conn = open(hole.port, { connectTimeout: 5000 });
      const err = (await send(conn, get('x'), 100).catch((e: unknown) => e)) as MemlineError & {
        phase: string;
      };
      expect(err.code).to.equal('ERR_TIMEOUT');
      expect(err.phase).to.equal('connect');
    } finally {
      conn?.destroy();
      await hole.close();
    }
  });

  it('sends the handshake alone and first, then the queued requests', async () => {
    server = await startScriptedServer(echo);
    conn = open(server.port, { handshake: true });
    const values = await Promise.all([send(conn, get('a')), send(conn, get('b'))]);
    expect(values).to.deep.equal(['v-a', 'v-b']);
    expect(server.connections[0].requests.map((r) => r.line)).to.deep.equal(['HELLO', 'GET a', 'GET b']);
  });

  it('a refused handshake fails every queued request with its error, nothing else sent', async () => {
    server = await startScriptedServer((c) => c.onRequest(() => c.write('FATAL not welcome\r\n')));
    conn = open(server.port, { handshake: true });
    const results = await outcomes([send(conn, get('a')), send(conn, get('b'))]);
    for (const r of results) {
      expect((r as MemlineError).code).to.equal('ERR_CLIENT_ERROR');
      expect((r as MemlineError).mayHaveExecuted).to.equal(false);
    }
    expect(server.received().toString()).to.equal('HELLO\r\n');
  });

  it('close() lets requests in flight finish, then refuses new ones and leaves no handle', async () => {
    server = await startScriptedServer((c) => {
      c.onRequest((req) => {
        const id = req.line.split(' ')[1];
        setTimeout(() => c.write(`OK ${id} late-${id}\r\n`), 30);
      });
    });
    conn = open(server.port);
    const inflight = [send(conn, get('a')), send(conn, get('b'))];
    await server.nextConnection();
    const closing = conn.close();
    const refused = (await send(conn, get('c')).catch((e: unknown) => e)) as MemlineError;
    expect(refused.code).to.equal('ERR_CLIENT_CLOSED');
    expect(await Promise.all(inflight)).to.deep.equal(['late-a', 'late-b']);
    await closing;
    expect(conn.closed).to.equal(true);
  });

  it('destroy() rejects everything in flight and queued with ERR_CLIENT_CLOSED', async () => {
    server = await startScriptedServer(() => undefined);
    conn = open(server.port);
    const promises = [send(conn, get('a')), send(conn, get('b'))];
    await server.nextConnection();
    conn.destroy();
    for (const r of await outcomes(promises)) expect((r as MemlineError).code).to.equal('ERR_CLIENT_CLOSED');
  });
});
