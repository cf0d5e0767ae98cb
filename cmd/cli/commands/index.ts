/**
 * Every command, in the order the help lists them.
 */
import type { Command } from '../command.js';
import { decr, del, get, incr, set, touch } from './items.js';
import { ping } from './ping.js';
import { pools } from './pools.js';
import { flush, stats, version } from './servers.js';
import { top } from './top.js';
import { where } from './where.js';

export const COMMANDS: readonly Command[] = [
  get,
  set,
  del,
  incr,
  decr,
  touch,
  stats,
  version,
  flush,
  ping,
  where,
  pools,
  top,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
