/**
 * memline's example program (`npm start`).
 *
 *   npm start                          starts a throwaway local memcached and runs against it
 *   npm start -- --servers host:port   runs against your server; touches only keys it writes
 *                                      (under a random prefix) and deletes them at the end
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { MemcacheClient, type MemlineError } from '../../protocols/memcached-meta/index.js';
import { startLocalMemcached, type LocalMemcached } from './local-memcached.js';

const { values: args } = parseArgs({
  options: { servers: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});

if (args.help === true) {
  console.log('usage: npm start [-- --servers host:port]');
  process.exit(0);
}

function step(title: string): void {
  console.log(`\n── ${title}`);
}

async function main(): Promise<void> {
  let local: LocalMemcached | undefined;
  let servers: string[];
  if (args.servers === undefined) {
    local = await startLocalMemcached();
    servers = [local.address];
    console.log(`started a local memcached at ${local.address} (pid ${local.pid})`);
  } else {
    servers = args.servers.split(',').filter((s) => s !== '');
  }
  // A random prefix keeps the example away from anything else on a real server.
  const prefix = `memline-example:${randomBytes(4).toString('hex')}:`;
  const client = new MemcacheClient({ servers, keyPrefix: prefix, timeout: 1000 });
  const written = new Set<string>();
  try {
    const versions = await client.version();
    for (const [server, version] of versions) console.log(`server ${server} runs memcached ${version}`);

    step('set and get');
    await client.set('greeting', 'hello from memline', { ttl: 60 });
    written.add('greeting');
    const item = await client.get('greeting');
    console.log(`get greeting → "${item?.value.toString()}" (flags ${item?.flags}, cas ${item?.cas})`);
    const miss = await client.get('missing');
    console.log(`get missing  → ${miss === null ? 'null (a miss)' : 'unexpected hit'}`);

    step('getMulti: one pipelined batch, misses left out');
    const entries = ['alpha', 'beta', 'gamma'].map((k) => [k, `value of ${k}`] as const);
    await client.setMulti(entries, { ttl: 60 });
    for (const [k] of entries) written.add(k);
    const many = await client.getMulti(['alpha', 'beta', 'gamma', 'delta']);
    for (const [key, it] of many) console.log(`  ${key} → "${it.value.toString()}"`);
    console.log(`  (${4 - many.size} miss)`);

    step('counters');
    written.add('visits');
    console.log(`incr visits (initial 100) → ${await client.incr('visits', 1, { initial: 100, ttl: 60 })}`);
    console.log(`incr visits by 5          → ${await client.incr('visits', 5)}`);

    step('stampede protection: 20 concurrent getOrSet calls on a cold key');
    written.add('report');
    let loads = 0;
    const loader = async (): Promise<string> => {
      loads++;
      await new Promise((resolve) => setTimeout(resolve, 50));
      return 'expensive report';
    };
    const results = await Promise.all(
      Array.from({ length: 20 }, () => client.getOrSet('report', loader, { ttl: 60 })),
    );
    console.log(`20 callers got "${results[0].toString()}"; the loader ran ${loads} time(s)`);

    step('compare-and-swap update');
    written.add('doc');
    await client.set('doc', JSON.stringify({ edits: 0 }), { ttl: 60 });
    await Promise.all(
      Array.from({ length: 5 }, () =>
        client.update('doc', (cur) => {
          const doc = JSON.parse(cur!.value.toString()) as { edits: number };
          return JSON.stringify({ edits: doc.edits + 1 });
        }),
      ),
    );
    console.log(`5 concurrent updates → ${(await client.get('doc'))!.value.toString()}`);

    step('bad input is refused before any I/O, with a stable code');
    for (const bad of ['has space', 'line\r\nflush_all', 'x'.repeat(300)]) {
      const err = (await client.get(bad).catch((e: unknown) => e)) as MemlineError;
      console.log(`get(${JSON.stringify(bad.slice(0, 20))}) → ${err.code}`);
    }
  } finally {
    if (local === undefined && written.size > 0) await client.deleteMulti(written).catch(() => undefined);
    await client.close();
    await local?.stop();
    if (local !== undefined) console.log(`\nstopped the local memcached (pid ${local.pid})`);
  }
}

main().catch((err: unknown) => {
  const e = err as MemlineError;
  console.error(`example failed: ${e.code ?? ''} ${e.message}`);
  process.exitCode = 1;
});
