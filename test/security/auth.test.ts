/**
 * memcached `-Y` authentication (docs/reliability.md: TLS and authentication): the login goes first
 * and alone on every new connection, reconnects included; refused credentials give ERR_AUTH and are
 * not retried in a loop; the password shows up in no error, log line, metric or stats dump.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { expect } from 'chai';
import { MemcacheClient, MemlineError, type Logger } from '../../protocols/memcached-meta/index.js';
import { startMemcached } from '../harness/memcached.js';
import { startScriptedServer, type ScriptedConnection } from '../harness/scripted-server.js';
import { makeTestPki } from './certs.js';
import { startSecureMemcached, type SecureMemcached } from './secure-memcached.js';

const USER = 'memline';
const PASSWORD = 'Pw-7f3a9c-never-printed';
const WRONG = 'Wrong-5e1d2b-never-printed';
const LOGIN = `set _ 0 0 ${USER.length + 1 + PASSWORD.length}\r\n${USER} ${PASSWORD}\r\n`;

async function failure(promise: Promise<unknown>): Promise<MemlineError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a rejection, got ${String(outcome.value)}`);
  expect(outcome.error).to.be.instanceOf(MemlineError);
  return outcome.error as MemlineError;
}

/** A logger that keeps everything it is given (a pino logger's shape). */
function capturingLogger(): Logger & { lines: unknown[] } {
  const lines: unknown[] = [];
  const record = (obj: object, msg?: string): void => void lines.push({ obj, msg });
  return { lines, debug: record, warn: record };
}

/** Every rendering of an error a program might log: message, toString, JSON, inspect, causes. */
function renderings(err: unknown): string[] {
  const out: string[] = [inspect(err, { depth: Infinity, showHidden: true })];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 10; depth++) {
    const { message, stack, cause } = e as Error;
    out.push((e as Error).toString(), JSON.stringify(e) ?? '', String(message), String(stack));
    e = cause;
  }
  return out;
}

/** Asserts that no rendering of anything given contains a secret. */
function expectNoSecret(what: string, ...things: unknown[]): void {
  for (const thing of things) {
    const texts = thing instanceof Error ? renderings(thing) : [inspect(thing, { depth: Infinity })];
    for (const text of texts) {
      for (const secret of [PASSWORD, WRONG]) {
        expect(text.includes(secret), `${what} shows the password: ${text.slice(0, 300)}`).to.equal(false);
      }
    }
  }
}

/** Two loop turns: bytes a same-process client wrote in the current tick have reached the server. */
async function settleIo(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('security: memcached -Y authentication', function () {
  this.timeout(30_000);
  let dir: string;
  let authFile: string;
  let mc: SecureMemcached;
  const clients: MemcacheClient[] = [];

  function client(options: Partial<ConstructorParameters<typeof MemcacheClient>[0]> = {}): MemcacheClient {
    const c = new MemcacheClient({
      servers: [mc.address],
      auth: { username: USER, password: PASSWORD },
      ...options,
    });
    clients.push(c);
    return c;
  }

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'memline-auth-'));
    authFile = path.join(dir, 'auth');
    await writeFile(authFile, `${USER}:${PASSWORD}\nother:other-password\n`);
    mc = await startSecureMemcached({ auth: { file: authFile, username: USER, password: PASSWORD } });
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.destroy();
  });

  after(async () => {
    await mc?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  describe('against memcached -Y', () => {
    it('logs in, then single and pipelined requests work (getMulti, setMulti, stats)', async () => {
      const c = client();
      const keys = Array.from({ length: 50 }, (_, i) => `auth-${i}`);
      await c.setMulti(keys.map((k) => [k, `v-${k}`] as const));
      const got = await c.getMulti([...keys, 'auth-missing']);
      expect(got.size).to.equal(50);
      for (const k of keys) expect(got.get(k)?.value.toString()).to.equal(`v-${k}`);
      expect(await c.incr('auth-counter', 5n, { initial: 10n })).to.equal(10n);
      const stats = (await c.stats()).get(mc.address)!;
      expect(Number(stats.auth_cmds)).to.be.greaterThan(0);
      expectNoSecret('stats', stats, c.metrics);
    });

    it('a connection that has not logged in is refused by the server (the control for this suite)', async () => {
      const c = new MemcacheClient({ servers: [mc.address] });
      clients.push(c);
      const err = await failure(c.get('k'));
      expect(err.code).to.equal('ERR_CLIENT_ERROR');
      expect(err.message).to.contain('unauthenticated');
    });

    it('logs in again on every new connection after a server restart (kill, same port)', async () => {
      const c = client({ breaker: { threshold: 0 } });
      await c.set('before-restart', 'x');
      const authBefore = Number((await mc.stats()).auth_cmds);
      expect(authBefore).to.be.greaterThan(0);
      await mc.restart(); // SIGKILL, then a new process on the same port
      const restartedAt = performance.now();
      let result: string | undefined;
      while (result === undefined && performance.now() - restartedAt < 5000) {
        // The first call may meet the dead socket (ERR_CONNECTION); the next connection logs in.
        result = await c.set('after-restart', 'y').then(
          () => 'stored',
          (err: MemlineError) => void expect(err.code).to.equal('ERR_CONNECTION'),
        );
      }
      expect(result).to.equal('stored');
      expect((await c.get('after-restart'))?.value.toString()).to.equal('y');
      expect(await c.get('before-restart')).to.equal(null); // a new, empty process
      const got = await c.getMulti(['after-restart', 'nope']);
      expect([...got.keys()]).to.deep.equal(['after-restart']);
      // The new process counted our login (the launcher's own stats connection adds one more).
      expect(Number((await mc.stats()).auth_cmds)).to.be.within(2, 3);
    });

    it('wrong credentials: ERR_AUTH, one login per call, no retry loop in the background', async () => {
      const logger = capturingLogger();
      const c = client({ auth: { username: USER, password: WRONG }, logger, breaker: { threshold: 0 } });
      const before = await mc.stats();
      const calls = 5;
      for (let i = 0; i < calls; i++) {
        const err = await failure(c.get('k'));
        expect(err.code).to.equal('ERR_AUTH');
        expect(err.server).to.equal(mc.address);
        expect(err.mayHaveExecuted).to.equal(false);
        expectNoSecret('ERR_AUTH', err);
      }
      const after = await mc.stats();
      // One login per call (+1: the launcher's own stats connection logs in too).
      expect(Number(after.auth_errors) - Number(before.auth_errors)).to.equal(calls);
      expect(Number(after.auth_cmds) - Number(before.auth_cmds)).to.equal(calls + 1);
      // Nothing keeps trying once the calls stop: no event announces "nothing happened", so wait a bit.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const later = await mc.stats();
      expect(Number(later.auth_errors)).to.equal(Number(after.auth_errors));
      expectNoSecret('metrics, logs', c.metrics, logger.lines, inspect(c, { depth: Infinity }));
    });

    it('wrong credentials: the circuit breaker stops the logins while calls keep failing', async () => {
      const c = client({
        auth: { username: USER, password: WRONG },
        breaker: { threshold: 3, openTime: 60_000 },
      });
      const before = Number((await mc.stats()).auth_errors);
      const codes: string[] = [];
      for (let i = 0; i < 20; i++) codes.push((await failure(c.get('k'))).code);
      const logins = Number((await mc.stats()).auth_errors) - before;
      expect(logins).to.be.at.most(3);
      expect(codes.slice(0, 3)).to.deep.equal(['ERR_AUTH', 'ERR_AUTH', 'ERR_AUTH']);
      expect(new Set(codes.slice(3))).to.deep.equal(new Set(['ERR_CIRCUIT_OPEN']));
    });

    it('logs in over TLS too (-Z with -Y)', async () => {
      const pki = await makeTestPki();
      const secure = await startSecureMemcached({
        tls: { cert: pki.server.certPath, key: pki.server.keyPath },
        auth: { file: authFile, username: USER, password: PASSWORD },
      });
      try {
        const c = client({ servers: [secure.address], tls: { ca: pki.ca.cert } });
        await c.set('over-tls', 'with auth');
        expect((await c.getMulti(['over-tls'])).get('over-tls')?.value.toString()).to.equal('with auth');
        expect(Number((await secure.stats()).auth_errors)).to.equal(0);
      } finally {
        await secure.kill();
        await pki.remove();
      }
    });
  });

  describe('against scripted servers', () => {
    /** Answers like memcached after a login: STORED, then meta replies (quiet gets are misses). */
    function memcachedLike(conn: ScriptedConnection): void {
      conn.onRequest((req) => {
        const cmd = req.line.split(' ')[0];
        if (cmd === 'set') conn.write('STORED\r\n');
        else if (cmd === 'mn') conn.write('MN\r\n');
        else if (cmd === 'ms' && !req.line.includes(' q')) conn.write('HD\r\n');
        else if (cmd === 'mg' && !req.line.includes(' q')) conn.write('EN\r\n');
      });
    }

    it('sends the login first and alone, holds pipelined requests until STORED, and again after a reconnect', async () => {
      let release: (() => void) | undefined;
      const server = await startScriptedServer((conn) => {
        // Hold the first connection's login reply until the test has looked at the wire.
        if (release === undefined) {
          release = () => memcachedLike(conn);
        } else memcachedLike(conn);
      });
      try {
        const c = client({ servers: [server.address], breaker: { threshold: 0 } });
        // Issued together, before any connection exists.
        const calls = [c.getMulti(['a', 'b', 'c']), c.set('x', 'y'), c.get('z')];
        const conn = await server.nextConnection();
        const login = await conn.nextRequest();
        await settleIo();
        expect(conn.received.toString('latin1')).to.equal(LOGIN);
        expect(login.line).to.equal(`set _ 0 0 ${USER.length + 1 + PASSWORD.length}`);
        release!();
        const [multi, , single] = await Promise.all(calls);
        expect((multi as Map<string, unknown>).size).to.equal(0);
        expect(single).to.equal(null);
        const lines = conn.requests.map((r) => r.line.split(' ')[0]);
        expect(lines[0]).to.equal('set');
        expect(lines.slice(1).filter((l) => l === 'set')).to.deep.equal([]);

        // The server drops the connection: the next call opens a new one, which logs in first.
        conn.destroy();
        await conn.closed;
        let second: ScriptedConnection | undefined;
        const deadline = performance.now() + 3000;
        while (second === undefined && performance.now() < deadline) {
          await c.get('after-drop').catch((err: MemlineError) => expect(err.code).to.equal('ERR_CONNECTION'));
          second = server.connections[1];
        }
        expect(second, 'a second connection').to.not.equal(undefined);
        expect(second!.received.toString('latin1').startsWith(LOGIN)).to.equal(true);
        expect(second!.requests.filter((r) => r.line.startsWith('set '))).to.have.length(1);
      } finally {
        await server.close();
      }
    });

    const hostile: [string, (login: Buffer) => string][] = [
      ['echoes the login in an unknown reply', (d) => `XX ${d.toString()}\r\n`],
      ['echoes it without CRLF', (d) => `${d.toString()}\n`],
      ['echoes it in a CLIENT_ERROR', (d) => `CLIENT_ERROR bad login ${d.toString()}\r\n`],
      ['echoes it in a SERVER_ERROR', (d) => `SERVER_ERROR ${d.toString()}\r\n`],
      ['echoes it in a VA header', (d) => `VA 2 k${d.toString().replace(' ', '')}\r\nhi\r\n`],
      ['answers the login, then echoes it in a bad line', (d) => `STORED\r\nXX ${d.toString()}\r\n`],
      ['answers the login, then echoes it in a value', (d) => `STORED\r\nHD O${d.toString()}\r\n`],
    ];
    for (const [name, reply] of hostile) {
      it(`keeps the password out of every error when the server ${name}`, async () => {
        const logger = capturingLogger();
        const server = await startScriptedServer((conn) =>
          conn.onRequest((req) => {
            if (req.line.startsWith('set _ ')) conn.write(reply(req.data!));
          }),
        );
        try {
          const c = client({ servers: [server.address], logger, timeout: 300, connectTimeout: 300 });
          const errors = await Promise.all([
            failure(c.get('k')),
            failure(c.getMulti(['a', 'b'])),
            failure(c.set('k', 'v')),
          ]);
          expect(server.received().includes(PASSWORD), 'the login was sent').to.equal(true);
          for (const err of errors) {
            expect(['ERR_AUTH', 'ERR_PROTOCOL', 'ERR_CONNECTION', 'ERR_TIMEOUT']).to.include(err.code);
            expectNoSecret(name, err);
          }
          expectNoSecret('metrics, logs', c.metrics, logger.lines);
        } finally {
          await server.close();
        }
      });
    }

    it('keeps a non-ASCII password out of errors in the escaped form a reply line is shown in', async () => {
      const secret = 'pässwörd-日本-🔑-secret';
      const server = await startScriptedServer((conn) =>
        conn.onRequest((req) => {
          if (req.line.startsWith('set _ ')) conn.write(Buffer.from(`STORED\r\nXX ${secret}\r\n`));
        }),
      );
      try {
        const c = client({ servers: [server.address], auth: { username: USER, password: secret } });
        const err = await failure(c.get('k'));
        expect(['ERR_PROTOCOL', 'ERR_CONNECTION']).to.include(err.code);
        const escaped = Buffer.from(secret)
          .toString('latin1')
          .replace(/[^\x20-\x7e]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
        for (const text of renderings(err)) {
          expect(text.includes(escaped), text).to.equal(false);
          expect(text.includes(secret), text).to.equal(false);
        }
      } finally {
        await server.close();
      }
    });

    it('a server that never answers the login: ERR_TIMEOUT in phase handshake, password not shown', async () => {
      const server = await startScriptedServer(() => undefined);
      try {
        const c = client({ servers: [server.address], connectTimeout: 200 });
        const err = (await failure(c.get('k'))) as MemlineError & { phase?: string };
        expect(err.code).to.equal('ERR_TIMEOUT');
        expect(err.phase).to.equal('handshake');
        expectNoSecret('handshake timeout', err);
        expect(server.received().toString('latin1')).to.equal(LOGIN);
      } finally {
        await server.close();
      }
    });
  });

  describe('what -Y cannot promise', () => {
    it('refuses a password with CR/LF (it would end the login early) without echoing it', () => {
      const secret = `${PASSWORD}\r\nflush_all`;
      let err: unknown;
      try {
        new MemcacheClient({ servers: ['127.0.0.1:1'], auth: { username: USER, password: secret } });
      } catch (e) {
        err = e;
      }
      expect((err as MemlineError).code).to.equal('ERR_INVALID_ARGUMENT');
      expect(renderings(err).some((t) => t.includes(PASSWORD))).to.equal(false);
    });

    it('against a server without -Y the login is stored as an ordinary item "_" (see SECURITY.md)', async () => {
      const plain = await startMemcached();
      try {
        const c = client({ servers: [plain.address] });
        await c.set('k', 'v');
        expect((await c.get('k'))?.value.toString()).to.equal('v');
        const stored = await c.get('_');
        expect(stored?.value.toString()).to.equal(`${USER} ${PASSWORD}`);
      } finally {
        await plain.stop();
      }
    });
  });
});
