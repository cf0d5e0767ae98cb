/**
 * The `pools` option: named server lists, each hashed on its own. The client keeps one connection
 * set per server address (a server named by two pools is one server, with one set of CAS tokens),
 * and each pool is a ring over its own servers.
 */
import type { ServerAddress } from '../../../lib/backend.js';
import { parseServers, type ServerSpec } from '../../../lib/cluster.js';
import { EJECT_DEFAULTS, type EjectOptions } from '../../../lib/eject.js';
import {
  createDistribution,
  type Distribution,
  type DistributionKind,
} from '../../../lib/distribution/index.js';
import { InvalidArgumentError } from '../../../lib/errors.js';
import { resolveDistribution } from '../../../lib/kit/index.js';

/** One pool: its servers, or `{ servers, distribution, eject }`. */
export type PoolOptions =
  | readonly ServerSpec[]
  | string
  | {
      /** The pool's servers, as the client's `servers` option takes them. */
      servers: readonly ServerSpec[] | string;
      /** How keys map to the pool's servers. @default the client's `distribution` */
      distribution?: DistributionKind;
      /**
       * Auto-eject: a server whose calls failed `after` times in a row (connection, timeout, breaker
       * open) leaves the ring for its own keys, which go to the pool's other servers (no other key
       * moves); it is probed every `probeInterval` ms and gets its keys back when it answers. The
       * trade-off: writes made elsewhere during the outage are not on it when it returns, so its
       * keys may read values older than the last ones written (and miss deletes made meanwhile).
       * Never the last server of the pool. See docs/routes.md. @default undefined (off)
       */
      eject?: Partial<EjectOptions>;
    };

/** A pool resolved: its servers in order and its ring. */
export interface ResolvedPool {
  readonly name: string;
  readonly addresses: readonly ServerAddress[];
  readonly distribution: Distribution;
  /** What the ring was built with (a ring over fewer servers is built the same way). */
  readonly kind: DistributionKind;
  /** Auto-eject, when on. */
  readonly eject: EjectOptions | undefined;
}

const POOL_FIELDS = new Set(['servers', 'distribution', 'eject']);

/** Validates a pool's `eject`; throws ERR_INVALID_ARGUMENT naming `<path>.eject.<field>`. */
function resolveEject(given: unknown, path: string): EjectOptions | undefined {
  if (given === undefined) return undefined;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new InvalidArgumentError(`${path}.eject: must be { after, probeInterval }`);
  }
  const o = given as Record<string, unknown>;
  for (const field of Object.keys(o)) {
    if (!(field in EJECT_DEFAULTS))
      throw new InvalidArgumentError(`${path}.eject: unknown option "${field}"`);
  }
  const after = o.after ?? EJECT_DEFAULTS.after;
  const probeInterval = o.probeInterval ?? EJECT_DEFAULTS.probeInterval;
  if (!Number.isInteger(after) || (after as number) < 1) {
    throw new InvalidArgumentError(`${path}.eject.after: must be a positive integer`);
  }
  if (!Number.isInteger(probeInterval) || (probeInterval as number) < 1) {
    throw new InvalidArgumentError(`${path}.eject.probeInterval: must be a positive integer (ms)`);
  }
  return { after: after as number, probeInterval: probeInterval as number };
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
        : (spec as { servers?: unknown; distribution?: unknown; eject?: unknown } | null);
    if (typeof o !== 'object' || o === null) {
      throw new InvalidArgumentError(`${path}: must be a server list or { servers, distribution, eject }`);
    }
    for (const field of Object.keys(o)) {
      if (!POOL_FIELDS.has(field)) {
        throw new InvalidArgumentError(`${path}: unknown option "${field}"`);
      }
    }
    let addresses: ServerAddress[];
    let distribution: Distribution;
    let kind: DistributionKind;
    try {
      addresses = parseServers(o.servers as readonly ServerSpec[]);
      kind = resolveDistribution(o.distribution ?? fallback);
      distribution = createDistribution(kind, addresses);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new InvalidArgumentError(`${path}: ${err.message}`);
      throw err;
    }
    for (const a of addresses) servers.add(a.address);
    const eject = 'eject' in o ? resolveEject(o.eject, path) : undefined;
    pools.set(name, { name, addresses, distribution, kind, eject });
  }
  if (pools.size === 0) throw new InvalidArgumentError('pools: at least one pool is required');
  return { pools, servers: [...servers] };
}
