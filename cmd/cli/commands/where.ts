/**
 * `where`: which server each key maps to. No request is sent.
 */
import type { Command } from '../command.js';
import { Exit, table } from '../output.js';

export const where: Command = {
  name: 'where',
  synopsis: '<key>…',
  summary: 'which server holds each key',
  description: `Prints the server each key maps to under the configured --distribution and server list, as
the client computes it (\`client.serverFor\`); nothing is sent to the servers. Other clients agree when they
use the same distribution and the same list, in the same order (ketama: the same weights).`,
  options: {},
  arity: { min: 1, max: Infinity },
  run({ client, global, args, out }) {
    const keys = args.map((key) => ({ key, server: client.serverFor(key) }));
    out.result({ distribution: global.distribution, servers: global.servers, keys }, () =>
      table(
        ['key', 'server'],
        keys.map((k) => [k.key, k.server]),
      ),
    );
    return Promise.resolve(Exit.OK);
  },
};
