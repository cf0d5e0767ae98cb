/**
 * Routes: several pools and a tree that decides, per key and per command, which of them see a
 * request (failover to a gutter pool, replication, shadow traffic, warming a cold pool, moving keys
 * to a new pool…). See docs/routes.md for what each command does under each route.
 */
import { byPrefix, failover, gutter, migrate, pool, replicated, shadow, warmUp } from './tree.js';

/** The route constructors, as {@link routes} holds them. */
export interface RouteConstructors {
  /** Hash the key into a pool. */
  readonly pool: typeof pool;
  /** The next child on a connection, timeout or breaker error (and on a miss with `onMiss`). */
  readonly failover: typeof failover;
  /** A pool whose writes' TTLs are clamped to `maxTtl` seconds. */
  readonly gutter: typeof gutter;
  /** Writes to every pool, reads from the first healthy one or the fastest. */
  readonly replicated: typeof replicated;
  /**
   * Each key moves from one route to another at a moment its hash fixes inside a window; after it, a
   * miss on the new route is filled from the old one.
   */
  readonly migrate: typeof migrate;
  /** The answer from the primary; a fraction of the keys is copied to a target, only counted. */
  readonly shadow: typeof shadow;
  /** A cold miss filled from warm with the same remaining TTL and flags. */
  readonly warmUp: typeof warmUp;
  /** The route of the longest matching key prefix. */
  readonly byPrefix: typeof byPrefix;
}

/** The route constructors: each returns plain, JSON-serializable data, validated as it is built. */
export const routes: RouteConstructors = Object.freeze({
  pool,
  failover,
  gutter,
  replicated,
  migrate,
  shadow,
  warmUp,
  byPrefix,
});

export { checkRoute } from './tree.js';
export type {
  Route,
  RouteLike,
  PoolRoute,
  GutterRoute,
  FailoverRoute,
  FailoverOptions,
  ReplicatedRoute,
  ReplicatedOptions,
  ShadowRoute,
  WarmUpRoute,
  MigrateRoute,
  PrefixRoute,
} from './tree.js';
export type { PoolOptions } from './pools.js';
export type { EjectChange, EjectOptions, EjectStats } from '../../../lib/eject.js';
export type { RouteMetrics, RouteCounters } from './router.js';
export { PartialWriteError } from './errors.js';
