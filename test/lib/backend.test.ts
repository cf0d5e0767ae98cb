/**
 * lib/Backend on its own: one server, its connections, reconnect back-off and circuit breaker,
 * driven through the toy line protocol against scripted servers and closed ports.
 */
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

/** Answers every GET with `OK <id> v-<id>`. */
function echo(conn: ScriptedConnection): void {
  conn.onRequest((req) => {
    const [kind, id] = req.line.split(' ');
    if (kind === 'GET') conn.write(`OK ${id} v-${id}\r\n`);
  });
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
});
