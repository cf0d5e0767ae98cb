import { expect } from 'chai';
import { thrown } from '../helpers.js';
import { MemcacheClient, routes, type Route } from '../../../../protocols/memcached-meta/index.js';
import { clampTtl } from '../../../../protocols/memcached-meta/routes/nodes.js';

const { pool, failover, gutter, replicated, shadow, warmUp, migrate, byPrefix } = routes;

const refusal = thrown;

describe('routes: the tree as data', () => {
  it('constructors return plain data that survives JSON', () => {
    const route = byPrefix({
      'session:': replicated(['main', 'next'], { write: 'all', read: 'first' }),
      'user:': shadow('main', 'next', { fraction: 0.1 }),
      'feed:': warmUp({ cold: 'next', warm: 'main' }),
      default: failover(pool('main'), gutter('gutter', { maxTtl: 10 }), { attemptTimeout: 50 }),
    });
    const copy = JSON.parse(JSON.stringify(route)) as Route;
    expect(copy).to.deep.equal(route);
    expect(route.default).to.deep.equal({
      type: 'failover',
      children: [
        { type: 'pool', pool: 'main' },
        { type: 'gutter', pool: 'gutter', maxTtl: 10 },
      ],
      maxTries: 2,
      onMiss: false,
      attemptTimeout: 50,
    });
  });

  it('constructors validate their arguments, naming the field', () => {
    expect(refusal(() => gutter('g', { maxTtl: 0 })).message).to.equal(
      'gutter.maxTtl: must be an integer number of seconds from 1 to 2592000 (30 days)',
    );
    expect(refusal(() => failover(pool('a'), 42 as unknown as Route)).message).to.match(
      /^failover\.children\[1\]: must be a route/,
    );
    expect(refusal(() => replicated(['a'])).message).to.equal(
      'replicated.pools: needs at least two pool names',
    );
    expect(refusal(() => replicated(['a', 'b'], { write: 'some' as 'all' })).code).to.equal(
      'ERR_INVALID_ARGUMENT',
    );
    expect(refusal(() => shadow('a', 'b', { fraction: 2 })).message).to.equal(
      'shadow.fraction: must be a number from 0 to 1',
    );
    expect(refusal(() => byPrefix({ 'a:': 'a' })).message).to.equal('byPrefix.default: is required');
    expect(refusal(() => migrate({ from: 'a', to: 'b', start: 0, duration: -1 })).message).to.equal(
      'migrate.duration: must be a positive number of ms',
    );
  });

  it('the client names the path in the tree of an unknown pool, or of a bad loaded tree', () => {
    const pools = { main: ['127.0.0.1:1'], gutter: ['127.0.0.1:2'] };
    const bad = refusal(
      () =>
        new MemcacheClient({
          pools,
          route: byPrefix({ default: failover(pool('main'), pool('x')) }),
        }),
    );
    expect(bad.code).to.equal('ERR_INVALID_ARGUMENT');
    expect(bad.message).to.equal('route.default.children[1]: unknown pool "x"');
    const loaded = JSON.parse(
      '{"type":"byPrefix","prefixes":{"s:":{"type":"replicated","pools":["main","gutter"],"write":"all","read":"nearest"}},"default":"main"}',
    ) as Route;
    expect(refusal(() => new MemcacheClient({ pools, route: loaded })).message).to.equal(
      `route.prefixes["s:"].read: must be 'first' or 'fastest'`,
    );
    expect(
      refusal(
        () => new MemcacheClient({ pools, route: { type: 'pool', pool: 'main', x: 1 } as unknown as Route }),
      ).message,
    ).to.equal('route: unknown field "x" of a pool route');
  });

  it('the options: pools or servers, a route with several pools, a bad pool named', () => {
    const msg = (o: object) => refusal(() => new MemcacheClient(o)).message;
    expect(msg({ servers: ['127.0.0.1:1'], pools: { a: ['127.0.0.1:2'] } })).to.equal(
      'give servers (one pool) or pools, not both',
    );
    expect(msg({ pools: { a: ['127.0.0.1:1'], b: ['127.0.0.1:2'] } })).to.equal(
      'route is required with more than one pool',
    );
    expect(msg({ pools: { a: ['nonsense'] }, route: 'a' })).to.match(/^pools\.a: servers: "nonsense"/);
    expect(msg({ pools: { a: { servers: ['127.0.0.1:1'], retries: 2 } } })).to.equal(
      'pools.a: unknown option "retries"',
    );
    const eject = (e: unknown) => msg({ pools: { a: { servers: ['127.0.0.1:1'], eject: e } } });
    expect(eject(true)).to.equal('pools.a.eject: must be { after, probeInterval }');
    expect(eject({ after: 0 })).to.equal('pools.a.eject.after: must be a positive integer');
    expect(eject({ after: 2.5 })).to.equal('pools.a.eject.after: must be a positive integer');
    expect(eject({ probeInterval: -1 })).to.equal(
      'pools.a.eject.probeInterval: must be a positive integer (ms)',
    );
    expect(eject({ after: 3, every: 1 })).to.equal('pools.a.eject: unknown option "every"');
    const ejecting = new MemcacheClient({
      pools: { a: { servers: ['127.0.0.1:1', '127.0.0.1:2'], eject: {} } },
    });
    expect(ejecting.routeMetrics!.ejects).to.deep.equal({
      a: { ejections: 0, restorations: 0, ejected: [] },
    });
    ejecting.destroy();
    expect(msg({ servers: ['127.0.0.1:1'], route: 'a' })).to.equal('route needs pools');
    const c = new MemcacheClient({ pools: { a: { servers: ['127.0.0.1:1'], distribution: 'jump' } } });
    expect(() => c.setServers(['127.0.0.1:3'])).to.throw(/does not apply to pools/);
    c.destroy();
  });

  it('gutter clamps the TTL of every write, and gives one to a store without', () => {
    expect(clampTtl('ms', '', 10)).to.equal(' T10');
    expect(clampTtl('ms', ' T0 F3', 10)).to.equal(' T10 F3');
    expect(clampTtl('ms', ' ME T5', 10)).to.equal(' ME T5');
    expect(clampTtl('ms', ' ME T3600', 10)).to.equal(' ME T10');
    expect(clampTtl('ms', ' MA', 10)).to.equal(' MA'); // append keeps the item's TTL
    expect(clampTtl('ms', ' MA N600', 10)).to.equal(' MA N10');
    expect(clampTtl('ma', ' N0 J5 v', 10)).to.equal(' N10 J5 v');
    expect(clampTtl('mg', ' T300 v f c', 10)).to.equal(' T10 v f c');
    expect(clampTtl('mg', ' v f c', 10)).to.equal(' v f c');
    const absolute = Math.floor(Date.now() / 1000) + 3600;
    expect(clampTtl('ms', ` T${absolute}`, 10)).to.equal(' T10');
  });
});
