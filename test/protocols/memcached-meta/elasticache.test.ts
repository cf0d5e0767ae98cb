/**
 * ElastiCache auto discovery: the config parser on fixtures, then the poller against scripted
 * config endpoints on 127.0.0.1 (poll intervals and deadlines driven by fake timers).
 */
import { expect } from 'chai';
import sinon from 'sinon';
import type { ServerSpec } from '../../../lib/cluster.js';
import { StaticDiscovery } from '../../../lib/discovery.js';
import type { MemlineError, TimeoutError } from '../../../lib/errors.js';
import {
  ElastiCacheDiscovery,
  configReplyLength,
  parseClusterConfig,
  type ElastiCacheDiscoveryOptions,
} from '../../../protocols/memcached-meta/elasticache.js';
import { activeResources, snapshotResources, waitFor } from '../../harness/resources.js';
import {
  startScriptedServer,
  type ScriptedConnection,
  type ScriptedServer,
} from '../../harness/scripted-server.js';

/** A reply as an endpoint sends it; the byte count is computed here, not by the code under test. */
function reply(version: number | string, nodes: string, header = 'CONFIG cluster 0'): string {
  const data = `${version}\n${nodes}\n`;
  return `${header} ${Buffer.byteLength(data)}\r\n${data}\r\nEND\r\n`;
}

/** `wire` with the byte count of its first line changed by `delta`. */
function recount(wire: string, delta: number): string {
  return wire.replace(/ (\d+)\r\n/, (_, n: string) => ` ${Number(n) + delta}\r\n`);
}

const NODE_1 = 'mc.x1y2z3.0001.use1.cache.amazonaws.com|10.82.235.120|11211';
const NODE_2 = 'mc.x1y2z3.0002.use1.cache.amazonaws.com|10.80.249.27|11211';
const NODE_3 = 'mc.x1y2z3.0003.use1.cache.amazonaws.com|10.83.118.3|11212';

describe('memcached-meta/elasticache: parseClusterConfig', () => {
  const valid: [string, string, number, { host: string; port: number }[]][] = [
    [
      'one node (count written by hand)',
      `CONFIG cluster 0 63\r\n12\n${NODE_1}\n\r\nEND\r\n`,
      12,
      [{ host: '10.82.235.120', port: 11211 }],
    ],
    [
      'three nodes',
      reply(7, `${NODE_1} ${NODE_2} ${NODE_3}`),
      7,
      [
        { host: '10.82.235.120', port: 11211 },
        { host: '10.80.249.27', port: 11211 },
        { host: '10.83.118.3', port: 11212 },
      ],
    ],
    [
      'hostname only (empty IP field)',
      reply(3, 'cache-1.example.com||11211 cache-2.example.com||11311'),
      3,
      [
        { host: 'cache-1.example.com', port: 11211 },
        { host: 'cache-2.example.com', port: 11311 },
      ],
    ],
    ['an IPv6 address', reply(1, '|2001:db8::1|11211'), 1, [{ host: '2001:db8::1', port: 11211 }]],
    [
      'the legacy item (engines < 1.4.14)',
      'VALUE AmazonElastiCache:cluster 0 24\r\n1\nnode-a.example||11211\n\r\nEND\r\n',
      1,
      [{ host: 'node-a.example', port: 11211 }],
    ],
    ['CRLF inside the block', 'CONFIG cluster 0 9\r\n2\r\na||1\r\n\r\nEND\r\n', 2, [{ host: 'a', port: 1 }]],
    ['no LF after the node list', 'CONFIG cluster 0 6\r\n2\na||1\r\nEND\r\n', 2, [{ host: 'a', port: 1 }]],
  ];
  for (const [name, wire, version, servers] of valid) {
    it(`parses ${name}`, () => {
      expect(parseClusterConfig(wire)).to.deep.equal({ version, servers });
      expect(parseClusterConfig(Buffer.from(wire))).to.deep.equal({ version, servers });
    });
  }

  it('sees the version bump between two configs of the same nodes', () => {
    const before = parseClusterConfig(reply(12, `${NODE_1} ${NODE_2}`));
    const after = parseClusterConfig(reply(13, `${NODE_1} ${NODE_2}`));
    expect([before.version, after.version]).to.deep.equal([12, 13]);
    expect(after.servers).to.deep.equal(before.servers);
  });

  const good = reply(5, NODE_1);
  const malformed: [string, string][] = [
    ['a byte count one short', recount(good, -1)],
    ['a byte count one long', recount(good, +1)],
    ['a byte count that is not a number', good.replace(/ \d+\r\n/, ' sixty\r\n')],
    ['no END', good.slice(0, -'END\r\n'.length)],
    ['END without its CRLF', good.slice(0, -2)],
    ['bytes after END', `${good}END\r\n`],
    ['no line end at all', 'CONFIG cluster 0 70'],
    ['END alone (no config item)', 'END\r\n'],
    ['ERROR (unknown command)', 'ERROR\r\n'],
    ['SERVER_ERROR', 'SERVER_ERROR out of memory\r\n'],
    ['another key', good.replace('CONFIG cluster', 'CONFIG other')],
    ['garbage', 'HTTP/1.1 400 Bad Request\r\n\r\n'],
    ['a version that is not a number', reply('v12', NODE_1)],
    ['an empty version', reply('', NODE_1)],
    ['an empty node list', reply(5, '')],
    ['a node list of spaces', reply(5, '   ')],
    ['the version line only', 'CONFIG cluster 0 2\r\n5\n\r\nEND\r\n'],
    ['a third line', reply(5, `${NODE_1}\n${NODE_2}`)],
    ['a port that is not a number', reply(5, 'h|10.0.0.1|11211x')],
    ['port 0', reply(5, 'h|10.0.0.1|0')],
    ['port 65536', reply(5, 'h|10.0.0.1|65536')],
    ['a node of two fields', reply(5, 'h|11211')],
    ['a node of four fields', reply(5, 'h|10.0.0.1|11211|x')],
    ['an invalid IP', reply(5, 'h|10.0.0.256|11211')],
    ['neither hostname nor IP', reply(5, '||11211')],
    ['a hostname with a control character', reply(5, 'h\x01st||11211')],
  ];
  for (const [name, wire] of malformed) {
    it(`refuses ${name} with ERR_PROTOCOL`, () => {
      expect(() => parseClusterConfig(wire))
        .to.throw()
        .with.property('code', 'ERR_PROTOCOL');
    });
  }

  it('frames a reply cut at every position', () => {
    const wire = Buffer.from(reply(4, `${NODE_1} ${NODE_2}`));
    const eol = wire.indexOf('\r\n');
    for (let i = 0; i <= wire.length; i++) {
      expect(configReplyLength(wire.subarray(0, i)), `prefix of ${i}`).to.equal(
        i < eol + 2 ? undefined : wire.length,
      );
    }
    expect(configReplyLength(Buffer.from('ERROR\r\n'))).to.equal(7);
  });

  it('refuses a first line longer than a kilobyte', () => {
    expect(() => configReplyLength(Buffer.alloc(1025, 'x')))
      .to.throw()
      .with.property('code', 'ERR_PROTOCOL');
    expect(configReplyLength(Buffer.alloc(1024, 'x'))).to.equal(undefined);
  });
});

type Event = { servers: ServerSpec[] } | { error: MemlineError };

/** Records the callbacks of a discovery source; next() awaits the next one as an event. */
function recorder() {
  const events: Event[] = [];
  const waiters: ((event: Event) => void)[] = [];
  let cursor = 0;
  const push = (event: Event): void => {
    events.push(event);
    const waiter = waiters.shift();
    if (waiter !== undefined) {
      cursor++;
      waiter(event);
    }
  };
  return {
    events,
    onServers: (servers: ServerSpec[]) => push({ servers }),
    onError: (error: MemlineError) => push({ error }),
    next(): Promise<Event> {
      const event = events[cursor];
      if (event !== undefined) {
        cursor++;
        return Promise.resolve(event);
      }
      return new Promise((resolve) => waiters.push(resolve));
    },
    async nextError(): Promise<MemlineError> {
      const event = await this.next();
      if (!('error' in event)) throw new Error(`expected an error, got ${JSON.stringify(event)}`);
      return event.error;
    },
  };
}

/** An endpoint whose n-th connection answers its `config get cluster` with replies[n]; null hangs. */
function answering(replies: (string | null)[]): (conn: ScriptedConnection) => void {
  let accepted = 0;
  return (conn) => {
    const answer = replies[accepted++];
    conn.onRequest(({ line }) => {
      if (line === 'config get cluster' && answer != null) conn.write(answer);
    });
  };
}

describe('memcached-meta/elasticache: ElastiCacheDiscovery', () => {
  let server: ScriptedServer | undefined;
  let discovery: ElastiCacheDiscovery | undefined;
  let clock: sinon.SinonFakeTimers | undefined;

  afterEach(async () => {
    await discovery?.stop();
    await server?.close();
    clock?.restore();
    discovery = server = clock = undefined;
  });

  /** Fakes only the timers the poller arms; sockets and setImmediate stay real. */
  function fakeTimers(): sinon.SinonFakeTimers {
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    return clock;
  }

  function watch(endpoint: string, options: Partial<ElastiCacheDiscoveryOptions> = {}) {
    discovery = new ElastiCacheDiscovery({ endpoint, interval: 60_000, ...options });
    const events = recorder();
    discovery.start(events.onServers, events.onError);
    return events;
  }

  it('reports the list, then each change of members or version, and nothing when unchanged', async () => {
    const clock = fakeTimers();
    server = await startScriptedServer(
      answering([
        reply(1, `${NODE_1} ${NODE_2}`),
        reply(2, `${NODE_1} ${NODE_2} ${NODE_3}`),
        reply(2, `${NODE_1} ${NODE_2} ${NODE_3}`),
        reply(3, `${NODE_1} ${NODE_2} ${NODE_3}`),
      ]),
    );
    const events = watch(server.address);
    expect(await events.next()).to.deep.equal({ servers: ['10.82.235.120:11211', '10.80.249.27:11211'] });
    expect((await server.nextConnection()).requests[0]?.line).to.equal('config get cluster');
    expect(clock.countTimers()).to.equal(1);

    clock.tick(60_000);
    const three = ['10.82.235.120:11211', '10.80.249.27:11211', '10.83.118.3:11212'];
    expect(await events.next()).to.deep.equal({ servers: three });
    expect(discovery?.configVersion).to.equal(2);

    await server.nextConnection();
    clock.tick(60_000);
    await (
      await server.nextConnection()
    ).closed; // the poll has read the reply and settled
    expect(events.events).to.have.length(2);

    clock.tick(60_000);
    expect(await events.next()).to.deep.equal({ servers: three });
    expect(discovery?.configVersion).to.equal(3);
    expect(server.connections).to.have.length(4);
  });

  it('reports a hanging endpoint as ERR_TIMEOUT and keeps polling', async () => {
    const clock = fakeTimers();
    server = await startScriptedServer(answering([null, reply(1, NODE_1)]));
    const events = watch(server.address, { interval: 5000, timeout: 1000 });
    await (await server.nextConnection()).nextRequest();
    clock.tick(999);
    expect(events.events).to.deep.equal([]);
    clock.tick(1);
    const error = await events.nextError();
    expect(error.code).to.equal('ERR_TIMEOUT');
    expect((error as TimeoutError).phase).to.equal('request');
    expect(error.server).to.equal(server.address);
    await server.connections[0]?.closed; // the hung exchange's socket was destroyed

    clock.tick(5000);
    expect(await events.next()).to.deep.equal({ servers: ['10.82.235.120:11211'] });
  });

  it('reports a refused endpoint as ERR_CONNECTION, on every poll', async () => {
    const clock = fakeTimers();
    const gone = await startScriptedServer(() => {});
    await gone.close();
    const events = watch(gone.address, { interval: 5000 });
    const first = await events.nextError();
    expect(first.code).to.equal('ERR_CONNECTION');
    expect(first.cause).to.have.property('code', 'ECONNREFUSED');
    clock.tick(5000);
    expect((await events.nextError()).code).to.equal('ERR_CONNECTION');
  });

  const broken: [string, string, (conn: ScriptedConnection) => void][] = [
    ['garbage', 'ERR_PROTOCOL', (conn) => conn.write('HTTP/1.1 400 Bad Request\r\n\r\n')],
    ['2 KiB without a line end', 'ERR_PROTOCOL', (conn) => conn.write('x'.repeat(2048))],
    ['a reply declared over 1 MiB', 'ERR_PROTOCOL', (conn) => conn.write('CONFIG cluster 0 1048576\r\n')],
    ['a byte count too short', 'ERR_PROTOCOL', (conn) => conn.write(recount(reply(1, NODE_1), -10))],
    [
      'a close in mid-reply',
      'ERR_CONNECTION',
      (conn) => (conn.write('CONFIG cluster 0 63\r\n12\n'), conn.end()),
    ],
    ['a reset', 'ERR_CONNECTION', (conn) => conn.reset()],
  ];
  for (const [name, code, misbehave] of broken) {
    it(`reports ${name} as ${code} and keeps polling`, async () => {
      const clock = fakeTimers();
      let accepted = 0;
      server = await startScriptedServer((conn) => {
        const first = accepted++ === 0;
        conn.onRequest(() => (first ? misbehave(conn) : conn.write(reply(1, NODE_1))));
      });
      const events = watch(server.address, { interval: 5000 });
      expect((await events.nextError()).code).to.equal(code);
      clock.tick(5000);
      expect(await events.next()).to.deep.equal({ servers: ['10.82.235.120:11211'] });
    });
  }

  it('reads a reply that arrives one byte at a time', async () => {
    server = await startScriptedServer((conn) => {
      conn.onRequest(() => void conn.writeChunks(reply(9, `${NODE_1} ${NODE_2}`), 'bytewise'));
    });
    const events = watch(server.address);
    expect(await events.next()).to.deep.equal({ servers: ['10.82.235.120:11211', '10.80.249.27:11211'] });
  });

  it('falls back to get AmazonElastiCache:cluster on engines before 1.4.14, and stays there', async () => {
    const clock = fakeTimers();
    server = await startScriptedServer((conn) => {
      conn.onRequest(({ line }) => {
        if (line === 'config get cluster') conn.write('ERROR\r\n');
        if (line === 'get AmazonElastiCache:cluster')
          conn.write(reply(4, NODE_2, 'VALUE AmazonElastiCache:cluster 0'));
      });
    });
    const events = watch(server.address, { interval: 5000 });
    expect(await events.next()).to.deep.equal({ servers: ['10.80.249.27:11211'] });
    const polls = [await server.nextConnection(), await server.nextConnection()];
    clock.tick(5000);
    polls.push(await server.nextConnection());
    const lines = await Promise.all(polls.map(async (conn) => (await conn.nextRequest()).line));
    expect(lines).to.deep.equal([
      'config get cluster',
      'get AmazonElastiCache:cluster',
      'get AmazonElastiCache:cluster',
    ]);
  });

  it('lets nothing keep the process alive between polls', async () => {
    const before = await snapshotResources();
    server = await startScriptedServer(answering([reply(1, NODE_1)]));
    const events = watch(server.address);
    await events.next();
    await waitFor(() => activeResources(before).length === 0); // the poll timer is unref'd
  });

  it('stop() destroys the poll in flight and leaves no handle and no callback', async () => {
    const before = await snapshotResources();
    server = await startScriptedServer(answering([null]));
    const events = watch(server.address, { timeout: 10_000 });
    const conn = await server.nextConnection();
    await conn.nextRequest();
    expect(activeResources(before)).to.include.members(['TCPSocketWrap', 'Timeout']);
    await discovery!.stop();
    expect(activeResources(before)).to.deep.equal([]);
    await conn.closed;
    expect(events.events).to.deep.equal([]);
  });

  it('stop() between polls clears the timer: no poll follows', async () => {
    const clock = fakeTimers();
    server = await startScriptedServer(answering([reply(1, NODE_1)]));
    const events = watch(server.address, { interval: 5000 });
    await events.next();
    await discovery!.stop();
    expect(clock.countTimers()).to.equal(0);
    clock.tick(60_000);
    expect(server.connections).to.have.length(1);
  });

  it('starts only once', () => {
    discovery = new ElastiCacheDiscovery({ endpoint: '127.0.0.1:1' });
    discovery.start(
      () => {},
      () => {},
    );
    expect(() =>
      discovery!.start(
        () => {},
        () => {},
      ),
    )
      .to.throw()
      .with.property('code', 'ERR_INVALID_ARGUMENT');
  });

  const badOptions: [string, unknown, string][] = [
    ['no options', undefined, 'options:'],
    ['no endpoint', {}, 'endpoint:'],
    ['an endpoint without a port', { endpoint: 'cfg.example.com' }, 'endpoint:'],
    ['an endpoint with port 0', { endpoint: 'cfg.example.com:0' }, 'endpoint:'],
    ['interval 0', { endpoint: 'h:1', interval: 0 }, 'interval:'],
    ['interval 1.5', { endpoint: 'h:1', interval: 1.5 }, 'interval:'],
    ['interval "60000"', { endpoint: 'h:1', interval: '60000' }, 'interval:'],
    ['interval past the timer range', { endpoint: 'h:1', interval: 2 ** 31 }, 'interval:'],
    ['timeout -1', { endpoint: 'h:1', timeout: -1 }, 'timeout:'],
    ['timeout NaN', { endpoint: 'h:1', timeout: NaN }, 'timeout:'],
    ['tls true', { endpoint: 'h:1', tls: true }, 'tls:'],
  ];
  for (const [name, options, option] of badOptions) {
    it(`refuses ${name} with ERR_INVALID_ARGUMENT naming the option`, () => {
      expect(() => new ElastiCacheDiscovery(options as ElastiCacheDiscoveryOptions))
        .to.throw()
        .that.satisfies(
          (err: MemlineError) => err.code === 'ERR_INVALID_ARGUMENT' && err.message.startsWith(option),
        );
    });
  }
});

describe('lib/discovery: StaticDiscovery', () => {
  it('delivers its list once, after start() has returned', async () => {
    const source = new StaticDiscovery(['10.0.0.1:11211', { host: '10.0.0.2', port: 11211 }]);
    const events = recorder();
    source.start(events.onServers, events.onError);
    expect(events.events).to.deep.equal([]);
    expect(await events.next()).to.deep.equal({
      servers: ['10.0.0.1:11211', { host: '10.0.0.2', port: 11211 }],
    });
    await source.stop();
    expect(events.events).to.have.length(1);
  });

  it('delivers nothing when stopped before the list went out', async () => {
    const source = new StaticDiscovery(['10.0.0.1:11211']);
    const events = recorder();
    source.start(events.onServers, events.onError);
    await source.stop();
    await new Promise((resolve) => setImmediate(resolve));
    expect(events.events).to.deep.equal([]);
  });

  it('refuses an empty or malformed list', () => {
    const lists: ServerSpec[][] = [[], ['no-port'], [{ host: 'h', port: 70000 }]];
    for (const list of lists) {
      expect(() => new StaticDiscovery(list))
        .to.throw()
        .with.property('code', 'ERR_INVALID_ARGUMENT');
    }
  });
});
