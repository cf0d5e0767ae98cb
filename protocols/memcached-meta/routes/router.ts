/**
 * The route tree compiled into nodes that send. A single-key call gets a {@link RoutedBackend} in
 * place of a server's backend: the command modules send through it as through any backend, and the
 * nodes decide which servers see the request. A bulk call goes through {@link Router.batches}: split
 * per route, per pool, then per server, one quiet batch per server as without routes.
 *
 * What every node keeps true:
 * - a request that compares a CAS (`C<token>`) goes to the key's home server only: CAS values are per
 *   server, so a token never crosses pools (the typed API already refuses a token read from another
 *   server than the home one, cas-token.ts);
 * - a reply's CAS is tagged with the server that answered it, never with the home server;
 * - background work (shadow copies, warm-up back-fills) goes through one bounded queue per client.
 */
import PQueue from 'p-queue';
import type { SendOptions } from '../../../lib/request-entry.js';
import { InvalidArgumentError, MemlineError, TimeoutError } from '../../../lib/errors.js';
import { fanOut } from '../../../lib/kit/index.js';
import type { CasTags } from '../cas-token.js';
import type { ReadCounters } from '../counters.js';
import type { MetaBackend, MetaCore } from '../dispatch.js';
import { MetaFrame, returnedFlags } from '../frame.js';
import { MetaRequest, RequestKind, type WireKey } from '../request.js';
import { toItem } from '../results.js';
import { PartialWriteError } from './errors.js';
import type { ResolvedPool } from './pools.js';
import type { Route } from './tree.js';

/** The resolved `pools` + `route` options. */
export interface Routing {
  readonly pools: ReadonlyMap<string, ResolvedPool>;
  readonly route: Route;
  /** Background jobs (shadow copies, back-fills) queued at most; past it they are dropped and counted. */
  readonly maxBackground: number;
}

/** Counters of one route node, keyed in {@link RouteMetrics.routes} by its path in the tree. */
export interface RouteCounters {
  /** The route type. */
  readonly type: Route['type'];
  /** Calls answered by each child (by index) or pool (by name). */
  answeredBy: Record<string, number>;
  /** Tries that moved to the next child after an error (failover, replicated reads). */
  failovers: number;
  /** Tries that moved to the next child after a miss (`onMiss`). */
  missFailovers: number;
  /** Replicated writes that some pools did not take (reported to the caller, or under `majority` logged). */
  partialWrites: number;
  /** Shadow copies sent, failed (their errors never reach the caller) and dropped (queue full). */
  shadowSent: number;
  shadowErrors: number;
  /** Cold misses filled from warm, and back-fills that failed or were dropped. */
  warmHits: number;
  backfills: number;
  backfillErrors: number;
  dropped: number;
}

/** {@link MemcacheClient.routeMetrics}: counters per route node and the background queue. */
export interface RouteMetrics {
  readonly routes: Record<string, RouteCounters>;
  /** Background jobs waiting and running. */
  readonly background: { readonly queued: number; readonly running: number };
}

/** What the nodes need from the client. */
export interface RouterHost {
  readonly core: MetaCore;
  readonly counters: ReadCounters;
  readonly casTags: CasTags;
  readonly warn: (data: object, message: string) => void;
}

/** One call on its way through the tree. */
interface Call {
  /** The key as the caller gave it (prefix matching). */
  readonly key: string;
  /** The key the rings hash (with the client's prefix unless `hashKeyPrefix` is off). */
  readonly hash: string;
  readonly so: SendOptions;
  /** Where the answering server is written; `undefined` for background copies. */
  readonly target: RoutedBackend | undefined;
  /** The request compares a CAS: home server only. */
  readonly cas: boolean;
}

interface BulkItem {
  readonly wk: WireKey;
  readonly key: string;
  readonly hash: string;
}

interface BulkHow {
  make(wk: WireKey): MetaRequest;
  onReply(backend: MetaBackend, wk: WireKey, frame: MetaFrame | undefined): void;
}

interface Node {
  readonly path: string;
  home(c: Call): MetaBackend;
  send(req: MetaRequest, c: Call): Promise<unknown>;
  bulk(items: readonly BulkItem[], so: SendOptions, how: BulkHow): Promise<Map<string, MemlineError>>;
}

const FAILOVER_CODES = new Set(['ERR_CONNECTION', 'ERR_TIMEOUT', 'ERR_CIRCUIT_OPEN']);

/** Whether an error moves a failover to the next child: the server is down, slow or shed. */
function failsOver(err: unknown): err is MemlineError {
  return err instanceof MemlineError && FAILOVER_CODES.has(err.code);
}

const CAS_COMPARE = / C\d/;

/** A read's miss: no item (typed reads) or EN (a frame). */
function isMiss(reply: unknown): boolean {
  return reply === null || (reply instanceof MetaFrame && reply.status === 'EN');
}

function isRead(req: MetaRequest): boolean {
  return req.command === 'me' || (req.command === 'mg' && !/ [TN]\d/.test(req.flags));
}

/** A copy of `req` (a request is sent once), with other flags when given. */
function copy(req: MetaRequest, flags = req.flags): MetaRequest {
  const r = MetaRequest.meta(req.command!, req.key, flags, req.value, req.idempotent);
  r.itemSink = req.itemSink;
  return r;
}

/** The SendOptions of one try: `budget` ms of the call's remaining time, the signal kept. */
function slice(so: SendOptions, budget: number): SendOptions {
  const now = performance.now();
  if (now + budget >= so.deadline) return so;
  return { deadline: now + budget, timeout: Math.max(1, Math.round(budget)), signal: so.signal };
}

/** An FNV-1a hash of `s` in [0, 1), for choosing the keys a fraction applies to. */
function unit(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0) / 2 ** 32;
}

/**
 * A key's route in place of a backend: `server` is the key's home server (where CAS tokens must
 * come from) until a reply arrives, then the server that answered.
 */
export class RoutedBackend {
  server: string;
  readonly #node: Node;
  readonly #key: string;
  readonly #hash: string;

  constructor(node: Node, key: string, hash: string) {
    this.#node = node;
    this.#key = key;
    this.#hash = hash;
    this.server = node.home(this.#call(undefined!, false)).server;
  }

  #call(so: SendOptions, cas: boolean): Call {
    return { key: this.#key, hash: this.#hash, so, target: this, cas };
  }

  send(req: MetaRequest, so: SendOptions): Promise<unknown> {
    const c = this.#call(so, req.kind === RequestKind.Meta && CAS_COMPARE.test(req.flags));
    if (req.kind !== RequestKind.Meta) return this.#node.home(c).send(req, so);
    return this.#node.send(req, c);
  }
}

export class Router {
  readonly #host: RouterHost;
  readonly #root: Node;
  readonly #queue: PQueue;
  readonly #maxBackground: number;
  readonly #stats = new Map<string, RouteCounters>();

  constructor(routing: Routing, host: RouterHost) {
    this.#host = host;
    this.#maxBackground = routing.maxBackground;
    this.#queue = new PQueue({ concurrency: 16 });
    this.#root = this.#compile(routing.route, 'route', routing.pools);
  }

  /** The route of a key, as a backend. */
  backendFor(key: string, hash: string): RoutedBackend {
    return new RoutedBackend(this.#root, key, hash);
  }

  /** Splits a bulk call over the tree; resolves with the errors by key. */
  batches(
    wks: readonly WireKey[],
    keyOf: (wk: WireKey) => [key: string, hash: string],
    so: SendOptions,
    how: BulkHow,
  ): Promise<Map<string, MemlineError>> {
    const items = wks.map((wk) => {
      const [key, hash] = keyOf(wk);
      return { wk, key, hash };
    });
    return this.#root.bulk(items, so, how);
  }

  get metrics(): RouteMetrics {
    const routes: Record<string, RouteCounters> = {};
    for (const [path, s] of this.#stats) routes[path] = { ...s, answeredBy: { ...s.answeredBy } };
    return { routes, background: { queued: this.#queue.size, running: this.#queue.pending } };
  }

  /** Waits for the background work already queued. */
  async close(): Promise<void> {
    await this.#queue.onIdle();
  }

  /** Drops the background work not yet started. */
  destroy(): void {
    this.#queue.clear();
  }

  /** Runs `job` in the background unless the queue is full; `false` when dropped. */
  #background(job: () => Promise<unknown>): boolean {
    if (this.#queue.size + this.#queue.pending >= this.#maxBackground) return false;
    void this.#queue.add(job).catch(() => undefined);
    return true;
  }

  #counters(path: string, type: Route['type']): RouteCounters {
    const s: RouteCounters = {
      type,
      answeredBy: {},
      failovers: 0,
      missFailovers: 0,
      partialWrites: 0,
      shadowSent: 0,
      shadowErrors: 0,
      warmHits: 0,
      backfills: 0,
      backfillErrors: 0,
      dropped: 0,
    };
    this.#stats.set(path, s);
    return s;
  }

  #compile(given: Route | string, path: string, pools: ReadonlyMap<string, ResolvedPool>): Node {
    const route: Route = typeof given === 'string' ? { type: 'pool', pool: given } : given;
    const sub = (r: Route | string, at: string) => this.#compile(r, at, pools);
    switch (route.type) {
      case 'pool':
        return new PoolNode(path, this.#host, pools.get(route.pool)!, undefined);
      case 'gutter':
        return new PoolNode(path, this.#host, pools.get(route.pool)!, route.maxTtl);
      case 'byPrefix': {
        const table = Object.entries(route.prefixes).map(
          ([p, r]) => [p, sub(r, `${path}.prefixes[${JSON.stringify(p)}]`)] as const,
        );
        return new PrefixNode(path, table, sub(route.default, `${path}.default`));
      }
      case 'failover': {
        const children = route.children.map((r, i) => sub(r, `${path}.children[${i}]`));
        const tries = Math.min(route.maxTries, children.length);
        return new FailoverNode(
          path,
          children,
          tries,
          route.onMiss,
          route.attemptTimeout,
          this.#counters(path, 'failover'),
        );
      }
      case 'replicated': {
        const children = route.pools.map(
          (p) => new PoolNode(`${path}.pools.${p}`, this.#host, pools.get(p)!, undefined),
        );
        return new ReplicatedNode(path, route, children, this.#counters(path, 'replicated'), this.#host);
      }
      case 'shadow':
        return new ShadowNode(
          path,
          sub(route.primary, `${path}.primary`),
          sub(route.target, `${path}.target`),
          route.fraction,
          this.#counters(path, 'shadow'),
          (job) => this.#background(job),
        );
      case 'warmUp':
        return new WarmUpNode(
          path,
          sub(route.cold, `${path}.cold`),
          sub(route.warm, `${path}.warm`),
          this.#counters(path, 'warmUp'),
          this.#host,
          (job) => this.#background(job),
        );
      case 'migrate':
        throw new InvalidArgumentError(`${path}: migrate routes are not supported yet`);
    }
  }
}

/** The maximum TTL, in seconds, memcached takes as relative; above it a TTL is a Unix time. */
const RELATIVE_MAX = 2_592_000;

/**
 * `flags` with every TTL a write sets (`T` of ms/mg/md, `N` of a vivify) clamped to `max` seconds;
 * a store that sets a TTL of 0 (never expires), or none, gets `max`. Append and prepend keep the
 * item's TTL: only their vivify (`N`) is clamped.
 */
export function clampTtl(command: string, flags: string, max: number): string {
  const clamp = (n: number): number => {
    const relative = n > RELATIVE_MAX ? n - Math.floor(Date.now() / 1000) : n;
    return n === 0 || relative > max ? max : Math.max(1, relative);
  };
  let out = flags.replace(/ ([TN])(\d+)/g, (_, f: string, n: string) => ` ${f}${clamp(Number(n))}`);
  if (command === 'ms' && !/ T\d/.test(out) && !/ M[AaPp]/.test(out)) out += ` T${max}`;
  return out;
}

/** `pool(name)` and `gutter(name)`: a ring over the pool's servers. */
class PoolNode implements Node {
  readonly #backends: MetaBackend[];
  readonly #pool: ResolvedPool;
  readonly #host: RouterHost;

  constructor(
    readonly path: string,
    host: RouterHost,
    pool: ResolvedPool,
    readonly maxTtl: number | undefined,
  ) {
    this.#host = host;
    this.#pool = pool;
    this.#backends = pool.addresses.map((a) => host.core.backendNamed(a.address));
  }

  get name(): string {
    return this.#pool.name;
  }

  #pick(hash: string): MetaBackend {
    const b = this.#backends;
    return b.length === 1 ? b[0] : b[this.#pool.distribution.pick(hash)];
  }

  #adjust(req: MetaRequest): MetaRequest {
    if (this.maxTtl === undefined || req.command === undefined) return req;
    const flags = clampTtl(req.command, req.flags, this.maxTtl);
    return flags === req.flags ? req : copy(req, flags);
  }

  home(c: Call): MetaBackend {
    return this.#pick(c.hash);
  }

  send(req: MetaRequest, c: Call): Promise<unknown> {
    const backend = this.#pick(c.hash);
    const r = this.#adjust(req);
    if (r.itemSink !== undefined) {
      r.itemSink = this.#host.counters.of(backend.server);
      r.casTag = this.#host.casTags.tagOf(backend.server);
    }
    const sent = backend.send(r, c.so);
    const target = c.target;
    if (target === undefined) return sent;
    return sent.then((reply) => {
      target.server = backend.server;
      return reply;
    });
  }

  bulk(items: readonly BulkItem[], so: SendOptions, how: BulkHow): Promise<Map<string, MemlineError>> {
    const parts = new Map<MetaBackend, number[]>();
    items.forEach((item, i) => {
      const b = this.#pick(item.hash);
      const part = parts.get(b);
      if (part === undefined) parts.set(b, [i]);
      else part.push(i);
    });
    return fanOut(parts, so, {
      request: (indexes) => MetaRequest.batch(indexes.map((i) => this.#adjust(how.make(items[i].wk)))),
      onReply: (replies, indexes, backend) => {
        const frames = replies as (MetaFrame | undefined)[];
        indexes.forEach((i, j) => how.onReply(backend, items[i].wk, frames[j]));
      },
      name: (i) => items[i].wk.original,
    });
  }
}

/** `byPrefix`: the longest matching prefix's child, else the default. */
class PrefixNode implements Node {
  readonly #table: (readonly [string, Node])[];

  constructor(
    readonly path: string,
    table: readonly (readonly [string, Node])[],
    readonly fallback: Node,
  ) {
    this.#table = [...table].sort((a, b) => b[0].length - a[0].length);
  }

  #child(key: string): Node {
    for (const [prefix, node] of this.#table) if (key.startsWith(prefix)) return node;
    return this.fallback;
  }

  home(c: Call): MetaBackend {
    return this.#child(c.key).home(c);
  }

  send(req: MetaRequest, c: Call): Promise<unknown> {
    return this.#child(c.key).send(req, c);
  }

  async bulk(items: readonly BulkItem[], so: SendOptions, how: BulkHow): Promise<Map<string, MemlineError>> {
    const groups = new Map<Node, BulkItem[]>();
    for (const item of items) {
      const node = this.#child(item.key);
      const group = groups.get(node);
      if (group === undefined) groups.set(node, [item]);
      else group.push(item);
    }
    const results = await Promise.all([...groups].map(([node, group]) => node.bulk(group, so, how)));
    return merge(results);
  }
}

function merge(maps: readonly Map<string, MemlineError>[]): Map<string, MemlineError> {
  if (maps.length === 1) return maps[0];
  const out = new Map<string, MemlineError>();
  for (const m of maps) for (const [k, v] of m) out.set(k, v);
  return out;
}

/**
 * Tries `children` in order within the call's deadline: each try but the last gets
 * `attemptTimeout` (or an even share of the time left); an error that means the server is down,
 * slow or shed moves to the next child, and so does a read's miss with `onMiss`. A miss beats the
 * last error.
 */
async function inOrder(
  children: readonly Node[],
  tries: number,
  onMiss: boolean,
  attemptTimeout: number | undefined,
  req: MetaRequest,
  c: Call,
  stats: RouteCounters,
  label: (i: number) => string,
): Promise<unknown> {
  let lastError: MemlineError | undefined;
  let miss: { reply: unknown } | undefined;
  const read = isRead(req);
  for (let i = 0; i < tries; i++) {
    const left = c.so.deadline - performance.now();
    if (left <= 0 && i > 0) break;
    const last = i === tries - 1;
    const so = last ? c.so : slice(c.so, Math.min(attemptTimeout ?? left / (tries - i), left));
    try {
      const reply = await children[i].send(i === 0 ? req : copy(req), { ...c, so });
      if (onMiss && read && !last && isMiss(reply)) {
        miss = { reply };
        stats.missFailovers++;
        continue;
      }
      stats.answeredBy[label(i)] = (stats.answeredBy[label(i)] ?? 0) + 1;
      return reply;
    } catch (err) {
      if (!failsOver(err)) throw err;
      lastError = err;
      if (!last) stats.failovers++;
    }
  }
  if (miss !== undefined) return miss.reply;
  throw lastError ?? new TimeoutError(`no time left to fail over (timeout ${c.so.timeout} ms)`, 'request');
}

/** The same over a bulk call: the keys a child failed (or missed, with `onMiss`) go to the next. */
async function bulkInOrder(
  children: readonly Node[],
  tries: number,
  onMiss: boolean,
  attemptTimeout: number | undefined,
  items: readonly BulkItem[],
  so: SendOptions,
  how: BulkHow,
  stats: RouteCounters,
): Promise<Map<string, MemlineError>> {
  const errors = new Map<string, MemlineError>();
  const misses = new Map<string, [MetaBackend, WireKey]>();
  let pending = items;
  for (let i = 0; i < tries && pending.length > 0; i++) {
    const left = so.deadline - performance.now();
    if (left <= 0 && i > 0) break;
    const last = i === tries - 1;
    const attempt = last ? so : slice(so, Math.min(attemptTimeout ?? left / (tries - i), left));
    let reads = false;
    const missed = new Set<string>();
    const wrapped: BulkHow = {
      make: (wk) => {
        const r = how.make(wk);
        reads ||= r.command === 'mg' && isRead(r);
        return r;
      },
      onReply: (b, wk, f) => {
        if (onMiss && reads && !last && (f === undefined || f.status === 'EN')) {
          missed.add(wk.original);
          misses.set(wk.original, [b, wk]);
          return;
        }
        misses.delete(wk.original);
        how.onReply(b, wk, f);
      },
    };
    const failed = await children[i].bulk(pending, attempt, wrapped);
    const next: BulkItem[] = [];
    for (const item of pending) {
      const err = failed.get(item.wk.original);
      if (err !== undefined) {
        errors.set(item.wk.original, err);
        if (!last && failsOver(err)) next.push(item);
      } else if (missed.has(item.wk.original)) next.push(item);
      else errors.delete(item.wk.original);
    }
    for (const item of next) {
      if (errors.has(item.wk.original)) stats.failovers++;
      else stats.missFailovers++;
    }
    pending = next;
  }
  // A miss beats the last error: a key that missed somewhere is a miss.
  for (const [key, [b, wk]] of misses) {
    errors.delete(key);
    how.onReply(b, wk, undefined);
  }
  return errors;
}

/** `failover(primary, ...fallbacks)`. */
class FailoverNode implements Node {
  constructor(
    readonly path: string,
    readonly children: readonly Node[],
    readonly tries: number,
    readonly onMiss: boolean,
    readonly attemptTimeout: number | undefined,
    readonly stats: RouteCounters,
  ) {}

  home(c: Call): MetaBackend {
    return this.children[0].home(c);
  }

  send(req: MetaRequest, c: Call): Promise<unknown> {
    if (c.cas) return this.children[0].send(req, c);
    return inOrder(this.children, this.tries, this.onMiss, this.attemptTimeout, req, c, this.stats, String);
  }

  bulk(items: readonly BulkItem[], so: SendOptions, how: BulkHow): Promise<Map<string, MemlineError>> {
    const { children, tries, onMiss, attemptTimeout, stats } = this;
    return bulkInOrder(children, tries, onMiss, attemptTimeout, items, so, how, stats);
  }
}

/** `replicated(pools, { write, read })`. */
class ReplicatedNode implements Node {
  readonly #names: string[];

  constructor(
    readonly path: string,
    readonly route: { readonly write: 'all' | 'majority'; readonly read: 'first' | 'fastest' },
    readonly children: readonly PoolNode[],
    readonly stats: RouteCounters,
    readonly host: RouterHost,
  ) {
    this.#names = children.map((p) => p.name);
  }

  home(c: Call): MetaBackend {
    return this.children[0].home(c);
  }

  /** Whether enough pools took a write. */
  #enough(ok: number): boolean {
    const n = this.children.length;
    return this.route.write === 'all' ? ok === n : ok * 2 > n;
  }

  async send(req: MetaRequest, c: Call): Promise<unknown> {
    if (c.cas) return this.#casWrite(req, c);
    if (isRead(req)) {
      if (this.route.read === 'first') {
        return inOrder(
          this.children,
          this.children.length,
          false,
          undefined,
          req,
          c,
          this.stats,
          (i) => this.#names[i],
        );
      }
      return this.#fastest(req, c);
    }
    return this.#write(this.children, req, c);
  }

  async #fastest(req: MetaRequest, c: Call): Promise<unknown> {
    try {
      return await Promise.any(this.children.map((p, i) => p.send(i === 0 ? req : copy(req), c)));
    } catch (err) {
      throw (err as AggregateError).errors[0];
    }
  }

  /** Sends to every pool in `pools`; the first pool's reply (else the first that came). */
  async #write(pools: readonly PoolNode[], req: MetaRequest, c: Call): Promise<unknown> {
    const settled = await Promise.allSettled(pools.map((p, i) => p.send(i === 0 ? req : copy(req), c)));
    const failed = new Map<string, MemlineError>();
    const succeeded: string[] = [];
    let reply: { value: unknown } | undefined;
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') {
        succeeded.push(pools[i].name);
        reply ??= { value: s.value };
      } else failed.set(pools[i].name, s.reason as MemlineError);
    });
    const others = this.children.length - pools.length;
    return this.#settle(succeeded, failed, others, reply);
  }

  #settle(
    succeeded: string[],
    failed: Map<string, MemlineError>,
    alreadyOk: number,
    reply: { value: unknown } | undefined,
  ): unknown {
    if (failed.size === 0) return reply!.value;
    this.stats.partialWrites++;
    const names = [...failed.keys()].join(', ');
    // Nothing took it: a plain failure, with the first pool's error.
    if (succeeded.length + alreadyOk === 0) throw failed.values().next().value!;
    if (reply !== undefined && this.#enough(succeeded.length + alreadyOk)) {
      this.host.warn(
        { route: this.path, failed: [...failed.keys()] },
        'memline: replicated write missed pools',
      );
      return reply.value;
    }
    throw new PartialWriteError(
      `the write reached ${succeeded.length + alreadyOk} of ${this.children.length} pools; not: ${names}`,
      succeeded,
      failed,
    );
  }

  /** A CAS write: decided on the first pool, then copied to the others as a plain store. */
  async #casWrite(req: MetaRequest, c: Call): Promise<unknown> {
    const [first, ...rest] = this.children;
    const reply = await first.send(req, c);
    if (req.command !== 'ms' || !(reply instanceof MetaFrame) || reply.status !== 'HD') return reply;
    const plain = copy(req, req.flags.replace(/ C\d+/, ''));
    const settled = await Promise.allSettled(
      rest.map((p) => p.send(copy(plain), { ...c, target: undefined })),
    );
    const failed = new Map<string, MemlineError>();
    const succeeded = [first.name];
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') succeeded.push(rest[i].name);
      else failed.set(rest[i].name, s.reason as MemlineError);
    });
    return this.#settle(succeeded, failed, 0, { value: reply });
  }

  async bulk(items: readonly BulkItem[], so: SendOptions, how: BulkHow): Promise<Map<string, MemlineError>> {
    if (items.length === 0) return new Map();
    if (isRead(how.make(items[0].wk))) {
      const n = this.children.length;
      return bulkInOrder(this.children, n, false, undefined, items, so, how, this.stats);
    }
    const answered = new Set<string>();
    const once: BulkHow = {
      make: (wk) => how.make(wk),
      onReply: (b, wk, f) => {
        if (answered.has(wk.original)) return;
        answered.add(wk.original);
        how.onReply(b, wk, f);
      },
    };
    const results = await Promise.all(this.children.map((p) => p.bulk(items, so, once)));
    const errors = new Map<string, MemlineError>();
    for (const item of items) {
      const key = item.wk.original;
      const failed = new Map<string, MemlineError>();
      const succeeded: string[] = [];
      results.forEach((r, i) => {
        const err = r.get(key);
        if (err === undefined) succeeded.push(this.#names[i]);
        else failed.set(this.#names[i], err);
      });
      if (failed.size === 0) continue;
      this.stats.partialWrites++;
      if (succeeded.length > 0 && this.#enough(succeeded.length)) continue;
      errors.set(
        key,
        new PartialWriteError(
          `the write of ${key} reached ${succeeded.length} of ${this.children.length} pools`,
          succeeded,
          failed,
        ),
      );
    }
    return errors;
  }
}

/** `shadow(primary, target, { fraction })`. */
class ShadowNode implements Node {
  constructor(
    readonly path: string,
    readonly primary: Node,
    readonly target: Node,
    readonly fraction: number,
    readonly stats: RouteCounters,
    readonly background: (job: () => Promise<unknown>) => boolean,
  ) {}

  home(c: Call): MetaBackend {
    return this.primary.home(c);
  }

  send(req: MetaRequest, c: Call): Promise<unknown> {
    if (!c.cas && this.fraction > 0 && unit(c.hash) < this.fraction) {
      // No item sink: the copy's hits and misses are not the caller's.
      const shadowReq = MetaRequest.meta(req.command!, req.key, req.flags, req.value, req.idempotent);
      const timeout = c.so.timeout;
      const queued = this.background(() => {
        const so = { deadline: performance.now() + timeout, timeout, signal: undefined };
        this.stats.shadowSent++;
        return this.target.send(shadowReq, { ...c, so, target: undefined }).catch(() => {
          this.stats.shadowErrors++;
        });
      });
      if (!queued) this.stats.dropped++;
    }
    return this.primary.send(req, c);
  }

  bulk(items: readonly BulkItem[], so: SendOptions, how: BulkHow): Promise<Map<string, MemlineError>> {
    return this.primary.bulk(items, so, how);
  }
}

/** `warmUp({ cold, warm })`. */
class WarmUpNode implements Node {
  constructor(
    readonly path: string,
    readonly cold: Node,
    readonly warm: Node,
    readonly stats: RouteCounters,
    readonly host: RouterHost,
    readonly background: (job: () => Promise<unknown>) => boolean,
  ) {}

  home(c: Call): MetaBackend {
    return this.cold.home(c);
  }

  async send(req: MetaRequest, c: Call): Promise<unknown> {
    if (req.command === 'md' && !c.cas) {
      // Deleted on both: a value left on warm would be copied back to cold by the next miss.
      const [cold] = await Promise.all([
        this.cold.send(req, c),
        this.warm.send(copy(req), { ...c, target: undefined }),
      ]);
      return cold;
    }
    if (c.cas || req.command !== 'mg' || !isRead(req) || !/ v/.test(req.flags)) return this.cold.send(req, c);
    const sink = req.itemSink;
    const reply = await this.cold.send(req, c);
    if (!isMiss(reply)) return reply;
    // `t` and `f` give the remaining TTL and the flags the back-fill needs; no item sink: the frame.
    let flags = req.flags;
    for (const f of [' t', ' f']) if (!flags.split(' ').includes(f.slice(1))) flags += f;
    const warmReq = MetaRequest.meta('mg', req.key, flags, undefined, true);
    const frame = (await this.warm.send(warmReq, c)) as MetaFrame;
    if (frame.status !== 'VA' || frame.value === undefined) return reply;
    this.stats.warmHits++;
    this.#backfill(req.key!, frame, c);
    if (sink === undefined) return frame;
    const server = c.target?.server ?? '';
    const item = toItem(req.key!.original, frame);
    if (item === null) return reply;
    this.host.counters.count(server, true);
    item.cas = this.host.casTags.tag(item.cas, server);
    return item;
  }

  /** Adds the value to cold (`ms … ME`: never over a newer value) with warm's remaining TTL and flags. */
  #backfill(key: WireKey, frame: MetaFrame, c: Call): void {
    const f = returnedFlags(frame);
    const ttl = f.t ?? -1;
    if (ttl === 0) return; // expiring now: nothing to copy
    const flags = ' ME' + (ttl > 0 ? ` T${ttl}` : '') + (f.f ? ` F${f.f}` : '');
    const req = MetaRequest.meta('ms', key, flags, frame.value, false);
    const timeout = c.so.timeout;
    const queued = this.background(() => {
      const so = { deadline: performance.now() + timeout, timeout, signal: undefined };
      this.stats.backfills++;
      return this.cold.send(req, { ...c, so, target: undefined, cas: false }).catch((err: unknown) => {
        this.stats.backfillErrors++;
        this.host.warn({ route: this.path, err }, 'memline: warm-up back-fill failed');
      });
    });
    if (!queued) this.stats.dropped++;
  }

  bulk(items: readonly BulkItem[], so: SendOptions, how: BulkHow): Promise<Map<string, MemlineError>> {
    return this.cold.bulk(items, so, how);
  }
}
