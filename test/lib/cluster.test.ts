/**
 * lib/Cluster on its own: routing by key over several backends, server-list changes and argument
 * checks, with the toy line protocol against scripted servers.
 */
import { expect } from 'chai';
import { Cluster, parseServer, type ClusterOptions, type MemlineError } from '../../lib/index.js';
import {
  startScriptedServer,
  type ScriptedConnection,
  type ScriptedServer,
} from '../harness/scripted-server.js';
import { LineCodec, get, type LineRequest } from './line-codec.js';

type Clu = Cluster<LineRequest, unknown, string>;

function cluster(ports: number[], options: Partial<ClusterOptions<LineRequest, unknown, string>> = {}): Clu {
  return new Cluster<LineRequest, unknown, string>(
    ports.map((port) => `127.0.0.1:${port}`),
    {
      codec: new LineCodec(),
      connectTimeout: 1000,
      keepAlive: 0,
      maxPending: 10_000,
      connections: 1,
      distribution: 'ketama',
      ...options,
    },
  );
}

function send(c: Clu, req: LineRequest, timeout = 1000): Promise<unknown> {
  return c.send(req, { deadline: performance.now() + timeout, timeout });
}

/** Answers every GET with `OK <id> <port>-<id>`, so a reply says which server gave it. */
function echo(port: () => number) {
  return (conn: ScriptedConnection): void => {
    conn.onRequest((req) => {
      const [kind, id] = req.line.split(' ');
      if (kind === 'GET') conn.write(`OK ${id} ${port()}-${id}\r\n`);
    });
  };
}

describe('lib/Cluster (scripted servers, toy line protocol)', () => {
  const servers: ScriptedServer[] = [];
  let c: Clu | undefined;

  async function start(n: number): Promise<ScriptedServer[]> {
    const started: ScriptedServer[] = [];
    for (let i = 0; i < n; i++) {
      const s: ScriptedServer = await startScriptedServer(echo(() => s.port));
      started.push(s);
      servers.push(s);
    }
    return started;
  }

  afterEach(async () => {
    c?.destroy();
    c = undefined;
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('routes each key to one server, always the same, spreading keys over all of them', async () => {
    const [s1, s2] = await start(2);
    c = cluster([s1.port, s2.port]);
    const keys = Array.from({ length: 40 }, (_, i) => `key${i}`);
    const first = (await Promise.all(keys.map((k) => send(c!, get(k))))) as string[];
    const again = (await Promise.all(keys.map((k) => send(c!, get(k))))) as string[];
    expect(again).to.deep.equal(first);
    expect(new Set(first.map((v) => v.split('-')[0]))).to.deep.equal(new Set([`${s1.port}`, `${s2.port}`]));
  });

  it('setServers keeps the backends that stay and moves only the removed server’s keys', async () => {
    const [s1, s2, s3] = await start(3);
    c = cluster([s1.port, s2.port, s3.port]);
    const keys = Array.from({ length: 60 }, (_, i) => `key${i}`);
    const before = (await Promise.all(keys.map((k) => send(c!, get(k))))) as string[];
    const kept = c.backends[0];
    const change = c.setServers([`127.0.0.1:${s1.port}`, `127.0.0.1:${s2.port}`]);
    expect(change).to.deep.equal({ added: [], removed: [`127.0.0.1:${s3.port}`] });
    expect(c.backends[0]).to.equal(kept);
    const after = (await Promise.all(keys.map((k) => send(c!, get(k))))) as string[];
    for (let i = 0; i < keys.length; i++) {
      if (!before[i].startsWith(`${s3.port}-`)) expect(after[i]).to.equal(before[i]);
      else expect(after[i].startsWith(`${s3.port}-`)).to.equal(false);
    }
    // The kept backends kept their connections; adding a server back leaves them in place too.
    expect(c.stats.map((st) => st.created)).to.deep.equal([1, 1]);
    const [b1, b2] = c.backends;
    const back = c.setServers([`127.0.0.1:${s1.port}`, `127.0.0.1:${s2.port}`, `127.0.0.1:${s3.port}`]);
    expect(back).to.deep.equal({ added: [`127.0.0.1:${s3.port}`], removed: [] });
    expect(c.backends.slice(0, 2)).to.deep.equal([b1, b2]);
    expect(c.backends[2]).to.not.equal(b1).and.not.equal(b2);
    expect(await Promise.all(keys.map((k) => send(c!, get(k))))).to.deep.equal(before);
    expect(c.stats.map((st) => st.created)).to.deep.equal([1, 1, 1]);
  });

  it('refuses a deadline that is not a finite number with ERR_INVALID_ARGUMENT, nothing sent', async () => {
    const [s1, s2] = await start(2);
    c = cluster([s1.port, s2.port]);
    for (const deadline of [NaN, Infinity]) {
      const err = (await c
        .send(get('k'), { deadline, timeout: 1000 })
        .catch((e: unknown) => e)) as MemlineError;
      expect(err.code).to.equal('ERR_INVALID_ARGUMENT');
      expect(err.mayHaveExecuted).to.equal(false);
    }
    expect(c.stats.map((s) => s.created)).to.deep.equal([0, 0]);
    expect(await send(c, get('k'))).to.match(/^\d+-k$/);
  });
  it('reads a URL scheme only when the protocol names one, and only that scheme', () => {
    expect(parseServer('memcached://a:1/', 'memcached')).to.include({ host: 'a', port: 1, address: 'a:1' });
    expect(() => parseServer('memcached://a:1')).to.throw(/not "host:port"/);
    expect(() => parseServer('redis://a:1', 'memcached')).to.throw(/not "host:port"/);
    expect(parseServer('redis://a:1', 'redis')).to.include({ address: 'a:1' });
  });
});
