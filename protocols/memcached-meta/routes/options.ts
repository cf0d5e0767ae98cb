/** The client options `pools` and `route`, resolved: validated, with the servers they name. */
import { InvalidArgumentError } from '../../../lib/errors.js';
import type { DistributionKind } from '../../../lib/distribution/index.js';
import { resolvePools } from './pools.js';
import type { Routing } from './router.js';
import { checkRoute, type Route } from './tree.js';

/** Background jobs (shadow copies, back-fills) queued at most per client. */
export const MAX_BACKGROUND = 1024;

/**
 * The routing of a client given `pools` (and `route`: optional with one pool), and the server list
 * the client connects to (every pool's servers, once). Throws ERR_INVALID_ARGUMENT naming the option
 * or the path inside the route tree.
 */
export function resolveRouting(
  options: { servers?: unknown; pools?: unknown; route?: unknown; discovery?: unknown },
  distribution: DistributionKind,
): { routing: Routing; servers: readonly string[] } | undefined {
  if (options.pools === undefined) {
    if (options.route !== undefined) throw new InvalidArgumentError('route needs pools');
    return undefined;
  }
  if (options.servers !== undefined) {
    throw new InvalidArgumentError('give servers (one pool) or pools, not both');
  }
  if (options.discovery !== undefined) {
    throw new InvalidArgumentError('discovery changes one server list: it does not apply to pools');
  }
  const { pools, servers } = resolvePools(options.pools, distribution);
  let given = options.route;
  if (given === undefined) {
    if (pools.size > 1) throw new InvalidArgumentError('route is required with more than one pool');
    given = { type: 'pool', pool: pools.keys().next().value! };
  }
  const route: Route = checkRoute(given, 'route', new Set(pools.keys()));
  return { routing: { pools, route, maxBackground: MAX_BACKGROUND }, servers };
}
