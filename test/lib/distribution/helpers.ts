/** Shared by the distribution tests: server lists, key sets and the golden vectors. */
import { readFileSync } from 'node:fs';
import type { ServerAddress } from '../../../lib/backend.js';
import type { Distribution } from '../../../lib/distribution/index.js';

/** A server from `"host:port"` (the last colon splits), as the cluster would parse it. */
export function server(address: string, weight = 1): ServerAddress {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)), weight, address };
}

/** `count` servers on 127.0.0.1 from port `first` up, weights 1 unless given. */
export function servers(count: number, weights: readonly number[] = [], first = 11211): ServerAddress[] {
  return Array.from({ length: count }, (_, i) => server(`127.0.0.1:${first + i}`, weights[i] ?? 1));
}

/** Deterministic keys of a few shapes (ids, prefixed ids, UTF-8). */
export function keys(count: number, prefix = 'key'): string[] {
  return Array.from({ length: count }, (_, i) =>
    i % 10 === 9 ? `${prefix}:ключ-${i}` : i % 3 === 0 ? `${i * 7919}` : `${prefix}:${i}`,
  );
}

/** How many of `keys` each server gets, by address. */
export function spread(
  dist: Distribution,
  list: readonly ServerAddress[],
  keyList: readonly string[],
): Map<string, number> {
  const counts = new Map<string, number>(list.map((s) => [s.address, 0]));
  for (const key of keyList) {
    const address = list[dist.pick(key)].address;
    counts.set(address, (counts.get(address) ?? 0) + 1);
  }
  return counts;
}

/** key → address of its server. */
export function placement(
  dist: Distribution,
  list: readonly ServerAddress[],
  keyList: readonly string[],
): Map<string, string> {
  return new Map(keyList.map((key) => [key, list[dist.pick(key)].address]));
}

/** One set of `test/fixtures/ketama/vectors.json`. */
export interface VectorSet {
  name: string;
  distribution: 'ketama' | 'modula';
  /** `pylibmc` (recorded from live memcached) or `libmemcached` (its routing function, offline). */
  source: 'pylibmc' | 'libmemcached';
  behaviors: Record<string, unknown>;
  servers: { address: string; weight: number }[];
  spread: Record<string, number>;
  placement: Record<string, string>;
}

export interface Vectors {
  comment: string;
  sets: VectorSet[];
}

/** The golden vectors, parsed but not checked (the ketama tests check their shape). */
export function loadVectors(): Vectors {
  const url = new URL('../../fixtures/ketama/vectors.json', import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Vectors;
}

/** The servers of a vector set, in the order libmemcached was given them. */
export function vectorServers(set: VectorSet): ServerAddress[] {
  return set.servers.map((s) => server(s.address, s.weight));
}
