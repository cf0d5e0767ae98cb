/**
 * Route trees written by hand (JSON): a field the constructors fill in may be left out and takes
 * the same default; what is wrong is named by its path inside the tree. Nothing here connects.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { thrown } from '../helpers.js';
import {
  MemcacheClient,
  checkRoute,
  routes,
  type Route,
} from '../../../../protocols/memcached-meta/index.js';

const { pool, failover, gutter, replicated, shadow, warmUp, migrate, byPrefix } = routes;

const POOLS = new Set(['main', 'next', 'g']);

function load(json: string): Route {
  return checkRoute(JSON.parse(json) as unknown, 'route', POOLS);
}

const refusal = thrown;

describe('routes: hand-written JSON', () => {
  it('a minimal tree of every kind is what its constructor builds, defaults filled in', () => {
    const cases: [string, Route][] = [
      ['"main"', pool('main')],
      ['{ "type": "pool", "pool": "main" }', pool('main')],
      ['{ "type": "gutter", "pool": "g", "maxTtl": 10 }', gutter('g', { maxTtl: 10 })],
      ['{ "type": "failover", "children": ["main", "g"] }', failover('main', 'g')],
      ['{ "type": "replicated", "pools": ["main", "next"] }', replicated(['main', 'next'])],
      ['{ "type": "shadow", "primary": "main", "target": "next" }', shadow('main', 'next')],
      ['{ "type": "warmUp", "cold": "next", "warm": "main" }', warmUp({ cold: 'next', warm: 'main' })],
      [
        '{ "type": "migrate", "from": "main", "to": "next", "start": "2025-07-01T02:00:00Z", "duration": 3600000 }',
        migrate({ from: 'main', to: 'next', start: new Date('2025-07-01T02:00:00Z'), duration: 3_600_000 }),
      ],
      ['{ "type": "byPrefix", "default": "main" }', byPrefix({ default: 'main' })],
      [
        '{ "type": "byPrefix", "prefixes": { "s:": "next" }, "default": { "type": "failover", "children": ["main", "g"], "onMiss": true } }',
        byPrefix({ 's:': 'next', default: failover('main', 'g', { onMiss: true }) }),
      ],
    ];
    for (const [json, expected] of cases) expect(load(json), json).to.deep.equal(expected);
    // The defaults, spelled out.
    expect(load('{ "type": "failover", "children": ["main", "next", "g"] }')).to.include({
      maxTries: 3,
      onMiss: false,
    });
    expect(load('{ "type": "replicated", "pools": ["main", "next"] }')).to.include({
      write: 'all',
      read: 'first',
    });
    expect(load('{ "type": "shadow", "primary": "main", "target": "next" }')).to.include({ fraction: 1 });
    expect(load('{ "type": "migrate", "from": "main", "to": "next", "start": 0, "duration": 1 }')).to.include(
      {
        start: 0,
      },
    );
  });

  it('does not change the tree it was given', () => {
    const given = JSON.parse('{ "type": "failover", "children": ["main", "g"] }') as Record<string, unknown>;
    load(JSON.stringify(given));
    checkRoute(given, 'route', POOLS);
    expect(given).to.deep.equal({ type: 'failover', children: ['main', 'g'] });
  });

  it('names the path inside the tree of a field missing or wrong', () => {
    const message = (json: string) => refusal(() => load(json)).message;
    expect(
      message(
        '{ "type": "byPrefix", "prefixes": { "s:": { "type": "failover", "children": ["main", { "type": "gutter", "pool": "g" }] } }, "default": "main" }',
      ),
    ).to.equal(
      'route.prefixes["s:"].children[1].maxTtl: is required: an integer number of seconds from 1 to 2592000 (30 days)',
    );
    expect(message('{ "type": "shadow", "primary": "main" }')).to.equal('route.target: is required');
    expect(message('{ "type": "byPrefix", "prefixes": {} }')).to.equal('route.default: is required');
    expect(message('{ "type": "warmUp", "cold": "next", "warm": { "pool": "main" } }')).to.match(
      /^route\.warm: needs a "type" \(pool, gutter, failover/,
    );
    expect(message('{ "type": "gutter", "maxTtl": 5 }')).to.equal('route.pool: is required');
    expect(
      message('{ "type": "migrate", "from": "main", "to": "next", "start": "yesterday", "duration": 1 }'),
    ).to.equal('route.start: must be a Date, an ISO 8601 date or ms since the epoch');
    expect(message('{ "type": "migrate", "from": "main", "to": "next", "duration": 1 }')).to.equal(
      'route.start: is required: a Date, an ISO 8601 date or ms since the epoch',
    );
    expect(message('{ "type": "replicated", "pools": ["main", "next"], "read": "nearest" }')).to.equal(
      "route.read: must be 'first' or 'fastest'",
    );
    expect(message('{ "type": "failover", "children": ["main", "nope"] }')).to.equal(
      'route.children[1]: unknown pool "nope"',
    );
  });

  it('a whole configuration file: pools (one with the proxy distribution) and a minimal tree', () => {
    const config = JSON.parse(`{
      "pools": {
        "main": { "servers": ["127.0.0.1:11211", "127.0.0.1:11212", "127.0.0.1:11213"], "distribution": "proxy" },
        "next": ["127.0.0.1:11311"],
        "g": "127.0.0.1:11411"
      },
      "route": {
        "type": "byPrefix",
        "prefixes": { "s:": { "type": "replicated", "pools": ["main", "next"] } },
        "default": { "type": "failover", "children": ["main", { "type": "gutter", "pool": "g", "maxTtl": 10 }] }
      }
    }`) as { pools: Record<string, never>; route: Route };
    const client = new MemcacheClient(config);
    try {
      expect(Object.keys(client.routeMetrics!.routes).sort()).to.deep.equal([
        'route.default',
        'route.prefixes["s:"]',
      ]);
      // The proxy's placement over main's three servers, in list order (test/fixtures/xxh3).
      const vectors = JSON.parse(
        readFileSync(new URL('../../../fixtures/xxh3/vectors.json', import.meta.url), 'utf8'),
      ) as { keys: { key: string; servers: number[] }[] };
      for (const { key, servers } of vectors.keys.filter((v) => Buffer.byteLength(v.key) <= 250)) {
        expect(client.serverFor(key), key).to.equal(`127.0.0.1:${11211 + servers[2]}`);
      }
    } finally {
      client.destroy();
    }
  });
});
