/**
 * Asking each server on its own, through the client's per-call `server` option: ping times one
 * server at a time, and stats, version, flush and top report each server's answer or error.
 *
 * Why one call per server rather than the client's own fan-out (`client.stats()` over every
 * server): each server's error is reported next to the others' answers, and ping times each server
 * apart. The CLI's client has the circuit breaker off, so every call reaches its server.
 */
import { MemlineError, type MemcacheClient } from '../../protocols/memcached-meta/index.js';
import { ARGUMENT_CODES } from './errors.js';

/** Each server's answer, or its error, keyed by the address as given. */
export interface PerServer<T> {
  results: Map<string, T>;
  errors: Map<string, MemlineError>;
}

/**
 * The servers of `client` as the per-call `server` option names them, keyed by the address as
 * the user gave it (`servers`, in the same order).
 */
export function serverNames(client: MemcacheClient, servers: readonly string[]): Map<string, string> {
  const configured = client.metrics.servers;
  return new Map(servers.map((given, i) => [given, configured[i].server]));
}

/**
 * Runs `call` for every server at once, with options that send it to that server only, and
 * collects the answers and the errors; a bad argument (the same for every server) is thrown instead.
 */
export async function askEach<T>(
  client: MemcacheClient,
  servers: readonly string[],
  call: (options: { server: string }) => Promise<T>,
): Promise<PerServer<T>> {
  const names = serverNames(client, servers);
  const settled = await Promise.allSettled(servers.map((s) => call({ server: names.get(s)! })));
  const out: PerServer<T> = { results: new Map(), errors: new Map() };
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') out.results.set(servers[i], s.value);
    else if (s.reason instanceof MemlineError && !ARGUMENT_CODES.has(s.reason.code))
      out.errors.set(servers[i], s.reason);
    else throw s.reason;
  });
  return out;
}

/** The only entry of a per-server map answered by one server (`version({ server })`, `stats`). */
export function only<T>(map: Map<string, T>): T {
  return map.values().next().value as T;
}

export function errorsJson(errors: Map<string, MemlineError>) {
  return Object.fromEntries([...errors].map(([s, e]) => [s, { code: e.code, message: e.message }]));
}
