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
 * - background work (shadow copies, back-fills) goes through one bounded queue per client.
 */
import { EjectRegistry, Ejector, type EjectStats } from '../../../lib/eject.js';
import type { SendOptions } from '../../../lib/request-entry.js';
import type { MemlineError } from '../../../lib/errors.js';
import type { CasTags } from '../cas-token.js';
import type { ReadCounters } from '../counters.js';
import type { MetaBackend, MetaCore } from '../dispatch.js';
import type { Background } from '../background.js';
import type { DeleteJournal } from '../delete-journal.js';
import type { MetaFrame } from '../frame.js';
import { MetaRequest, RequestKind, type ItemSink, type WireKey } from '../request.js';
import type { ResolvedPool } from './pools.js';
import type { Route } from './tree.js';
import type { Call, BulkHow, Node } from './node.js';
import { CAS_COMPARE } from './node.js';
import { PoolNode, PrefixNode, FailoverNode } from './nodes.js';
import { ReplicatedNode, ShadowNode, WarmUpNode } from './replicas.js';
import { MigrateNode } from './migrate.js';

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
  /** Calls answered by each child (by index) or pool (by name); a `fastest` bulk read counts keys. */
  answeredBy: Record<string, number>;
  /** Tries that moved to the next child after an error (failover, replicated reads). */
  failovers: number;
  /** Tries that moved to the next child after a miss (`onMiss`). */
  missFailovers: number;
  /** Replicated writes that some pools did not take (reported to the caller, or under `majority` logged). */
  partialWrites: number;
  /** Keys copied by shadow: sent, failed (their errors never reach the caller); see also `dropped`. */
  shadowSent: number;
  shadowErrors: number;
  /** Cold misses filled from warm (warmUp). */
  warmHits: number;
  /** Reads that missed on `to` inside a migrate window and were answered by `from`. */
  fallbacks: number;
  /**
   * Back-fills (warmUp, migrate) sent and failed; background work dropped (queue full): back-fills,
   * and shadow copies by key.
   */
  backfills: number;
  backfillErrors: number;
  /**
   * Back-fills not sent, or taken back after they stored (`md … C<cas>`), because this client
   * deleted the key after their read began.
   */
  cancelledBackfills: number;
  dropped: number;
}

/** {@link MemcacheClient.routeMetrics}: counters per route node and the background queue. */
export interface RouteMetrics {
  readonly routes: Record<string, RouteCounters>;
  /** Per pool with `eject`: ejections, restorations and the servers out of its ring now. */
  readonly ejects: Record<string, EjectStats>;
  /** Background jobs waiting and running. */
  readonly background: { readonly queued: number; readonly running: number };
}

/** What the nodes need from the client. */
export interface RouterHost {
  readonly core: MetaCore;
  readonly counters: ReadCounters;
  readonly casTags: CasTags;
  /** A server's read state (counters, CAS tag, the way back for a win): a routed read's item sink. */
  readonly readsOf: (backend: MetaBackend) => ItemSink;
  /**
   * A read the route made itself (a read-through's second read) took a stale item's win on the
   * server named `server`: hand it back there (reads.ts handBackWin).
   */
  readonly handBack: (server: string, key: WireKey, frame: MetaFrame) => void;
  readonly warn: (data: object, message: string) => void;
  /** The client's bounded background queue (shared with the delete journal). */
  readonly background: Background;
  /** The journal of failed deletes, with `reliableDeletes`. */
  readonly journal: DeleteJournal | undefined;
}

/** A route node's counters, all zero. */
export function newRouteCounters(type: Route['type']): RouteCounters {
  return {
    type,
    answeredBy: {},
    failovers: 0,
    missFailovers: 0,
    partialWrites: 0,
    shadowSent: 0,
    shadowErrors: 0,
    warmHits: 0,
    fallbacks: 0,
    backfills: 0,
    backfillErrors: 0,
    cancelledBackfills: 0,
    dropped: 0,
  };
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
  readonly #stats = new Map<string, RouteCounters>();
  /** One per pool with `eject`, shared by every node of that pool. */
  readonly #ejectors = new Map<string, Ejector>();
  /** The eject state per server, shared by the pools that name it; made with the first ejector. */
  #registry: EjectRegistry | undefined;

  constructor(routing: Routing, host: RouterHost) {
    this.#host = host;
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
    const ejects: Record<string, EjectStats> = {};
    for (const [name, e] of this.#ejectors) ejects[name] = e.stats;
    return { routes, ejects, background: this.#host.background.stats };
  }

  /** Stops probing ejected servers (the client drains or clears the background queue itself). */
  close(): void {
    for (const e of this.#ejectors.values()) e.close();
  }

  /** The pool's node; with `eject`, on the pool's one ejector. */
  #pool(path: string, pool: ResolvedPool, maxTtl: number | undefined): PoolNode {
    let e = this.#ejectors.get(pool.name);
    if (e === undefined && pool.eject !== undefined && pool.addresses.length > 1) {
      this.#registry ??= this.#newRegistry();
      e = new Ejector(pool.addresses, pool.kind, pool.distribution, pool.eject, this.#registry, pool.name);
      this.#ejectors.set(pool.name, e);
    }
    return new PoolNode(path, this.#host, pool, maxTtl, e);
  }

  /** Probes are a no-op (`mn`) given the probe interval to answer; changes are logged (warn). */
  #newRegistry(): EjectRegistry {
    const core = this.#host.core;
    const probe = (address: string, timeout: number) =>
      core.backendNamed(address).send(MetaRequest.meta('mn', undefined, '', undefined, true), {
        deadline: performance.now() + timeout,
        timeout,
      });
    return new EjectRegistry(probe, (change) =>
      this.#host.warn(
        { ...change },
        change.state === 'ejected' ? 'memline: server ejected' : 'memline: server restored',
      ),
    );
  }

  /** Runs `job` in the background unless the queue is full; `false` when dropped. */
  #background(job: () => Promise<unknown>): boolean {
    return this.#host.background.run(job);
  }

  #counters(path: string, type: Route['type']): RouteCounters {
    const s = newRouteCounters(type);
    this.#stats.set(path, s);
    return s;
  }

  #compile(given: Route | string, path: string, pools: ReadonlyMap<string, ResolvedPool>): Node {
    const route: Route = typeof given === 'string' ? { type: 'pool', pool: given } : given;
    const sub = (r: Route | string, at: string) => this.#compile(r, at, pools);
    switch (route.type) {
      case 'pool':
        return this.#pool(path, pools.get(route.pool)!, undefined);
      case 'gutter':
        return this.#pool(path, pools.get(route.pool)!, route.maxTtl);
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
        const children = route.pools.map((p) => this.#pool(`${path}.pools.${p}`, pools.get(p)!, undefined));
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
        return new MigrateNode(
          path,
          sub(route.from, `${path}.from`),
          sub(route.to, `${path}.to`),
          route.start,
          route.duration,
          this.#counters(path, 'migrate'),
          this.#host,
          (job) => this.#background(job),
          Date.now,
        );
    }
  }
}
