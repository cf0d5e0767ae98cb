/**
 * The built library end to end against a real memcached, on whichever runtime runs this file: Bun
 * (`npm run test:bun`), Deno (`npm run test:deno`), or Node (`npx tsx test/runtimes/smoke.ts`).
 * The mocha suite leans on tsx and on a server harness that does not start memcached under Bun as
 * it is, so this is a plain script: it starts memcached on a port the OS picked, imports `dist/`
 * (run `npm run build` first), checks each call with `node:assert`, stops the memcached it
 * started (by PID) and exits non-zero on the first failure.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import Keyv from 'keyv';
// Types only (erased): the code under test is the built dist/, imported below.
import type * as Memline from '../../protocols/memcached-meta/index.js';
import type * as MemlineKeyv from '../../protocols/memcached-meta/integrations/keyv.js';

const HOST = '127.0.0.1';

/** The runtime's name and version, for the summary line. */
function runtime(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  if (g.Bun !== undefined) return `bun ${g.Bun.version}`;
  if (g.Deno !== undefined) return `deno ${g.Deno.version.deno}`;
  return `node ${process.versions.node}`;
}

/** A port the OS just handed out for 127.0.0.1 and that is free again. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: HOST, port: 0 }, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether something accepts connections on `port` now. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** memcached on 127.0.0.1:`port`, resolved once it accepts connections (5 s at most). */
async function startMemcached(port: number): Promise<ChildProcess> {
  const args = ['-l', HOST, '-p', String(port), '-U', '0', '-t', '1', '-m', '64'];
  if (process.getuid?.() === 0) args.push('-u', 'root');
  const child = spawn('memcached', args, { stdio: 'ignore' });
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, sig) => resolve(`memcached exited early (code ${code}, signal ${sig})`));
    child.once('error', (err) => resolve(`memcached did not start: ${err.message}`));
  });
  const deadline = Date.now() + 5000;
  for (let wait = 5; Date.now() < deadline; wait = Math.min(wait * 2, 100)) {
    const early = await Promise.race([exited, accepts(port)]);
    if (typeof early === 'string') throw new Error(early);
    if (early) return child;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
  child.kill('SIGKILL');
  throw new Error(`memcached on ${port} did not accept connections within 5000 ms`);
}

async function main(): Promise<void> {
  const dist = (path: string): string => new URL(`../../dist/${path}`, import.meta.url).href;
  if (!existsSync(new URL(dist('protocols/memcached-meta/index.js')))) {
    throw new Error('dist/ is missing: run `npm run build` first');
  }
  const { MemcacheClient } = (await import(dist('protocols/memcached-meta/index.js'))) as typeof Memline;
  const { KeyvStore } = (await import(
    dist('protocols/memcached-meta/integrations/keyv.js')
  )) as typeof MemlineKeyv;
  const port = await freePort();
  const memcached = await startMemcached(port);
  const checks: string[] = [];
  const check = async (name: string, body: () => Promise<void>): Promise<void> => {
    await body();
    checks.push(name);
  };
  try {
    const client = new MemcacheClient({ servers: [`${HOST}:${port}`], keyPrefix: 'smoke:' });
    await check('set and get', async () => {
      await client.set('a', 'alpha', { ttl: 60, flags: 7 });
      const item = await client.get('a');
      assert.equal(item?.value.toString(), 'alpha');
      assert.equal(item?.flags, 7);
      assert.equal(await client.get('missing'), null);
    });
    await check('delete', async () => {
      assert.equal(await client.delete('a'), true);
      assert.equal(await client.delete('a'), false);
      assert.equal(await client.get('a'), null);
    });
    await check('getMulti', async () => {
      await client.setMulti([
        ['m1', 'one'],
        ['m2', Buffer.from([0, 255, 13, 10])],
      ]);
      const found = await client.getMulti(['m1', 'm2', 'm3']);
      assert.deepEqual([...found.keys()].sort(), ['m1', 'm2']);
      assert.equal(found.get('m1')?.value.toString(), 'one');
      assert.deepEqual([...found.get('m2')!.value], [0, 255, 13, 10]);
    });
    await check('incr and decr', async () => {
      assert.equal(await client.incr('n', 1), null);
      assert.equal(await client.incr('n', 5, { initial: 10n }), 10n);
      assert.equal(await client.incr('n', 5), 15n);
      assert.equal(await client.decr('n', 20), 0n);
    });
    await check('a pipeline of 1000', async () => {
      const keys = Array.from({ length: 1000 }, (_, i) => `p${i}`);
      await Promise.all(keys.map((k, i) => client.set(k, `value ${i}`)));
      const values = await Promise.all(keys.map((k) => client.get(k)));
      values.forEach((item, i) => assert.equal(item?.value.toString(), `value ${i}`));
    });
    await check('large values among small ones (read in place where the runtime has onread)', async () => {
      // 300 KiB to 900 KiB: most of each is read straight into its buffer under Node; every runtime
      // must give back the same bytes, with the small values around them intact.
      const big = [300, 600, 900].map((kib, i) => Buffer.alloc(kib * 1024, 0x41 + i));
      await Promise.all(big.map((v, i) => client.set(`big${i}`, v)));
      const keys = ['p0', 'big0', 'p1', 'big1', 'big2', 'p2'];
      const items = await Promise.all(keys.map((k) => client.get(k)));
      items.forEach((item, i) => {
        const key = keys[i];
        if (key.startsWith('big')) assert.ok(item?.value.equals(big[Number(key.slice(3))]), key);
        else assert.equal(item?.value.toString(), `value ${key.slice(1)}`);
      });
    });
    await check('memline/keyv through Keyv', async () => {
      const users = new Keyv({ store: new KeyvStore(client), namespace: 'users' });
      await users.set('ann', { age: 7 }, 60_000);
      assert.deepEqual(await users.get('ann'), { age: 7 });
      assert.deepEqual(await users.getMany(['ann', 'bob']), [{ age: 7 }, undefined]);
      await users.clear();
      assert.equal(await users.get('ann'), undefined);
    });
    await check('close', async () => {
      await client.close();
      await assert.rejects(client.get('a'), { code: 'ERR_CLIENT_CLOSED' });
    });
  } finally {
    memcached.kill('SIGTERM');
  }
  console.log(`runtime smoke on ${runtime()}: ${checks.length} checks ok (${checks.join(', ')})`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`runtime smoke on ${runtime()} failed:`, err);
    process.exit(1);
  },
);
