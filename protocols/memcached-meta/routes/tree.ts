/**
 * The route tree as data: each constructor returns a plain, JSON-serializable object, so a tree can
 * be written in code or loaded from a file; {@link checkRoute} validates either form and names the
 * path inside the tree of anything wrong (`route.default.children[1]: unknown pool "x"`).
 */
import { InvalidArgumentError } from '../../../lib/errors.js';

/** Hash the key into a pool. */
export interface PoolRoute {
  readonly type: 'pool';
  readonly pool: string;
}

/** A pool whose writes have their TTL clamped to `maxTtl` seconds. */
export interface GutterRoute {
  readonly type: 'gutter';
  readonly pool: string;
  readonly maxTtl: number;
}

/** The next child on a connection, timeout or breaker error (and on a miss with `onMiss`). */
export interface FailoverRoute {
  readonly type: 'failover';
  readonly children: readonly Route[];
  readonly maxTries: number;
  readonly onMiss: boolean;
  /** ms one try may take before the next child is asked; absent: the call's remaining time split evenly. */
  readonly attemptTimeout?: number | undefined;
}

/** Writes to every pool, reads from the first healthy one or the fastest. */
export interface ReplicatedRoute {
  readonly type: 'replicated';
  readonly pools: readonly string[];
  readonly write: 'all' | 'majority';
  readonly read: 'first' | 'fastest';
}

/** The answer from `primary`; a fraction of keys also go to `target`, whose outcome is only counted. */
export interface ShadowRoute {
  readonly type: 'shadow';
  readonly primary: Route;
  readonly target: Route;
  readonly fraction: number;
}

/** A read that misses on `cold` is filled from `warm`, with the same remaining TTL and flags. */
export interface WarmUpRoute {
  readonly type: 'warmUp';
  readonly cold: Route;
  readonly warm: Route;
}

/**
 * Each key moves from `from` to `to` at a moment its hash fixes inside [start, start + duration):
 * before it the key's reads and writes go to `from`, after it to `to`, where a read's miss inside
 * the window is filled from `from`; deletes go to both during the window.
 */
export interface MigrateRoute {
  readonly type: 'migrate';
  readonly from: Route;
  readonly to: Route;
  /** ms since the epoch (a hand-written tree may give an ISO 8601 string: it is parsed). */
  readonly start: number;
  /** ms. */
  readonly duration: number;
}

/** The route of the longest matching key prefix, else `default`. */
export interface PrefixRoute {
  readonly type: 'byPrefix';
  readonly prefixes: Readonly<Record<string, Route>>;
  readonly default: Route;
}

/** A node of the route tree. */
export type Route =
  | PoolRoute
  | GutterRoute
  | FailoverRoute
  | ReplicatedRoute
  | ShadowRoute
  | WarmUpRoute
  | MigrateRoute
  | PrefixRoute;

/** A route, or a pool name standing for `pool(name)`. */
export type RouteLike = Route | string;

/** Options of {@link failover}. */
export interface FailoverOptions {
  /** Children tried at most, the primary included. @default every child */
  maxTries?: number;
  /** Also try the next child when a read misses. @default false */
  onMiss?: boolean;
  /**
   * ms one try may take before the next child is asked (the whole failover still settles within the
   * call's timeout). @default the call's remaining time split evenly over the tries left
   */
  attemptTimeout?: number;
}

/** Options of {@link replicated}. */
export interface ReplicatedOptions {
  /** A write succeeds when every pool (`'all'`) or more than half (`'majority'`) stored it. @default 'all' */
  write?: 'all' | 'majority';
  /** Reads ask the pools in order until one answers (`'first'`), or all at once (`'fastest'`). @default 'first' */
  read?: 'first' | 'fastest';
}

const fail = (path: string, what: string): never => {
  throw new InvalidArgumentError(`${path}: ${what}`);
};

/** `pool(name)`: hash the key into that pool. */
export function pool(name: string): PoolRoute {
  return checkRoute({ type: 'pool', pool: name }, 'pool') as PoolRoute;
}

/** `gutter(pool, { maxTtl })`: a pool whose writes' TTLs are clamped to `maxTtl` seconds. */
export function gutter(name: string, options: { maxTtl: number }): GutterRoute {
  const o = (options ?? {}) as Partial<{ maxTtl: number }>;
  return checkRoute({ type: 'gutter', pool: name, maxTtl: o.maxTtl }, 'gutter') as GutterRoute;
}

/**
 * `failover(primary, ...fallbacks, options?)`: the next child on ERR_CONNECTION, ERR_TIMEOUT or
 * ERR_CIRCUIT_OPEN (and on a read's miss with `onMiss`); the last options object may be left out.
 */
export function failover(...args: (RouteLike | FailoverOptions)[]): FailoverRoute {
  const last = args.at(-1);
  const hasOptions = isPlainObject(last) && !('type' in last);
  const o = (hasOptions ? last : {}) as FailoverOptions;
  const children = (hasOptions ? args.slice(0, -1) : args).map((c) => toRoute(c as RouteLike));
  return checkRoute({ type: 'failover', children, ...defined(o) }, 'failover') as FailoverRoute;
}

/** `replicated(pools, { write, read })`. */
export function replicated(pools: readonly string[], options: ReplicatedOptions = {}): ReplicatedRoute {
  return checkRoute({ type: 'replicated', pools, ...defined(options) }, 'replicated') as ReplicatedRoute;
}

/** `shadow(primary, target, { fraction })`: `fraction` (0–1) of the keys is copied to `target`. @default fraction 1 */
export function shadow(
  primary: RouteLike,
  target: RouteLike,
  options: { fraction?: number } = {},
): ShadowRoute {
  const route = { type: 'shadow', primary: toRoute(primary), target: toRoute(target), ...defined(options) };
  return checkRoute(route, 'shadow') as ShadowRoute;
}

/** `warmUp({ cold, warm })`. */
export function warmUp(options: { cold: RouteLike; warm: RouteLike }): WarmUpRoute {
  const o = (options ?? {}) as Partial<{ cold: RouteLike; warm: RouteLike }>;
  const route = { type: 'warmUp', cold: toRoute(o.cold), warm: toRoute(o.warm) };
  return checkRoute(route, 'warmUp') as WarmUpRoute;
}

/**
 * `migrate({ from, to, start, duration })`: each key moves from `from` to `to` at
 * `start + unit(key) × duration` (`unit`: the key's hash in [0, 1)). After its moment a read that
 * misses on `to` is read from `from` and added to `to` with the same remaining TTL and flags; deletes
 * go to both pools for the whole window; writes and CAS go to the key's owner only. `start` is a
 * `Date`, an ISO 8601 string or ms since the epoch (the clients' clocks should agree), `duration` in
 * ms.
 */
export function migrate(options: {
  from: RouteLike;
  to: RouteLike;
  start: Date | number | string;
  duration: number;
}): MigrateRoute {
  const o = (options ?? {}) as Partial<{
    from: RouteLike;
    to: RouteLike;
    start: Date | number | string;
    duration: number;
  }>;
  const route = {
    type: 'migrate',
    from: toRoute(o.from),
    to: toRoute(o.to),
    start: o.start,
    duration: o.duration,
  };
  return checkRoute(route, 'migrate') as MigrateRoute;
}

/** `byPrefix({ 'prefix:': route, …, default: route })`: the longest matching prefix wins. */
export function byPrefix(table: Record<string, RouteLike>): PrefixRoute {
  if (!isPlainObject(table)) fail('byPrefix', 'takes an object of prefix → route with a `default`');
  const prefixes: Record<string, Route> = {};
  for (const [prefix, child] of Object.entries(table)) {
    if (prefix !== 'default') prefixes[prefix] = toRoute(child);
  }
  const route = { type: 'byPrefix', prefixes, default: toRoute(table.default) };
  return checkRoute(route, 'byPrefix') as PrefixRoute;
}

function toRoute(value: RouteLike | undefined): Route {
  return (typeof value === 'string' ? { type: 'pool', pool: value } : value) as Route;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The fields of an options object that are not undefined (so that defaults apply to the others). */
function defined(o: object | undefined): Record<string, unknown> {
  if (!isPlainObject(o)) return {};
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

const KEYS: Record<Route['type'], readonly string[]> = {
  pool: ['type', 'pool'],
  gutter: ['type', 'pool', 'maxTtl'],
  failover: ['type', 'children', 'maxTries', 'onMiss', 'attemptTimeout'],
  replicated: ['type', 'pools', 'write', 'read'],
  shadow: ['type', 'primary', 'target', 'fraction'],
  warmUp: ['type', 'cold', 'warm'],
  migrate: ['type', 'from', 'to', 'start', 'duration'],
  byPrefix: ['type', 'prefixes', 'default'],
};

/**
 * Validates a route tree, written by the constructors or by hand (JSON), and returns it complete: a
 * pool name stands for `pool(name)`, and a field left out takes the default its constructor gives
 * it (failover: `maxTries` every child, `onMiss` false; replicated: `write` 'all', `read` 'first';
 * shadow: `fraction` 1; byPrefix: `prefixes` none). With `pools`, every pool it names must be one
 * of them. Throws ERR_INVALID_ARGUMENT naming the path of the first thing wrong. The value given is
 * not changed.
 */
export function checkRoute(value: unknown, path: string, pools?: ReadonlySet<string>): Route {
  if (typeof value === 'string') value = { type: 'pool', pool: value };
  if (!isPlainObject(value)) return fail(path, 'must be a route (pool(), failover(), …) or a pool name');
  const type = value.type as Route['type'];
  if (typeof type !== 'string' || !Object.hasOwn(KEYS, type)) {
    return fail(
      path,
      value.type === undefined
        ? `needs a "type" (${Object.keys(KEYS).join(', ')}) or must be a pool name`
        : `unknown route type ${JSON.stringify(value.type)}`,
    );
  }
  for (const name of Object.keys(value)) {
    if (!KEYS[type].includes(name)) fail(path, `unknown field "${name}" of a ${type} route`);
  }
  // An unknown pool is blamed on the node that names it (`route.default: unknown pool "x"`).
  const poolName = (name: unknown, at: string, node = at): string => {
    if (typeof name !== 'string' || name === '')
      fail(at, name === undefined ? 'is required' : 'must be a pool name');
    if (pools !== undefined && !pools.has(name as string)) fail(node, `unknown pool "${String(name)}"`);
    return name as string;
  };
  const child = (field: string): Route => {
    if (value[field] === undefined) fail(`${path}.${field}`, 'is required');
    return checkRoute(value[field], `${path}.${field}`, pools);
  };
  switch (type) {
    case 'pool':
      return { type, pool: poolName(value.pool, `${path}.pool`, path) };
    case 'gutter': {
      const name = poolName(value.pool, `${path}.pool`, path);
      const t = value.maxTtl;
      if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 2_592_000) {
        fail(
          `${path}.maxTtl`,
          `${t === undefined ? 'is required: ' : 'must be '}an integer number of seconds from 1 to 2592000 (30 days)`,
        );
      }
      return { type, pool: name, maxTtl: t as number };
    }
    case 'failover': {
      const list = value.children;
      if (!Array.isArray(list) || list.length < 2) fail(`${path}.children`, 'needs at least two routes');
      const children = (list as unknown[]).map((c, i) => checkRoute(c, `${path}.children[${i}]`, pools));
      const n = value.maxTries ?? children.length;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
        fail(`${path}.maxTries`, 'must be an integer ≥ 1');
      const onMiss = value.onMiss ?? false;
      if (typeof onMiss !== 'boolean') fail(`${path}.onMiss`, 'must be true or false');
      const a = value.attemptTimeout;
      if (a !== undefined && (typeof a !== 'number' || !(a > 0) || !Number.isFinite(a))) {
        fail(`${path}.attemptTimeout`, 'must be a positive number of ms');
      }
      const route: FailoverRoute = { type, children, maxTries: n as number, onMiss: onMiss as boolean };
      return a === undefined ? route : { ...route, attemptTimeout: a as number };
    }
    case 'replicated': {
      const list = value.pools;
      if (!Array.isArray(list) || list.length < 2) fail(`${path}.pools`, 'needs at least two pool names');
      const names = (list as unknown[]).map((p, i) => poolName(p, `${path}.pools[${i}]`));
      if (new Set(names).size !== names.length) fail(`${path}.pools`, 'names a pool twice');
      const write = value.write ?? 'all';
      const read = value.read ?? 'first';
      if (write !== 'all' && write !== 'majority') fail(`${path}.write`, "must be 'all' or 'majority'");
      if (read !== 'first' && read !== 'fastest') fail(`${path}.read`, "must be 'first' or 'fastest'");
      return { type, pools: names, write: write as 'all', read: read as 'first' };
    }
    case 'shadow': {
      const primary = child('primary');
      const target = child('target');
      const f = value.fraction ?? 1;
      if (typeof f !== 'number' || !(f >= 0 && f <= 1))
        fail(`${path}.fraction`, 'must be a number from 0 to 1');
      return { type, primary, target, fraction: f as number };
    }
    case 'warmUp':
      return { type, cold: child('cold'), warm: child('warm') };
    case 'migrate': {
      const from = child('from');
      const to = child('to');
      const start = instant(value.start);
      if (start === undefined) {
        fail(
          `${path}.start`,
          `${value.start === undefined ? 'is required: ' : 'must be '}a Date, an ISO 8601 date or ms since the epoch`,
        );
      }
      const d = value.duration;
      if (typeof d !== 'number' || !(d > 0) || !Number.isFinite(d)) {
        fail(`${path}.duration`, `${d === undefined ? 'is required: ' : 'must be '}a positive number of ms`);
      }
      return { type, from, to, start: start!, duration: d as number };
    }
    case 'byPrefix': {
      const given = value.prefixes ?? {};
      if (!isPlainObject(given)) fail(`${path}.prefixes`, 'must be an object of prefix → route');
      const prefixes: Record<string, Route> = {};
      for (const [prefix, c] of Object.entries(given)) {
        if (prefix === '') fail(`${path}.prefixes`, 'an empty prefix matches every key: use `default`');
        prefixes[prefix] = checkRoute(c, `${path}.prefixes[${JSON.stringify(prefix)}]`, pools);
      }
      return { type, prefixes, default: child('default') };
    }
  }
}

/** ms since the epoch of a `Date`, an ISO 8601 string or a number; undefined when none of them. */
function instant(value: unknown): number | undefined {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : value;
  return typeof ms === 'number' && Number.isFinite(ms) ? ms : undefined;
}
