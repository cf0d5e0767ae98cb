/**
 * `where`: which server each key maps to. No request is sent.
 */
import type { Command } from '../command.js';
import { poolsOf } from '../config.js';
import { Exit, table } from '../output.js';

export const where: Command = {
  name: 'where',
  synopsis: '<key>…',
  summary: 'which server holds each key',
  description: `Prints the server each key maps to under the configured --distribution and server list, as
the client computes it (\`client.serverFor\`); nothing is sent to the servers. Other clients agree when they
use the same distribution and the same list, in the same order (ketama: the same weights).

With --config, the server is the key's home: its server in the first child of its route (failover: the
primary; replicated: the first pool; warmUp: cold; migrate: the owner now), with the pools that server is
in. A failover or a replicated read may be answered elsewhere; that is only known when it happens.`,
  options: {},
  arity: { min: 1, max: Infinity },
  run({ client, global, args, out }) {
    const pools = global.pools;
    const keys = args.map((key) => {
      const server = client.serverFor(key);
      return pools === undefined ? { key, server } : { key, server, pools: poolsOf(pools, server) };
    });
    out.result({ distribution: global.distribution, servers: global.servers, keys }, () => {
      if (pools === undefined)
        return table(
          ['key', 'server'],
          keys.map((k) => [k.key, k.server]),
        );
      return `${table(
        ['key', 'pool', 'home server'],
        keys.map((k) => [k.key, k.pools?.join(',') ?? '', k.server]),
      )}\n(the home server: where the route sends the key first)`;
    });
    return Promise.resolve(Exit.OK);
  },
};
