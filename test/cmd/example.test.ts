/**
 * The example program (`npm start`, cmd/example/): its keys are picked from the ring so that the
 * server it kills always holds some of them, whatever the random prefix and ports; run end to end,
 * its failure section shows that server's keys failing fast and the others still served.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { spreadKeys } from '../../cmd/example/keys.js';
import { MemcacheClient } from '../../protocols/memcached-meta/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../cmd/example/main.ts', import.meta.url));
const RUN_LIMIT_MS = 60_000;

/** Each server's share of `keys` under the example's client settings (routing only, no I/O). */
function holdings(servers: string[], prefix: string, keys: readonly string[]): Map<string, number> {
  const client = new MemcacheClient({ servers, keyPrefix: prefix });
  const held = new Map(servers.map((s) => [s, 0]));
  for (const k of keys) held.set(client.serverFor(k), held.get(client.serverFor(k))! + 1);
  client.destroy();
  return held;
}

function keysFor(servers: string[], prefix: string): string[] {
  const client = new MemcacheClient({ servers, keyPrefix: prefix });
  const keys = spreadKeys((k) => client.serverFor(k), servers.length, 8);
  client.destroy();
  return keys;
}

describe('example program (cmd/example)', function () {
  this.timeout(RUN_LIMIT_MS + 10_000);

  it('a prefix and ports where user:0..7 leave a server with no key: the picked keys still cover it', () => {
    // The example used to take user:0..7 as they came; find such a case deterministically.
    const servers = ['127.0.0.1:40001', '127.0.0.1:40002', '127.0.0.1:40003'];
    const naive = Array.from({ length: 8 }, (_, i) => `user:${i}`);
    let prefix: string | undefined;
    for (let i = 0; prefix === undefined && i < 10_000; i++) {
      const p = `memline-example:${i.toString(16).padStart(8, '0')}:`;
      if ([...holdings(servers, p, naive).values()].includes(0)) prefix = p;
    }
    expect(prefix, 'a prefix where a server holds none of user:0..7').to.be.a('string');
    const held = holdings(servers, prefix!, keysFor(servers, prefix!));
    expect([...held.values()].sort()).to.deep.equal([2, 3, 3]);
  });

  it('whatever the prefix and ports, each of 3 servers holds 2 or 3 of the 8 keys', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1024, max: 65535 }), { minLength: 3, maxLength: 3 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (ports, random) => {
          const servers = ports.map((p) => `127.0.0.1:${p}`);
          const prefix = `memline-example:${random.toString(16).padStart(8, '0')}:`;
          const keys = keysFor(servers, prefix);
          expect(new Set(keys).size).to.equal(8);
          for (const n of holdings(servers, prefix, keys).values()) expect(n).to.be.within(2, 3);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('runs end to end: the killed server holds keys that fail fast, the others are served, exit 0', async () => {
    const env = { ...process.env };
    delete env.MEMLINE_SERVERS;
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: ROOT, env });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_LIMIT_MS);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    clearTimeout(timer);
    expect(code, `${out}\n${err}`).to.equal(0);
    expect(err).to.equal('');
    expect(out).not.to.match(/ok\?|undefined|example failed/);

    const failure = out.slice(out.indexOf('── a server dies'));
    const victim = /killing (\S+)/.exec(failure)![1];
    const placed = [...out.matchAll(/^ {2}(user:\d+)\s+on (\S+) →/gm)];
    expect(placed).to.have.length(8);
    const onVictim = placed.filter((m) => m[2] === victim).map((m) => m[1]);
    expect(onVictim.length).to.be.within(2, 3);

    const gets = [...failure.matchAll(/^ {2}get (\S+) \(on the dead server\) → (\S+) in [\d.]+ ms$/gm)];
    expect(gets).to.have.length(6);
    for (const [, key, result] of gets) {
      expect(onVictim).to.include(key);
      expect(result).to.be.oneOf(['ERR_CONNECTION', 'ERR_CIRCUIT_OPEN', 'ERR_TIMEOUT']);
    }
    const others = 8 - onVictim.length;
    expect(failure).to.include(`the other servers: ${others}/${others} of their keys still found`);
    expect(failure).to.include(`getMulti over all keys → ERR_PARTIAL_RESULT: ${others} results`);
    expect(failure).to.match(/requests to it succeed again after \d+ ms/);
    expect(failure).to.match(/its cache is cold: get user:\d+ → miss/);
    expect(out).to.include('stopped the local memcached processes');
  });
});
