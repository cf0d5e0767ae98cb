/**
 * Bad keys and arguments are refused before any I/O: the scripted server behind the client must
 * record zero bytes, and every refusal is a rejected promise (never a synchronous throw).
 */
import { expect } from 'chai';
import { MemcacheClient, type MemlineError } from '../../../protocols/memcached-meta/index.js';
import { startScriptedServer, type ScriptedServer } from '../../harness/scripted-server.js';

type Call = [string, (c: MemcacheClient) => Promise<unknown>, string];

const badKeys: [string, unknown][] = [
  ['CRLF injection', 'foo\r\nflush_all'],
  ['LF injection', 'a\nmn'],
  ['a space (flag injection)', 'zz N30'],
  ['a space before I', 'victim I'],
  ['a tab', 'a\tb'],
  ['DEL', 'x\x7f'],
  ['NUL', 'a\0b'],
  ['the empty string', ''],
  ['251 bytes', 'k'.repeat(251)],
  ['126 × "я" (252 UTF-8 bytes)', 'я'.repeat(126)],
  ['a number', 42],
  ['undefined', undefined],
];

const badArguments: Call[] = [
  ['ttl "1 q"', (c) => c.set('k', 'v', { ttl: '1 q' as unknown as number }), 'ERR_INVALID_ARGUMENT'],
  ['ttl NaN', (c) => c.set('k', 'v', { ttl: NaN }), 'ERR_INVALID_ARGUMENT'],
  ['ttl -1', (c) => c.touch('k', -1), 'ERR_INVALID_ARGUMENT'],
  ['ttl 1.5', (c) => c.gat('k', 1.5), 'ERR_INVALID_ARGUMENT'],
  ['flags 2^32', (c) => c.set('k', 'v', { flags: 2 ** 32 }), 'ERR_INVALID_ARGUMENT'],
  ['flags -1', (c) => c.set('k', 'v', { flags: -1 }), 'ERR_INVALID_ARGUMENT'],
  ['delta -1', (c) => c.incr('k', -1), 'ERR_INVALID_ARGUMENT'],
  ['delta 2^64', (c) => c.incr('k', 2n ** 64n), 'ERR_INVALID_ARGUMENT'],
  ['delta 1.5', (c) => c.decr('k', 1.5), 'ERR_INVALID_ARGUMENT'],
  ['initial "5"', (c) => c.incr('k', 1, { initial: '5' as unknown as number }), 'ERR_INVALID_ARGUMENT'],
  [
    'ttl and expiresAt together',
    (c) => c.set('k', 'v', { ttl: 5, expiresAt: new Date(Date.now() + 5000) }),
    'ERR_INVALID_ARGUMENT',
  ],
  [
    'expiresAt 1000 (a relative TTL in disguise)',
    (c) => c.set('k', 'v', { expiresAt: 1000 }),
    'ERR_INVALID_ARGUMENT',
  ],
  [
    'getOrSet with ttl and expiresAt',
    (c) => c.getOrSet('k', () => 'v', { ttl: 5, expiresAt: 2_000_000_000 }),
    'ERR_INVALID_ARGUMENT',
  ],
  ['expiresAt without initial', (c) => c.incr('k', 1, { expiresAt: 2_000_000_000 }), 'ERR_INVALID_ARGUMENT'],
  ['ttl past 2038', (c) => c.touch('k', 2 ** 31 - 1), 'ERR_INVALID_ARGUMENT'],
  ['ttl without initial', (c) => c.incr('k', 1, { ttl: 5 }), 'ERR_INVALID_ARGUMENT'],
  ['cas 0', (c) => c.cas('k', 'v', 0n), 'ERR_INVALID_ARGUMENT'],
  ['cas 2^64', (c) => c.cas('k', 'v', 2n ** 64n), 'ERR_INVALID_ARGUMENT'],
  [
    'cas undefined (item?.cas after a miss)',
    (c) => c.cas('k', 'v', undefined as unknown as bigint),
    'ERR_INVALID_ARGUMENT',
  ],
  ['cas null', (c) => c.cas('k', 'v', null as unknown as bigint), 'ERR_INVALID_ARGUMENT'],
  ['cas -1', (c) => c.cas('k', 'v', -1), 'ERR_INVALID_ARGUMENT'],
  ['cas 1.5', (c) => c.cas('k', 'v', 1.5), 'ERR_INVALID_ARGUMENT'],
  ['cas as a string', (c) => c.cas('k', 'v', '12' as unknown as bigint), 'ERR_INVALID_ARGUMENT'],
  ['a value that is a number', (c) => c.set('k', 5 as unknown as string), 'ERR_INVALID_ARGUMENT'],
  ['a value over maxValueSize', (c) => c.set('k', Buffer.alloc(1024 * 1024 + 1)), 'ERR_VALUE_TOO_LARGE'],
  ['timeout 0', (c) => c.get('k', { timeout: 0 }), 'ERR_INVALID_ARGUMENT'],
  [
    'signal that is not an AbortSignal',
    (c) => c.get('k', { signal: {} as AbortSignal }),
    'ERR_INVALID_ARGUMENT',
  ],
  ['stats group with a newline', (c) => c.stats('items\r\nflush_all'), 'ERR_INVALID_ARGUMENT'],
  ['flushAll delay -1', (c) => c.flushAll(-1), 'ERR_INVALID_ARGUMENT'],
  ['getMulti with one bad key', (c) => c.getMulti(['good', 'bad key']), 'ERR_INVALID_KEY'],
  [
    'setMulti with one bad key',
    (c) =>
      c.setMulti([
        ['good', 'v'],
        ['bad\nkey', 'v'],
      ]),
    'ERR_INVALID_KEY',
  ],
  ['deleteMulti of a non-iterable', (c) => c.deleteMulti(5 as unknown as string[]), 'ERR_INVALID_ARGUMENT'],
  [
    'meta with an unknown flag',
    (c) => c.meta({ command: 'mg', key: 'k', flags: { Z: true } }),
    'ERR_INVALID_ARGUMENT',
  ],
  ['meta with q', (c) => c.meta({ command: 'mg', key: 'k', flags: { q: true } }), 'ERR_INVALID_ARGUMENT'],
  [
    'meta with a token holding a space',
    (c) => c.meta({ command: 'mg', key: 'k', flags: { O: 'a b' } }),
    'ERR_INVALID_ARGUMENT',
  ],
  [
    'getOrSet without a loader',
    (c) => c.getOrSet('k', undefined as unknown as () => string),
    'ERR_INVALID_ARGUMENT',
  ],
  ['lock without a ttl', (c) => c.lock('k', {} as { ttl: number }), 'ERR_INVALID_ARGUMENT'],
];

describe('MemcacheClient: bad input is refused before any I/O', () => {
  let server: ScriptedServer;
  let client: MemcacheClient;

  before(async () => {
    server = await startScriptedServer((conn) => conn.onRequest(() => conn.write('HD\r\n')));
    client = new MemcacheClient({ servers: [server.address] });
  });

  after(async () => {
    client.destroy();
    await server.close();
  });

  afterEach(() => {
    expect(server.received().length, 'bytes on the wire').to.equal(0);
  });

  for (const [name, key] of badKeys) {
    it(`rejects a key with ${name} (ERR_INVALID_KEY) in every keyed method`, async () => {
      const k = key as string;
      const calls: (() => Promise<unknown>)[] = [
        () => client.get(k),
        () => client.set(k, 'v'),
        () => client.add(k, 'v'),
        () => client.delete(k),
        () => client.incr(k),
        () => client.touch(k, 1),
        () => client.gat(k, 1),
        () => client.getMulti([k]),
        () => client.deleteMulti([k]),
        () => client.invalidate(k),
        () => client.getOrSet(k, () => 'v'),
        () => client.lock(k, { ttl: 5 }),
      ];
      for (const call of calls) {
        let promise: Promise<unknown> | undefined;
        expect(() => (promise = call())).to.not.throw();
        const err = (await promise!.catch((e: unknown) => e)) as MemlineError;
        expect(err.code, call.toString()).to.equal('ERR_INVALID_KEY');
        expect(err.mayHaveExecuted).to.equal(false);
      }
    });
  }

  for (const [name, call, code] of badArguments) {
    it(`rejects ${name} with ${code}`, async () => {
      let promise: Promise<unknown> | undefined;
      expect(() => (promise = call(client))).to.not.throw();
      const err = (await promise!.catch((e: unknown) => e)) as MemlineError;
      expect(err.code).to.equal(code);
      expect(err.mayHaveExecuted).to.equal(false);
      expect(err.message.length).to.be.lessThan(200);
    });
  }
});

describe('MemcacheClient: the longest valid keys go on the wire as given', () => {
  it('sends 250 ASCII bytes, 125 × "я" as UTF-8 and a byte key as base64 with b', async () => {
    const server = await startScriptedServer((conn) => conn.onRequest(() => conn.write('HD\r\n')));
    const client = new MemcacheClient({ servers: [server.address] });
    try {
      expect(await client.touch('k'.repeat(250), 1)).to.equal(true);
      expect(await client.touch('я'.repeat(125), 1)).to.equal(true);
      expect(await client.touch(Buffer.from([0, 32, 13, 10]), 1)).to.equal(true);
      const lines = server.connections[0].requests.map((r) => r.line);
      expect(lines[0]).to.equal(`mg ${'k'.repeat(250)} T1 c O0`);
      expect(Buffer.from(lines[1], 'latin1').toString('utf8')).to.equal(`mg ${'я'.repeat(125)} T1 c O1`);
      expect(lines[2]).to.equal('mg ACANCg== b T1 c O2');
    } finally {
      await client.close();
      await server.close();
    }
  });
});

describe('MemcacheClient: options are validated in the constructor', () => {
  const cases: [string, object][] = [
    ['no servers', { servers: [] }],
    ['a server without a port', { servers: ['localhost'] }],
    ['a port out of range', { servers: ['127.0.0.1:70000'] }],
    ['timeout 0', { servers: ['127.0.0.1:1'], timeout: 0 }],
    ['maxValueSize "big"', { servers: ['127.0.0.1:1'], maxValueSize: 'big' }],
    ['an unknown distribution', { servers: ['127.0.0.1:1'], distribution: 'random' }],
    ['keyPrefix that is not a string', { servers: ['127.0.0.1:1'], keyPrefix: 5 }],
    ['auth without a password', { servers: ['127.0.0.1:1'], auth: { username: 'u' } }],
    ['a server with two ports', { servers: ['127.0.0.1:11311:2'] }],
    ['two servers in one array element', { servers: ['a:1,b:2'] }],
    ['port 0', { servers: ['127.0.0.1:0'] }],
    ['an empty port', { servers: ['127.0.0.1:'] }],
    ['a port over 65535', { servers: ['[::1]:65536'] }],
    ['an empty comma list', { servers: '' }],
    ['a typo in an option name', { servers: ['127.0.0.1:1'], tiemout: 5 }],
    ['keyPrefix with a space', { servers: ['127.0.0.1:1'], keyPrefix: 'app: ' }],
    ['keyPrefix with CR/LF', { servers: ['127.0.0.1:1'], keyPrefix: 'a\r\n' }],
    ['keyPrefix with a tab', { servers: ['127.0.0.1:1'], keyPrefix: 'a\t' }],
    ['keyPrefix with NUL', { servers: ['127.0.0.1:1'], keyPrefix: 'a\0' }],
    ['keyPrefix with DEL', { servers: ['127.0.0.1:1'], keyPrefix: 'a\x7f' }],
    ['keyPrefix with a lone surrogate', { servers: ['127.0.0.1:1'], keyPrefix: 'a\uD800' }],
    ['keyPrefix of 250 bytes', { servers: ['127.0.0.1:1'], keyPrefix: 'p'.repeat(250) }],
    ['an unknown tls option', { servers: ['127.0.0.1:1'], tls: { rejectUnauthorised: false } }],
    ['an unknown breaker option', { servers: ['127.0.0.1:1'], breaker: { treshold: 1 } }],
    ['an unknown compression option', { servers: ['127.0.0.1:1'], compression: { lvl: 1 } }],
    [
      'an unknown auth option',
      { servers: ['127.0.0.1:1'], auth: { username: 'u', password: 'p', user: 'x' } },
    ],
  ];
  for (const [name, options] of cases) {
    it(`throws ERR_INVALID_ARGUMENT for ${name}, naming the option`, () => {
      let err: MemlineError | undefined;
      try {
        new MemcacheClient(options);
      } catch (e) {
        err = e as MemlineError;
      }
      expect(err?.code).to.equal('ERR_INVALID_ARGUMENT');
      const option = Object.keys(options).at(-1)!;
      expect(err!.message).to.contain(option);
      const nested = Object.values(options).at(-1) as unknown;
      if (typeof nested === 'object' && nested !== null && !Array.isArray(nested)) {
        expect(err!.message).to.contain(Object.keys(nested).at(-1)!);
      }
    });
  }

  const accepted: [string, object, string[]][] = [
    ['a comma-separated string', { servers: 'a:11211,b:11212' }, ['a:11211', 'b:11212']],
    [
      'memcached:// URLs',
      { servers: ['memcached://a:11211', 'memcached://b:11212/'] },
      ['a:11211', 'b:11212'],
    ],
    ['a bracketed IPv6 address', { servers: ['[::1]:11211'] }, ['[::1]:11211']],
    ['a Unix socket path', { servers: ['/run/memcached.sock'] }, ['/run/memcached.sock']],
    ['a keyPrefix of 249 bytes', { servers: ['a:1'], keyPrefix: 'p'.repeat(249) }, ['a:1']],
  ];
  for (const [name, options, servers] of accepted) {
    it(`accepts ${name}`, () => {
      const client = new MemcacheClient(options);
      try {
        expect(client.metrics.servers.map((s) => s.server)).to.deep.equal(servers);
      } finally {
        client.destroy();
      }
    });
  }
});
