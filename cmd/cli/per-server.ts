/**
 * Asking each server on its own, through a client per server (`Context.serverClients`): ping times
 * one server at a time, and stats, version, flush and top report each server's answer or error.
 *
 * Why not the cluster client's own fan-out (`client.stats()` over every server): the per-server
 * clients have the circuit breaker off, so every call reaches its server and each server's own error
 * is reported next to the others' answers; ping also times each server on a connection of its own.
 */
import { MemlineError, type MemcacheClient } from '../../protocols/memcached-meta/index.js';
import { ARGUMENT_CODES } from './errors.js';

/** Each server's answer, or its error, keyed by the address as given. */
export interface PerServer<T> {
  results: Map<string, T>;
  errors: Map<string, MemlineError>;
}

/**
 * Runs `call` on every server's client at once and collects the answers and the errors; a bad
 * argument (the same for every server) is thrown instead.
 */
export async function askEach<T>(
  clients: ReadonlyMap<string, MemcacheClient>,
  call: (client: MemcacheClient) => Promise<T>,
): Promise<PerServer<T>> {
  const servers = [...clients.keys()];
  const settled = await Promise.allSettled([...clients.values()].map(call));
  const out: PerServer<T> = { results: new Map(), errors: new Map() };
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') out.results.set(servers[i], s.value);
    else if (s.reason instanceof MemlineError && !ARGUMENT_CODES.has(s.reason.code))
      out.errors.set(servers[i], s.reason);
    else throw s.reason;
  });
  return out;
}

/** The only entry of a one-server client's per-server map (`version()`, `stats()`). */
export function only<T>(map: Map<string, T>): T {
  return map.values().next().value as T;
}

export function errorsJson(errors: Map<string, MemlineError>) {
  return Object.fromEntries([...errors].map(([s, e]) => [s, { code: e.code, message: e.message }]));
}
