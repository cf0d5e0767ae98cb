/**
 * `pools`: the pools of `--config`, their settings and ejected servers, and the route tree's
 * counters. Nothing is sent to the servers.
 */
import { UsageError } from '../argv.js';
import type { Command } from '../command.js';
import { Exit, table } from '../output.js';

/** The counters beside `answeredBy`, in the order the table shows them. */
const COUNTERS = [
  'failovers',
  'missFailovers',
  'partialWrites',
  'shadowSent',
  'shadowErrors',
  'warmHits',
  'fallbacks',
  'backfills',
  'backfillErrors',
  'cancelledBackfills',
  'dropped',
] as const;

export const pools: Command = {
  name: 'pools',
  synopsis: '',
  summary: 'the pools and route of --config',
  description: `Prints each pool of --config: its servers, distribution, auto-eject settings and the servers
ejected now, then each node of the route tree (by its path, \`route.default.children[1]\`) with its
counters (\`client.routeMetrics\`): which child answered, failovers, partial writes… Each memline run is a
new client, so the counters and ejections are this run's (zero: pools sends nothing). With --json:
{ pools: { name: { servers, distribution, eject, ejected } }, routes: { path: counters } }.`,
  options: {},
  arity: { min: 0, max: 0 },
  run({ client, global, out }) {
    if (global.pools === undefined) {
      throw new UsageError('pools shows the pools of --config; with --servers there is one server list');
    }
    const metrics = client.routeMetrics;
    const ejects = metrics?.ejects ?? {};
    const routes = metrics?.routes ?? {};
    const list = Object.fromEntries(
      [...global.pools].map(([name, p]) => [
        name,
        { ...p, eject: p.eject ?? null, ejected: ejects[name]?.ejected ?? [] },
      ]),
    );
    out.result({ pools: list, routes }, () => {
      const poolRows = Object.entries(list).map(([name, p]) => [
        name,
        p.servers.join(','),
        p.distribution,
        p.eject === null ? 'off' : `after ${p.eject.after}, probe ${p.eject.probeInterval} ms`,
        p.ejected.join(',') || 'none',
      ]);
      const routeRows = Object.entries(routes).map(([path, c]) => [
        path,
        c.type,
        Object.entries(c.answeredBy)
          .map(([child, n]) => `${child}=${n}`)
          .join(' ') || 'none',
        COUNTERS.filter((k) => c[k] > 0)
          .map((k) => `${k}=${c[k]}`)
          .join(' ') || 'none',
      ]);
      return [
        table(['pool', 'servers', 'distribution', 'eject', 'ejected'], poolRows),
        table(['route', 'type', 'answered by', 'counters'], routeRows),
      ].join('\n\n');
    });
    return Promise.resolve(Exit.OK);
  },
};
