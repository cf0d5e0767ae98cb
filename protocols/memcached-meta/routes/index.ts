/**
 * Routes: several pools and a tree that decides, per key and per command, which of them see a
 * request (failover to a gutter pool, replication, shadow traffic, warming a cold pool…). See
 * docs/routes.md for what each command does under each route.
 */
import { byPrefix, failover, gutter, migrate, pool, replicated, shadow, warmUp } from './tree.js';

/** The route constructors: each returns plain, JSON-serializable data, validated as it is built. */
export const routes = Object.freeze({
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
export type { RouteMetrics, RouteCounters } from './router.js';
export { PartialWriteError } from './errors.js';
