/**
 * The `pools` option: named server lists, each hashed on its own. The client keeps one connection
 * set per server address (a server named by two pools is one server, with one set of CAS tokens),
 * and each pool is a ring over its own servers.
 */
import type { ServerAddress } from '../../../lib/backend.js';
import { parseServers, type ServerSpec } from '../../../lib/cluster.js';
import {
  createDistribution,
  type Distribution,
  type DistributionKind,
} from '../../../lib/distribution/index.js';
import { InvalidArgumentError } from '../../../lib/errors.js';
import { resolveDistribution } from '../../../lib/kit/index.js';

/** One pool: its servers, or `{ servers, distribution }`. */
export type PoolOptions =
  | readonly ServerSpec[]
  | string
  | {
      /** The pool's servers, as the client's `servers` option takes them. */
      servers: readonly ServerSpec[] | string;
      /** How keys map to the pool's servers. @default the client's `distribution` */
      distribution?: DistributionKind;
    };

/** A pool resolved: its servers in order and its ring. */
export interface ResolvedPool {
  readonly name: string;
  readonly addresses: readonly ServerAddress[];
  readonly distribution: Distribution;
}

/** The pools by name and the client's server list: every address of every pool, once. */
export interface ResolvedPools {
  readonly pools: ReadonlyMap<string, ResolvedPool>;
  readonly servers: readonly string[];
}

/** Validates `pools`; throws ERR_INVALID_ARGUMENT naming `pools.<name>`. */
export function resolvePools(given: unknown, fallback: DistributionKind): ResolvedPools {
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new InvalidArgumentError('pools must be an object of pool name → servers');
  }
  const pools = new Map<string, ResolvedPool>();
  const servers = new Set<string>();
  for (const [name, spec] of Object.entries(given as Record<string, unknown>)) {
    const path = `pools.${name}`;
    const o =
      typeof spec === 'string' || Array.isArray(spec)
        ? { servers: spec as readonly ServerSpec[] }
        : (spec as { servers?: unknown; distribution?: unknown } | null);
    if (typeof o !== 'object' || o === null) {
      throw new InvalidArgumentError(`${path}: must be a server list or { servers, distribution }`);
    }
    for (const field of Object.keys(o)) {
      if (field !== 'servers' && field !== 'distribution') {
        throw new InvalidArgumentError(`${path}: unknown option "${field}"`);
      }
    }
    let addresses: ServerAddress[];
    let distribution: Distribution;
    try {
      addresses = parseServers(o.servers as readonly ServerSpec[]);
      distribution = createDistribution(resolveDistribution(o.distribution ?? fallback), addresses);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new InvalidArgumentError(`${path}: ${err.message}`);
      throw err;
    }
    for (const a of addresses) servers.add(a.address);
    pools.set(name, { name, addresses, distribution });
  }
  if (pools.size === 0) throw new InvalidArgumentError('pools: at least one pool is required');
  return { pools, servers: [...servers] };
}
