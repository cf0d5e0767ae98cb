/**
 * The migrate node against two in-memory pools and a fake clock: one owner per key at every moment
 * (a property test: fast-check prints the seed and the shrunk counterexample of a failure; replay it
 * with `{ seed, path }` in `fc.assert`'s options), reads that fall back and back-fill, deletes on
 * both pools, CAS on the owner only, and bulk calls by the same rules.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { MetaBackend } from '../../../../protocols/memcached-meta/dispatch.js';
import { MetaFrame } from '../../../../protocols/memcached-meta/frame.js';
import { wireKey } from '../../../../protocols/memcached-meta/keys.js';
import { MetaRequest, type WireKey } from '../../../../protocols/memcached-meta/request.js';
import { MigrateNode } from '../../../../protocols/memcached-meta/routes/migrate.js';
import type { BulkItem, BulkHow, Call, Node } from '../../../../protocols/memcached-meta/routes/node.js';
import {
  newRouteCounters,
  type RouteCounters,
  type RouterHost,
} from '../../../../protocols/memcached-meta/routes/router.js';

interface Stored {
  value: Buffer;
  flags: number;
  ttl: number;
}

/** One pool as a map: just enough of mg, ms and md to answer as memcached would. */
class MemoryPool implements Node {
  readonly items = new Map<string, Stored>();
  /** `<command> <key>` of every request, in order. */
  readonly seen: string[] = [];
  readonly #backend: MetaBackend;

  constructor(readonly path: string) {
    this.#backend = { server: path } as MetaBackend;
  }

  home(): MetaBackend {
    return this.#backend;
  }

  send(req: MetaRequest): Promise<unknown> {
    return Promise.resolve(this.#answer(req));
  }

  bulk(items: readonly BulkItem[], _so: unknown, how: BulkHow): Promise<Map<string, never>> {
    for (const item of items) {
      const f = this.#answer(how.make(item.wk));
      // Quiet mode: no miss of a read, no success of a delete or store.
      const quiet = f.status === 'EN' || f.status === 'HD';
      how.onReply(this.#backend, item.wk, quiet ? undefined : f);
    }
    return Promise.resolve(new Map<string, never>());
  }

  #answer(req: MetaRequest): MetaFrame {
    const key = req.key!.original;
    const tokens = req.flags.split(' ');
    const num = (letter: string) => {
      const t = tokens.find((x) => x.startsWith(letter) && x.length > 1);
      return t === undefined ? undefined : Number(t.slice(1));
    };
    this.seen.push(`${req.command} ${key}`);
    const item = this.items.get(key);
    switch (req.command) {
      case 'mg': {
        if (item === undefined) return new MetaFrame('EN', 'EN', undefined);
        let line = `VA ${item.value.length}`;
        if (tokens.includes('t')) line += ` t${item.ttl}`;
        if (tokens.includes('f')) line += ` f${item.flags}`;
        return new MetaFrame('VA', line, item.value);
      }
      case 'ms':
        if (tokens.includes('ME') && item !== undefined) return new MetaFrame('NS', 'NS', undefined);
        this.items.set(key, { value: req.value!, flags: num('F') ?? 0, ttl: num('T') ?? -1 });
        return new MetaFrame('HD', 'HD', undefined);
      case 'md':
        if (item === undefined) return new MetaFrame('NF', 'NF', undefined);
        this.items.delete(key);
        return new MetaFrame('HD', 'HD', undefined);
      default:
        throw new Error(`no ${req.command} here`);
    }
  }
}

const counters = (): RouteCounters => newRouteCounters('migrate');

const host = { warn: () => undefined } as unknown as RouterHost;

function setup(start: number, duration: number) {
  const from = new MemoryPool('from');
  const to = new MemoryPool('to');
  const clock = { t: 0 };
  const stats = counters();
  const jobs: Promise<unknown>[] = [];
  const background = (job: () => Promise<unknown>) => {
    jobs.push(job());
    return true;
  };
  const node = new MigrateNode('route', from, to, start, duration, stats, host, background, () => clock.t);
  return { from, to, clock, stats, node, jobs };
}

const wk = (key: string): WireKey => wireKey(key, '', false);

function call(key: string, cas = false): Call {
  const so = { deadline: performance.now() + 1000, timeout: 1000, signal: undefined };
  return { key, hash: key, so, target: undefined, cas };
}

const set = (key: string, flags = '') => MetaRequest.meta('ms', wk(key), flags, Buffer.from('v'), false);
const get = (key: string) => MetaRequest.meta('mg', wk(key), ' v f c', undefined, true);

/** A key whose moment falls at `fraction` of the window or later, and one before it. */
function keysAround(node: MigrateNode, fraction: number): { early: string; late: string } {
  const at = node.start + fraction * node.duration;
  let early: string | undefined;
  let late: string | undefined;
  for (let i = 0; early === undefined || late === undefined; i++) {
    const key = `key-${i}`;
    if (node.movesAt(key) < at) early ??= key;
    else late ??= key;
  }
  return { early, late };
}

describe('routes: migrate', () => {
  it('sends every key to exactly one owner at every moment, which flips once at its moment', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.stringMatching(/^[!-~]{1,40}$/), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: 2 * 10 ** 12 }),
        fc.integer({ min: 1, max: 10 ** 7 }),
        fc.array(fc.double({ min: -0.5, max: 1.5, noNaN: true }), { minLength: 1, maxLength: 20 }),
        async (keys, start, duration, offsets) => {
          const { from, to, clock, node } = setup(start, duration);
          for (const key of keys) {
            const moment = node.movesAt(key);
            expect(moment).to.be.within(start, start + duration);
            // Integer clocks as Date.now gives, plus the two ticks on either side of the moment.
            const times = offsets.map((o) => Math.round(start + o * duration));
            times.push(Math.ceil(moment) - 1, Math.ceil(moment));
            times.sort((x, y) => x - y);
            const owners: string[] = [];
            for (const t of times) {
              clock.t = t;
              for (const req of [set(key), set(key, ' C5')]) {
                const before = from.seen.length + to.seen.length;
                await node.send(req, call(key, req.flags.includes('C')));
                expect(from.seen.length + to.seen.length - before).to.equal(1);
              }
              // Both the plain store and the CAS store went to the same pool.
              const owner = to.seen.length === 2 ? 'to' : from.seen.length === 2 ? 'from' : 'split';
              expect(node.home(call(key)).server).to.equal(owner);
              if (t < start) expect(owner).to.equal('from');
              if (t >= start + duration) expect(owner).to.equal('to');
              expect(owner).to.equal(t >= moment ? 'to' : 'from');
              owners.push(owner);
              from.seen.length = 0;
              to.seen.length = 0;
            }
            // Monotone: once on `to`, never back.
            const flip = owners.indexOf('to');
            if (flip !== -1) expect(owners.slice(flip).every((o) => o === 'to')).to.equal(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('inside the window: a moved key misses on `to`, falls back to `from` and is back-filled (an add)', async () => {
    const { from, to, clock, stats, node, jobs } = setup(1000, 1000);
    clock.t = 1500;
    const { early, late } = keysAround(node, 0.5);
    from.items.set(early, { value: Buffer.from('old'), flags: 7, ttl: 300 });
    from.items.set(late, { value: Buffer.from('stays'), flags: 0, ttl: -1 });

    const reply = (await node.send(get(early), call(early))) as MetaFrame;
    expect(reply.value?.toString()).to.equal('old');
    expect(from.seen).to.deep.equal([`mg ${early}`]);
    expect(to.seen).to.deep.equal([`mg ${early}`, `ms ${early}`]);
    await Promise.all(jobs);
    expect(to.items.get(early)).to.deep.equal({ value: Buffer.from('old'), flags: 7, ttl: 300 });
    expect(stats).to.include({ fallbacks: 1, backfills: 1, backfillErrors: 0 });

    // Not yet moved: `from` only, no fallback.
    expect(((await node.send(get(late), call(late))) as MetaFrame).value?.toString()).to.equal('stays');
    expect(to.seen).to.have.length(2);

    // A newer value on `to` wins over the back-fill (ME: an add).
    to.items.set(early, { value: Buffer.from('new'), flags: 0, ttl: -1 });
    expect(((await node.send(get(early), call(early))) as MetaFrame).value?.toString()).to.equal('new');
    expect(stats.fallbacks).to.equal(1);
  });

  it('deletes reach both pools inside the window, the owner only outside; CAS goes to the owner', async () => {
    const { from, to, clock, node } = setup(1000, 1000);
    const { early } = keysAround(node, 0.5);
    const md = () => MetaRequest.meta('md', wk(early), '', undefined, true);
    clock.t = 1500;
    from.items.set(early, { value: Buffer.from('x'), flags: 0, ttl: -1 });
    // Found on `from` only (not back-filled yet): deleted.
    expect(((await node.send(md(), call(early))) as MetaFrame).status).to.equal('HD');
    expect([from.seen, to.seen]).to.deep.equal([[`md ${early}`], [`md ${early}`]]);
    expect(from.items.has(early)).to.equal(false);

    clock.t = 2000; // the window is over
    await node.send(md(), call(early));
    expect([from.seen.length, to.seen.length]).to.deep.equal([1, 2]);
    clock.t = 999; // before it
    await node.send(md(), call(early));
    expect([from.seen.length, to.seen.length]).to.deep.equal([2, 2]);

    // A CAS compare on a moved key inside the window: `to` only, no fallback, no copy.
    clock.t = 1500;
    await node.send(MetaRequest.meta('md', wk(early), ' C9', undefined, true), call(early, true));
    await node.send(MetaRequest.meta('mg', wk(early), ' v C9', undefined, true), call(early, true));
    expect([from.seen.length, to.seen.length]).to.deep.equal([2, 4]);
  });

  it('after the window only `to` is used: a miss is a miss', async () => {
    const { from, to, clock, node } = setup(1000, 1000);
    clock.t = 2000;
    from.items.set('k', { value: Buffer.from('x'), flags: 0, ttl: -1 });
    expect(((await node.send(get('k'), call('k'))) as MetaFrame).status).to.equal('EN');
    expect([from.seen, to.seen]).to.deep.equal([[], ['mg k']]);
  });

  it('bulk calls: per key owner, fallback reads back-filled, deletes on both', async () => {
    const { from, to, clock, stats, node, jobs } = setup(1000, 1000);
    clock.t = 1500;
    const keys = Array.from({ length: 200 }, (_, i) => `bulk-${i}`);
    const moved = keys.filter((k) => node.movesAt(k) <= 1500);
    expect(moved.length).to.be.within(50, 150);
    for (const k of keys) from.items.set(k, { value: Buffer.from(k), flags: 3, ttl: 60 });
    to.items.set(moved[0], { value: Buffer.from('newer'), flags: 0, ttl: -1 });
    const items = keys.map((k) => ({ wk: wk(k), key: k, hash: k }));
    const so = call('').so;

    const got = new Map<string, string | undefined>();
    const read: BulkHow = {
      make: (w) => get(w.original),
      onReply: (b, w, f) => {
        expect(got.has(w.original)).to.equal(false); // once per key
        got.set(w.original, f === undefined ? undefined : `${b.server}:${f.value?.toString()}`);
      },
    };
    const errors = await node.bulk(
      [...items, { wk: wk('nowhere'), key: 'nowhere', hash: 'nowhere' }],
      so,
      read,
    );
    expect(errors.size).to.equal(0);
    expect(got.get(moved[0])).to.equal('to:newer');
    expect(got.get(moved[1])).to.equal(`from:${moved[1]}`);
    expect(got.get('nowhere')).to.equal(undefined);
    expect(got.size).to.equal(keys.length + 1);
    await Promise.all(jobs);
    expect(stats.fallbacks).to.equal(moved.length - 1);
    expect(stats.backfills).to.equal(moved.length - 1);
    expect(to.items.get(moved[1])).to.deep.equal({ value: Buffer.from(moved[1]), flags: 3, ttl: 60 });
    expect(to.items.get(moved[0])?.value.toString()).to.equal('newer');

    // Writes: each key to its owner only.
    from.items.clear();
    to.items.clear();
    const write: BulkHow = { make: (w) => set(w.original), onReply: () => undefined };
    await node.bulk(items, so, write);
    expect([...to.items.keys()].sort()).to.deep.equal([...moved].sort());
    expect(from.items.size).to.equal(keys.length - moved.length);

    // Deletes: both pools, found on either is deleted.
    from.items.set(moved[2], { value: Buffer.from('x'), flags: 0, ttl: -1 });
    const gone = new Map<string, boolean>();
    const del: BulkHow = {
      make: (w) => MetaRequest.meta('md', w, '', undefined, true),
      onReply: (_b, w, f) => void gone.set(w.original, f === undefined || f.status === 'HD'),
    };
    await node.bulk(items, so, del);
    expect(from.items.size + to.items.size).to.equal(0);
    expect([...gone.values()].every(Boolean)).to.equal(true);
  });
});
