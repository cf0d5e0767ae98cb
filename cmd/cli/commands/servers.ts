/**
 * Commands sent to every server: stats, version, flush. Servers that fail are reported on stderr
 * (exit status 3); the answers of the others are still printed.
 */
import type { MemlineError } from '../../../protocols/memcached-meta/index.js';
import { integer, UsageError } from '../argv.js';
import type { Command } from '../command.js';
import { poolLabel, poolsOf } from '../config.js';
import { Exit, table, type ExitCode, type Output } from '../output.js';
import { askEach, errorsJson, only } from '../per-server.js';

/** The groups `stats <group>` takes from memcached 1.6 (extstore only on a server built with it). */
export const STATS_GROUPS = ['settings', 'items', 'slabs', 'sizes', 'conns', 'extstore'] as const;

export const stats: Command = {
  name: 'stats',
  synopsis: '[group]',
  summary: "each server's statistics",
  description: `Prints each server's \`stats\` (or \`stats <group>\`: ${STATS_GROUPS.join(', ')})
as a table per server. With --json: { group, servers: { "host:port": { name: value } }, errors }, the
values as memcached sent them (strings).`,
  options: {},
  arity: { min: 0, max: 1 },
  async run({ client, global, args: [group], out }) {
    if (group !== undefined && !(STATS_GROUPS as readonly string[]).includes(group)) {
      throw new UsageError(`unknown stats group "${group}": ${STATS_GROUPS.join(', ')}`);
    }
    const { results, errors } = await askEach(client, global.servers, async (o) =>
      only(await client.stats(group, o)),
    );
    out.result(
      { group: group ?? null, servers: Object.fromEntries(results), errors: errorsJson(errors) },
      () =>
        [...results]
          .map(
            ([server, s]) =>
              `── ${server}${poolLabel(global, server)}\n${table(['stat', 'value'], Object.entries(s))}`,
          )
          .join('\n\n'),
    );
    return reportErrors(out, errors);
  },
};

export const version: Command = {
  name: 'version',
  synopsis: '',
  summary: "each server's memcached version",
  description: `Prints the version of memcached each server runs (\`memline --version\` is memline's own).`,
  options: {},
  arity: { min: 0, max: 0 },
  async run({ client, global, out }) {
    const { results, errors } = await askEach(client, global.servers, async (o) =>
      only(await client.version(o)),
    );
    const pools = global.pools;
    out.result({ servers: Object.fromEntries(results), errors: errorsJson(errors) }, () =>
      table(
        pools === undefined ? ['server', 'version'] : ['server', 'pools', 'version'],
        global.servers.map((s) => [
          s,
          ...(pools === undefined ? [] : [poolsOf(pools, s).join(',')]),
          results.get(s) ?? `(${errors.get(s)?.code ?? 'no answer'})`,
        ]),
      ),
    );
    return reportErrors(out, errors);
  },
};

export const flush: Command = {
  name: 'flush',
  writes: true,
  synopsis: '--yes',
  summary: 'invalidate every item on every server',
  description: `Sends flush_all to every server: every item on them is gone (after --delay seconds).
Refuses to run without --yes.`,
  options: {
    delay: { type: 'string', arg: 's', description: 'flush after this many seconds (default 0: now)' },
    yes: { type: 'boolean', description: 'really flush' },
  },
  arity: { min: 0, max: 0 },
  async run({ client, global, flags, out }) {
    const delay = flags.delay === undefined ? 0 : integer('--delay', flags.delay as string, 0, 2 ** 31 - 1);
    if (flags.yes !== true) {
      throw new UsageError(
        `flush invalidates every item on ${global.servers.join(', ')}: add --yes to do it`,
      );
    }
    const { results, errors } = await askEach(client, global.servers, (o) => client.flushAll(delay, o));
    const when = delay === 0 ? 'now' : `in ${delay} s`;
    out.result({ flushed: [...results.keys()], delay, errors: errorsJson(errors) }, () =>
      [...results.keys()].map((s) => `flushed ${s} (${when})`).join('\n'),
    );
    return reportErrors(out, errors);
  },
};

/** Prints each server's error on stderr; exit status 3 if there was any. */
function reportErrors(out: Output, errors: Map<string, MemlineError>): ExitCode {
  for (const [server, err] of errors) {
    out.error(err.code, err.message, server, err.mayHaveExecuted ? { mayHaveExecuted: true } : {});
  }
  return errors.size === 0 ? Exit.OK : Exit.ERROR;
}
