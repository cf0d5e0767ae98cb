/**
 * The memline command line, run as a child process against memcached processes the tests start.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitFor } from '../../cmd/cli/errors.js';
import { Exit } from '../../cmd/cli/output.js';
import { MemcacheClient, MemlineError } from '../../protocols/memcached-meta/index.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';
import { makeTestPki, type TestPki } from '../security/certs.js';
import { startSecureMemcached, type SecureMemcached } from '../security/secure-memcached.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../cmd/cli/main.ts', import.meta.url));
const RUN_LIMIT_MS = 20_000;

interface Run {
  code: number | null;
  stdout: Buffer;
  out: string;
  err: string;
}

/** Runs `memline …args` (through tsx) and resolves with its exit status and output. */
function memline(
  args: string[],
  options: { stdin?: string | Buffer; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  const env = { ...process.env, ...options.env };
  for (const name of ['MEMLINE_SERVERS', 'MEMLINE_USERNAME', 'MEMLINE_PASSWORD']) {
    if (options.env?.[name] === undefined) delete env[name];
  }
  delete env.MEMLINE_DEBUG;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => stdout.push(c));
  child.stderr.on('data', (c: Buffer) => stderr.push(c));
  child.stdin.end(options.stdin ?? '');
  // A CLI that does not exit by itself is a failure, not a hang of the suite.
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_LIMIT_MS);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      const out = Buffer.concat(stdout);
      resolve({ code, stdout: out, out: out.toString('utf8'), err: Buffer.concat(stderr).toString('utf8') });
    });
  });
}

describe('memline CLI (cmd/cli)', function () {
  this.timeout(60_000);
  let a: MemcachedProcess;
  let b: MemcachedProcess;
  let servers: string;
  const on = (...args: string[]) => memline(['--servers', servers, ...args]);

  before(async () => {
    [a, b] = await Promise.all([startMemcached(), startMemcached()]);
    servers = `${a.address},${b.address}`;
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  describe('items', () => {
    it('set then get: the value on stdout, byte for byte', async () => {
      const set = await on('set', 'cli:greeting', 'hello world', '--ttl', '60');
      expect(set.code, set.err).to.equal(0);
      expect(set.out).to.match(/stored cli:greeting \(11 bytes, ttl 60 s\)/);
      const get = await on('get', 'cli:greeting');
      expect(get.code, get.err).to.equal(0);
      expect(get.out).to.equal('hello world'); // not a terminal: no newline added
    });

    it('set - stores stdin unchanged, also binary bytes', async () => {
      const bytes = Buffer.from([0, 1, 2, 0x0d, 0x0a, 0xff, 0xfe, 0x0a]);
      const set = await memline(['set', 'cli:stdin', '-', '--flags', '7'], {
        stdin: bytes,
        env: { MEMLINE_SERVERS: servers },
      });
      expect(set.code, set.err).to.equal(0);
      const get = await on('get', 'cli:stdin');
      expect(get.stdout.equals(bytes)).to.be.true;
      const meta = await on('get', 'cli:stdin', '--meta', '--json');
      expect(JSON.parse(meta.out)).to.include({ key: 'cli:stdin', size: 8, flags: 7, ttl: -1 });
      expect(JSON.parse(meta.out)).to.have.property('valueBase64', bytes.toString('base64'));
    });

    it('a missing key is exit status 1 (get, delete, touch, incr)', async () => {
      const get = await on('get', 'cli:missing');
      expect(get.code).to.equal(1);
      expect(get.out).to.equal('');
      expect(get.err).to.include('cli:missing: not found');
      const others = await Promise.all([
        on('delete', 'cli:missing'),
        on('touch', 'cli:missing', '10'),
        on('incr', 'cli:missing'),
      ]);
      expect(others.map((r) => r.code)).to.deep.equal([1, 1, 1]);
      const json = await on('get', 'cli:missing', '--json');
      expect(json.code).to.equal(1);
      expect(JSON.parse(json.out)).to.deep.equal({ key: 'cli:missing', found: false });
    });

    it('incr and decr with --initial, delete', async () => {
      expect((await on('incr', 'cli:n', '--initial', '10')).out).to.equal('10\n');
      expect((await on('incr', 'cli:n', '5')).out).to.equal('15\n');
      expect((await on('decr', 'cli:n', '100')).out).to.equal('0\n');
      const json = await on('incr', 'cli:n', '18446744073709551615', '--json');
      expect(JSON.parse(json.out)).to.deep.equal({ key: 'cli:n', value: '18446744073709551615' });
      const del = await on('delete', 'cli:n');
      expect(del.code).to.equal(0);
      expect(del.out).to.equal('deleted cli:n\n');
    });

    it('--json output parses', async () => {
      await on('set', 'cli:json', 'v');
      const get = await on('--json', 'get', 'cli:json');
      expect(get.code).to.equal(0);
      expect(JSON.parse(get.out)).to.deep.include({ key: 'cli:json', found: true, flags: 0, value: 'v' });
      const set = await on('set', 'cli:json', 'w', '--json');
      expect(JSON.parse(set.out)).to.deep.include({ key: 'cli:json', stored: true, bytes: 1 });
    });
  });

  describe('usage errors', () => {
    it('a bad command line is exit status 2 with the command help on stderr', async () => {
      const lines = [['get'], ['get', 'k', '--bogus'], ['incr', 'k', 'ten'], ['touch', 'k', '-1x']];
      const runs = await Promise.all(lines.map((args) => on(...args)));
      runs.forEach((r, i) => {
        expect(r.code, lines[i].join(' ')).to.equal(2);
        expect(r.out).to.equal('');
        expect(r.err).to.include(`usage: memline ${lines[i][0]} `);
      });
    });

    it('an invalid key or option is exit status 2, checked before any I/O', async () => {
      const key = await on('get', 'has space');
      expect(key.code).to.equal(2);
      expect(key.err).to.include('ERR_INVALID_KEY');
      const ttl = await on('incr', 'k', '--ttl', '5'); // --ttl needs --initial
      expect(ttl.code).to.equal(2);
      expect(ttl.err).to.include('ERR_INVALID_ARGUMENT');
      const bad = await memline(['--servers', 'nohostport', 'get', 'k']);
      expect(bad.code).to.equal(2);
    });

    it('an unknown or missing command shows the global help', async () => {
      const unknown = await on('bogus');
      expect(unknown.code).to.equal(2);
      expect(unknown.err).to.include('unknown command "bogus"').and.include('commands:');
      expect((await memline([])).code).to.equal(2);
    });

    it('--help and <command> --help print on stdout, exit 0', async () => {
      const all = await memline(['--help']);
      expect(all.code).to.equal(0);
      for (const c of [
        'get',
        'set',
        'delete',
        'incr',
        'decr',
        'touch',
        'stats',
        'version',
        'flush',
        'ping',
        'where',
        'top',
      ]) {
        expect(all.out).to.match(new RegExp(`^  ${c}\\b`, 'm'));
      }
      const one = await memline(['ping', '--help']);
      expect(one.code).to.equal(0);
      expect(one.out).to.include('usage: memline ping').and.include('--count');
      const version = await memline(['--version']);
      expect(version.out).to.match(/^memline \d+\.\d+\.\d+/);
    });

    it('flush refuses without --yes', async () => {
      await on('set', 'cli:keep', 'kept');
      const r = await on('flush');
      expect(r.code).to.equal(2);
      expect(r.err).to.include('--yes');
      expect((await on('get', 'cli:keep')).out).to.equal('kept');
    });
  });

  it('a stopped server is exit status 3 with ERR_CONNECTION on stderr, no stack', async () => {
    const dead = await startMemcached();
    await dead.kill();
    const r = await memline(['--servers', dead.address, 'get', 'k']);
    expect(r.code).to.equal(3);
    expect(r.err).to.include('ERR_CONNECTION').and.include(dead.address);
    expect(r.err).not.to.match(/^\s+at /m);
    const json = await memline(['--servers', dead.address, '--json', 'version']);
    expect(json.code).to.equal(3);
    expect(JSON.parse(json.err.trim().split('\n')[0])).to.have.nested.property(
      'error.code',
      'ERR_CONNECTION',
    );
  });

  it('--verbose logs the connection failure through pino on stderr; stdout stays clean, and without it no log', async () => {
    const dead = await startMemcached();
    await dead.kill();
    const r = await memline(['--servers', dead.address, '--verbose', 'get', 'k']);
    expect(r.code).to.equal(3);
    expect(r.out).to.equal('');
    const lines = r.err
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; name: string; msg: string; server?: string });
    const failure = lines.find((l) => l.msg === 'memline: connection failed');
    expect(failure, r.err).to.include({ level: 20, name: 'memline', server: dead.address });
    const quiet = await memline(['--servers', dead.address, 'get', 'k']);
    expect(quiet.err).not.to.include('memline: connection failed');
  });

  it('where prints the server client.serverFor gives, for each distribution', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `user:${i}`);
    const check = async (distribution: 'ketama' | 'jump' | 'modula' | 'proxy') => {
      const r = await on('where', ...keys, '--distribution', distribution, '--json');
      expect(r.code, r.err).to.equal(0);
      const client = new MemcacheClient({ servers: servers.split(','), distribution });
      const expected = keys.map((key) => ({ key, server: client.serverFor(key) }));
      await client.close();
      expect((JSON.parse(r.out) as { keys: unknown }).keys).to.deep.equal(expected);
      expect(new Set(expected.map((e) => e.server)).size).to.equal(2); // both servers are exercised
    };
    await Promise.all([check('ketama'), check('jump'), check('modula'), check('proxy')]);
    const text = await on('where', 'user:1');
    const client = new MemcacheClient({ servers: servers.split(',') });
    expect(text.out).to.match(new RegExp(`^user:1\\s+${client.serverFor('user:1')}$`, 'm'));
    await client.close();
  });

  it('without --servers or MEMLINE_SERVERS, says it uses 127.0.0.1:11211', async () => {
    const r = await memline(['where', 'k']); // where sends nothing
    expect(r.err).to.include('using 127.0.0.1:11211');
    const env = await memline(['where', 'k'], { env: { MEMLINE_SERVERS: a.address } });
    expect(env.err).to.equal('');
    expect(env.out).to.include(a.address);
  });

  it("stats and version show each server's own answer", async () => {
    const text = await on('stats');
    expect(text.code, text.err).to.equal(0);
    expect(text.out).to.include(`── ${a.address}`).and.include(`── ${b.address}`);
    const json = await on('stats', '--json');
    const parsed = JSON.parse(json.out) as { servers: Record<string, Record<string, string>> };
    expect(parsed.servers[a.address].pid).to.equal(String(a.pid));
    expect(parsed.servers[b.address].pid).to.equal(String(b.pid));
    const settings = JSON.parse((await on('stats', 'settings', '--json')).out) as typeof parsed;
    expect(settings.servers[b.address].tcpport).to.equal(String(b.port));
    const version = await on('version');
    expect(version.code).to.equal(0);
    expect(version.out).to.match(new RegExp(`^${a.address}\\s+\\d+\\.\\d+\\.\\d+`, 'm'));
    expect(version.out).to.match(new RegExp(`^${b.address}\\s+\\d+\\.\\d+\\.\\d+`, 'm'));
  });

  it('ping --count 5 prints latency percentiles per server', async () => {
    const r = await on('ping', '--count', '5', '--interval', '10');
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.match(/^server\s+sent\s+ok\s+errors\s+connect\s+min\s+p50\s+p90\s+p99\s+max/m);
    for (const s of [a.address, b.address])
      expect(r.out).to.match(new RegExp(`^${s}\\s+5\\s+5\\s+0\\s`, 'm'));
    const json = await on('ping', '--count', '5', '--interval', '0', '--probe', 'mg', '--json');
    const rows = (JSON.parse(json.out) as { servers: { ok: number; p50Ms: number; p99Ms: number }[] })
      .servers;
    expect(rows).to.have.length(2);
    for (const row of rows) {
      expect(row.ok).to.equal(5);
      expect(row.p50Ms).to.be.a('number').and.be.at.most(row.p99Ms);
    }
  });

  it('top --iterations 2 prints two frames and exits', async () => {
    const started = Date.now();
    const r = await on('top', '--iterations', '2', '--interval', '200');
    expect(r.code, r.err).to.equal(0);
    expect(r.out.match(/^memline top /gm)).to.have.length(2);
    expect(r.out).not.to.include('\x1b['); // not a terminal: plain frames
    expect(r.out).to.include('rates since each server started').and.include('rates over the last 200 ms');
    expect(r.out).to.match(new RegExp(`^${a.address}\\s+\\S+\\s+\\S+\\s+\\S+\\s+\\d+\\s`, 'm'));
    expect(Date.now() - started).to.be.below(RUN_LIMIT_MS);
    const json = await on('top', '--iterations', '2', '--interval', '100', '--json');
    const frames = json.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { servers: { server: string }[] });
    expect(frames).to.have.length(2);
    expect(frames[1].servers.map((s) => s.server)).to.deep.equal([a.address, b.address]);
  });

  it('flush --yes empties every server', async () => {
    await on('set', 'cli:gone', 'x');
    const r = await on('flush', '--yes');
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.include(`flushed ${a.address}`).and.include(`flushed ${b.address}`);
    expect((await on('get', 'cli:gone')).code).to.equal(1);
  });

  describe('--config: pools and a route tree', () => {
    let dir: string;
    let config: string;
    const via = (...args: string[]) => memline(['--config', config, ...args]);
    /** Writes `data` as JSON into the test's directory and returns the file's path. */
    const file = async (name: string, data: unknown) => {
      const at = path.join(dir, name);
      await writeFile(at, typeof data === 'string' ? data : JSON.stringify(data));
      return at;
    };

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'memline-cli-'));
      config = await file('pools.json', {
        pools: {
          main: [a.address],
          spare: { servers: [b.address], distribution: 'jump', eject: { after: 2 } },
        },
        // The route as data, as routes.byPrefix(…) and routes.failover(…) return it.
        route: {
          type: 'byPrefix',
          prefixes: { 'sp:': 'spare' },
          default: { type: 'failover', children: ['main', 'spare'], maxTries: 2, onMiss: false },
        },
      });
    });
    after(async () => {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    });

    it('set then get go through the route: each prefix to its pool', async () => {
      for (const key of ['cfg:main', 'sp:cfg']) {
        const set = await via('set', key, `value of ${key}`);
        expect(set.code, set.err).to.equal(0);
        const get = await via('get', key);
        expect(get.code, get.err).to.equal(0);
        expect(get.out).to.equal(`value of ${key}`);
      }
      // Each key is on its pool's server only.
      expect((await memline(['--servers', a.address, 'get', 'cfg:main'])).code).to.equal(0);
      expect((await memline(['--servers', b.address, 'get', 'cfg:main'])).code).to.equal(1);
      expect((await memline(['--servers', b.address, 'get', 'sp:cfg'])).code).to.equal(0);
      expect((await memline(['--servers', a.address, 'get', 'sp:cfg'])).code).to.equal(1);
    });

    it('pools --json lists both pools with their servers, settings and route counters', async () => {
      const run = await via('pools', '--json');
      expect(run.code, run.err).to.equal(0);
      const data = JSON.parse(run.out) as { pools: Record<string, unknown>; routes: Record<string, unknown> };
      expect(data.pools).to.deep.equal({
        main: { servers: [a.address], distribution: 'ketama', eject: null, ejected: [] },
        spare: {
          servers: [b.address],
          distribution: 'jump',
          eject: { after: 2, probeInterval: 1000 },
          ejected: [],
        },
      });
      expect(data.routes).to.have.nested.property('route\\.default.type', 'failover');
      const text = await via('pools');
      expect(text.out).to.match(/^main +127\.0\.0\.1:\d+ +ketama +off +none$/m);
      expect(text.out).to.match(/^spare +127\.0\.0\.1:\d+ +jump +after 2, probe 1000 ms +none$/m);
      const without = await on('pools');
      expect(without.code).to.equal(2);
      expect(without.err).to.include('pools shows the pools of --config');
    });

    it("where names the pool and home server; version names each server's pool", async () => {
      const run = await via('where', 'cfg:main', 'sp:cfg', '--json');
      expect(run.code, run.err).to.equal(0);
      expect((JSON.parse(run.out) as { keys: unknown[] }).keys).to.deep.equal([
        { key: 'cfg:main', server: a.address, pools: ['main'] },
        { key: 'sp:cfg', server: b.address, pools: ['spare'] },
      ]);
      expect((await via('where', 'sp:cfg')).out).to.match(new RegExp(`^sp:cfg +spare +${b.address}$`, 'm'));
      const version = await via('version');
      expect(version.code, version.err).to.equal(0);
      expect(version.out).to.match(new RegExp(`^${a.address} +main +\\d`, 'm'));
      expect(version.out).to.match(new RegExp(`^${b.address} +spare +\\d`, 'm'));
    });

    it('--config with --servers or MEMLINE_SERVERS is a usage error naming both', async () => {
      const flag = await memline(['--config', config, '--servers', servers, 'get', 'k']);
      expect(flag.code).to.equal(Exit.USAGE);
      expect(flag.err).to.include('--config and --servers');
      const env = await memline(['--config', config, 'get', 'k'], { env: { MEMLINE_SERVERS: servers } });
      expect(env.code).to.equal(Exit.USAGE);
      expect(env.err).to.include('--config and MEMLINE_SERVERS');
    });

    it('a bad route, a file that is not JSON or not there is a usage error naming the file', async () => {
      const badRoute = await file('bad-route.json', {
        pools: { main: [a.address] },
        route: { type: 'failover', children: ['main', 'nope'], maxTries: 2, onMiss: false },
      });
      const route = await memline(['--config', badRoute, 'get', 'k']);
      expect(route.code).to.equal(Exit.USAGE);
      expect(route.err).to.include(`--config ${badRoute}: route.children[1]: unknown pool "nope"`);
      expect(route.err).to.include('usage: memline get');
      const notJson = await memline(['--config', await file('broken.json', '{ "pools": '), 'get', 'k']);
      expect(notJson.code).to.equal(Exit.USAGE);
      expect(notJson.err).to.include('is not JSON');
      const missing = await memline(['--config', path.join(dir, 'missing.json'), 'get', 'k']);
      expect(missing.code).to.equal(Exit.USAGE);
      expect(missing.err).to.include('--config: cannot read').and.include('ENOENT');
      const shape = await memline([
        '--config',
        await file('shape.json', { servers: [a.address] }),
        'get',
        'k',
      ]);
      expect(shape.code).to.equal(Exit.USAGE);
      expect(shape.err).to.include('unknown field "servers"');
    });
  });

  describe('reaching every fleet the library does', () => {
    it('--prefix prepends to every key (keyPrefix)', async () => {
      const set = await on('--prefix', 'cli-app:', 'set', 'k', 'prefixed');
      expect(set.code, set.err).to.equal(0);
      expect((await on('get', 'cli-app:k')).out).to.equal('prefixed');
      expect((await on('get', 'k', '--prefix', 'cli-app:')).out).to.equal('prefixed');
      expect((await on('get', 'k')).code).to.equal(1);
    });

    it('host:port*weight gives ketama weights, from --servers and MEMLINE_SERVERS; output keyed by host:port', async () => {
      const keys = Array.from({ length: 200 }, (_, i) => `w:${i}`);
      const weighted = new MemcacheClient({
        servers: [{ host: a.host, port: a.port, weight: 4 }, b.address],
      });
      const plain = new MemcacheClient({ servers: [a.address, b.address] });
      const expected = keys.map((key) => ({ key, server: weighted.serverFor(key) }));
      const moved = keys.filter((k) => weighted.serverFor(k) !== plain.serverFor(k)).length;
      weighted.destroy();
      plain.destroy();
      expect(moved, 'the weight changes the ring').to.be.above(0);
      const list = `${a.address}*4,${b.address}`;
      for (const r of [
        await memline(['--servers', list, 'where', ...keys, '--json']),
        await memline(['where', ...keys, '--json'], { env: { MEMLINE_SERVERS: list } }),
      ]) {
        expect(r.code, r.err).to.equal(0);
        const parsed = JSON.parse(r.out) as { servers: string[]; keys: unknown };
        expect(parsed.servers).to.deep.equal([a.address, b.address]);
        expect(parsed.keys).to.deep.equal(expected);
      }
      const version = await memline(['--servers', list, 'version', '--json']);
      expect(version.code, version.err).to.equal(0);
      expect(Object.keys((JSON.parse(version.out) as { servers: object }).servers)).to.deep.equal([
        a.address,
        b.address,
      ]);
      for (const bad of [`${a.address}*0`, `${a.address}*x`, 'nohost*2']) {
        const r = await memline(['--servers', bad, 'where', 'k']);
        expect(r.code, bad).to.equal(2);
      }
    });

    it('stats with an unknown group is a usage error (2), before any I/O', async () => {
      const r = await on('stats', 'bogus');
      expect(r.code, r.err).to.equal(2);
      expect(r.err).to.include('unknown stats group "bogus"').and.include('usage: memline stats');
      const dead = await startMemcached();
      await dead.kill();
      expect((await memline(['--servers', dead.address, 'stats', 'bogus'])).code).to.equal(2);
      expect((await on('stats', 'items')).code).to.equal(0);
    });

    it('a write that timed out after sending says it may have executed; a read does not', async () => {
      // Accepts and reads, never answers.
      const silent = net.createServer((socket) => socket.resume());
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const address = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
      try {
        const [set, incr, get, json] = await Promise.all([
          memline(['--servers', address, '--timeout', '200', 'set', 'k', 'v']),
          memline(['--servers', address, '--timeout', '200', 'incr', 'k']),
          memline(['--servers', address, '--timeout', '200', 'get', 'k']),
          memline(['--servers', address, '--timeout', '200', '--json', 'set', 'k', 'v']),
        ]);
        for (const [r, name] of [
          [set, 'set'],
          [incr, 'incr'],
        ] as const) {
          expect(r.code, r.err).to.equal(3);
          expect(r.err).to.include('ERR_TIMEOUT').and.include(`the ${name} may have been executed`);
        }
        expect(get.code).to.equal(3);
        expect(get.err).to.include('ERR_TIMEOUT').and.not.include('may have');
        const error = (JSON.parse(json.err.trim().split('\n')[0]) as { error: Record<string, unknown> })
          .error;
        expect(error).to.include({ code: 'ERR_TIMEOUT', mayHaveExecuted: true });
      } finally {
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it('ERR_NOT_NUMERIC is a usage/data error (2), not a server error (3)', () => {
      expect(exitFor('ERR_NOT_NUMERIC')).to.equal(Exit.USAGE);
      expect(exitFor('ERR_INVALID_KEY')).to.equal(Exit.USAGE);
      expect(exitFor('ERR_SERVER_ERROR')).to.equal(Exit.ERROR);
      expect(exitFor('ERR_CLIENT_ERROR')).to.equal(Exit.ERROR);
      expect(exitFor(new MemlineError('ERR_TIMEOUT', 't').code)).to.equal(Exit.ERROR);
    });

    describe('-Y authentication', () => {
      let dir: string;
      let mc: SecureMemcached;
      before(async () => {
        dir = await mkdtemp(path.join(tmpdir(), 'memline-cli-auth-'));
        await writeFile(path.join(dir, 'auth'), 'cli-user:cli-secret\n');
        mc = await startSecureMemcached({
          auth: { file: path.join(dir, 'auth'), username: 'cli-user', password: 'cli-secret' },
        });
      });
      after(async () => {
        await mc?.kill();
        if (dir !== undefined) await rm(dir, { recursive: true, force: true });
      });

      it('--username with $MEMLINE_PASSWORD or --password logs in; without, the server refuses', async () => {
        const env = { MEMLINE_PASSWORD: 'cli-secret' };
        const set = await memline(['--servers', mc.address, '--username', 'cli-user', 'set', 'a', 'x'], {
          env,
        });
        expect(set.code, set.err).to.equal(0);
        const get = await memline(['--servers', mc.address, 'get', 'a'], {
          env: { ...env, MEMLINE_USERNAME: 'cli-user' },
        });
        expect(get.out).to.equal('x');
        const flag = await memline([
          '--servers',
          mc.address,
          '--username',
          'cli-user',
          '--password',
          'cli-secret',
          'get',
          'a',
        ]);
        expect(flag.out).to.equal('x');
        const wrong = await memline(['--servers', mc.address, '--username', 'cli-user', 'get', 'a'], {
          env: { MEMLINE_PASSWORD: 'wrong' },
        });
        expect(wrong.code).to.equal(3);
        expect(wrong.err).to.include('ERR_AUTH').and.not.include('wrong');
        const none = await memline(['--servers', mc.address, 'get', 'a']);
        expect(none.code).to.equal(3);
        expect(
          (await memline(['--servers', mc.address, '--username', 'cli-user', 'get', 'a'])).code,
        ).to.equal(2);
        expect((await memline(['--servers', mc.address, '--password', 'p', 'get', 'a'])).code).to.equal(2);
      });
    });

    describe('TLS', () => {
      let pki: TestPki;
      let tls: SecureMemcached;
      let mtls: SecureMemcached;
      before(async () => {
        pki = await makeTestPki();
        const server = { cert: pki.server.certPath, key: pki.server.keyPath };
        [tls, mtls] = await Promise.all([
          startSecureMemcached({ tls: server }),
          startSecureMemcached({ tls: { ...server, ca: pki.ca.certPath, verifyMode: 2 } }),
        ]);
      });
      after(async () => {
        await Promise.all([tls?.kill(), mtls?.kill()]);
        await pki?.remove();
      });

      it('--tls-ca verifies, --tls alone refuses an unknown CA, --tls-insecure does not verify', async () => {
        const ok = await memline([
          '--servers',
          tls.address,
          '--tls-ca',
          pki.ca.certPath,
          'set',
          't',
          'over tls',
        ]);
        expect(ok.code, ok.err).to.equal(0);
        const get = await memline([
          '--servers',
          tls.address,
          '--tls-ca',
          pki.ca.certPath,
          '--tls-servername',
          'localhost',
          'get',
          't',
        ]);
        expect(get.out).to.equal('over tls');
        const untrusted = await memline(['--servers', tls.address, '--tls', 'get', 't']);
        expect(untrusted.code).to.equal(3);
        expect(untrusted.err).to.include('ERR_TLS');
        const insecure = await memline(['--servers', tls.address, '--tls-insecure', 'get', 't']);
        expect(insecure.out).to.equal('over tls');
        const plain = await memline(['--servers', tls.address, '--timeout', '300', 'get', 't']);
        expect(plain.code).to.equal(3);
      });

      it('--tls-cert and --tls-key for mutual TLS; a missing file is a usage error', async () => {
        const base = ['--servers', mtls.address, '--tls-ca', pki.ca.certPath];
        const ok = await memline([
          ...base,
          '--tls-cert',
          pki.client.certPath,
          '--tls-key',
          pki.client.keyPath,
          'version',
        ]);
        expect(ok.code, ok.err).to.equal(0);
        const noCert = await memline([...base, 'version']);
        expect(noCert.code).to.equal(3);
        expect((await memline([...base, '--tls-cert', pki.client.certPath, 'version'])).code).to.equal(2);
        const missing = await memline([...base, '--tls-ca', path.join(pki.dir, 'missing.pem'), 'version']);
        expect(missing.code).to.equal(2);
        expect(missing.err).to.include('--tls-ca: cannot read');
      });
    });
  });
});
