/**
 * Key distributions: which of a client's servers owns a key.
 *
 * - `ketama`: libmemcached's weighted ketama, key for key (pylibmc `ketama_weighted`, PHP memcached
 *   `OPT_LIBKETAMA_COMPATIBLE`). Independent of the order of the list; weights as libmemcached uses them.
 * - `jump`: jump consistent hash over FNV-1a 64. Buckets in natural address order, so independent of the
 *   order of the list; weight w = w buckets. Minimal movement when servers join or leave at the end of
 *   that order (see `jump.ts`).
 * - `modula`: one-at-a-time hash modulo the slots, in list order; weight w = w slots. With weights 1 it
 *   is libmemcached's (and PHP memcached's) default distribution.
 * - `proxy`: memcached's built-in proxy with its defaults: XXH3-64 of the key, then jump consistent
 *   hash over the servers in list order; no weights (see `proxy.ts`).
 * - a {@link DistributionFunction}: yours, validated on every call.
 *
 * Every built-in distribution hashes the key's UTF-8 bytes, the bytes memcached stores it under.
 * `pick()` runs once per request: it allocates nothing per call (keys are encoded into one shared
 * scratch buffer, ASCII keys hashed straight from the string where the hash allows).
 */
import type { ServerAddress } from '../backend.js';
import { InvalidArgumentError } from '../errors.js';
import { JumpDistribution } from './jump.js';
import { KETAMA_MAX_SERVERS, KetamaDistribution } from './ketama.js';
import { ModulaDistribution } from './modula.js';
import { ProxyDistribution } from './proxy.js';

export { JumpDistribution } from './jump.js';
export { KetamaDistribution } from './ketama.js';
export { ModulaDistribution } from './modula.js';
export { ProxyDistribution } from './proxy.js';

/** Maps keys to servers; built from a fixed server list by {@link createDistribution}. */
export interface Distribution {
  /** Index into the servers array the distribution was built from. */
  pick(key: string): number;
}

/**
 * A custom distribution: returns the index in `servers` of the server that owns `key`. It is called on
 * every request with the same frozen `servers` array; an error it throws reaches the caller as is.
 */
export type DistributionFunction = (key: string, servers: readonly ServerAddress[]) => number;

/** A built-in distribution by name, or a {@link DistributionFunction}. */
export type DistributionKind = 'ketama' | 'jump' | 'modula' | 'proxy' | DistributionFunction;

/** The largest total weight `jump` and `modula` take: one bucket or slot per unit of weight. */
export const MAX_TOTAL_WEIGHT = 2 ** 20;

/**
 * Builds the distribution `kind` over `servers`.
 *
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) when `kind` is unknown, `servers` is empty, a
 *   server has a bad host, port or weight, two servers have the same host and port, or the weights
 *   exceed what the distribution can hold.
 */
export function createDistribution(kind: DistributionKind, servers: readonly ServerAddress[]): Distribution {
  validateServers(servers);
  if (typeof kind === 'function') return new CustomDistribution(kind, servers);
  switch (kind) {
    case 'ketama':
      if (servers.length > KETAMA_MAX_SERVERS) {
        throw new InvalidArgumentError(`servers: ketama takes at most ${KETAMA_MAX_SERVERS} servers`);
      }
      return new KetamaDistribution(servers);
    case 'jump':
      checkTotalWeight(kind, servers);
      return new JumpDistribution(servers);
    case 'modula':
      checkTotalWeight(kind, servers);
      return new ModulaDistribution(servers);
    case 'proxy':
      return new ProxyDistribution(servers);
    default:
      throw new InvalidArgumentError(
        `distribution: ${JSON.stringify(kind)} is not 'ketama', 'jump', 'modula', 'proxy' or a function`,
      );
  }
}

/** Calls the user's function and holds its answer to the contract before anyone indexes with it. */
class CustomDistribution implements Distribution {
  readonly #fn: DistributionFunction;
  readonly #servers: readonly ServerAddress[];

  constructor(fn: DistributionFunction, servers: readonly ServerAddress[]) {
    this.#fn = fn;
    // A frozen copy: the function sees the list the distribution was built from, whatever the caller
    // later does to its own array, and cannot change it under the cluster.
    this.#servers = Object.freeze([...servers]);
  }

  pick(key: string): number {
    const index: unknown = this.#fn(key, this.#servers);
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= this.#servers.length) {
      throw new InvalidArgumentError(
        `distribution: the custom function returned ${describe(index)}; ` +
          `expected an integer index in [0, ${this.#servers.length})`,
      );
    }
    return index;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  if (value === null || value === undefined) return String(value);
  return `a ${typeof value}`;
}

function validateServers(servers: readonly ServerAddress[]): void {
  const given: unknown = servers;
  if (!Array.isArray(given) || given.length === 0) {
    throw new InvalidArgumentError('servers: at least one server is required');
  }
  const seen = new Set<string>();
  for (const server of servers) {
    const s: Partial<ServerAddress> | null = typeof server === 'object' ? server : null;
    if (s === null || typeof s.host !== 'string' || s.host === '' || typeof s.address !== 'string') {
      throw new InvalidArgumentError('servers: each server needs a host, a port, a weight and an address');
    }
    // Port 0: a Unix socket, whose path is the host.
    const socketPath = s.port === 0 && s.host.startsWith('/');
    if (
      !socketPath &&
      (typeof s.port !== 'number' || !Number.isInteger(s.port) || s.port < 1 || s.port > 65535)
    ) {
      throw new InvalidArgumentError(`servers: port of "${s.address}" must be an integer in 1..65535`);
    }
    // libmemcached keeps weights in a uint32_t.
    if (
      typeof s.weight !== 'number' ||
      !Number.isInteger(s.weight) ||
      s.weight < 1 ||
      s.weight > 0xffffffff
    ) {
      throw new InvalidArgumentError(`servers: weight of "${s.address}" must be an integer in 1..4294967295`);
    }
    // The same server twice would get two shares of the keys under two indexes: a configuration error.
    const id = `${s.host}\0${s.port}`;
    if (seen.has(id)) throw new InvalidArgumentError(`servers: "${s.address}" is listed twice`);
    seen.add(id);
  }
}

function checkTotalWeight(kind: 'jump' | 'modula', servers: readonly ServerAddress[]): void {
  let total = 0;
  for (const s of servers) total += s.weight;
  if (total > MAX_TOTAL_WEIGHT) {
    throw new InvalidArgumentError(
      `servers: the weights add up to ${total}; ${kind} gives a server one ${kind === 'jump' ? 'bucket' : 'slot'} ` +
        `per unit of weight and takes at most ${MAX_TOTAL_WEIGHT} (divide the weights by a common factor)`,
    );
  }
}
