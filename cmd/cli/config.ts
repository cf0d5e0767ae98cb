/**
 * `--config <file.json>`: named pools and a route tree, given to the client as its `pools` and
 * `route` options instead of `servers`. The file's shape is checked here (so a typo is a usage error
 * that names the file); the pools' and the route's contents are the client's to validate.
 */
import { readFileSync } from 'node:fs';
import { parseServers } from '../../lib/cluster.js';
import { EJECT_DEFAULTS, type EjectOptions } from '../../lib/eject.js';
import type {
  DistributionKind,
  MemcacheClientOptions,
  PoolOptions,
} from '../../protocols/memcached-meta/index.js';
import { UsageError, type GlobalOptions } from './argv.js';

/** What a config file holds, as the client takes it. */
export interface RouteConfig {
  file: string;
  pools: Readonly<Record<string, PoolOptions>>;
  route: MemcacheClientOptions['route'];
}

/** One pool as the commands show it. */
export interface PoolInfo {
  /** `host:port` of each server, as the client names them. */
  servers: string[];
  /** The distribution's name (`custom` for a function). */
  distribution: string;
  /** Auto-eject with its defaults filled in, or undefined when off. */
  eject: EjectOptions | undefined;
}

const FIELDS = new Set(['pools', 'route']);

/** Reads and checks the file; throws {@link UsageError} naming it. */
export function readConfig(file: string): RouteConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `--config: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--config: ${file} is not JSON (${(err as Error).message})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new UsageError(`--config: ${file} must hold an object { "pools": { … }, "route": … }`);
  }
  const o = data as Record<string, unknown>;
  for (const field of Object.keys(o)) {
    if (!FIELDS.has(field))
      throw new UsageError(`--config: ${file}: unknown field "${field}" (pools, route)`);
  }
  const pools = o.pools;
  if (typeof pools !== 'object' || pools === null || Array.isArray(pools)) {
    throw new UsageError(`--config: ${file}: "pools" must be an object { name: servers | { servers, … } }`);
  }
  return {
    file,
    pools: pools as Record<string, PoolOptions>,
    route: o.route as MemcacheClientOptions['route'],
  };
}

/**
 * Each pool's servers, distribution and eject settings, in the file's order. Call it once the
 * client accepted the config: the pools are valid by then.
 */
export function describePools(config: RouteConfig, distribution: DistributionKind): Map<string, PoolInfo> {
  const out = new Map<string, PoolInfo>();
  for (const [name, pool] of Object.entries(config.pools)) {
    const full = typeof pool === 'string' || Array.isArray(pool) ? { servers: pool } : pool;
    const given = full as Exclude<PoolOptions, string | readonly unknown[]>;
    out.set(name, {
      servers: parseServers(given.servers).map((a) => a.address),
      distribution: kindName(given.distribution ?? distribution),
      eject: given.eject === undefined ? undefined : { ...EJECT_DEFAULTS, ...given.eject },
    });
  }
  return out;
}

/** The names of the pools `server` is in. */
export function poolsOf(pools: ReadonlyMap<string, PoolInfo>, server: string): string[] {
  return [...pools].filter(([, p]) => p.servers.includes(server)).map(([name]) => name);
}

/** ` (main,gutter)` after a server's address with `--config`; nothing without. */
export function poolLabel(global: GlobalOptions, server: string): string {
  return global.pools === undefined ? '' : ` (${poolsOf(global.pools, server).join(',')})`;
}

function kindName(kind: DistributionKind): string {
  return typeof kind === 'string' ? kind : 'custom';
}
