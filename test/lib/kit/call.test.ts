import { expect } from 'chai';
import { InvalidArgumentError, MAX_TIMER_MS, PartialResultError, prepareCall } from '../../../lib/index.js';
import { rejection } from '../../harness/rejection.js';
import { get } from '../line-codec.js';
import {
  startScriptedServer,
  type ScriptedConnection,
  type ScriptedServer,
} from '../../harness/scripted-server.js';
import { lineCore, type Core } from './scripted-core.js';

/** Answers `GET <id>` with `OK <id> <port>` (the server's own port), or `SOFT` when `fail` is set. */
function ports(fail = false) {
  return (conn: ScriptedConnection): void => {
    conn.onRequest(({ line }) => {
      const [, id] = line.split(' ');
      conn.write(fail ? 'SOFT down\r\n' : `OK ${id} ${conn.socket.localPort}\r\n`);
    });
  };
}

describe('lib/kit prepareCall', () => {
  it('fixes the deadline from now, with the default timeout when none is given', () => {
    const before = performance.now();
    const so = prepareCall(undefined, 300);
    expect(so.timeout).to.equal(300);
    expect(so.deadline).to.be.within(before + 300, performance.now() + 300);
    const ac = new AbortController();
    expect(prepareCall({ timeout: 5, signal: ac.signal }, 300)).to.include({ timeout: 5, signal: ac.signal });
  });

  it('calls made in one go with the same options share their SendOptions; other options get their own', async () => {
    const a = new AbortController();
    const b = new AbortController();
    const first = prepareCall({ signal: a.signal }, 300);
    expect(prepareCall({ signal: a.signal }, 300)).to.equal(first);
    expect(first).to.include({ timeout: 300, signal: a.signal });
    const other = prepareCall({ signal: b.signal }, 300);
    expect(other).to.not.equal(first);
    expect(other.signal).to.equal(b.signal);
    expect(prepareCall({ signal: b.signal, timeout: 7 }, 300)).to.include({ timeout: 7, signal: b.signal });
    // After the microtask (a new clock reading, the shared options let go) calls still get theirs.
    await Promise.resolve();
    const later = prepareCall({ signal: b.signal, timeout: 7 }, 300);
    expect(later).to.include({ timeout: 7, signal: b.signal });
  });

  const bad: [string, unknown, string][] = [
    ['options', 'fast', 'options must be an object'],
    ['timeout', { timeout: 0 }, `timeout must be a positive number of ms, at most ${MAX_TIMER_MS}`],
    ['timeout', { timeout: MAX_TIMER_MS + 1 }, 'timeout must be'],
    ['timeout', { timeout: '5' }, 'timeout must be'],
    ['signal', { signal: {} }, 'signal must be an AbortSignal'],
  ];
  for (const [name, options, message] of bad) {
    it(`a bad ${name} is ERR_INVALID_ARGUMENT naming it (${JSON.stringify(options)})`, () => {
      expect(() => prepareCall(options as never, 1000))
        .to.throw(InvalidArgumentError)
        .with.property('message')
        .that.contains(message);
    });
  }
});

describe('lib/kit ClientCore (scripted servers, toy line protocol)', () => {
  const servers: ScriptedServer[] = [];
  let core: Core | undefined;

  async function open(...handlers: ((conn: ScriptedConnection) => void)[]): Promise<Core> {
    for (const h of handlers) servers.push(await startScriptedServer(h));
    core = lineCore(servers.map((s) => s.address));
    return core;
  }

  afterEach(async () => {
    core?.destroy();
    core = undefined;
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  describe('the call wrapper', () => {
    it('run: bad options and anything the body throws reject the call, nothing thrown', async () => {
      const c = await open(ports());
      const bad = c.run({ timeout: -1 }, () => expect.fail('body ran'));
      expect((await rejection(bad)).code).to.equal('ERR_INVALID_ARGUMENT');
      const thrown = c.run(undefined, () => {
        throw new InvalidArgumentError('key is bad');
      });
      expect((await rejection(thrown)).message).to.equal('key is bad');
      expect(c.cluster.stats[0].created).to.equal(0);
    });

    it('run: the body gets the deadline of the call', async () => {
      const c = await open(ports());
      const so = await c.run({ timeout: 40 }, (so) => Promise.resolve(so));
      expect(so.timeout).to.equal(40);
    });

    it('after close() every call rejects with ERR_CLIENT_CLOSED, run and guard alike', async () => {
      const c = await open(ports());
      await c.close();
      expect(c.closed).to.equal(true);
      expect((await rejection(c.run(undefined, () => Promise.resolve(1)))).code).to.equal(
        'ERR_CLIENT_CLOSED',
      );
      expect((await rejection(c.guard(() => Promise.resolve(1)))).code).to.equal('ERR_CLIENT_CLOSED');
    });

    it('guard: a throw becomes a rejection (a non-Error wrapped in one)', async () => {
      const c = await open(ports());
      const err = await rejection(
        c.guard(() => {
          throw 'plain' as unknown as Error;
        }),
      );
      expect(err).to.be.instanceOf(Error);
      expect(err.message).to.equal('plain');
    });
  });

  describe('choosing a server', () => {
    it('target: `server` names a server as configured, and wins over `routingKey`', async () => {
      const c = await open(ports(), ports());
      const [a, b] = servers;
      expect(c.target({ server: b.address, routingKey: 'x' })!.server).to.equal(b.address);
      expect(c.target({ server: a.address })!.server).to.equal(a.address);
      expect(c.target({})).to.equal(undefined);
      expect(c.target(undefined)).to.equal(undefined);
    });

    it('target: a routing key goes through the protocol’s key check', async () => {
      const c = await open(ports(), ports());
      const check = (key: string): string => {
        if (key.includes(' ')) throw new InvalidArgumentError('bad key');
        return key;
      };
      expect(c.target({ routingKey: 'k' }, check)!.server).to.equal(c.cluster.backendFor('k').server);
      expect(() => c.target({ routingKey: 'a b' }, check)).to.throw('bad key');
    });

    it('an unknown server is ERR_INVALID_ARGUMENT naming it', async () => {
      const c = await open(ports());
      expect(() => c.target({ server: 'nowhere:2' }))
        .to.throw(InvalidArgumentError)
        .with.property('message', 'server "nowhere:2" is not configured');
    });
  });

  describe('eachServer', () => {
    it('one request per server, the replies keyed by "host:port"', async () => {
      const c = await open(ports(), ports());
      const got = await c.eachServer(undefined, () => get('v'));
      expect(Object.fromEntries(got)).to.deep.equal(
        Object.fromEntries(servers.map((s) => [s.address, String(s.port)])),
      );
      for (const s of servers) expect(s.connections[0].requests.map((r) => r.line)).to.deep.equal(['GET v']);
    });

    it('with `server`: that server only', async () => {
      const c = await open(ports(), ports());
      const got = await c.eachServer({ server: servers[1].address }, () => get('v'));
      expect([...got.keys()]).to.deep.equal([servers[1].address]);
      expect(c.cluster.stats[0].created).to.equal(0);
    });

    it('ERR_PARTIAL_RESULT when some servers fail: replies in results, errors by server', async () => {
      const c = await open(ports(), ports(true));
      const [a, b] = servers;
      const err = (await rejection(c.eachServer(undefined, () => get('v')))) as PartialResultError<
        Map<string, unknown>
      >;
      expect(err).to.be.instanceOf(PartialResultError);
      expect(err.message).to.equal('1 of 2 servers failed');
      expect(Object.fromEntries(err.results)).to.deep.equal({ [a.address]: String(a.port) });
      expect([...err.errors.keys()]).to.deep.equal([b.address]);
      expect(err.errors.get(b.address)!.code).to.equal('ERR_SERVER_ERROR');
    });

    it('the only server failing: its error itself', async () => {
      const c = await open(ports(true));
      const err = await rejection(c.eachServer(undefined, () => get('v')));
      expect(err.code).to.equal('ERR_SERVER_ERROR');
      expect(err.server).to.equal(servers[0].address);
    });

    it('a request `make` refuses rejects the call with nothing sent', async () => {
      const c = await open(ports(), ports());
      let made = 0;
      const err = await rejection(
        c.eachServer(undefined, () => {
          if (++made === 2) throw new InvalidArgumentError('group is bad');
          return get('v');
        }),
      );
      expect(err.message).to.equal('group is bad');
      expect(c.cluster.stats.map((s) => s.created)).to.deep.equal([0, 0]);
    });

    it('bad options or an unknown server reject before any I/O', async () => {
      const c = await open(ports());
      expect((await rejection(c.eachServer({ timeout: 0 }, () => get('v')))).code).to.equal(
        'ERR_INVALID_ARGUMENT',
      );
      const unknown = await rejection(c.eachServer({ server: 'nowhere:1' }, () => get('v')));
      expect(unknown.message).to.contain('nowhere:1');
      expect(c.cluster.stats[0].created).to.equal(0);
    });
  });
});
