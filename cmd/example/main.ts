/**
 * memline's example program (`npm start`).
 *
 *   npm start                          starts throwaway local memcached processes and shows routing,
 *                                      stampede protection, a server failing and recovering; then
 *                                      routes: failover to a gutter pool and warming a cold pool
 *   npm start -- --servers host:port   runs against your fleet; touches only keys it writes (under a
 *                                      random prefix), deletes them at the end, and kills nothing
 *                                      (so it skips the routes, which pause a server)
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { MemcacheClient, type MemlineError } from '../../protocols/memcached-meta/index.js';
import { spreadKeys } from './keys.js';
import { showRoutes } from './routes.js';
import { killServersNow, startServers, stopServers, type LocalServer } from '../shared/local-servers.js';

const { values: args } = parseArgs({
  options: { servers: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});

if (args.help === true) {
  console.log('usage: npm start [-- --servers host:port,host:port,...]');
  process.exit(0);
}

function step(title: string): void {
  console.log(`\n── ${title}`);
}

function describe(err: unknown): string {
  const e = err as Partial<MemlineError>;
  return `${e.code ?? e.name ?? 'error'} (${e.message ?? String(err)})`;
}

async function main(): Promise<void> {
  const local: LocalServer[] = [];
  let servers: string[];
  if (args.servers === undefined) {
    local.push(...(await startServers(3)));
    servers = local.map((s) => s.address);
    console.log(`started 3 local memcached: ${local.map((s) => `${s.address} (pid ${s.pid})`).join(', ')}`);
  } else {
    servers = args.servers.split(',').filter((s) => s !== '');
  }
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.log('\ninterrupted: stopping the local servers');
    for (const s of local) s.resume();
    killServersNow(local);
    process.exit(130);
  });

  // A random prefix keeps the example away from anything else on a real server.
  const prefix = `memline-example:${randomBytes(4).toString('hex')}:`;
  const client = new MemcacheClient({ servers, keyPrefix: prefix, timeout: 500, connectTimeout: 500 });
  const written = new Set<string>();
  try {
    for (const [server, version] of await client.version())
      console.log(`${server} runs memcached ${version}`);

    step('set and get');
    await client.set('greeting', 'hello from memline', { ttl: 60 });
    written.add('greeting');
    const item = await client.get('greeting');
    console.log(`get greeting → "${item?.value.toString()}" (flags ${item?.flags}, cas ${item?.cas})`);
    console.log(`get missing  → ${(await client.get('missing')) === null ? 'null (a miss)' : 'a hit?'}`);

    step('getMulti across the servers: one pipelined batch per server, in parallel');
    // Picked from the ring: every server holds two or three of them (so the one killed below has some).
    const keys = spreadKeys((k) => client.serverFor(k), servers.length, 8);
    await client.setMulti(
      keys.map((k) => [k, `profile of ${k}`] as const),
      { ttl: 60 },
    );
    for (const k of keys) written.add(k);
    const many = await client.getMulti([...keys, 'user:missing']);
    for (const [key, it] of many)
      console.log(`  ${key.padEnd(8)} on ${client.serverFor(key)} → "${it.value.toString()}"`);
    console.log(`  (${keys.length + 1 - many.size} miss: user:missing)`);

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

    step('bad input is refused before any I/O, with a stable code');
    for (const bad of ['has space', 'line\r\nflush_all']) {
      console.log(
        `get(${JSON.stringify(bad)}) → ${describe(await client.get(bad).catch((e: unknown) => e))}`,
      );
    }

    if (local.length === 3) await failAndRecover(client, local[0], keys);

    console.log('\n══ part 2: routes, one client over several pools (docs/routes.md)');
    if (local.length === 0) {
      console.log('(skipped with --servers: it starts servers of its own and pauses one)');
      return;
    }
    const [main, gutter, cold, warm] = await startServers(4);
    local.push(main, gutter, cold, warm);
    console.log(
      `started 4 more local memcached, one per pool: ${[main, gutter, cold, warm].map((s) => `pid ${s.pid}`).join(', ')}`,
    );
    await showRoutes({ main, gutter, cold, warm });
  } finally {
    for (const s of local) s.resume();
    if (local.length === 0 && written.size > 0) await client.deleteMulti(written).catch(() => undefined);
    await client.close();
    await stopServers(local);
    if (local.length > 0) console.log('\nstopped the local memcached processes');
  }
}

/** Kills one server: its keys fail fast, the others keep working; restarts it: its keys recover. */
async function failAndRecover(client: MemcacheClient, victim: LocalServer, keys: string[]): Promise<void> {
  const onVictim = keys.filter((k) => client.serverFor(k) === victim.address);
  const elsewhere = keys.filter((k) => client.serverFor(k) !== victim.address);
  if (onVictim.length < 2)
    throw new Error(`${victim.address} holds ${onVictim.length} of the keys, not 2 or more`);

  step(`a server dies: killing ${victim.address}`);
  await victim.kill();
  for (let i = 0; i < 6; i++) {
    const key = onVictim[i % onVictim.length];
    const started = performance.now();
    const err = await client.get(key).then(
      () => undefined,
      (e: unknown) => e,
    );
    const ms = (performance.now() - started).toFixed(2);
    console.log(
      `  get ${key} (on the dead server) → ${err === undefined ? 'ok?' : (err as MemlineError).code} in ${ms} ms`,
    );
  }
  const others = await client.getMulti(elsewhere);
  console.log(`  the other servers: ${others.size}/${elsewhere.length} of their keys still found`);
  const partial = (await client.getMulti(keys).catch((e: unknown) => e)) as MemlineError & {
    results?: Map<string, unknown>;
  };
  console.log(
    `  getMulti over all keys → ${partial.code}: ${partial.results?.size} results, the dead server's keys in .errors`,
  );

  step(`the server comes back: restarting ${victim.address}`);
  await victim.restart();
  const restartedAt = performance.now();
  for (;;) {
    const ok = await client.set(onVictim[0], 'recovered').then(
      () => true,
      () => false,
    );
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  console.log(`  requests to it succeed again after ${(performance.now() - restartedAt).toFixed(0)} ms`);
  console.log(
    `  (its cache is cold: get ${onVictim[1]} → ${(await client.get(onVictim[1])) === null ? 'miss' : 'hit'})`,
  );
  const m = client.metrics.total;
  console.log(
    `  metrics: ${m.hits} hits, ${m.misses} misses, ${m.errors} errors, ${m.reconnects} reconnects`,
  );
}

main().catch((err: unknown) => {
  console.error(`example failed: ${describe(err)}`);
  process.exitCode = 1;
});
