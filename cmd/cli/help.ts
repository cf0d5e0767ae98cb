/**
 * The help texts, rendered from the command table and the option tables.
 */
import { DEFAULT_SERVER, GLOBAL_OPTIONS, type OptionTable } from './argv.js';
import type { Command } from './command.js';
import { COMMANDS } from './commands/index.js';

const EXIT_STATUSES = `exit status:
  0  success
  1  not found (a miss, a key to delete, touch or increment that is not there)
  2  usage or data error: a bad command line or argument (help on stderr), or a
     value incr/decr cannot count (ERR_NOT_NUMERIC)
  3  server or connection error (its code and message on stderr); for a command that
     writes, a timeout or a lost connection after sending says the write may have been made`;

export function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => `${c.name} ${c.synopsis}`.length));
  const commands = COMMANDS.map((c) => `  ${`${c.name} ${c.synopsis}`.padEnd(width)}  ${c.summary}`);
  return `memline: a command-line client for memcached (meta protocol)

usage: memline [options] <command> [arguments]

commands:
${commands.join('\n')}

options (before or after the command):
${optionLines(GLOBAL_OPTIONS)}

servers: host:port, [ipv6]:port, or either with *weight for ketama (10.0.0.1:11211*2 gets twice
the keys of a server of weight 1), comma-separated

--config file.json: pools and a route tree instead of --servers (not with --servers or
MEMLINE_SERVERS), as the client's pools and route options take them (docs/routes.md), e.g.
  { "pools": { "main": ["10.0.0.1:11211", "10.0.0.2:11211"],
               "spare": { "servers": ["10.0.1.1:11211"], "distribution": "jump", "eject": { "after": 3 } } },
    "route": { "type": "failover", "children": ["main", "spare"], "maxTries": 2, "onMiss": false } }
"route" may be left out with one pool. Commands go through the route; stats, version and ping
name each server's pools; where prints a key's pool and home server; pools shows the pools and
the route's counters. A file memline cannot read or a route the client refuses is a usage error.

environment:
  MEMLINE_SERVERS   the servers when --servers is not given (else ${DEFAULT_SERVER})
  MEMLINE_USERNAME  the -Y username when --username is not given
  MEMLINE_PASSWORD  the -Y password when --password is not given (keeps it out of ps)
  MEMLINE_DEBUG=1   print stack traces with errors

${EXIT_STATUSES}`;
}

export function commandHelp(c: Command): string {
  const own = Object.keys(c.options).length === 0 ? '' : `options:\n${optionLines(c.options)}\n\n`;
  return `usage: memline ${c.name}${c.synopsis === '' ? '' : ` ${c.synopsis}`}${Object.keys(c.options).length > 0 ? ' [options]' : ''}

${c.summary[0].toUpperCase()}${c.summary.slice(1)}.

${c.description}

${own}global options: --servers host:port[*w],… | --config file.json --distribution kind --timeout ms --prefix p --tls …
--username u --json (memline --help)

${EXIT_STATUSES}`;
}

function optionLines(table: OptionTable): string {
  const indent = Object.values(table).some((o) => o.short !== undefined) ? '    ' : '';
  const left = Object.entries(table).map(
    ([name, o]) =>
      `${o.short === undefined ? indent : `-${o.short}, `}--${name}${o.arg === undefined ? '' : ` <${o.arg}>`}`,
  );
  const width = Math.max(...left.map((l) => l.length));
  return Object.values(table)
    .map((o, i) => `  ${left[i].padEnd(width)}  ${o.description}`)
    .join('\n');
}
