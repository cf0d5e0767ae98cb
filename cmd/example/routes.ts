/**
 * The example's second part: one client over several pools of local memcached, sent through a route
 * tree (docs/routes.md). A failover to a gutter pool while the main pool is paused (SIGSTOP), then a
 * warm-up: reads that miss on a cold pool are served from a warm one and back-filled.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MemcacheClient, routes, type RouteCounters } from '../../protocols/memcached-meta/index.js';
import type { LocalServer } from '../shared/local-servers.js';

const { failover, gutter, pool, warmUp } = routes;

/** The local servers this part runs on, each the only server of its pool. */
export interface RouteServers {
  readonly main: LocalServer;
  readonly gutter: LocalServer;
  readonly cold: LocalServer;
  readonly warm: LocalServer;
}

const GUTTER_MAX_TTL = 10;
/** Each try on a failing child gets this long before the next child is asked. */
const ATTEMPT_TIMEOUT_MS = 100;
const CLIENT = { timeout: 500, connectTimeout: 500 } as const;

function step(title: string): void {
  console.log(`\n── ${title}`);
}

function ms(since: number): string {
  return `${(performance.now() - since).toFixed(1)} ms`;
}

/** The root node's counters (the route tree is one node deep here). */
function rootCounters(client: MemcacheClient): RouteCounters {
  return client.routeMetrics!.routes.route;
}

/** Which child of the root answered the last call, from its `answeredBy` counters before and after. */
function answeredBy(client: MemcacheClient, before: Record<string, number>, names: string[]): string {
  const after = rootCounters(client).answeredBy;
  const moved = Object.keys(after).filter((k) => after[k] !== (before[k] ?? 0));
  return moved.map((k) => names[Number(k)] ?? k).join(' and ') || 'nobody';
}

export async function showRoutes(servers: RouteServers): Promise<void> {
  await gutterFailover(servers.main, servers.gutter);
  await warming(servers.cold, servers.warm);
}

async function gutterFailover(main: LocalServer, spare: LocalServer): Promise<void> {
  step(`failover to a gutter pool: failover(pool('main'), gutter('gutter', { maxTtl: ${GUTTER_MAX_TTL} }))`);
  console.log(`  pools: main [${main.address}], gutter [${spare.address}]`);
  const client = new MemcacheClient({
    ...CLIENT,
    pools: { main: [main.address], gutter: [spare.address] },
    route: failover(pool('main'), gutter('gutter', { maxTtl: GUTTER_MAX_TTL }), {
      attemptTimeout: ATTEMPT_TIMEOUT_MS,
    }),
  });
  const children = ['main', 'the gutter'];
  /** Runs one call and prints what it did, who answered and how long it took. */
  const traced = async <T>(what: string, call: () => Promise<T>, show: (r: T) => string): Promise<T> => {
    const before = { ...rootCounters(client).answeredBy };
    const started = performance.now();
    const result = await call();
    const took = ms(started);
    console.log(
      `  ${what} → ${show(result)}, answered by ${answeredBy(client, before, children)} in ${took}`,
    );
    return result;
  };
  const ttlOf = (item: { ttl?: number } | null): string => (item === null ? 'miss' : `ttl ${item.ttl} s`);
  try {
    await traced(
      'set cart:1 (ttl 300)',
      () => client.set('cart:1', 'written before', { ttl: 300 }),
      () => 'ok',
    );
    await traced('get cart:1', () => client.get('cart:1', { meta: ['ttl'] }), ttlOf);

    await main.pause();
    console.log(`  main stops answering: SIGSTOP to pid ${main.pid}`);
    await traced(
      'set cart:2 (ttl 300)',
      () => client.set('cart:2', 'written during', { ttl: 300 }),
      () => 'ok',
    );
    const item = await traced(
      'get cart:2',
      () => client.get('cart:2', { meta: ['ttl'] }),
      (it) => (it === null ? 'miss' : `"${it.value.toString()}", ${ttlOf(it)}`),
    );
    if (item !== null && item.ttl! <= GUTTER_MAX_TTL)
      console.log(`  (asked for 300 s: the gutter clamps every TTL to maxTtl ${GUTTER_MAX_TTL})`);
    await traced(
      'get cart:1',
      () => client.get('cart:1'),
      (it) => (it === null ? 'miss' : 'a hit?'),
    );
    console.log('  (cart:1 lives on main; the gutter holds only what was written since main stopped)');
    const times: string[] = [];
    for (let i = 0; i < 6; i++) {
      const started = performance.now();
      await client.get('cart:2');
      times.push(ms(started));
    }
    console.log(`  6 more reads of cart:2: ${times.join(', ')}`);
    console.log(
      `  (a try on main gets ${ATTEMPT_TIMEOUT_MS} ms; after 5 failures in a row main's circuit breaker opens`,
    );
    console.log('   and the gutter answers at once)');
    const c = rootCounters(client);
    const by = c.answeredBy;
    console.log(
      `  route metrics: ${c.failovers} failovers; answered by main ${by['0'] ?? 0}, by the gutter ${by['1'] ?? 0}`,
    );
  } finally {
    main.resume();
    await client.close();
  }
  console.log(`  main answers again: SIGCONT to pid ${main.pid}`);
}

async function warming(cold: LocalServer, warm: LocalServer): Promise<void> {
  step(`warming a cold pool: warmUp({ cold: pool('cold'), warm: pool('warm') })`);
  console.log(`  pools: cold [${cold.address}] (empty), warm [${warm.address}]`);
  const onWarm = new MemcacheClient({ ...CLIENT, servers: [warm.address] });
  const onCold = new MemcacheClient({ ...CLIENT, servers: [cold.address] });
  const client = new MemcacheClient({
    ...CLIENT,
    pools: { cold: [cold.address], warm: [warm.address] },
    route: warmUp({ cold: pool('cold'), warm: pool('warm') }),
  });
  const keys = ['page:1', 'page:2', 'page:3'];
  try {
    for (const [i, key] of keys.entries())
      await onWarm.set(key, `content of ${key}`, { ttl: 120 * (i + 1), flags: i + 1 });
    console.log('  on warm (a plain client): set page:1, page:2, page:3 with ttl 120/240/360 s, flags 1/2/3');
    for (const key of keys) {
      const hits = rootCounters(client).warmHits;
      const item = await client.get(key);
      const how =
        rootCounters(client).warmHits > hits
          ? 'missed on cold: served by warm, back-fill queued'
          : 'hit on cold?';
      console.log(`  get ${key} → "${item?.value.toString()}" (${how})`);
    }
    // The back-fills run in the background; wait for the client's queue to empty.
    for (let bg = client.routeMetrics!.background; bg.queued + bg.running > 0;) {
      await sleep(5);
      bg = client.routeMetrics!.background;
    }
    console.log('  cold now holds (a plain client reading cold, then warm):');
    for (const key of keys) {
      const c = await onCold.get(key, { meta: ['ttl'] });
      const w = await onWarm.get(key, { meta: ['ttl'] });
      const show = (it: typeof c): string => (it === null ? 'miss' : `ttl ${it.ttl} s, flags ${it.flags}`);
      console.log(`    ${key}  cold: ${show(c)}   warm: ${show(w)}`);
    }
    const before = rootCounters(client).warmHits;
    for (const key of keys) await client.get(key);
    const again = rootCounters(client).warmHits - before;
    console.log(
      `  read again through the warm-up client: ${keys.length - again} of ${keys.length} served by cold`,
    );
    const c = rootCounters(client);
    console.log(
      `  route metrics: ${c.warmHits} warm hits, ${c.backfills} back-fills, ${c.backfillErrors} failed, ${c.dropped} dropped`,
    );
  } finally {
    await Promise.all([client.close(), onWarm.close(), onCold.close()]);
  }
}
